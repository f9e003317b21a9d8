//! Helpers shared by the tests: where the real assets live, hashing, temp folders.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The asset cache (`$SALT_CACHE`, default `~/.cache/salt`), as `scripts/setup.sh` fills it.
pub fn cache() -> PathBuf {
    std::env::var_os("SALT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/salt"),
        PathBuf::from,
    )
}

/// A real asset by its path in the cache; panics with the fix when it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = cache().join(rel);
    assert!(p.exists(), "missing test asset {}: run `scripts/setup.sh` first (it fetches the real models and texts)", p.display());
    p
}

/// A committed test file by its name in `tests/data`.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The three source LLMs of docs/development.md (assets).
pub const MODELS: [&str; 3] = [
    "models/smollm2-135m-instruct-q4_1.gguf",
    "models/gemma-3-270m-q4_k_m.gguf",
    "models/qwen2.5-coder-0.5b-instruct.gguf",
];

/// sha256 of a file, hex.
pub fn sha256_file(p: &std::path::Path) -> String {
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("hash read");
    format!("{:x}", h.finalize())
}

/// A fresh temporary folder, removed when dropped.
pub fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A `[rows x dim]` little-endian f32 `.npy` image (format 1.0, header padded to 64).
pub fn npy_image(rows: usize, dim: usize, value: impl Fn(usize) -> f32) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend((0..rows * dim).flat_map(|i| value(i).to_le_bytes()));
    b
}
