//! Row codecs: any ggml tensor rows -> f32, and f32 rows -> a ggml type, with ggml's own
//! dequantizers and quantizers so that results are bit-exact with llama.cpp.
//!
//! Shapes: a matrix of `rows x width` f32 values is one row-major `Vec<f32>`.

use rayon::prelude::*;

use crate::error::CodecError;
use crate::ggml::GgmlType;
use crate::gguf::{GgufFile, TensorInfo};
use llama_cpp_sys_2 as sys;

/// Rows per parallel work item (large enough to amortise, small enough to balance).
const ROWS_PER_TASK: usize = 256;

/// The first row of tensor `t` holding a NaN or infinity, with that value, if any.
///
/// Scans in blocks of 4,096 rows, in parallel, so that memory stays one block per worker
/// (Gemma's table is 262,144 x 640). Which row is reported does not depend on threads.
///
/// # Errors
/// As [`dequantize_rows`].
pub fn first_non_finite_row(
    f: &GgufFile,
    t: &TensorInfo,
) -> Result<Option<(usize, f32)>, CodecError> {
    const BLOCK: usize = 4096;
    let rows = t.n_rows() as usize;
    let w = (t.row_width() as usize).max(1);
    let found: Vec<Option<(usize, f32)>> = (0..rows.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK;
            let data = dequantize_rows(f, t, start, (start + BLOCK).min(rows))?;
            Ok(data
                .iter()
                .position(|v| !v.is_finite())
                .map(|i| (start + i / w, data[i])))
        })
        .collect::<Result<_, CodecError>>()?;
    Ok(found.into_iter().flatten().next())
}

/// Dequantizes rows `start..end` of tensor `t` of `f` into `[(end-start) x width]` f32.
///
/// # Errors
/// [`CodecError::RowRange`] for rows outside the tensor, [`CodecError::Unsupported`] for a
/// type ggml has no dequantizer for.
pub fn dequantize_rows(
    f: &GgufFile,
    t: &TensorInfo,
    start: usize,
    end: usize,
) -> Result<Vec<f32>, CodecError> {
    let rows = t.n_rows() as usize;
    if start > end || end > rows {
        return Err(CodecError::RowRange {
            tensor: t.name_str().into_owned(),
            start,
            end,
            rows,
        });
    }
    let row_bytes = t.row_bytes() as usize;
    let data = &f.tensor_data(t)[start * row_bytes..end * row_bytes];
    dequantize(t.ty, data, t.row_width() as usize)
}

/// Per-dimension mean and standard deviation of all rows of a tensor (f64 accumulation
/// over fixed row blocks, combined in order: independent of the thread count).
///
/// # Errors
/// [`CodecError`] when the type cannot be dequantized.
pub fn row_stats(f: &GgufFile, t: &TensorInfo) -> Result<(Vec<f64>, Vec<f64>), CodecError> {
    const BLOCK: usize = 4096;
    let rows = t.n_rows() as usize;
    let w = t.row_width() as usize;
    let starts: Vec<usize> = (0..rows).step_by(BLOCK).collect();
    let partial: Vec<(Vec<f64>, Vec<f64>)> = starts
        .par_iter()
        .map(|&s| {
            let x = dequantize_rows(f, t, s, (s + BLOCK).min(rows))?;
            let mut sum = vec![0f64; w];
            let mut sq = vec![0f64; w];
            for row in x.chunks_exact(w) {
                for (j, v) in row.iter().enumerate() {
                    sum[j] += f64::from(*v);
                    sq[j] += f64::from(*v) * f64::from(*v);
                }
            }
            Ok((sum, sq))
        })
        .collect::<Result<_, CodecError>>()?;
    let mut sum = vec![0f64; w];
    let mut sq = vec![0f64; w];
    for (s, q) in partial {
        sum.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        sq.iter_mut().zip(q).for_each(|(a, b)| *a += b);
    }
    let n = rows.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| (q / n - m * m).max(0.0).sqrt())
        .collect();
    Ok((mean, std))
}

/// Source rows `ids` of `t` as f32, `[ids.len() x width]`.
///
/// # Errors
/// [`CodecError`] when the type cannot be dequantized or an id is out of range.
pub fn gather_rows(f: &GgufFile, t: &TensorInfo, ids: &[u32]) -> Result<Vec<f32>, CodecError> {
    let w = t.row_width() as usize;
    let parts: Vec<Vec<f32>> = ids
        .par_chunks(1024)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len() * w);
            for &id in chunk {
                out.extend(dequantize_rows(f, t, id as usize, id as usize + 1)?);
            }
            Ok(out)
        })
        .collect::<Result<_, CodecError>>()?;
    Ok(parts.concat())
}

/// Dequantizes whole rows stored as `ty` (`data.len()` a multiple of the row size).
///
/// # Errors
/// [`CodecError::Unsupported`] for a type ggml has no dequantizer for.
pub fn dequantize(ty: GgmlType, data: &[u8], width: usize) -> Result<Vec<f32>, CodecError> {
    let row_bytes = ty.row_bytes(width as u64) as usize;
    let n_rows = data.len().checked_div(row_bytes).unwrap_or(0);
    let mut out = vec![0f32; n_rows * width];
    let plain: Option<fn(&[u8]) -> f32> = match ty.name() {
        "f32" => Some(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "f64" => Some(|b| f64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) as f32),
        "i8" => Some(|b| f32::from(b[0] as i8)),
        "i16" => Some(|b| f32::from(i16::from_le_bytes([b[0], b[1]]))),
        "i32" => Some(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        "i64" => Some(|b| i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) as f32),
        _ => None,
    };
    if let Some(conv) = plain {
        let size = ty.type_size() as usize;
        for (o, b) in out.iter_mut().zip(data.chunks_exact(size)) {
            *o = conv(b);
        }
        return Ok(out);
    }
    let Some(to_float) = ty.to_float_fn() else {
        return Err(CodecError::Unsupported {
            ty: ty.to_string(),
            op: "dequantized",
            fallback: "f32".into(),
        });
    };
    out.par_chunks_mut(width * ROWS_PER_TASK)
        .zip(data.par_chunks(row_bytes * ROWS_PER_TASK))
        .for_each(|(o, d)| {
            // SAFETY: `d` holds exactly `o.len() / width` whole rows of `ty` (chunks of whole
            // rows), which decode to `o.len()` floats; ggml's to_float reads `k` values'
            // worth of blocks from `x` and writes `k` floats to `y`, and is re-entrant.
            unsafe { to_float(d.as_ptr().cast(), o.as_mut_ptr(), o.len() as i64) };
        });
    Ok(out)
}

/// ids handled by `ggml_quantize_chunk` in this ggml (its switch); F32 is a plain copy.
fn quantizable(ty: GgmlType) -> bool {
    matches!(
        ty.name(),
        "f32"
            | "f16"
            | "bf16"
            | "q1_0"
            | "q2_0"
            | "q4_0"
            | "q4_1"
            | "q5_0"
            | "q5_1"
            | "q8_0"
            | "mxfp4"
            | "nvfp4"
            | "q2_K"
            | "q3_K"
            | "q4_K"
            | "q5_K"
            | "q6_K"
            | "tq1_0"
            | "tq2_0"
            | "iq2_xxs"
            | "iq2_xs"
            | "iq3_xxs"
            | "iq3_s"
            | "iq2_s"
            | "iq1_s"
            | "iq1_m"
            | "iq4_nl"
            | "iq4_xs"
    )
}

/// The type llama.cpp's quantizer falls back to when rows do not fill 256-value blocks.
#[must_use]
pub fn fallback_type(ty: GgmlType) -> GgmlType {
    let name = match ty.name() {
        "q4_K" => "q5_0",
        "q5_K" => "q5_1",
        "q6_K" => "q8_0",
        n if n.starts_with("iq") || n == "q2_K" || n == "q3_K" || n.starts_with("tq") => "iq4_nl",
        n if quantizable(ty) && n != "q1_0" && n != "q2_0" => return ty,
        _ => "q8_0",
    };
    GgmlType::from_name(name).unwrap_or(GgmlType::Q8_0)
}

/// Checks that rows of `width` can be quantized to `ty` here, before any compute.
///
/// # Errors
/// [`CodecError::Unsupported`], [`CodecError::NeedsImatrix`] or [`CodecError::BlockMismatch`],
/// each naming a type that works.
pub fn check_quantizable(ty: GgmlType, width: usize) -> Result<(), CodecError> {
    if !quantizable(ty) {
        return Err(CodecError::Unsupported {
            ty: ty.to_string(),
            op: "quantized",
            fallback: fallback_type(ty).to_string(),
        });
    }
    // SAFETY: a pure query on a valid type id.
    if unsafe { sys::ggml_quantize_requires_imatrix(ty.id()) } {
        return Err(CodecError::NeedsImatrix {
            ty: ty.to_string(),
            fallback: fallback_type(ty).to_string(),
        });
    }
    let block = ty.block_size() as usize;
    if !width.is_multiple_of(block) {
        let mut fb = fallback_type(ty);
        if !width.is_multiple_of(fb.block_size() as usize) {
            fb = GgmlType::F16;
        }
        return Err(CodecError::BlockMismatch {
            ty: ty.to_string(),
            width,
            block,
            fallback: fb.to_string(),
        });
    }
    Ok(())
}

/// Quantizes `[rows x width]` f32 values to `ty` with ggml's reference quantizer.
///
/// Rows are independent, so the bytes do not depend on the thread count.
///
/// # Errors
/// As [`check_quantizable`], and [`CodecError::NonFinite`] naming the first bad row of `what`.
pub fn quantize(
    ty: GgmlType,
    data: &[f32],
    width: usize,
    what: &str,
) -> Result<Vec<u8>, CodecError> {
    check_quantizable(ty, width)?;
    if let Some((i, v)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(CodecError::NonFinite {
            what: what.into(),
            row: i / width.max(1),
            value: *v,
        });
    }
    let n_rows = data.len().checked_div(width).unwrap_or(0);
    let row_bytes = ty.row_bytes(width as u64) as usize;
    let mut out = vec![0u8; n_rows * row_bytes];
    if ty == GgmlType::F32 {
        for (o, v) in out.chunks_exact_mut(4).zip(data) {
            o.copy_from_slice(&v.to_le_bytes());
        }
        return Ok(out);
    }
    // SAFETY: initialises ggml's lookup tables for `ty` (idempotent, internally locked);
    // done once here so that the parallel calls below only read them.
    unsafe { sys::ggml_quantize_init(ty.id()) };
    out.par_chunks_mut(row_bytes * ROWS_PER_TASK)
        .zip(data.par_chunks(width * ROWS_PER_TASK))
        .for_each(|(o, d)| {
            let rows = d.len() / width;
            // SAFETY: `d` holds `rows` whole rows of `width` floats and `o` exactly
            // `rows * row_bytes` bytes; with start = 0 ggml reads `rows * width` floats from
            // `src` and writes `rows` rows to `dst`. The type was checked to be quantizable
            // without an importance matrix and `width` to be a multiple of its block.
            unsafe {
                sys::ggml_quantize_chunk(
                    ty.id(),
                    d.as_ptr(),
                    o.as_mut_ptr().cast(),
                    0,
                    rows as i64,
                    width as i64,
                    std::ptr::null(),
                );
            }
        });
    Ok(out)
}
