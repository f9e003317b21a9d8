//! Stage 6: initialisers, the rules that give every new target token its rows.
//!
//! Input: an [`InitInput`], what the earlier stages produced (the new tokens, the
//! anchors and their sparsemax neighbours, PLM rows, the anchors' source rows, the source's
//! row statistics) and the compute device. Output: [`NewRows`], the `token_embd` (and,
//! for untied models, `output`) rows of the tokens the method covers, plus the weights the
//! `--plan` file reports. Tokens a method leaves out get the seeded random rows of SALT.md
//! section 5 when the tensors are assembled.
//!
//! One file per initialiser: [`salt`] (the paper's per-token least-squares map), [`focus`]
//! (sparsemax-weighted mean), [`mean`], [`random`]. Adding one takes a file with a
//! `NEEDS` constant and an `init` function, a [`Method`] variant with its name and two
//! match arms below, and its tests.

pub mod focus;
pub mod mean;
pub mod random;
pub mod salt;

use serde::Serialize;

use crate::device::Compute;
use crate::error::Error;
use crate::neighbours::NeighbourSet;
use crate::plm::EmbeddingTable;
use crate::progress::Reporter;
use crate::regression::PathCounts;
use crate::source::{RowStats, SourceRows};

/// How new rows are initialised (SALT.md section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The per-token least-squares map.
    Salt,
    /// Sparsemax-weighted mean of the anchors' source rows (FOCUS).
    Focus,
    /// The mean source row.
    Mean,
    /// Seeded normal rows with the source rows' per-dimension mean and std.
    Random,
}

impl Method {
    /// Every method, in the order `--method all` runs them.
    pub const ALL: [Method; 4] = [Self::Salt, Self::Focus, Self::Mean, Self::Random];

    /// The name used on the command line, in file names and in `salt.method`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Salt => "salt",
            Self::Focus => "focus",
            Self::Mean => "mean",
            Self::Random => "random",
        }
    }

    /// The method called `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What the method needs from the earlier stages.
    #[must_use]
    pub fn needs(self) -> Needs {
        match self {
            Self::Salt => salt::NEEDS,
            Self::Focus => focus::NEEDS,
            Self::Mean => mean::NEEDS,
            Self::Random => random::NEEDS,
        }
    }

    /// Runs the initialiser.
    ///
    /// # Errors
    /// [`Error::MissingInput`] when an input it needs is absent, or its stage's error.
    pub fn initialise(
        self,
        input: &InitInput<'_>,
        rep: &mut Reporter<'_>,
    ) -> Result<NewRows, Error> {
        match self {
            Self::Salt => salt::init(input, rep),
            Self::Focus => focus::init(input, rep),
            Self::Mean => mean::init(input, rep),
            Self::Random => random::init(input, rep),
        }
    }
}

/// Inputs a method needs beyond the alignment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Auxiliary vectors, anchors and sparsemax neighbours (and the anchors' source rows).
    pub neighbours: bool,
    /// The PLM's embedding table.
    pub plm: bool,
}

impl Needs {
    /// What any of `methods` needs.
    #[must_use]
    pub fn any(methods: &[Method]) -> Self {
        methods.iter().fold(Self::default(), |a, m| {
            let n = m.needs();
            Self {
                neighbours: a.neighbours || n.neighbours,
                plm: a.plm || n.plm,
            }
        })
    }
}

/// What the earlier stages produced, for an initialiser.
pub struct InitInput<'a> {
    /// Target ids without a source counterpart, ascending.
    pub new_ids: &'a [u32],
    /// The source rows' per-dimension statistics.
    pub stats: &'a RowStats,
    /// Anchors and the neighbours of the new tokens with an auxiliary vector.
    pub neighbours: Option<&'a NeighbourSet>,
    /// Source rows of the anchors (`[n_anchors x h_s]`, in `neighbours.anchors` order).
    pub anchor_rows: Option<&'a SourceRows>,
    /// PLM rows of the target vocabulary (`[n_target x h_t]`, trimmed ids).
    pub plm: Option<&'a EmbeddingTable>,
    /// Source width h_s.
    pub h_s: usize,
    /// Singular value cut-off of the regression.
    pub rcond: f64,
    /// Where neighbours and regressions run.
    pub device: &'a dyn Compute,
}

impl<'a> InitInput<'a> {
    /// The neighbour stage's output and the anchors' source rows, or the error naming
    /// `method`.
    ///
    /// # Errors
    /// [`Error::MissingInput`].
    pub fn require_neighbours(
        &self,
        method: Method,
    ) -> Result<(&'a NeighbourSet, &'a SourceRows), Error> {
        self.neighbours
            .zip(self.anchor_rows)
            .ok_or(Error::MissingInput {
                method: method.name(),
                what: "auxiliary vectors",
                fix: "give --aux FILE.bin|FILE.vec|plm or --aux-train TEXT",
            })
    }
}

/// An initialiser's rows.
#[derive(Clone, Debug, Default)]
pub struct NewRows {
    /// Target ids covered, ascending.
    pub ids: Vec<u32>,
    /// `[ids.len() x h_s]` `token_embd` rows.
    pub embd: Vec<f32>,
    /// `[ids.len() x h_s]` `output` rows, for untied sources.
    pub output: Option<Vec<f32>>,
    /// Per query of the neighbour set: the weights over its neighbours (for `--plan`).
    pub weights: Option<Vec<Vec<f32>>>,
    /// Regressions per solver path.
    pub solves: PathCounts,
}

impl NewRows {
    /// The same rows `embd` (and `output`) for every id of `ids`.
    #[must_use]
    pub fn repeated(ids: &[u32], embd: &[f32], output: Option<&[f32]>) -> Self {
        Self {
            ids: ids.to_vec(),
            embd: ids.iter().flat_map(|_| embd.iter().copied()).collect(),
            output: output.map(|o| ids.iter().flat_map(|_| o.iter().copied()).collect()),
            ..Self::default()
        }
    }
}
