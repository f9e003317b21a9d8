//! Before anything is read: the methods' needs, and whether the route is the trim route.

use std::path::Path;

use crate::error::Error;
use crate::init::Needs;

use super::config::TargetConfig;
use super::{Method, TransferConfig};

/// What the checks decide before anything is read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Route {
    /// The trim route: the source's own tokenizer.
    pub(super) own: bool,
    /// What the methods (and the output rule) need.
    pub(super) needs: Needs,
}

/// The trim route runs alone, on the source's own tokenizer, with a text to trim to; then
/// methods that need neighbours need auxiliary vectors.
pub(super) fn check(cfg: &TransferConfig, methods: &[Method]) -> Result<Route, Error> {
    let all: Vec<Method> = methods
        .iter()
        .copied()
        .chain(cfg.init.output_method)
        .collect();
    let needs = Needs::any(&all);
    let own = check_trim(&cfg.source, &cfg.target, &all)?;
    // A method that needs neighbours needs auxiliary vectors.
    match methods.iter().find(|m| m.needs().neighbours) {
        Some(m) if needs.neighbours && cfg.neighbours.aux.is_none() => Err(Error::MissingInput {
            method: m.name(),
            what: "auxiliary vectors",
            fix: "give --aux FILE.bin|FILE.vec|plm or --aux-train TEXT",
        }),
        _ => Ok(Route { own, needs }),
    }
}

/// Whether this is the trim route (`--method trim`): it runs alone, on the source's own
/// tokenizer (`plm` = the source), with a text to trim to.
fn check_trim(source: &Path, cfg: &TargetConfig, methods: &[Method]) -> Result<bool, Error> {
    if !methods.contains(&Method::Trim) {
        return Ok(false);
    }
    let fail = |reason: &str, fix| {
        Err(Error::Route {
            reason: format!("--method trim: {reason}"),
            fix,
        })
    };
    if methods.len() > 1 {
        return fail(
            "the trim route keeps the source's tokenizer and runs alone",
            "run the replacement methods in another transfer",
        );
    }
    if !crate::plan::is_source(&cfg.plm, source) {
        return fail(
            &format!(
                "--plm {} is not the source; trim keeps the source's own tokenizer",
                cfg.plm.display()
            ),
            "drop --plm (or give the source GGUF)",
        );
    }
    if cfg.trim_to.is_none() {
        return fail(
            "nothing to trim to",
            "give --trim-to TEXT, a text of the target language",
        );
    }
    Ok(true)
}
