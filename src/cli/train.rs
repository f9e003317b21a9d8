//! `salt train`.

use std::process::ExitCode;

use super::config::TrainJob;
use super::emit;
use super::progress::Lines;

/// Runs the job and prints what the training did.
pub fn run(job: TrainJob) -> anyhow::Result<ExitCode> {
    let mut lines = Lines::new(job.display.quiet);
    let r = salt::train::train(&job.cfg, &mut lines)?;
    drop(lines);
    if job.display.json {
        emit(&serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let first = &r.log[0];
    let best = r
        .log
        .iter()
        .find(|l| l.step == r.best_step)
        .unwrap_or(first);
    let other = match (first.other_nll, best.other_nll) {
        (Some(a), Some(b)) => format!("; other text {a:.4} -> {b:.4}"),
        _ => String::new(),
    };
    emit(&format!(
        "wrote {} : {} rows trained on {} windows ({} validation); validation NLL {:.4} -> {:.4} nats (step {} of {}){other}",
        r.out.display(),
        r.rows_trained,
        r.windows.0,
        r.windows.1,
        first.val_nll,
        best.val_nll,
        r.best_step,
        r.log.last().map_or(0, |l| l.step),
    ));
    emit(&format!(
        "as written (rows quantized): validation NLL {:.4}; {:.2}s per step, {:.0}s in all",
        r.val_nll_written, r.seconds_per_step, r.seconds
    ));
    Ok(ExitCode::SUCCESS)
}
