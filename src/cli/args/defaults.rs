//! Flag values parsed beyond clap's own types, and the library's defaults the flags show.

use std::path::PathBuf;

/// A size such as `200M` or `2G` (powers of 1000, as llama.cpp's gguf-split reads them), or
/// plain bytes.
///
/// # Errors
/// A sentence naming the accepted forms.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1_000,
                'M' => 1_000_000,
                'G' => 1_000_000_000,
                'T' => 1_000_000_000_000,
                _ => 0,
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            format!("{s:?} is not a size: give bytes, or a number with K, M, G or T (200M, 2G)")
        })
}

/// `--device`.
///
/// # Errors
/// A sentence naming the accepted values.
pub fn parse_device(s: &str) -> Result<salt::device::DeviceChoice, String> {
    salt::device::DeviceChoice::parse(s)
        .ok_or_else(|| format!("{s:?} is not a device: cpu, cuda, cuda:N, auto or cuda-shim"))
}

/// `salt transfer`'s defaults are the library's (one place for each number).
pub(super) fn transfer_defaults() -> salt::pipeline::TransferConfig {
    salt::pipeline::TransferConfig::new(PathBuf::new(), PathBuf::new(), None, PathBuf::new())
}

/// `--aux-train`'s defaults are the library's.
pub(super) fn aux_defaults() -> salt::auxvec::TrainOptions {
    salt::auxvec::TrainOptions::new(PathBuf::new())
}

/// `salt train`'s defaults are the library's (one place for each number).
pub(super) fn train_defaults() -> salt::train::TrainConfig {
    salt::train::TrainConfig::new(PathBuf::new(), PathBuf::new(), PathBuf::new())
}
