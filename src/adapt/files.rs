//! What `salt adapt` refuses before building anything, and the winner installed at the
//! output path.

use std::path::Path;

use crate::error::{Error, OutputError};
use crate::output::tokenizer_paths;
use crate::plan::{Plan, MAX_OUTSIDE_SHARE};

use super::AdaptConfig;

/// An existing output without `force`, or an output that is an input, is refused first.
pub(super) fn check_output(cfg: &AdaptConfig) -> Result<(), Error> {
    for input in [Some(&cfg.source), Some(&cfg.text), cfg.plm.as_ref()]
        .into_iter()
        .flatten()
    {
        if crate::plan::is_source(&cfg.out, input) {
            return Err(OutputError::IsInput {
                path: cfg.out.clone(),
            }
            .into());
        }
    }
    if cfg.out.exists() && !cfg.force {
        return Err(OutputError::Exists {
            path: cfg.out.clone(),
        }
        .into());
    }
    Ok(())
}

/// A text mostly outside the vocabulary of every route is refused.
pub(super) fn check_viable(cfg: &AdaptConfig, p: &Plan) -> Result<(), Error> {
    let source = &p.routes[0];
    if let (Some(plm), Some(r)) = (&cfg.plm, p.routes.iter().find(|r| r.route == "replace")) {
        if r.fallback_byte_share > MAX_OUTSIDE_SHARE {
            return Err(Error::Route {
                reason: format!(
                    "{}: {:.0}% of the text's bytes are unknown to the PLM's vocabulary; it is not a model of this text's language",
                    plm.display(),
                    100.0 * r.fallback_byte_share
                ),
                fix: "give a PLM of the text's language, or no --plm to trim the source",
            });
        }
    } else if source.fallback_byte_share > MAX_OUTSIDE_SHARE {
        return Err(Error::Route {
            reason: format!(
                "{}: {:.0}% of the text's bytes fall to byte pieces of the source's vocabulary; trimming cannot help a tokenizer that does not know the language",
                cfg.source.display(),
                100.0 * source.fallback_byte_share
            ),
            fix: "give --plm, a small model of the text's language, to replace the vocabulary",
        });
    }
    Ok(())
}

/// Moves the winner's GGUF and reference tokenizer to `out`.
pub(super) fn install(winner: &Path, out: &Path) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OutputError::Io { path, source }
    };
    let (from_json, from_spm) = tokenizer_paths(winner);
    let (to_json, to_spm) = tokenizer_paths(out);
    for (from, to) in [(from_json, to_json), (from_spm, to_spm)] {
        if from.is_file() {
            std::fs::rename(&from, &to).map_err(io(&to))?;
        } else if to.is_file() {
            // A stale tokenizer of an earlier model at this path would mislead.
            std::fs::remove_file(&to).map_err(io(&to))?;
        }
    }
    std::fs::rename(winner, out).map_err(io(out))?;
    Ok(())
}
