//! A lock beside each output, so that two runs writing the same path (two processes, or
//! two threads of a runtime that embeds the library) never interleave: the second fails at
//! once with a message naming the first, instead of one run deleting the other's temporary
//! file (which gave "No such file or directory" before the lock existed).
//!
//! The lock is an advisory `flock` on `.salt-lock-NAME` in the output's folder. The
//! operating system releases it when its holder exits, however it exits, so a killed run
//! never leaves a lock that blocks the next one; the file itself is removed by the holder
//! when done (a killed run's file is reused by the next run).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::OutputError;

/// The lock file's name prefix.
pub const LOCK_PREFIX: &str = ".salt-lock-";

/// A held lock on one output path; released and removed on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    /// Holding the open file holds the lock.
    _file: File,
}

impl OutputLock {
    /// Takes the lock of `target` (whose folder is `dir` and file name `name`), or fails at
    /// once if another run holds it.
    ///
    /// # Errors
    /// [`OutputError::Busy`] naming the other run, or [`OutputError::Io`].
    pub fn acquire(dir: &Path, name: &str, target: &Path) -> Result<Self, OutputError> {
        let path = dir.join(format!("{LOCK_PREFIX}{name}"));
        let io = |source| OutputError::Io {
            path: path.clone(),
            source,
        };
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|source| match source.kind() {
                    std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::ReadOnlyFilesystem => OutputError::NotWritable {
                        path: dir.to_path_buf(),
                        source,
                    },
                    _ => io(source),
                })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(OutputError::Busy {
                        path: target.to_path_buf(),
                        holder: describe(&read_holder(&path)),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            // The previous holder removes the file when done: if it did so between our
            // open and our lock, we hold a lock on a file nobody else will open. Retry on
            // the path's current file.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            let command: Vec<String> = std::env::args().collect();
            // One write, so that a reader sees the whole line or none of it.
            let line = format!("pid {}: {}\n", std::process::id(), command.join(" "));
            file.write_all(line.as_bytes()).map_err(io)?;
            return Ok(Self { path, _file: file });
        }
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked (the file is closed after this), so that a run
        // waiting on this file notices it is gone (see `acquire`).
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The holder's line. It writes it just after taking the lock: allow it a moment.
fn read_holder(path: &Path) -> String {
    for _ in 0..20 {
        let line = std::fs::read_to_string(path).unwrap_or_default();
        if line.ends_with('\n') {
            return line.trim().to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    String::new()
}

/// The holder's line for messages.
fn describe(holder: &str) -> String {
    if holder.is_empty() {
        "another salt run, just starting".to_owned()
    } else {
        format!("another salt run, {holder}")
    }
}

/// Whether `file` is the file now at `path`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Without inode numbers, trust the open file.
#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::AtomicOutput;

    #[test]
    fn a_second_writer_of_the_same_path_is_refused_until_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.gguf");
        let first = AtomicOutput::create(&target, false, &[]).unwrap();
        let lock_file = dir.path().join(format!("{LOCK_PREFIX}x.gguf"));
        let holder = std::fs::read_to_string(&lock_file).unwrap();
        assert!(
            holder.starts_with(&format!("pid {}:", std::process::id())),
            "{holder}"
        );
        let err = AtomicOutput::create(&target, true, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OutputError::Busy { .. }), "{msg}");
        assert!(
            msg.contains("x.gguf") && msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        // Another path in the same folder is not affected.
        drop(AtomicOutput::create(&dir.path().join("y.gguf"), false, &[]).unwrap());
        first.commit().unwrap();
        assert!(!lock_file.exists(), "the lock file outlived its run");
        let second = AtomicOutput::create(&target, true, &[]).unwrap();
        second.commit().unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x.gguf"]);
    }
}
