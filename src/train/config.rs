//! What `salt train` is asked ([`TrainConfig`], its measured defaults and checks) and what
//! it reports ([`TrainReport`]).

use std::path::PathBuf;

use serde::Serialize;

use super::state::StepLog;
use crate::error::TuneError;
use crate::tune::FitRows;

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The model whose rows are trained (a transfer's or tune's output, or any GGUF).
    pub model: PathBuf,
    /// Target-language training text (never the held-out split).
    pub train: PathBuf,
    /// A second validation text, of another domain: the kept step must not score worse on
    /// it than the starting rows.
    pub val_text: Option<PathBuf>,
    /// The new GGUF.
    pub out: PathBuf,
    /// Rows trained (input and output alike). By default the unshared ones (new, special
    /// and chat tokens'): the shared rows are the source's own, trained with this body; on
    /// Gemma's replacement, moving them too cost 0.285 bits/byte on the constitution,
    /// while the unshared rows alone did better on both validation texts (docs/results.md).
    pub rows: FitRows,
    /// Optimiser steps, one window each.
    pub steps: usize,
    /// Adam's learning rates for the input and the output rows, as fractions of the RMS of
    /// the table's starting rows: Adam moves every entry by about the rate per step,
    /// whatever the gradient's scale, and the models' rows differ in scale (RMS 0.089 in
    /// SmolLM2, 0.041 in Gemma, 0.017 in Qwen2.5), so one absolute rate cannot fit all.
    pub lr: (f32, f32),
    /// When a validation is not better than every earlier one, the rates are multiplied
    /// by this from then on (1: constant rates). Read from the log, so a resumed run
    /// steps at the rate an uninterrupted one would.
    pub decay: f32,
    /// Tokens per window.
    pub ctx: usize,
    /// Validation windows (from the last `val_share` of the training text, and as many
    /// from `val_text`).
    pub val_windows: usize,
    /// Steps between validations.
    pub eval_every: usize,
    /// Share of the training text's windows kept for validation.
    pub val_share: f64,
    /// Seed of the window order.
    pub seed: u64,
    /// Threads (`None`: all cores).
    pub threads: Option<usize>,
    /// Move only the rows of tokens in the step's window (lazy Adam).
    pub lazy: bool,
    /// Where the state is saved at every validation (`None`: nowhere).
    pub checkpoint: Option<PathBuf>,
    /// Continue from `checkpoint` when it exists (it must match the inputs and settings).
    pub resume: bool,
    /// Replace an existing output.
    pub force: bool,
}

impl TrainConfig {
    /// Steps unless told otherwise: about 10 minutes for SmolLM2 on 2 cores.
    pub const DEFAULT_STEPS: usize = 150;
    /// Learning rates unless told otherwise (input, output), as fractions of the rows' RMS:
    /// the input rows at 0.09 (of 0.0225, 0.045, 0.09 and 0.18, the lowest validation loss
    /// after 25 and 50 steps on SmolLM2 <- Korean), the output rows not at all (any rate
    /// we tried, down to 0.00113, made the Korean bill text worse than the start while the
    /// input rows alone made it better: docs/training.md).
    pub const DEFAULT_LR: (f32, f32) = (0.09, 0.0);
    /// The rate decay unless told otherwise (docs/training.md: SmolLM2 <- Korean with
    /// constant rates got worse on its validation windows after step 125).
    pub const DEFAULT_DECAY: f32 = 0.5;

    /// The defaults for `model`, `train` and `out`.
    #[must_use]
    pub fn new(model: PathBuf, train: PathBuf, out: PathBuf) -> Self {
        Self {
            model,
            train,
            val_text: None,
            out,
            rows: FitRows::DEFAULT,
            steps: Self::DEFAULT_STEPS,
            lr: Self::DEFAULT_LR,
            decay: Self::DEFAULT_DECAY,
            ctx: 512,
            val_windows: 6,
            eval_every: 25,
            val_share: 0.1,
            seed: 0,
            threads: None,
            lazy: false,
            checkpoint: None,
            resume: false,
            force: false,
        }
    }

    /// Refuses settings the loop cannot use, before anything is read.
    ///
    /// # Errors
    /// [`TuneError::Setting`] naming the setting.
    pub fn check(&self) -> Result<(), TuneError> {
        let bad = |name, value: String, reason| TuneError::Setting {
            name,
            value,
            reason,
        };
        if !(self.val_share > 0.0 && self.val_share < 1.0) {
            return Err(bad(
                "--val-share (val_share)",
                self.val_share.to_string(),
                "give a share between 0 and 1",
            ));
        }
        if self.ctx < 2 {
            return Err(bad(
                "--ctx (ctx)",
                self.ctx.to_string(),
                "give at least 2 tokens",
            ));
        }
        if self.val_windows == 0 || self.eval_every == 0 {
            return Err(bad(
                "--val-windows/--eval-every",
                format!("{}/{}", self.val_windows, self.eval_every),
                "give at least 1",
            ));
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return Err(bad(
                "--decay (decay)",
                self.decay.to_string(),
                "give a factor above 0 and at most 1",
            ));
        }
        for lr in [self.lr.0, self.lr.1] {
            if !(lr >= 0.0 && lr.is_finite()) {
                return Err(bad(
                    "--lr (lr)",
                    lr.to_string(),
                    "give a finite rate of 0 or more",
                ));
            }
        }
        Ok(())
    }
}

/// What `train` did.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// The GGUF written.
    pub out: PathBuf,
    /// Training windows, validation windows.
    pub windows: (usize, usize),
    /// Rows trained.
    pub rows_trained: usize,
    /// The step kept.
    pub best_step: usize,
    /// Every validation.
    pub log: Vec<StepLog>,
    /// Validation NLL of the rows as written (quantized), for the check against llama.cpp.
    pub val_nll_written: f64,
    /// The validation windows (token ids), to score the written file the same way.
    #[serde(skip)]
    pub val_tokens: Vec<Vec<u32>>,
    /// Seconds per step (forward and backward of one window, and the update).
    pub seconds_per_step: f64,
    /// Seconds in all.
    pub seconds: f64,
}
