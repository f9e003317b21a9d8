//! The training state, and its checkpoint file: written at every validation, so that a
//! run stopped (cancelled, killed, out of time) resumes where it was and, for the same
//! inputs and settings, writes the same bytes as a run never stopped.
//!
//! The file is one JSON line (format, the fingerprint of the inputs and settings, the step,
//! the log) and then eight `[rows x d]` little-endian f32 tables: the trained rows (input,
//! output), the best step's (input, output), and Adam's moments (input m, v; output m, v).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::rows::Rows;
use crate::error::{Error, OutputError, TuneError};
use crate::output::AtomicOutput;

const FORMAT: &str = "salt-train-state/1";

/// One validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Steps done.
    pub step: usize,
    /// Mean training NLL (nats per token) of the steps since the last validation.
    pub train_nll: Option<f64>,
    /// Mean validation NLL on the training text's validation windows.
    pub val_nll: f64,
    /// Mean NLL on `--val-text`.
    pub other_nll: Option<f64>,
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Steps done.
    pub step: usize,
    /// Adam on the input rows.
    pub adam_in: Adam,
    /// Adam on the output rows.
    pub adam_out: Adam,
    /// The best validated step so far, and its validation NLL.
    pub best: (usize, f64),
    /// Its rows, trained ids only: input, output (`[ids x d]` each).
    pub best_rows: (Vec<f32>, Vec<f32>),
    /// Every validation so far.
    pub log: Vec<StepLog>,
}

#[derive(Serialize, Deserialize)]
struct Head {
    format: String,
    fingerprint: String,
    step: usize,
    best_step: usize,
    best_val: f64,
    rows: usize,
    d: usize,
    log: Vec<StepLog>,
}

/// The rows `ids` of `table` (`[v x d]`), in order.
#[must_use]
pub fn pick(table: &[f32], ids: &[u32], d: usize) -> Vec<f32> {
    ids.iter()
        .flat_map(|&i| table[i as usize * d..][..d].iter().copied())
        .collect()
}

/// Puts `rows` (`[ids x d]`) back at rows `ids` of `table`.
pub fn put(table: &mut [f32], rows: &[f32], ids: &[u32], d: usize) {
    for (k, &i) in ids.iter().enumerate() {
        table[i as usize * d..][..d].copy_from_slice(&rows[k * d..][..d]);
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| {
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    }
}

/// Writes `state` and the live `rows` (their rows `ids`) to `path`, atomically.
///
/// # Errors
/// [`OutputError`] naming the file.
pub fn save(
    path: &Path,
    fingerprint: &str,
    state: &State,
    rows: &Rows,
    ids: &[u32],
) -> Result<(), Error> {
    let mut out = AtomicOutput::create(path, true, &[])?;
    let head = Head {
        format: FORMAT.into(),
        fingerprint: fingerprint.into(),
        step: state.step,
        best_step: state.best.0,
        best_val: state.best.1,
        rows: ids.len(),
        d: rows.d,
        log: state.log.clone(),
    };
    let w = out.writer();
    let json = serde_json::to_string(&head).map_err(|e| io(path)(std::io::Error::other(e)))?;
    writeln!(w, "{json}").map_err(io(path))?;
    let tables = [
        &pick(&rows.input, ids, rows.d),
        &pick(&rows.output, ids, rows.d),
        &state.best_rows.0,
        &state.best_rows.1,
        &state.adam_in.m,
        &state.adam_in.v,
        &state.adam_out.m,
        &state.adam_out.v,
    ];
    for t in tables {
        for x in t.iter() {
            w.write_all(&x.to_le_bytes()).map_err(io(path))?;
        }
    }
    out.commit()?;
    Ok(())
}

/// Reads the state at `path` into `rows` (rows `ids`) and returns it, if it was written
/// for `fingerprint`.
///
/// # Errors
/// [`TuneError::Checkpoint`] for a file of another format, other inputs or settings, or
/// the wrong size.
pub fn load(
    path: &Path,
    fingerprint: &str,
    rows: &mut Rows,
    ids: &[u32],
    lr: (f32, f32),
) -> Result<State, Error> {
    let bad = |reason: String| -> Error {
        TuneError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        }
        .into()
    };
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open it ({e})")))?;
    let mut r = BufReader::new(file);
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|e| bad(format!("cannot read it ({e})")))?;
    let head: Head = serde_json::from_str(&line)
        .map_err(|e| bad(format!("not a salt train checkpoint ({e})")))?;
    if head.format != FORMAT {
        return Err(bad(format!("format {}, expected {FORMAT}", head.format)));
    }
    if head.fingerprint != fingerprint {
        return Err(bad(
            "written for other inputs or settings; delete it or start without --resume".into(),
        ));
    }
    let d = rows.d;
    if head.rows != ids.len() || head.d != d {
        return Err(bad(format!(
            "{} rows of {}, expected {} of {d}",
            head.rows,
            head.d,
            ids.len()
        )));
    }
    let n = ids.len() * d;
    let mut table = || -> Result<Vec<f32>, Error> {
        let mut b = vec![0u8; n * 4];
        r.read_exact(&mut b)
            .map_err(|e| bad(format!("truncated ({e})")))?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let (input, output) = (table()?, table()?);
    let best_rows = (table()?, table()?);
    let mut adam_in = Adam::new(ids.len(), d, lr.0);
    let mut adam_out = Adam::new(ids.len(), d, lr.1);
    (adam_in.m, adam_in.v, adam_out.m, adam_out.v) = (table()?, table()?, table()?, table()?);
    put(&mut rows.input, &input, ids, d);
    put(&mut rows.output, &output, ids, d);
    Ok(State {
        step: head.step,
        adam_in,
        adam_out,
        best: (head.best_step, head.best_val),
        best_rows,
        log: head.log,
    })
}
