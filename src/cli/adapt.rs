//! `salt adapt`.

use std::process::ExitCode;

use salt::adapt::{adapt, AdaptConfig, Budget};

use super::args::AdaptArgs;
use super::emit;
use super::progress::Lines;

/// Runs the adaptation and prints the verdict and the tables (text or JSON).
pub fn run(a: AdaptArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = AdaptConfig::new(
        a.source.clone(),
        a.text,
        a.plm.filter(|p| !salt::plan::is_source(p, &a.source)),
        a.out,
    );
    cfg.heldout = a.heldout;
    cfg.val_share = a.val_share;
    cfg.tolerance = a.tolerance;
    cfg.budget = Budget {
        fit_tokens: a.fit_tokens,
        fit_iters: a.fit_iters,
        eval_tokens: a.eval_tokens,
        train_steps: a.train_steps,
    };
    cfg.keep_candidates = a.keep_candidates;
    cfg.threads = a.threads;
    cfg.force = a.force;
    cfg.report = a.report;
    if !(cfg.val_share > 0.0 && cfg.val_share < 0.5) {
        anyhow::bail!(
            "--val-share {}: give a share between 0 and 0.5",
            cfg.val_share
        );
    }
    if !(cfg.tolerance >= 0.0 && cfg.tolerance.is_finite()) {
        anyhow::bail!(
            "--tolerance {}: give a fraction of 0 or more",
            cfg.tolerance
        );
    }
    let mut lines = Lines::new(a.quiet);
    let r = adapt(&cfg, &mut lines)?;
    drop(lines);
    if a.json {
        emit(&serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    emit(salt::plan::table(&r.plan).trim_end());
    emit(&format!(
        "validation part ({} lines; training part {} lines):",
        r.split.1, r.split.0
    ));
    emit(salt::eval::table(&r.validation).trim_end());
    if let Some(h) = &r.heldout {
        emit("held-out text (reported, not used to choose):");
        emit(salt::eval::table(h).trim_end());
    }
    let t: Vec<String> = r
        .seconds
        .iter()
        .map(|(k, v)| format!("{k} {v:.0}s"))
        .collect();
    emit(&format!("time: {}", t.join(", ")));
    emit(&format!("verdict: {}", r.verdict));
    Ok(ExitCode::SUCCESS)
}
