//! Stages 2-3: the target vocabulary (loaded, trimmed, with the chat tokens, aligned with
//! the source's) and the PLM's rows of it.

use std::path::Path;

use crate::error::Error;
use crate::gguf::GgufFile;
use crate::plm::EmbeddingTable;
use crate::progress::{Reporter, Stage};
use crate::source::SourceModel;
use crate::vocab::{self, TargetVocab};

use super::config::TargetConfig;
use super::report::Laps;
use super::route::Route;

/// The target vocabulary of `cfg.plm` (the source's own for the trim route), and its PLM
/// rows when `want_plm`.
pub(super) fn load(
    cfg: &TargetConfig,
    source: &SourceModel,
    route: Route,
    want_plm: bool,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<(TargetVocab, Option<EmbeddingTable>), Error> {
    let own = route.own;
    // A GGUF PLM is opened once, for its vocabulary and its table.
    let plm_file = if own { None } else { plm_gguf(&cfg.plm)? };
    let mut spec = cfg.trim_spec();
    let full = if own {
        if let Some(spec) = spec.as_mut() {
            spec.specials = Some(vocab::own_specials(
                &source.file,
                &source.vocab,
                cfg.keep_chat_tokens,
            )?);
        }
        vocab::target_from_gguf(&source.file)?
    } else {
        match &plm_file {
            Some(f) => vocab::target_from_gguf(f)?,
            None => vocab::load_target(&cfg.plm)?,
        }
    };
    let target = vocab::prepare_target(
        &source.file,
        &source.arch,
        &source.vocab,
        full,
        spec.as_ref(),
        cfg.keep_chat_tokens,
        own,
        &mut |m| rep.message(Stage::Target, m),
    )?;
    laps.lap("align");
    rep.check()?;
    if !want_plm {
        return Ok((target, None));
    }
    let table = crate::plm::load_embeddings_from(
        &cfg.plm,
        cfg.plm_embeddings.as_deref(),
        target.full_size,
        plm_file.as_ref(),
    )?;
    let table = table.select(&target.selection.old_ids);
    laps.lap("read plm");
    Ok((target, Some(table)))
}

/// `plm` opened as a GGUF when it is one.
fn plm_gguf(plm: &Path) -> Result<Option<GgufFile>, Error> {
    let is_gguf = plm.is_file() && plm.extension().is_some_and(|e| e == "gguf");
    Ok(if is_gguf {
        Some(GgufFile::open(plm)?)
    } else {
        None
    })
}
