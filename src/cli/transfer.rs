//! `salt transfer`.

use std::process::ExitCode;

use anyhow::Context;
use salt::pipeline::transfer_methods;

use super::config::TransferJob;
use super::emit;
use super::progress::Lines;

/// Runs the job and prints its summary.
pub fn run(job: TransferJob) -> anyhow::Result<ExitCode> {
    if let Some(n) = job.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting --threads")?;
    }
    let mut lines = Lines::new(job.display.quiet);
    let reports = transfer_methods(&job.cfg, &job.methods, &mut lines)?;
    drop(lines);
    if job.display.json {
        let json = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        };
        emit(&json);
    } else {
        emit(&super::summary::text(&reports));
    }
    Ok(ExitCode::SUCCESS)
}
