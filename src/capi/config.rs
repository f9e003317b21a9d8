//! The C API's JSON configurations, mapped onto the library's. Unknown keys are refused
//! (a typo must not silently fall back to a default); the README's C API section lists
//! every key.

use std::path::PathBuf;

use serde::Deserialize;

use crate::auxvec::{AuxSource, TrainOptions};
use crate::device::DeviceChoice;
use crate::ggml::GgmlType;
use crate::pipeline::{Method, TransferConfig};
use crate::tune::{FitRows, InputRows, TuneConfig};
use crate::vocab::{Script, TrimKeep};

/// `salt_transfer`'s configuration: every option of `salt transfer`, under its flag's name
/// with `_` for `-`; an absent key keeps the CLI's default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferJson {
    source: PathBuf,
    /// Absent: the trim route (the source's own tokenizer, `methods` default `["trim"]`).
    plm: Option<PathBuf>,
    /// `FILE[:TENSOR]`: the PLM's embedding table, when the folder has none or several.
    plm_embeddings: Option<String>,
    out: PathBuf,
    /// Method names, or `["all"]` (`["salt"]` by default, `["trim"]` without `plm`);
    /// several give one output each (`OUT-METHOD.gguf`).
    #[serde(default)]
    methods: Vec<String>,
    /// The new output rows' own rule (untied sources or `untie`).
    output_method: Option<String>,
    /// `"plm"`, or a fastText `.bin` / `.vec` path.
    aux: Option<String>,
    /// Train fastText on this text instead (`aux` must then be absent).
    aux_train: Option<PathBuf>,
    /// With `aux_train`: where the trained `.bin` is saved, its width and epochs.
    aux_save: Option<PathBuf>,
    aux_dim: Option<i32>,
    aux_epoch: Option<i32>,
    trim_to: Option<PathBuf>,
    trim_min_count: Option<usize>,
    #[serde(default)]
    keep_single_chars: bool,
    /// Script names (`"Hangul"`, `"Latin"`, ...) whose every piece the trim keeps.
    #[serde(default)]
    keep_script: Vec<String>,
    /// `false`: drop the basic pieces (digits, ASCII, punctuation) the text does not use.
    keep_basic: Option<bool>,
    heldout: Option<PathBuf>,
    /// `false`: do not append the source's chat-template control tokens.
    chat_tokens: Option<bool>,
    plan: Option<PathBuf>,
    #[serde(default)]
    seed: u64,
    rcond: Option<f64>,
    omp_k: Option<usize>,
    #[serde(default)]
    untie: bool,
    max_k: Option<usize>,
    /// `"same"` or a ggml type name.
    embd_type: Option<String>,
    /// `"cpu"` (the default), `"cuda"`, `"cuda:N"`, `"auto"` or `"cuda-shim"`.
    device: Option<String>,
    #[serde(default)]
    force: bool,
    /// Split the output into files of at most this many bytes.
    split_max_size: Option<u64>,
}

/// `salt_tune`'s configuration; an absent key keeps [`TuneConfig::new`]'s default (the
/// CLI's), except `cache`: no hidden-state cache unless a folder is named.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneJson {
    model: PathBuf,
    train: PathBuf,
    out: PathBuf,
    /// `"all"`, `"new"` or `"unshared"`.
    rows: Option<String>,
    l2: Option<f64>,
    iters: Option<usize>,
    max_tokens: Option<usize>,
    val_share: Option<f64>,
    ctx: Option<usize>,
    /// A ggml type name, or `"same"` (the input's output type).
    head_type: Option<String>,
    /// `"keep"` or `"tie"`.
    inputs: Option<String>,
    cache: Option<PathBuf>,
    threads: Option<usize>,
    #[serde(default)]
    force: bool,
}

impl TuneJson {
    /// The library's configuration (ranges are checked by [`crate::tune::tune`]).
    ///
    /// # Errors
    /// A message naming the key.
    pub fn resolve(self) -> Result<TuneConfig, String> {
        let mut cfg = TuneConfig::new(self.model, self.train, self.out);
        if let Some(name) = self.rows {
            cfg.rows = FitRows::from_name(&name)
                .ok_or_else(|| format!("\"rows\": {name:?} is not one of {}", FitRows::names()))?;
        }
        if let Some(name) = self.inputs {
            cfg.inputs = InputRows::from_name(&name).ok_or_else(|| {
                format!("\"inputs\": {name:?} is not one of {}", InputRows::names())
            })?;
        }
        if let Some(name) = self.head_type {
            cfg.head_type = GgmlType::from_name_or_same(&name).map_err(|name| {
                format!("\"head_type\": {name:?} is not a ggml type (try q8_0, f16, f32)")
            })?;
        }
        cfg.fit.l2 = self.l2.unwrap_or(cfg.fit.l2);
        cfg.fit.iters = self.iters.unwrap_or(cfg.fit.iters);
        cfg.hidden.max_tokens = self.max_tokens.or(cfg.hidden.max_tokens);
        cfg.hidden.ctx = self.ctx.unwrap_or(cfg.hidden.ctx);
        cfg.hidden.threads = self.threads;
        cfg.hidden.cache = self.cache;
        cfg.val_share = self.val_share.unwrap_or(cfg.val_share);
        cfg.force = self.force;
        Ok(cfg)
    }
}

/// `salt_train`'s configuration; an absent key keeps [`crate::train::TrainConfig::new`]'s
/// default (no checkpoint unless a file is named).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainJson {
    model: PathBuf,
    train: PathBuf,
    out: PathBuf,
    val_text: Option<PathBuf>,
    /// `"unshared"` (the default), `"new"` or `"all"`.
    rows: Option<String>,
    steps: Option<usize>,
    lr_input: Option<f32>,
    lr_output: Option<f32>,
    decay: Option<f32>,
    #[serde(default)]
    lazy: bool,
    eval_every: Option<usize>,
    val_windows: Option<usize>,
    val_share: Option<f64>,
    ctx: Option<usize>,
    seed: Option<u64>,
    threads: Option<usize>,
    checkpoint: Option<PathBuf>,
    #[serde(default)]
    resume: bool,
    #[serde(default)]
    force: bool,
}

impl TrainJson {
    /// The library's configuration (ranges are checked by [`crate::train::train`]).
    ///
    /// # Errors
    /// A message naming the key.
    pub fn resolve(self) -> Result<crate::train::TrainConfig, String> {
        let mut cfg = crate::train::TrainConfig::new(self.model, self.train, self.out);
        if let Some(name) = self.rows {
            cfg.rows = FitRows::from_name(&name)
                .ok_or_else(|| format!("\"rows\": {name:?} is not one of {}", FitRows::names()))?;
        }
        cfg.val_text = self.val_text;
        cfg.steps = self.steps.unwrap_or(cfg.steps);
        cfg.lr = (
            self.lr_input.unwrap_or(cfg.lr.0),
            self.lr_output.unwrap_or(cfg.lr.1),
        );
        cfg.decay = self.decay.unwrap_or(cfg.decay);
        cfg.lazy = self.lazy;
        cfg.eval_every = self.eval_every.unwrap_or(cfg.eval_every);
        cfg.val_windows = self.val_windows.unwrap_or(cfg.val_windows);
        cfg.val_share = self.val_share.unwrap_or(cfg.val_share);
        cfg.ctx = self.ctx.unwrap_or(cfg.ctx);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        cfg.threads = self.threads;
        cfg.checkpoint = self.checkpoint;
        cfg.resume = self.resume;
        cfg.force = self.force;
        Ok(cfg)
    }
}

impl TransferJson {
    /// The library's configuration and the methods.
    ///
    /// # Errors
    /// A message naming the key.
    pub fn resolve(self) -> Result<(TransferConfig, Vec<Method>), String> {
        let aux = match (self.aux.as_deref(), self.aux_train) {
            (Some(arg), None) => Some(AuxSource::from_arg(arg)),
            (None, Some(text)) => {
                let d = TrainOptions::new(text);
                Some(AuxSource::Train(TrainOptions {
                    save: self.aux_save,
                    dim: self.aux_dim.unwrap_or(d.dim),
                    epoch: self.aux_epoch.unwrap_or(d.epoch),
                    seed: i32::try_from(self.seed % (1 << 31)).unwrap_or(0),
                    ..d
                }))
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err("\"aux\" and \"aux_train\": give one, not both".into())
            }
        };
        let default = if self.plm.is_none() { "trim" } else { "salt" };
        let names = if self.methods.is_empty() {
            vec![default.to_owned()]
        } else {
            self.methods
        };
        let methods = Method::from_names(names.iter().map(String::as_str)).map_err(|name| {
            format!(
                "\"methods\": {name:?} is not a method (one of {}, or [\"all\"])",
                Method::names()
            )
        })?;
        let output_method = match self.output_method {
            Some(name) => Some(Method::from_name(&name).ok_or_else(|| {
                format!(
                    "\"output_method\": {name:?} is not a method (one of {})",
                    Method::names()
                )
            })?),
            None => None,
        };
        let embd_type = match self.embd_type {
            Some(name) => GgmlType::from_name_or_same(&name).map_err(|name| {
                format!("\"embd_type\": {name:?} is not a ggml type (try q8_0, f16, f32)")
            })?,
            None => None,
        };
        let scripts =
            Script::from_names(self.keep_script.iter().map(String::as_str)).map_err(|n| {
                format!(
                    "\"keep_script\": {n:?} is not a script here (one of {})",
                    Script::names()
                )
            })?;
        let device = match self.device {
            Some(name) => DeviceChoice::parse(&name).ok_or_else(|| {
                format!(
                    "\"device\": {name:?} is not a device: cpu, cuda, cuda:N, auto or cuda-shim"
                )
            })?,
            None => DeviceChoice::Cpu,
        };
        let plm = self.plm.unwrap_or_else(|| self.source.clone());
        let mut cfg = TransferConfig::new(self.source, plm, aux, self.out);
        cfg.init.method = methods[0];
        cfg.target.plm_embeddings = self.plm_embeddings;
        cfg.init.output_method = output_method;
        cfg.target.trim_to = self.trim_to;
        cfg.target.trim_min_count = self.trim_min_count.unwrap_or(cfg.target.trim_min_count);
        cfg.target.trim_keep = TrimKeep {
            chars: self.keep_single_chars,
            basic: self.keep_basic.unwrap_or(true),
            scripts,
        };
        cfg.target.trim_heldout = self.heldout;
        cfg.target.keep_chat_tokens = self.chat_tokens.filter(|keep| !keep);
        cfg.output.plan = self.plan;
        cfg.init.seed = self.seed;
        cfg.init.rcond = self.rcond.unwrap_or(cfg.init.rcond);
        cfg.init.params.omp_k = self.omp_k.unwrap_or(cfg.init.params.omp_k);
        cfg.output.untie = self.untie;
        cfg.neighbours.max_k = self.max_k;
        cfg.output.embd_type = embd_type;
        cfg.device = device;
        cfg.output.force = self.force;
        cfg.output.split_max_size = self.split_max_size;
        Ok((cfg, methods))
    }
}

/// `salt_plan`'s configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanJson {
    source: PathBuf,
    plm: Option<PathBuf>,
    text: PathBuf,
}

impl PlanJson {
    /// The library's configuration.
    ///
    /// # Errors
    /// Never; the signature matches the other jobs'.
    pub fn resolve(self) -> Result<crate::plan::PlanConfig, String> {
        Ok(crate::plan::PlanConfig {
            plm: self
                .plm
                .filter(|p| !crate::plan::is_source(p, &self.source)),
            source: self.source,
            text: self.text,
            keep: crate::vocab::TrimKeep::default(),
        })
    }
}

/// `salt_adapt`'s configuration (absent keys keep `salt adapt`'s defaults).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptJson {
    source: PathBuf,
    text: PathBuf,
    plm: Option<PathBuf>,
    out: PathBuf,
    heldout: Option<PathBuf>,
    val_share: Option<f64>,
    tolerance: Option<f64>,
    fit_tokens: Option<usize>,
    fit_iters: Option<usize>,
    eval_tokens: Option<usize>,
    train_steps: Option<usize>,
    #[serde(default)]
    keep_candidates: bool,
    threads: Option<usize>,
    #[serde(default)]
    force: bool,
    report: Option<PathBuf>,
}

impl AdaptJson {
    /// The library's configuration.
    ///
    /// # Errors
    /// A sentence naming a key out of its range.
    pub fn resolve(self) -> Result<crate::adapt::AdaptConfig, String> {
        let plm = self
            .plm
            .filter(|p| !crate::plan::is_source(p, &self.source));
        let mut cfg = crate::adapt::AdaptConfig::new(self.source, self.text, plm, self.out);
        let d = crate::adapt::Budget::default();
        cfg.budget = crate::adapt::Budget {
            fit_tokens: self.fit_tokens.unwrap_or(d.fit_tokens),
            fit_iters: self.fit_iters.unwrap_or(d.fit_iters),
            eval_tokens: self.eval_tokens.unwrap_or(d.eval_tokens),
            train_steps: self.train_steps.unwrap_or(d.train_steps),
        };
        cfg.val_share = self.val_share.unwrap_or(cfg.val_share);
        cfg.tolerance = self.tolerance.unwrap_or(cfg.tolerance);
        cfg.heldout = self.heldout;
        cfg.keep_candidates = self.keep_candidates;
        cfg.threads = self.threads;
        cfg.force = self.force;
        cfg.report = self.report;
        cfg.check()?;
        Ok(cfg)
    }
}
