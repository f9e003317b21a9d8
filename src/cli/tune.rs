//! `salt tune`.

use std::process::ExitCode;

use super::config::TuneJob;
use super::emit;
use super::progress::Lines;

/// Runs the job and prints what the fit did.
pub fn run(job: TuneJob) -> anyhow::Result<ExitCode> {
    let mut lines = Lines::new(job.display.quiet);
    let r = salt::tune::tune(&job.cfg, &mut lines)?;
    drop(lines);
    if job.display.json {
        emit(&serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let first = &r.log[0];
    let best = &r.log[r
        .log
        .iter()
        .position(|l| l.iter == r.best_iter)
        .unwrap_or(0)];
    emit(&format!(
        "wrote {} : {} rows fitted on {} positions ({} validation); validation NLL {:.4} -> {:.4} nats (iteration {} of {})",
        r.out.display(),
        r.rows_fitted,
        r.positions.0,
        r.positions.1,
        first.val_nll,
        best.val_nll,
        r.best_iter,
        r.log.len() - 1
    ));
    emit(&format!(
        "time: hidden states {:.1}s, fit {:.1}s",
        r.seconds.0, r.seconds.1
    ));
    Ok(ExitCode::SUCCESS)
}
