//! `salt eval`.

use std::process::ExitCode;

use super::config::EvalJob;
use super::emit;
use super::progress::Lines;

/// Runs the job and prints the table (or JSON); exit code 1 when a parity check failed.
pub fn run(job: EvalJob) -> anyhow::Result<ExitCode> {
    let mut lines = Lines::new(job.display.quiet);
    let r = salt::eval::evaluate(&job.cfg, &mut lines)?;
    drop(lines);
    if job.display.json {
        emit(&serde_json::to_string_pretty(&r.rows)?);
    } else {
        if let Some(p) = &r.report {
            emit(&format!("report: {}", p.display()));
        }
        emit(salt::eval::table(&r).trim_end());
    }
    Ok(if r.parity_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
