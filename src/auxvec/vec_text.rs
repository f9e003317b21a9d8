//! fastText `.vec` text files: a header `count dim`, then `word v1 .. vdim` per line.

use std::collections::HashMap;
use std::path::Path;

use crate::error::AuxError;

/// Word vectors read from a `.vec` file.
pub struct VecTable {
    /// Width.
    pub dim: usize,
    /// Word -> row (the first occurrence wins).
    pub words: HashMap<String, usize>,
    /// `[rows x dim]`.
    pub data: Vec<f32>,
}

/// Reads a `.vec` file.
///
/// # Errors
/// [`AuxError::Load`] naming the file and line.
pub fn read_vec(path: &Path) -> Result<VecTable, AuxError> {
    let err = |line: usize, reason: &str| AuxError::Load {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let text = std::fs::read_to_string(path).map_err(|e| AuxError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| err(1, "empty file"))?;
    let mut h = header.split_whitespace();
    let (Some(_), Some(dim)) = (h.next(), h.next().and_then(|d| d.parse::<usize>().ok())) else {
        return Err(err(1, "expected the header `count dim`"));
    };
    if dim == 0 || dim > 100_000 {
        return Err(err(1, "implausible dimension"));
    }
    let mut words = HashMap::new();
    let mut data = Vec::new();
    for (i, line) in lines.enumerate() {
        let mut parts = line.split(' ').filter(|s| !s.is_empty());
        let Some(word) = parts.next() else { continue };
        let start = data.len();
        for p in parts {
            let v = p
                .trim()
                .parse::<f32>()
                .map_err(|_| err(i + 2, "a value is not a number"))?;
            if !v.is_finite() {
                return Err(err(
                    i + 2,
                    &format!("the vector of {word:?} holds a non-finite value ({v}); the file is damaged: export it again"),
                ));
            }
            data.push(v);
        }
        if data.len() - start != dim {
            return Err(err(
                i + 2,
                &format!("{} values, expected {dim}", data.len() - start),
            ));
        }
        words.entry(word.to_owned()).or_insert(start / dim);
    }
    Ok(VecTable { dim, words, data })
}
