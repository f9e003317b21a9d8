//! Stage 8 (files): everything a transfer writes, safely.
//!
//! [`AtomicOutput`] writes a temporary file in the destination folder and renames it into
//! place only when complete, so an interrupted or failed run never leaves a partial file
//! at the target path and never touches an input; [`OutputLock`] keeps two runs from
//! writing the same path at once. [`OutputSet`] holds the files of one
//! output (GGUF, reference tokenizer, plan); [`header`] builds the GGUF's header.

mod atomic;
mod files;
pub mod header;
mod lock;
mod rewrite;

pub use atomic::AtomicOutput;
pub use files::{method_path, tokenizer_paths, OutputSet, PlanRows};
pub use lock::{OutputLock, LOCK_PREFIX};
pub use rewrite::{untied_header, Rewrite};

use std::path::{Path, PathBuf};

/// The folder `out` is written in (`.` for a bare file name).
fn folder_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
