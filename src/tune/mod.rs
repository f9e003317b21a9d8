//! Stage 10: a head fitted on the target language (`salt tune`), the cheap local piece of
//! continued pre-training. The body stays frozen: llama.cpp computes its final hidden
//! states on a training text ([`hidden`]), the output rows are fitted to predict the next
//! token by softmax regression on the CPU ([`fit`]), and a new GGUF is written with every
//! tensor of the input but `output.weight`, which is the fitted head (a tied input gets
//! one, as with `--untie`). The input embedding is kept, unless [`InputRows::Tie`] makes
//! the fitted rows the input rows of the same tokens too.
//!
//! The last `val_share` of the windows read (they are spread over the whole text, so these
//! come from its end) are kept for validation: the fit keeps the rows of the iteration with
//! the lowest validation loss, so no held-out text is needed to choose when to stop.

pub mod fit;
pub mod hidden;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, TuneError};
use crate::ggml::GgmlType;
use crate::gguf::{keys, GgufFile, GgufHeader, Value};
use crate::output::Rewrite;
use crate::progress::{Progress, Reporter, Stage};
use crate::provenance::{file_name, key, name_and_sha256, RowClass};
// The rows fitted are part of the provenance contract (`salt.head_fit`, `salt.train_rows`).
pub use crate::provenance::FitRows;
pub use fit::{fit_rows, nll_and_grad, Fit, FitOptions, IterLog};
pub use hidden::{hidden_states, Hidden, HiddenOptions};

/// What happens to the input rows of the fitted tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputRows {
    /// The input rows stay as they are.
    Keep,
    /// Each fitted row becomes that token's input row too, the view of a tied model,
    /// which read its input and output rows from one table in training. It helps Korean
    /// Gemma and harms SmolLM2 and Qwen (README), so it is not the default.
    Tie,
}

impl InputRows {
    /// Every choice, in `--inputs` order.
    pub const ALL: [Self; 2] = [Self::Keep, Self::Tie];
    /// What [`TuneConfig::new`] and `salt tune` do unless told otherwise (README: the
    /// validation loss of three models).
    pub const DEFAULT: Self = Self::Keep;

    /// Its `--inputs` name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Tie => "tie",
        }
    }

    /// The choice named `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Every name, comma-separated, for the front ends' error messages.
    #[must_use]
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

/// What to tune.
#[derive(Clone, Debug)]
pub struct TuneConfig {
    /// The adapted (or any) GGUF whose head is fitted.
    pub model: PathBuf,
    /// Target-language training text (never the held-out split).
    pub train: PathBuf,
    /// The new GGUF.
    pub out: PathBuf,
    /// Rows fitted.
    pub rows: FitRows,
    /// L2 pull, iterations.
    pub fit: FitOptions,
    /// Window, token cap, threads, cache folder.
    pub hidden: HiddenOptions,
    /// Share of the training windows kept for validation (the last ones).
    pub val_share: f64,
    /// The head's ggml type (`None`: the input's output type, or its `token_embd` type).
    pub head_type: Option<GgmlType>,
    /// The fitted tokens' input rows: tied to the fitted rows, or kept.
    pub inputs: InputRows,
    /// Replace an existing output.
    pub force: bool,
}

impl TuneConfig {
    /// The share of the training windows kept for validation unless told otherwise.
    pub const DEFAULT_VAL_SHARE: f64 = 0.1;

    /// The measured defaults (README) for `model`, `train` and `out`.
    #[must_use]
    pub fn new(model: PathBuf, train: PathBuf, out: PathBuf) -> Self {
        Self {
            model,
            train,
            out,
            rows: FitRows::DEFAULT,
            fit: FitOptions::default(),
            hidden: HiddenOptions::default(),
            val_share: Self::DEFAULT_VAL_SHARE,
            head_type: None,
            inputs: InputRows::DEFAULT,
            force: false,
        }
    }

    /// Refuses settings the fit cannot use (before anything is read), so every caller (the
    /// CLI, the C API, Rust) gets the same message.
    ///
    /// # Errors
    /// [`TuneError::Setting`] naming the setting.
    pub fn check(&self) -> Result<(), TuneError> {
        let bad = |name, value: f64, reason| TuneError::Setting {
            name,
            value: value.to_string(),
            reason,
        };
        // NaN fails both comparisons, so it is refused too.
        if !(self.val_share > 0.0 && self.val_share < 1.0) {
            return Err(bad(
                "--val-share (val_share)",
                self.val_share,
                "give a share between 0 and 1",
            ));
        }
        if !(self.fit.l2 >= 0.0 && self.fit.l2.is_finite()) {
            return Err(bad(
                "--l2 (l2)",
                self.fit.l2,
                "give a finite pull of 0 or more",
            ));
        }
        Ok(())
    }
}

/// What `tune` did.
#[derive(Clone, Debug, Serialize)]
pub struct TuneReport {
    /// The GGUF written.
    pub out: PathBuf,
    /// Training and validation positions.
    pub positions: (usize, usize),
    /// Rows fitted.
    pub rows_fitted: usize,
    /// What was done to their input rows.
    pub inputs: InputRows,
    /// The iteration kept.
    pub best_iter: usize,
    /// Per iteration.
    pub log: Vec<IterLog>,
    /// Seconds for the hidden states and for the fit.
    pub seconds: (f64, f64),
}

/// Fits the head of `cfg.model` on `cfg.train` and writes `cfg.out`.
///
/// # Errors
/// [`TuneError`] for a model or text the fit cannot use, [`OutputError`] for the output,
/// llama.cpp's errors, [`Error::Cancelled`] (nothing written).
pub fn tune(cfg: &TuneConfig, progress: &mut dyn Progress) -> Result<TuneReport, Error> {
    cfg.check()?;
    let f = GgufFile::open(&cfg.model)?;
    check_plain_logits(&f, &cfg.model)?;
    let embd = f.require_tensor(keys::TOKEN_EMBD)?;
    let head = f.tensor(keys::OUTPUT).unwrap_or(embd);
    let head_type = cfg.head_type.unwrap_or(head.ty);
    let (d, v) = (head.row_width() as usize, head.dims[1] as usize);
    let fit_ids = fit_ids(&f, &cfg.model, cfg.rows, v)?;
    // Every output is created (and refused) before the long part.
    let out = Rewrite::create(&cfg.model, &cfg.out, cfg.force, &[&cfg.model, &cfg.train])?;
    let text = crate::text::read_text(&cfg.train)?;
    let t0 = std::time::Instant::now();
    let all = hidden_states(&cfg.model, &cfg.train, &text, &cfg.hidden, progress)?;
    let secs_hidden = t0.elapsed().as_secs_f64();
    let per_window = all.len() / all.windows.max(1);
    let n_val = ((all.windows as f64 * cfg.val_share).ceil() as usize).clamp(1, all.windows - 1);
    let split = (all.windows - n_val) * per_window;
    let (train, val) = (all.slice(0, split), all.slice(split, all.len()));
    let mut rep = Reporter::new(progress);
    rep.message(
        Stage::Fit,
        &format!(
            "fitting {} of {v} output rows on {} positions ({} for validation), {} hidden states",
            fit_ids.len(),
            train.len(),
            val.len(),
            d
        ),
    );
    let t1 = std::time::Instant::now();
    let w0 = crate::codec::gather_rows(&f, head, &(0..v as u32).collect::<Vec<_>>())?;
    let fitted = fit_rows(&w0, &fit_ids, &train, &val, &cfg.fit, progress)?;
    let secs_fit = t1.elapsed().as_secs_f64();
    let bytes = crate::codec::quantize(head_type, &fitted.rows, d, keys::OUTPUT)?;
    let embd_bytes = if cfg.inputs == InputRows::Tie {
        Some(input_rows(&f, embd, &fit_ids, &fitted.rows)?)
    } else {
        None
    };
    let header = tuned_header(&f, cfg, head_type, fit_ids.len(), train.len())?;
    let mut new = HashMap::from([(keys::OUTPUT, bytes)]);
    if let Some(e) = embd_bytes {
        new.insert(keys::TOKEN_EMBD, e);
    }
    out.finish(&f, &header, new)?;
    Ok(TuneReport {
        out: cfg.out.clone(),
        positions: (train.len(), val.len()),
        rows_fitted: fit_ids.len(),
        inputs: cfg.inputs,
        best_iter: fitted.best_iter,
        log: fitted.log,
        seconds: (secs_hidden, secs_fit),
    })
}

/// `token_embd` with the rows of `fit_ids` replaced by the fitted output rows (`rows`,
/// all `[V x d]`), in its own type; the other rows' bytes are copied.
fn input_rows(
    f: &GgufFile,
    embd: &crate::gguf::TensorInfo,
    fit_ids: &[u32],
    rows: &[f32],
) -> Result<Vec<u8>, Error> {
    let d = embd.row_width() as usize;
    let v = embd.dims[1] as usize;
    let mut plan: Vec<crate::assemble::RowSource> = (0..v as u32)
        .map(crate::assemble::RowSource::Copy)
        .collect();
    let mut new_rows = Vec::with_capacity(fit_ids.len() * d);
    for (k, &i) in fit_ids.iter().enumerate() {
        plan[i as usize] = crate::assemble::RowSource::New(k as u32);
        new_rows.extend_from_slice(&rows[i as usize * d..(i as usize + 1) * d]);
    }
    Ok(crate::assemble::assemble_tensor(
        f,
        embd,
        &plan,
        &new_rows,
        embd.ty,
        keys::TOKEN_EMBD,
    )?)
}

/// The fit assumes logits = W h: refuse models whose logits are scaled or soft-capped.
fn check_plain_logits(f: &GgufFile, path: &Path) -> Result<(), Error> {
    let arch = f
        .opt_str(keys::GENERAL_ARCHITECTURE)?
        .unwrap_or_default()
        .to_owned();
    for key in ["final_logit_softcapping", "logit_scale"] {
        let k = format!("{arch}.{key}");
        if let Some(x) = f.get(&k).and_then(Value::as_f64) {
            let neutral = if key == "logit_scale" { 1.0 } else { 0.0 };
            if x != neutral {
                return Err(TuneError::Unsupported {
                    path: path.to_path_buf(),
                    reason: format!("{k} = {x}: the head fit assumes plain logits W h"),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The rows `rows` selects, ascending.
pub(crate) fn fit_ids(
    f: &GgufFile,
    path: &Path,
    rows: FitRows,
    v: usize,
) -> Result<Vec<u32>, Error> {
    let Some(fitted) = rows.classes() else {
        return Ok((0..v as u32).collect());
    };
    let classes = f
        .get(key::TOKEN_CLASS)
        .and_then(Value::as_array)
        .ok_or_else(|| TuneError::Unsupported {
            path: path.to_path_buf(),
            reason: format!(
                "--rows {} needs {} (a salt transfer's output); use --rows all",
                rows.name(),
                key::TOKEN_CLASS
            ),
        })?;
    let is_fitted = |c: &Value| {
        c.as_int()
            .and_then(|c| u8::try_from(c).ok())
            .and_then(RowClass::from_code)
            .is_some_and(|c| fitted.contains(&c))
    };
    Ok(classes
        .iter()
        .enumerate()
        .filter(|(_, c)| is_fitted(c))
        .map(|(i, _)| i as u32)
        .collect())
}

fn tuned_header(
    f: &GgufFile,
    cfg: &TuneConfig,
    head_type: GgmlType,
    rows: usize,
    positions: usize,
) -> Result<GgufHeader, Error> {
    let mut header = crate::output::untied_header(f)?;
    for t in &mut header.tensors {
        if t.name == keys::OUTPUT.as_bytes() {
            t.ty = head_type;
        }
    }
    let (name, sha) = name_and_sha256(&cfg.train)?;
    header.set(key::HEAD, Value::str("fit"));
    header.set(key::HEAD_BASE, Value::str(file_name(&cfg.model)));
    header.set(key::HEAD_TEXT, Value::str(name));
    header.set(key::HEAD_TEXT_SHA256, Value::str(sha));
    header.set(key::HEAD_FIT, Value::str(cfg.rows.name()));
    header.set(key::HEAD_ROWS, Value::U64(rows as u64));
    header.set(key::HEAD_POSITIONS, Value::U64(positions as u64));
    header.set(key::HEAD_L2, Value::F64(cfg.fit.l2));
    header.set(key::HEAD_INPUTS, Value::str(cfg.inputs.name()));
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::{FitRows, InputRows};

    /// Each choice is found by its own name, the names are distinct, and the CLI's
    /// default is one of them.
    #[test]
    fn rows_names_round_trip() {
        for r in FitRows::ALL {
            assert_eq!(FitRows::from_name(r.name()), Some(r));
        }
        assert_eq!(FitRows::from_name("shared"), None);
        assert_eq!(FitRows::from_name("All"), None);
        assert!(FitRows::ALL.contains(&FitRows::DEFAULT));
        for r in InputRows::ALL {
            assert_eq!(InputRows::from_name(r.name()), Some(r));
        }
        assert_eq!(InputRows::from_name("auto"), None);
    }
}
