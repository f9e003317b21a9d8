//! Step 3 of `salt adapt`: the candidates built in the work folder (the trims, the
//! replacement with its fitted head, and the replacement trained through the frozen body).

use std::path::{Path, PathBuf};

use crate::auxvec::{AuxSource, TrainOptions};
use crate::error::Error;
use crate::init::Method;
use crate::output::tokenizer_paths;
use crate::pipeline::{transfer, TransferConfig};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::train::TrainConfig;
use crate::tune::{tune, FitOptions, HiddenOptions, TuneConfig};
use crate::vocab::Script;

use super::AdaptConfig;

/// The trim route `name` (`trim` or `trim+SCRIPT`): (label, GGUF path).
pub(super) fn trim(
    cfg: &AdaptConfig,
    name: &str,
    train: &Path,
    work: &Path,
    progress: &mut dyn Progress,
) -> Result<(String, PathBuf), Error> {
    let out = work.join(format!("{}.gguf", name.replace('+', "-")));
    let mut t = TransferConfig::new(cfg.source.clone(), cfg.source.clone(), None, out.clone());
    t.init.method = Method::Trim;
    t.target.trim_to = Some(train.to_path_buf());
    if let Some(s) = name.strip_prefix("trim+").and_then(Script::from_name) {
        t.target.trim_keep.scripts.push(s);
    }
    t.output.force = true;
    transfer(&t, progress)?;
    Ok((name.to_owned(), out))
}

/// The replacement route: the PLM's vocabulary trimmed to the training part, the plan's
/// initialiser, then the head fitted: (label, GGUF path).
pub(super) fn replace(
    cfg: &AdaptConfig,
    p: &Plan,
    train: &Path,
    work: &Path,
    progress: &mut dyn Progress,
) -> Result<(String, PathBuf), Error> {
    let plm = cfg.plm.clone().ok_or(Error::Route {
        reason: "the replacement route needs a PLM".into(),
        fix: "give --plm",
    })?;
    let method = if p.recommended == "replace" {
        p.method
    } else {
        Method::SaltCentred
    };
    let aux = method
        .needs()
        .neighbours
        .then(|| AuxSource::Train(TrainOptions::new(train.to_path_buf())));
    let init = work.join(format!("replace-{}.gguf", method.name()));
    let mut t = TransferConfig::new(cfg.source.clone(), plm, aux, init.clone());
    t.init.method = method;
    t.target.trim_to = Some(train.to_path_buf());
    t.output.force = true;
    transfer(&t, progress)?;
    let out = work.join(format!("replace-{}-head.gguf", method.name()));
    let mut tc = TuneConfig::new(init.clone(), train.to_path_buf(), out.clone());
    tc.fit = FitOptions {
        iters: cfg.budget.fit_iters,
        ..FitOptions::default()
    };
    tc.hidden = HiddenOptions {
        max_tokens: Some(cfg.budget.fit_tokens),
        threads: cfg.threads,
        cache: None,
        ..HiddenOptions::default()
    };
    tc.force = true;
    tune(&tc, progress)?;
    // The init is a step on the way, not a candidate: its head is always better on the
    // training domain.
    let _ = std::fs::remove_file(&init);
    for p in [tokenizer_paths(&init).0, tokenizer_paths(&init).1] {
        let _ = std::fs::remove_file(p);
    }
    Ok((format!("replace:{}+head", method.name()), out))
}

/// `base` trained through its frozen body on the training part (`salt train`'s defaults,
/// the budget's steps): the GGUF beside it, `NAME-train.gguf`.
pub(super) fn train_candidate(
    cfg: &AdaptConfig,
    base: &Path,
    train: &Path,
    progress: &mut dyn Progress,
) -> Result<PathBuf, Error> {
    let stem = base.file_stem().unwrap_or_default().to_string_lossy();
    let out = base.with_file_name(format!("{stem}-train.gguf"));
    let mut tc = TrainConfig::new(base.to_path_buf(), train.to_path_buf(), out.clone());
    tc.steps = cfg.budget.train_steps;
    tc.threads = cfg.threads;
    tc.force = true;
    crate::train::train(&tc, progress)?;
    Ok(out)
}
