//! Raw flags -> resolved configurations (ripgrep's lowargs/hiargs split): methods and
//! auxiliary sources parsed, types looked up, defaults filled. The library only ever
//! sees the results.

use std::path::PathBuf;

use anyhow::{bail, Context};
use salt::auxvec::{AuxSource, TrainOptions};
use salt::eval::{EvalConfig, EvalRequest};
use salt::pipeline::{Method, TransferConfig, TrimSpec};
use salt::vocab::{Script, TrimKeep};

use salt::tune::{FitOptions, FitRows, HiddenOptions, InputRows, TuneConfig};

use super::args::{EvalArgs, TrainArgs, TransferArgs, TrimArgs, TuneArgs};

/// How the CLI shows a run.
#[derive(Clone, Copy, Debug)]
pub struct Display {
    /// No progress lines.
    pub quiet: bool,
    /// JSON on stdout instead of text.
    pub json: bool,
}

/// A resolved `salt transfer`.
pub struct TransferJob {
    /// The library configuration.
    pub cfg: TransferConfig,
    /// Methods to run (one output each).
    pub methods: Vec<Method>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// Output settings.
    pub display: Display,
}

/// A resolved `salt eval`.
pub struct EvalJob {
    /// The library configuration.
    pub cfg: EvalConfig,
    /// Output settings.
    pub display: Display,
}

/// `salt,focus`, `all` -> methods (in the order given, duplicates dropped).
fn methods(spec: &str) -> anyhow::Result<Vec<Method>> {
    Method::from_names(spec.split(',')).map_err(|name| {
        anyhow::anyhow!(
            "--method {name}: not a method (one or more of {}, or all)",
            Method::names()
        )
    })
}

impl TrimArgs {
    /// What trimming keeps besides the pieces the text uses.
    pub fn keep(&self) -> anyhow::Result<TrimKeep> {
        let scripts =
            Script::from_names(self.keep_script.iter().map(String::as_str)).map_err(|n| {
                anyhow::anyhow!(
                    "--keep-script {n}: not a script here (one of {})",
                    Script::names()
                )
            })?;
        Ok(TrimKeep {
            chars: self.keep_single_chars,
            basic: !self.no_keep_basic,
            scripts,
        })
    }

    /// The library's trim settings, when `--trim-to` is given.
    pub fn spec(&self) -> anyhow::Result<Option<TrimSpec<'_>>> {
        let keep = self.keep()?;
        Ok(self.trim_to.as_deref().map(|text| TrimSpec {
            text,
            min_count: self.trim_min_count,
            keep,
            heldout: self.heldout.as_deref(),
            specials: None,
        }))
    }
}

impl TransferArgs {
    /// Checks and resolves the raw flags.
    pub fn resolve(self) -> anyhow::Result<TransferJob> {
        let aux = match (self.aux.as_deref(), &self.aux_train) {
            (Some(arg), None) => Some(AuxSource::from_arg(arg)),
            (None, Some(text)) => Some(AuxSource::Train(TrainOptions {
                save: self.aux_save.clone(),
                dim: self.aux_dim,
                epoch: self.aux_epoch,
                seed: i32::try_from(self.seed % (1 << 31)).unwrap_or(0),
                ..TrainOptions::new(text.clone())
            })),
            (None, None) => None,
            (Some(_), Some(_)) => bail!("give either --aux or --aux-train, not both"),
        };
        let embd_type =
            salt::ggml::GgmlType::from_name_or_same(&self.embd_type).map_err(|name| {
                anyhow::anyhow!("--embd-type {name}: not a ggml type (try q8_0, f16, f32)")
            })?;
        // No --plm (or the source itself): the trim route, the source's own tokenizer.
        let plm = self.plm.unwrap_or_else(|| self.source.clone());
        let own = salt::plan::is_source(&plm, &self.source);
        let methods = match (self.method.as_deref(), own) {
            (Some(spec), _) => methods(spec)?,
            (None, true) => vec![Method::Trim],
            (None, false) => vec![Method::Salt],
        };
        if !own && methods.contains(&Method::Trim) {
            bail!("--method trim keeps the source's own tokenizer: drop --plm");
        }
        if own && self.trim.trim_to.is_none() {
            bail!("without --plm, salt trims the source's own vocabulary: give --trim-to TEXT (a text of the target language), or give --plm PLM to replace the vocabulary");
        }
        let mut cfg = TransferConfig::new(self.source, plm, aux, self.out);
        cfg.init.method = methods[0];
        cfg.target.plm_embeddings = self.plm_embeddings;
        cfg.output.untie = self.untie;
        cfg.init.output_method = match self.output_method.as_deref() {
            Some(name) => Some(Method::from_name(name).with_context(|| {
                format!(
                    "--output-method {name}: not a method (one of {})",
                    Method::names()
                )
            })?),
            None => None,
        };
        cfg.init.params.omp_k = self.omp_k;
        cfg.init.seed = self.seed;
        cfg.init.rcond = self.rcond;
        cfg.neighbours.max_k = self.max_k;
        cfg.output.embd_type = embd_type;
        cfg.target.trim_keep = self.trim.keep()?;
        cfg.target.trim_to = self.trim.trim_to;
        cfg.target.trim_min_count = self.trim.trim_min_count;
        cfg.target.trim_heldout = self.trim.heldout;
        cfg.target.keep_chat_tokens = self.no_chat_tokens.then_some(false);
        cfg.output.force = self.force;
        cfg.output.plan = self.plan;
        cfg.output.split_max_size = self.split_max_size;
        cfg.device = self.device;
        Ok(TransferJob {
            cfg,
            methods,
            threads: self.threads,
            display: Display {
                quiet: self.quiet,
                json: self.json,
            },
        })
    }
}

impl EvalArgs {
    /// Resolves the raw flags.
    pub fn resolve(self) -> EvalJob {
        let request = EvalRequest {
            models: self.models,
            text: self.text,
            max_tokens: self.max_tokens,
            ctx: self.ctx,
            reference: self.reference,
            report: self.report,
            plan: self.plan,
            ngram: self.ngram,
            parity_only: self.parity,
            continuations: self.continuations,
            speed: !self.no_speed && !self.parity,
            speed_prompt: Some(self.speed_prompt),
            speed_gen: Some(self.speed_gen),
            force: self.force,
            threads: self.threads,
            pair_with: self.pair_with,
        };
        EvalJob {
            cfg: request.resolve(Some(command_line())),
            display: Display {
                quiet: self.quiet,
                json: self.json,
            },
        }
    }
}

/// A resolved `salt tune`.
pub struct TuneJob {
    /// The library configuration.
    pub cfg: TuneConfig,
    /// Output settings.
    pub display: Display,
}

impl TuneArgs {
    /// The library configuration.
    pub fn resolve(self) -> anyhow::Result<TuneJob> {
        let Some(rows) = FitRows::from_name(&self.rows) else {
            bail!("--rows {}: give {}", self.rows, FitRows::names());
        };
        let Some(inputs) = InputRows::from_name(&self.inputs) else {
            bail!("--inputs {}: give {}", self.inputs, InputRows::names());
        };
        let head_type =
            salt::ggml::GgmlType::from_name_or_same(&self.head_type).map_err(|name| {
                anyhow::anyhow!("--head-type {name}: not a ggml type (try q8_0, f16, f32)")
            })?;
        let cache = if self.no_cache {
            None
        } else {
            Some(self.cache.unwrap_or_else(default_cache))
        };
        let mut cfg = TuneConfig::new(self.model, self.train, self.out);
        cfg.rows = rows;
        cfg.fit = FitOptions {
            l2: self.l2,
            iters: self.iters,
            ..FitOptions::default()
        };
        cfg.hidden = HiddenOptions {
            ctx: self.ctx,
            max_tokens: Some(self.max_tokens),
            threads: self.threads,
            cache,
        };
        cfg.val_share = self.val_share;
        cfg.head_type = head_type;
        cfg.inputs = inputs;
        cfg.force = self.force;
        Ok(TuneJob {
            cfg,
            display: Display {
                quiet: self.quiet,
                json: self.json,
            },
        })
    }
}

/// A resolved `salt train`.
pub struct TrainJob {
    /// The library configuration.
    pub cfg: salt::train::TrainConfig,
    /// Output settings.
    pub display: Display,
}

impl TrainArgs {
    /// The library configuration.
    pub fn resolve(self) -> anyhow::Result<TrainJob> {
        let Some(rows) = FitRows::from_name(&self.rows) else {
            bail!("--rows {}: give {}", self.rows, FitRows::names());
        };
        let mut cfg = salt::train::TrainConfig::new(self.model, self.train, self.out);
        cfg.val_text = self.val_text;
        cfg.rows = rows;
        cfg.steps = self.steps;
        cfg.lr = (self.lr_input, self.lr_output);
        cfg.eval_every = self.eval_every;
        cfg.decay = self.decay;
        cfg.lazy = self.lazy;
        cfg.val_windows = self.val_windows;
        cfg.val_share = self.val_share;
        cfg.ctx = self.ctx;
        cfg.seed = self.seed;
        cfg.threads = self.threads;
        cfg.checkpoint = if self.no_checkpoint {
            None
        } else {
            Some(self.checkpoint.unwrap_or_else(|| {
                let mut p = cfg.out.clone().into_os_string();
                p.push(".train-state");
                PathBuf::from(p)
            }))
        };
        cfg.resume = self.resume;
        cfg.force = self.force;
        Ok(TrainJob {
            cfg,
            display: Display {
                quiet: self.quiet,
                json: self.json,
            },
        })
    }
}

/// `$SALT_CACHE/hidden`, else `$XDG_CACHE_HOME/salt/hidden`, else `~/.cache/salt/hidden`.
fn default_cache() -> PathBuf {
    let base = std::env::var_os("SALT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("salt")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/salt")))
        .unwrap_or_else(|| PathBuf::from(".salt-cache"));
    base.join("hidden")
}

/// This process's command line, for the report (arguments with spaces quoted).
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.contains(char::is_whitespace) || a.is_empty() {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
