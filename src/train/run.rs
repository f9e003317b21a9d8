//! The training loop: windows of the training text, Adam on the chosen rows, validation
//! every few steps, the best step's rows kept and written.

use std::collections::HashMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::adam::Adam;
use super::config::{TrainConfig, TrainReport};
use super::forward::ropes;
use super::model::Body;
use super::ops::Rope;
use super::rows::{start_rows, window_grad, window_nll, Rows};
use super::state::{self, pick, State, StepLog};
use super::windows::Windows;
use crate::assemble::{assemble_tensor, RowSource};
use crate::codec::dequantize;
use crate::error::{Error, TuneError};
use crate::gguf::{keys, GgufFile, GgufHeader, Value};
use crate::output::Rewrite;
use crate::progress::{Progress, Reporter, Stage};
use crate::provenance::{file_name, key, name_and_sha256};

/// The root mean square of rows `ids` of `table` (1 for none, so a rate stays a rate).
fn rms(table: &[f32], ids: &[u32], d: usize) -> f32 {
    let (mut s, mut n) = (0f64, 0usize);
    for &i in ids {
        for x in &table[i as usize * d..][..d] {
            s += f64::from(*x) * f64::from(*x);
            n += 1;
        }
    }
    if n == 0 || s == 0.0 {
        1.0
    } else {
        (s / n as f64).sqrt() as f32
    }
}

/// A validation entry for a person.
fn show(l: &StepLog) -> String {
    let mut s = match l.train_nll {
        Some(t) => format!("training {t:.4}, validation {:.4}", l.val_nll),
        None => format!("validation {:.4}", l.val_nll),
    };
    if let Some(o) = l.other_nll {
        s.push_str(&format!(", other text {o:.4}"));
    }
    s
}

/// The training windows' order: a fresh seeded shuffle every pass over them, so the window
/// of any step follows from the seed alone (a resumed run takes the same windows).
struct Order {
    n: usize,
    seed: u64,
    pass: Option<(usize, Vec<usize>)>,
}

impl Order {
    fn new(n: usize, seed: u64) -> Self {
        Self {
            n,
            seed,
            pass: None,
        }
    }

    /// The window of step `i` (from 0).
    fn at(&mut self, i: usize) -> usize {
        let (pass, k) = (i / self.n, i % self.n);
        if self.pass.as_ref().is_none_or(|(p, _)| *p != pass) {
            let mut order: Vec<usize> = (0..self.n).collect();
            let mut rng = ChaCha8Rng::seed_from_u64(
                self.seed ^ (pass as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            order.shuffle(&mut rng);
            self.pass = Some((pass, order));
        }
        self.pass.as_ref().map_or(0, |(_, o)| o[k])
    }
}

/// The rates' multiple after the validations of `log`: `decay` to the power of the number
/// of validations that were not better than every one before them. A constant rate keeps
/// Adam's steps as large late in a run as early, and the validation loss then climbs back
/// (SmolLM2 <- Korean: 5.53 nats at step 125, 5.77 at step 200); halving the rate where
/// the validation stalls lets the rows settle. Derived from the log alone, so a resumed
/// run gets it back without a field of its own in the checkpoint.
#[must_use]
pub fn rate_scale(log: &[StepLog], decay: f32) -> f32 {
    let mut best = f64::INFINITY;
    let mut stalls = 0i32;
    for (k, l) in log.iter().enumerate() {
        if k > 0 && l.val_nll >= best {
            stalls += 1;
        }
        best = best.min(l.val_nll);
    }
    decay.powi(stalls)
}

/// Both tables' rates as [`rate_scale`] gives them after the validations so far.
fn set_rates(st: &mut State, decay: f32) {
    let rate = rate_scale(&st.log, decay);
    st.adam_in.scale_rate(rate);
    st.adam_out.scale_rate(rate);
}

/// What a checkpoint must match to be resumed: the inputs' contents and every setting but
/// the step count (a run may be resumed to train longer) and the threads.
fn fingerprint(cfg: &TrainConfig) -> Result<String, Error> {
    let mut parts = vec![
        name_and_sha256(&cfg.model)?.1,
        name_and_sha256(&cfg.train)?.1,
    ];
    if let Some(p) = &cfg.val_text {
        parts.push(name_and_sha256(p)?.1);
    }
    parts.push(format!(
        "rows={} lazy={} lr={:?} decay={} ctx={} seed={} eval_every={} val_windows={} val_share={}",
        cfg.rows.name(),
        cfg.lazy,
        cfg.lr,
        cfg.decay,
        cfg.ctx,
        cfg.seed,
        cfg.eval_every,
        cfg.val_windows,
        cfg.val_share
    ));
    Ok(parts.join(" "))
}

fn mean_nll(body: &Body, ropes: &[Rope], rows: &Rows, wins: &[Vec<u32>]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for w in wins {
        let (a, b) = window_nll(body, ropes, rows, w, 1);
        s += a;
        n += b;
    }
    s / n.max(1) as f64
}

/// Trains the rows of `cfg.model` on `cfg.train` and writes `cfg.out`.
///
/// # Errors
/// [`TuneError`] for a model or text the loop cannot use, [`crate::error::OutputError`]
/// for the output, [`Error::Cancelled`] (nothing written).
pub fn train(cfg: &TrainConfig, progress: &mut dyn Progress) -> Result<TrainReport, Error> {
    cfg.check()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads.unwrap_or(0))
        .build()
        .map_err(|e| TuneError::Unsupported {
            path: cfg.model.clone(),
            reason: format!("starting {} threads: {e}", cfg.threads.unwrap_or(0)),
        })?;
    train_in_pool(cfg, &pool, progress)
}

fn train_in_pool(
    cfg: &TrainConfig,
    pool: &rayon::ThreadPool,
    progress: &mut dyn Progress,
) -> Result<TrainReport, Error> {
    let t_all = std::time::Instant::now();
    let f = GgufFile::open(&cfg.model)?;
    let mut inputs: Vec<&Path> = vec![&cfg.model, &cfg.train];
    inputs.extend(cfg.val_text.as_deref());
    let out = Rewrite::create(&cfg.model, &cfg.out, cfg.force, &inputs)?;
    let mut rep = Reporter::new(progress);
    let body = pool.install(|| Body::load(&f, &cfg.model))?;
    let mut rows = pool.install(|| start_rows(&f))?;
    let ids = crate::tune::fit_ids(&f, &cfg.model, cfg.rows, rows.v)?;
    let Windows {
        train: train_wins,
        val,
        other,
    } = Windows::read(
        &cfg.model,
        &cfg.train,
        cfg.val_text.as_deref(),
        cfg.ctx,
        cfg.val_share,
        cfg.val_windows,
    )?;
    let ropes = ropes(&body.hp, cfg.ctx);
    rep.message(
        Stage::Train,
        &format!(
            "training {} input rows{} through {} layers: {} steps over {} windows of {} tokens, {} for validation",
            ids.len(),
            if cfg.lr.1 > 0.0 { " and their output rows" } else { "" },
            body.hp.n_layer,
            cfg.steps,
            train_wins.len(),
            cfg.ctx,
            val.len() + other.as_ref().map_or(0, Vec::len)
        ),
    );
    let validate = |rows: &Rows, step: usize, train_nll: Option<f64>| {
        pool.install(|| StepLog {
            step,
            train_nll,
            val_nll: mean_nll(&body, &ropes, rows, &val),
            other_nll: other.as_ref().map(|o| mean_nll(&body, &ropes, rows, o)),
        })
    };
    // The rates in the rows' own scale (from the starting rows, so a resumed run agrees).
    let lr = (
        cfg.lr.0 * rms(&rows.input, &ids, rows.d),
        cfg.lr.1 * rms(&rows.output, &ids, rows.d),
    );
    let fingerprint = match &cfg.checkpoint {
        Some(_) => fingerprint(cfg)?,
        None => String::new(),
    };
    let mut st = match cfg
        .checkpoint
        .as_deref()
        .filter(|c| cfg.resume && c.is_file())
    {
        Some(c) => {
            let st = state::load(c, &fingerprint, &mut rows, &ids, lr)?;
            rep.message(
                Stage::Train,
                &format!("resuming at step {} from {}", st.step, c.display()),
            );
            st
        }
        None => {
            let first = validate(&rows, 0, None);
            State {
                step: 0,
                adam_in: Adam::new(ids.len(), rows.d, lr.0),
                adam_out: Adam::new(ids.len(), rows.d, lr.1),
                best: (0, first.val_nll),
                best_rows: (
                    pick(&rows.input, &ids, rows.d),
                    pick(&rows.output, &ids, rows.d),
                ),
                log: vec![first],
            }
        }
    };
    let other0 = st.log[0].other_nll;
    rep.message(Stage::Train, &format!("step 0: {}", show(&st.log[0])));
    let (mut run_nll, mut run_n) = (0.0, 0usize);
    let mut order = Order::new(train_wins.len(), cfg.seed);
    let t_steps = std::time::Instant::now();
    let first_step = st.step + 1;
    set_rates(&mut st, cfg.decay);
    // With a rate of 0 the output rows stay: their gradient is never formed.
    let outputs = cfg.lr.1 > 0.0;
    for step in first_step..=cfg.steps {
        rep.step(Stage::Train, step - 1, cfg.steps)?;
        let w = &train_wins[order.at(step - 1)];
        let g = pool.install(|| window_grad(&body, &ropes, &rows, w, 1, outputs));
        run_nll += g.nll;
        run_n += g.n;
        let scale = 1.0 / g.n as f32;
        let t = i32::try_from(step).unwrap_or(i32::MAX);
        let seen = cfg.lazy.then(|| {
            let mut seen = vec![false; rows.v];
            for &tk in w {
                seen[tk as usize] = true;
            }
            seen
        });
        st.adam_in
            .step(&mut rows.input, &g.input, &ids, scale, t, seen.as_deref());
        if let Some(go) = &g.output {
            st.adam_out
                .step(&mut rows.output, go, &ids, scale, t, seen.as_deref());
        }
        st.step = step;
        if step % cfg.eval_every == 0 || step == cfg.steps {
            let entry = validate(&rows, step, Some(run_nll / run_n.max(1) as f64));
            (run_nll, run_n) = (0.0, 0);
            // The other domain may not get worse than the starting rows: a stopping rule
            // chosen on text the training never sees.
            let allowed = match (entry.other_nll, other0) {
                (Some(o), Some(o0)) => o <= o0,
                _ => true,
            };
            rep.message(Stage::Train, &format!("step {step}: {}", show(&entry)));
            if allowed && entry.val_nll < st.best.1 {
                st.best = (step, entry.val_nll);
                st.best_rows = (
                    pick(&rows.input, &ids, rows.d),
                    pick(&rows.output, &ids, rows.d),
                );
            }
            st.log.push(entry);
            set_rates(&mut st, cfg.decay);
            if let Some(c) = &cfg.checkpoint {
                state::save(c, &fingerprint, &st, &rows, &ids)?;
            }
        }
    }
    let ran = (cfg.steps + 1).saturating_sub(first_step).max(1);
    let seconds_per_step = t_steps.elapsed().as_secs_f64() / ran as f64;
    rep.step(Stage::Train, cfg.steps, cfg.steps)?;
    let best_step = st.best.0;
    let w = written(&f, cfg, &st.best_rows, &ids, best_step)?;
    let val_nll_written = pool.install(|| mean_nll(&body, &ropes, &w.rows, &val));
    out.finish(&f, &w.header, w.tensors)?;
    if let Some(c) = &cfg.checkpoint {
        // The output holds everything the checkpoint did.
        let _ = std::fs::remove_file(c);
    }
    Ok(TrainReport {
        out: cfg.out.clone(),
        windows: (train_wins.len(), val.len()),
        rows_trained: ids.len(),
        best_step,
        log: st.log,
        val_nll_written,
        val_tokens: val,
        seconds_per_step,
        seconds: t_all.elapsed().as_secs_f64(),
    })
}

/// What is written: the header, the new tensors' bytes (trained rows quantized to the
/// tensors' types, the others copied), and the rows as written (dequantized back).
struct Written {
    header: GgufHeader,
    tensors: HashMap<&'static str, Vec<u8>>,
    rows: Rows,
}

fn written(
    f: &GgufFile,
    cfg: &TrainConfig,
    best: &(Vec<f32>, Vec<f32>),
    ids: &[u32],
    best_step: usize,
) -> Result<Written, Error> {
    let embd = f.require_tensor(keys::TOKEN_EMBD)?;
    let head = f.tensor(keys::OUTPUT).unwrap_or(embd);
    let (d, v) = (embd.row_width() as usize, embd.n_rows() as usize);
    let mut plan: Vec<RowSource> = (0..v as u32).map(RowSource::Copy).collect();
    for (k, &i) in ids.iter().enumerate() {
        plan[i as usize] = RowSource::New(k as u32);
    }
    let in_bytes = assemble_tensor(f, embd, &plan, &best.0, embd.ty, keys::TOKEN_EMBD)?;
    // Output rows that never moved are copied, not re-quantized (a K-quant round trip is
    // not exact).
    let out_plan: Vec<RowSource> = if cfg.lr.1 == 0.0 {
        (0..v as u32).map(RowSource::Copy).collect()
    } else {
        plan
    };
    let out_rows: &[f32] = if cfg.lr.1 == 0.0 { &[] } else { &best.1 };
    let out_bytes = assemble_tensor(f, head, &out_plan, out_rows, head.ty, keys::OUTPUT)?;
    let back = Rows {
        d,
        v,
        input: dequantize(embd.ty, &in_bytes, d)?,
        output: dequantize(head.ty, &out_bytes, d)?,
    };
    let mut header = crate::output::untied_header(f)?;
    let (name, sha) = name_and_sha256(&cfg.train)?;
    header.set(key::TRAIN_BASE, Value::str(file_name(&cfg.model)));
    header.set(key::TRAIN_TEXT, Value::str(name));
    header.set(key::TRAIN_TEXT_SHA256, Value::str(sha));
    header.set(key::TRAIN_ROWS, Value::str(cfg.rows.name()));
    header.set(key::TRAIN_STEPS, Value::U64(cfg.steps as u64));
    header.set(key::TRAIN_BEST_STEP, Value::U64(best_step as u64));
    header.set(key::TRAIN_LR_INPUT, Value::F32(cfg.lr.0));
    header.set(key::TRAIN_LR_OUTPUT, Value::F32(cfg.lr.1));
    header.set(key::TRAIN_DECAY, Value::F32(cfg.decay));
    header.set(key::TRAIN_CTX, Value::U64(cfg.ctx as u64));
    header.set(key::TRAIN_SEED, Value::U64(cfg.seed));
    if let Some(p) = &cfg.val_text {
        header.set(key::TRAIN_VAL_TEXT, Value::str(file_name(p)));
    }
    Ok(Written {
        header,
        tensors: HashMap::from([(keys::TOKEN_EMBD, in_bytes), (keys::OUTPUT, out_bytes)]),
        rows: back,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(vals: &[f64]) -> Vec<StepLog> {
        vals.iter()
            .enumerate()
            .map(|(k, &v)| StepLog {
                step: k * 25,
                train_nll: None,
                val_nll: v,
                other_nll: None,
            })
            .collect()
    }

    #[test]
    fn the_rate_halves_at_each_validation_that_beats_no_earlier_one() {
        assert_eq!(rate_scale(&log(&[6.0]), 0.5), 1.0);
        assert_eq!(rate_scale(&log(&[6.0, 5.8, 5.7]), 0.5), 1.0);
        // 5.9 stalls (above 5.8), 5.8 ties the best: two stalls; 5.6 is a new best.
        assert_eq!(rate_scale(&log(&[6.0, 5.8, 5.9, 5.8, 5.6]), 0.5), 0.25);
        assert_eq!(rate_scale(&log(&[6.0, 6.1, 6.2]), 1.0), 1.0);
    }
}
