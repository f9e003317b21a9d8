//! Stage 6: initialisers, the rules that give every new target token its rows.
//!
//! Input: an [`InitInput`], what the earlier stages produced (the new tokens, the
//! anchors and their sparsemax neighbours, PLM rows, the anchors' source rows, the source's
//! row statistics) and the compute device. Output: [`NewRows`], the `token_embd` (and,
//! for untied models, `output`) rows of the tokens the method covers, plus the weights the
//! `--plan` file reports. Tokens a method leaves out get the seeded random rows of docs/method.md
//! section 5 when the tensors are assembled.
//!
//! One file per initialiser: [`salt`] (the paper's per-token least-squares map), [`focus`]
//! (sparsemax-weighted mean), [`mean`], [`random`]. Adding one takes a file with a
//! `NEEDS` constant and an `init` function, a [`Method`] variant with its name and two
//! match arms below, and its tests.

pub mod focus;
pub mod fvt;
pub mod mean;
pub mod omp;
pub mod random;
pub mod salt;
pub mod salt_centred;
pub mod trim;

use serde::Serialize;

use crate::device::Compute;
use crate::error::Error;
use crate::neighbours::NeighbourSet;
use crate::plm::EmbeddingTable;
use crate::progress::Reporter;
use crate::regression::PathCounts;
use crate::source::{RowStats, SourceModel, SourceRows};
use crate::vocab::TargetVocab;

/// How new rows are initialised (docs/method.md section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The per-token least-squares map.
    Salt,
    /// Sparsemax-weighted mean of the anchors' source rows (FOCUS).
    Focus,
    /// The mean source row.
    Mean,
    /// Seeded normal rows with the source rows' per-dimension mean and std.
    Random,
    /// Subword composition: the mean source row of the source tokenizer's pieces (FVT).
    Fvt,
    /// Orthogonal matching pursuit in PLM space, then SALT's least squares (tokensurgeon).
    Omp,
    /// SALT's regression in centred (affine) coordinates: weights that sum to one.
    SaltCentred,
    /// The trim route: the source's own tokenizer cut to the language, every row copied.
    Trim,
}

impl Method {
    /// Every method, in the order `--method all` runs them.
    pub const ALL: [Method; 7] = [
        Self::Salt,
        Self::Focus,
        Self::Mean,
        Self::Random,
        Self::Fvt,
        Self::Omp,
        Self::SaltCentred,
    ];

    /// [`Method::Trim`] is a route of its own, not one of `ALL`'s initialisers: it keeps
    /// the source's tokenizer, so it cannot share a run with a replacement.
    pub const ROUTES: [Method; 1] = [Self::Trim];

    /// The name used on the command line, in file names and in `salt.method`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Salt => "salt",
            Self::Focus => "focus",
            Self::Mean => "mean",
            Self::Random => "random",
            Self::Fvt => "fvt",
            Self::Omp => "omp",
            Self::SaltCentred => "salt-centred",
            Self::Trim => "trim",
        }
    }

    /// The method called `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let name = if name == "salt-centered" {
            "salt-centred"
        } else {
            name
        };
        Self::ALL
            .into_iter()
            .chain(Self::ROUTES)
            .find(|m| m.name() == name)
    }

    /// The methods named, in the order given, duplicates dropped; `all` alone is every
    /// method. Both front ends read `--method` / `"methods"` through this.
    ///
    /// # Errors
    /// The first name that is not a method (each front end words the message).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, String> {
        let names: Vec<&str> = names.into_iter().map(str::trim).collect();
        if names == ["all"] {
            return Ok(Self::ALL.to_vec());
        }
        let mut out = Vec::new();
        for name in names {
            let m = Self::from_name(name).ok_or_else(|| name.to_owned())?;
            if !out.contains(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Every name, comma-separated, for the front ends' error messages.
    #[must_use]
    pub fn names() -> String {
        let all: Vec<&str> = Self::ALL
            .iter()
            .chain(&Self::ROUTES)
            .map(|m| m.name())
            .collect();
        all.join(", ")
    }

    /// What the method needs from the earlier stages.
    #[must_use]
    pub fn needs(self) -> Needs {
        match self {
            Self::Salt => salt::NEEDS,
            Self::Focus => focus::NEEDS,
            Self::Mean => mean::NEEDS,
            Self::Random => random::NEEDS,
            Self::Fvt => fvt::NEEDS,
            Self::Omp => omp::NEEDS,
            Self::SaltCentred => salt_centred::NEEDS,
            Self::Trim => trim::NEEDS,
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
            Self::Fvt => fvt::init(input, rep),
            Self::Omp => omp::init(input, rep),
            Self::SaltCentred => salt_centred::init(input, rep),
            Self::Trim => trim::init(input, rep),
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
    /// The source model (for its tokenizer and rows).
    pub source: &'a SourceModel,
    /// The target vocabulary and its alignment.
    pub target: &'a TargetVocab,
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
    /// Method parameters.
    pub params: &'a InitParams,
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

/// Parameters of the methods that have some (defaults: the measured choices, README).
#[derive(Clone, Debug, PartialEq)]
pub struct InitParams {
    /// `omp`: at most this many atoms per token (mergekit-tokensurgeon's default, 64).
    pub omp_k: usize,
}

impl Default for InitParams {
    fn default() -> Self {
        Self { omp_k: 64 }
    }
}

/// One token's support: the anchors its row is a combination of, and the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Support {
    /// The token's target id.
    pub id: u32,
    /// Anchor target ids, ascending.
    pub neighbours: Vec<u32>,
    /// The weight of each.
    pub weights: Vec<f32>,
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
    /// Each combined token's anchors and weights (for `--plan` and the k histogram).
    pub supports: Vec<Support>,
    /// Anchors the method chose among (0 when it uses none).
    pub anchors: usize,
    /// Regressions per solver path.
    pub solves: PathCounts,
}

impl NewRows {
    /// Supports of the neighbour set's queries with `weight(q)` each (salt's w, focus's p).
    #[must_use]
    pub fn supports_of(set: &NeighbourSet, weight: impl Fn(usize) -> Vec<f32>) -> Vec<Support> {
        (0..set.queries.len())
            .map(|q| Support {
                id: set.queries[q],
                neighbours: set
                    .nb
                    .row(q)
                    .0
                    .iter()
                    .map(|&a| set.anchors[a as usize])
                    .collect(),
                weights: weight(q),
            })
            .collect()
    }

    /// Sizes of the supports: k -> tokens.
    #[must_use]
    pub fn k_histogram(&self) -> std::collections::BTreeMap<usize, usize> {
        let mut h = std::collections::BTreeMap::new();
        for s in &self.supports {
            *h.entry(s.neighbours.len()).or_default() += 1;
        }
        h
    }
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
