//! Stage 7: the new embedding tensors (`token_embd`, and `output` when untied).
//!
//! Input: the source tensor, one [`RowSource`] per target token, the new f32 rows.
//! Output: the tensor bytes in the output type. When the output keeps the source's ggml
//! type, copied rows are the source's block bytes (not re-quantized); new rows are
//! quantized by ggml. Rows are independent, so bytes do not depend on the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::codec;
use crate::error::CodecError;
use crate::ggml::GgmlType;
use crate::gguf::{keys, GgufFile, TensorInfo};
use crate::init::NewRows;
use crate::provenance::RowClass;
use crate::source::{RowStats, SourceModel};
use crate::vocab::TargetClass;

/// Where one output row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowSource {
    /// Source row `id`, bit-exact.
    Copy(u32),
    /// Row `i` of the new rows.
    New(u32),
}

/// A seeded normal row with the given per-dimension mean and std. Each (seed, stream) pair
/// has its own ChaCha stream, so rows can be drawn in any order and on any thread.
#[must_use]
pub fn random_row(seed: u64, stream: u64, mean: &[f64], std: &[f64]) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    mean.iter()
        .zip(std)
        .map(|(m, s)| {
            let z: f64 = StandardNormal.sample(&mut rng);
            (m + s * z) as f32
        })
        .collect()
}

/// Builds the bytes of a `[width x plan.len()]` tensor of type `out_ty`.
///
/// # Errors
/// [`CodecError`] when rows cannot be converted to `out_ty` or a new row is not finite.
pub fn assemble_tensor(
    f: &GgufFile,
    t: &TensorInfo,
    plan: &[RowSource],
    new_rows: &[f32],
    out_ty: GgmlType,
    what: &str,
) -> Result<Vec<u8>, CodecError> {
    let w = t.row_width() as usize;
    if out_ty == t.ty {
        let new_bytes = codec::quantize(out_ty, new_rows, w, what)?;
        let rb = t.row_bytes() as usize;
        let src = f.tensor_data(t);
        let mut out = Vec::with_capacity(plan.len() * rb);
        for p in plan {
            match *p {
                RowSource::Copy(id) => {
                    out.extend_from_slice(&src[id as usize * rb..(id as usize + 1) * rb])
                }
                RowSource::New(i) => {
                    out.extend_from_slice(&new_bytes[i as usize * rb..(i as usize + 1) * rb])
                }
            }
        }
        return Ok(out);
    }
    let copy_ids: Vec<u32> = plan
        .iter()
        .filter_map(|p| {
            if let RowSource::Copy(id) = p {
                Some(*id)
            } else {
                None
            }
        })
        .collect();
    let copied = codec::gather_rows(f, t, &copy_ids)?;
    let mut all = Vec::with_capacity(plan.len() * w);
    let mut next_copy = 0;
    for p in plan {
        match *p {
            RowSource::Copy(_) => {
                all.extend_from_slice(&copied[next_copy * w..(next_copy + 1) * w]);
                next_copy += 1;
            }
            RowSource::New(i) => {
                all.extend_from_slice(&new_rows[i as usize * w..(i as usize + 1) * w])
            }
        }
    }
    codec::quantize(out_ty, &all, w, what)
}

/// Every output row's source: copied source rows, the method's rows, seeded random rows.
#[derive(Clone, Debug, Default)]
pub struct RowPlan {
    /// One entry per target token.
    pub plan: Vec<RowSource>,
    /// One class per target token.
    pub classes: Vec<RowClass>,
    /// `[n_new x h_s]` new `token_embd` rows, indexed by [`RowSource::New`].
    pub embd: Vec<f32>,
    /// `[n_new x h_s]` new `output` rows (untied sources; empty otherwise).
    pub output: Vec<f32>,
    /// New rows from the method.
    pub from_method: usize,
    /// New rows drawn at random (docs/method.md section 5).
    pub random: usize,
}

/// Plans every row of the output: classes with a source row copy it; new tokens take
/// the method's row, or the seeded normal row of docs/method.md section 5 (one ChaCha stream per
/// target id, so the bytes do not depend on the order or the thread).
///
/// `output_rows`, when given, supply the new `output` rows instead of `rows` (an output
/// rule of its own). `output_is_embd` (an untied tied source) draws an output random row
/// equal to the input one, so that untying alone changes no logit.
#[must_use]
pub fn plan_rows(
    classes: &[TargetClass],
    rows: &NewRows,
    output_rows: Option<&NewRows>,
    seed: u64,
    stats: &RowStats,
    h_s: usize,
    output_is_embd: bool,
) -> RowPlan {
    let out_stream = |i: usize| {
        if output_is_embd {
            i as u64
        } else {
            i as u64 | (1 << 40)
        }
    };
    let mut out_next = output_rows.map(|o| (o, o.ids.iter().enumerate().peekable()));
    let mut p = RowPlan {
        plan: Vec::with_capacity(classes.len()),
        ..RowPlan::default()
    };
    let mut next = rows.ids.iter().enumerate().peekable();
    for (i, class) in classes.iter().enumerate() {
        if let Some(s) = class.source() {
            p.plan.push(RowSource::Copy(s));
            p.classes.push(match class {
                TargetClass::Shared(_) => RowClass::Shared,
                _ => RowClass::Special,
            });
            continue;
        }
        p.plan
            .push(RowSource::New((p.embd.len() / h_s.max(1)) as u32));
        match next.next_if(|(_, &id)| id as usize == i) {
            Some((r, _)) => {
                p.classes.push(RowClass::Initialised);
                p.from_method += 1;
                p.embd.extend_from_slice(&rows.embd[r * h_s..(r + 1) * h_s]);
                if let (None, Some(o)) = (&out_next, &rows.output) {
                    p.output.extend_from_slice(&o[r * h_s..(r + 1) * h_s]);
                }
            }
            None => {
                p.classes.push(RowClass::Random);
                p.random += 1;
                let (m, s) = &stats.embd;
                p.embd.extend(random_row(seed, i as u64, m, s));
                if let (None, Some((m, s))) = (&out_next, &stats.output) {
                    p.output.extend(random_row(seed, out_stream(i), m, s));
                }
            }
        }
        if let Some((o, next)) = out_next.as_mut() {
            match next.next_if(|(_, &id)| id as usize == i) {
                Some((r, _)) => {
                    let src = o.output.as_ref().unwrap_or(&o.embd);
                    p.output.extend_from_slice(&src[r * h_s..(r + 1) * h_s]);
                }
                None => {
                    if let Some((m, s)) = &stats.output {
                        p.output.extend(random_row(seed, out_stream(i), m, s));
                    }
                }
            }
        }
    }
    p
}

/// The bytes of the new `token_embd` (and `output`) tensors, in types `types`.
///
/// # Errors
/// [`CodecError`] when rows cannot be converted or a new row is not finite.
pub fn embedding_tensors(
    source: &SourceModel,
    rows: &RowPlan,
    types: (GgmlType, Option<GgmlType>),
) -> Result<(Vec<u8>, Option<Vec<u8>>), CodecError> {
    let embd = assemble_tensor(
        &source.file,
        &source.embd,
        &rows.plan,
        &rows.embd,
        types.0,
        keys::TOKEN_EMBD,
    )?;
    let out = match (&source.output, types.1) {
        (Some(t), Some(ty)) => Some(assemble_tensor(
            &source.file,
            t,
            &rows.plan,
            &rows.output,
            ty,
            keys::OUTPUT,
        )?),
        _ => None,
    };
    Ok((embd, out))
}
