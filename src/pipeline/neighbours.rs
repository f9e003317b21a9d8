//! Stages 4-5: the auxiliary vectors of the target vocabulary, which tokens are anchors
//! and queries, and the queries' neighbours on the compute device.

use crate::auxvec::{AuxSource, AuxVectors};
use crate::device::Compute;
use crate::error::Error;
use crate::neighbours::{select_rows, NeighbourSet};
use crate::plm::EmbeddingTable;
use crate::progress::{Reporter, Stage};
use crate::source::{SourceModel, SourceRows};
use crate::vocab::{TargetClass, TargetVocab};

use super::config::NeighbourConfig;
use super::report::Laps;

/// Stage 4's result: the auxiliary vectors, and which tokens are anchors and queries.
pub(super) struct AuxRows {
    pub(super) vectors: AuxVectors,
    /// Shared tokens with a vector, ascending target ids.
    pub(super) anchors: Vec<u32>,
    /// New tokens with a vector, ascending target ids.
    pub(super) queries: Vec<u32>,
    /// The anchors' source ids.
    pub(super) src_ids: Vec<u32>,
}

impl AuxRows {
    /// The queries' and the anchors' vectors, `[n x dim]` each.
    pub(super) fn tables(&self) -> (Vec<f32>, Vec<f32>) {
        let (d, data) = (self.vectors.dim, &self.vectors.data);
        (
            select_rows(&self.queries, d, data),
            select_rows(&self.anchors, d, data),
        )
    }
}

/// Stage 4: the auxiliary vectors of `target`'s tokens, the anchors (shared tokens with a
/// vector) and the queries (new tokens with one).
pub(super) fn aux_rows(
    aux: &AuxSource,
    target: &TargetVocab,
    plm: Option<&EmbeddingTable>,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<AuxRows, Error> {
    rep.message(Stage::AuxVectors, "auxiliary vectors");
    let vectors = crate::auxvec::for_vocab(aux, &target.tokenizer().vocab, plm)?;
    laps.lap("aux vectors");
    let classes = &target.alignment.classes;
    let shared: Vec<bool> = classes
        .iter()
        .map(|c| matches!(c, TargetClass::Shared(_)))
        .collect();
    let new: Vec<bool> = classes.iter().map(|c| *c == TargetClass::New).collect();
    let (anchors, queries) = NeighbourSet::select(&shared, &new, &vectors.has);
    let src_ids = anchors
        .iter()
        .map(|&a| classes[a as usize].source().unwrap_or(0))
        .collect();
    Ok(AuxRows {
        vectors,
        anchors,
        queries,
        src_ids,
    })
}

/// Stage 5: the queries' neighbours among the anchors on `device`, and the anchors' source
/// rows.
pub(super) fn find(
    cfg: &NeighbourConfig,
    aux: AuxRows,
    source: &SourceModel,
    plm_dim: Option<usize>,
    device: &dyn Compute,
    rep: &mut Reporter<'_>,
    laps: &mut Laps,
) -> Result<(NeighbourSet, SourceRows), Error> {
    rep.message(
        Stage::Neighbours,
        &format!(
            "neighbours of {} tokens among {} anchors",
            aux.queries.len(),
            aux.anchors.len()
        ),
    );
    let d = aux.vectors.dim;
    let (queries, anchors) = aux.tables();
    let nb = device
        .neighbours(
            &queries,
            &anchors,
            d,
            cfg.max_k,
            &mut rep.ticker(Stage::Neighbours),
        )?
        .ok_or(Error::Cancelled)?;
    if let Some(&(k_max, _)) = nb.k_histogram().last() {
        if k_max > 4 * plm_dim.unwrap_or(d) {
            rep.message(Stage::Neighbours, &format!("sparsemax supports reach k = {k_max}: the auxiliary vectors are nearly uniform (too little training text?); --max-k bounds the cost"));
        }
    }
    laps.lap("neighbours");
    let rows = source.rows(&aux.src_ids)?;
    let set = NeighbourSet {
        with_aux: aux.vectors.count(),
        anchors: aux.anchors,
        queries: aux.queries,
        nb,
    };
    Ok((set, rows))
}
