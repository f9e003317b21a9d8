//! The files of one transfer output: `OUT.gguf`, its reference tokenizer
//! (`OUT.tokenizer.json`, and `OUT.model` for a SentencePiece target) and the optional
//! `--plan` JSON lines. All are created before any compute (so that a refused path fails
//! at once) and renamed into place together by [`OutputSet::commit`].

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{folder_of, AtomicOutput, OutputLock};
use crate::error::{Error, OutputError, VocabError};
use crate::gguf::{split, write_gguf, GgufHeader, TensorSource};
use crate::vocab::{TargetClass, TargetTokenizer, Vocab};

/// The paths of the reference tokenizer files written next to `out` (one pair for all
/// the files of a split output: `ko-00001-of-00003.gguf` -> `ko.tokenizer.json`).
#[must_use]
pub fn tokenizer_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .map(|s| split::unsplit_stem(&s.to_string_lossy()))
        .unwrap_or_default();
    let dir = out.parent().unwrap_or(Path::new("."));
    (
        dir.join(format!("{stem}.tokenizer.json")),
        dir.join(format!("{stem}.model")),
    )
}

/// The path of `method`'s file when one run writes several methods: `-METHOD` goes
/// before the extension (`ko.gguf` -> `ko-salt.gguf`; `.plan.jsonl` counts as one
/// extension: `ko.plan.jsonl` -> `ko-salt.plan.jsonl`).
#[must_use]
pub fn method_path(path: &Path, method: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.strip_suffix(".plan.jsonl") {
        Some(stem) => (stem.to_owned(), ".plan.jsonl".to_owned()),
        None => match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
            _ => (name.clone(), String::new()),
        },
    };
    path.with_file_name(format!("{stem}-{method}{ext}"))
}

/// Files in `dir` that belong to a split of `out`, of any count, sorted.
fn existing_parts(dir: &Path, out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| split::is_part_of(out, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Per-token lines of a `--plan` file.
pub struct PlanRows<'a> {
    /// The output vocabulary.
    pub vocab: &'a Vocab,
    /// Its classes.
    pub classes: &'a [TargetClass],
    /// The source vocabulary (for source token texts).
    pub source: &'a Vocab,
    /// Target ids that got the method's row (the others of class new are random).
    pub from_method: &'a [u32],
    /// Per neighbour-set query: (target id, neighbour target ids, weights).
    pub neighbours: Vec<(u32, Vec<u32>, &'a [f32])>,
}

/// The GGUF of one output: one file, or the files of a split.
enum GgufOut {
    One(AtomicOutput),
    /// Split into files of at most `max` bytes. How many is known once the header is:
    /// the files are made by [`OutputSet::write_gguf`], under the lock held on the
    /// unsplit name from the start.
    Split {
        max: u64,
        _lock: OutputLock,
        parts: Vec<AtomicOutput>,
    },
}

/// The files of one output, being written.
pub struct OutputSet {
    /// The GGUF path (of a split output: the unsplit name until written, then the first
    /// file's, the one to give llama.cpp).
    pub gguf_path: PathBuf,
    /// The reference `tokenizer.json` path.
    pub tokenizer_path: PathBuf,
    force: bool,
    inputs: Vec<PathBuf>,
    gguf: GgufOut,
    tokenizer: AtomicOutput,
    model: Option<AtomicOutput>,
    plan: Option<AtomicOutput>,
    /// With `force`: files of an earlier output under the same name in another form (a
    /// split of any count, or the unsplit file beside a split), found at the start and
    /// removed once the new files are in place, so that no old model is left to be
    /// loaded or shipped by mistake. Inputs are never among them.
    stale: Vec<PathBuf>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl OutputSet {
    /// Prepares `out`, its tokenizer and `plan`: refuses an existing file without `force`,
    /// an input as output, a missing folder. With `split_max`, the GGUF is written as
    /// split files (see [`crate::gguf::split`]); any existing file of such a split of
    /// `out`, whatever its count, is refused without `force`.
    ///
    /// # Errors
    /// [`OutputError`] naming the path.
    pub fn create(
        out: &Path,
        plan: Option<&Path>,
        force: bool,
        inputs: &[&Path],
        split_max: Option<u64>,
    ) -> Result<Self, OutputError> {
        let (tok_json, _) = tokenizer_paths(out);
        let stale = if force {
            earlier_forms(out, split_max.is_some(), inputs)
        } else {
            Vec::new()
        };
        let gguf = match split_max {
            None => GgufOut::One(AtomicOutput::create(out, force, inputs)?),
            Some(max) => {
                // The tokenizer's checks (folder, input) come first; they hold for `out` too.
                let dir = folder_of(out);
                if !dir.is_dir() {
                    return Err(OutputError::NoFolder { path: dir });
                }
                let lock = OutputLock::acquire(&dir, &crate::provenance::file_name(out), out)?;
                if !force {
                    if let Some(existing) = existing_parts(&dir, out).into_iter().next() {
                        return Err(OutputError::Exists { path: existing });
                    }
                }
                GgufOut::Split {
                    max,
                    _lock: lock,
                    parts: Vec::new(),
                }
            }
        };
        let tokenizer = AtomicOutput::create(&tok_json, force, inputs)?;
        let plan = plan
            .map(|p| AtomicOutput::create(p, force, inputs))
            .transpose()?;
        Ok(Self {
            gguf_path: out.to_path_buf(),
            tokenizer_path: tok_json,
            force,
            inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
            gguf,
            tokenizer,
            model: None,
            plan,
            stale,
        })
    }

    /// Writes the GGUF; returns its size in bytes.
    ///
    /// # Errors
    /// [`Error`] from the writer.
    pub fn write_gguf(
        &mut self,
        header: &GgufHeader,
        sources: &[TensorSource<'_>],
    ) -> Result<u64, Error> {
        match &mut self.gguf {
            GgufOut::One(o) => Ok(write_gguf(o.writer(), &self.gguf_path, header, sources)?),
            GgufOut::Split { max, parts, .. } => {
                let plan = split::plan(header, *max, &self.gguf_path)?;
                let inputs: Vec<&Path> = self.inputs.iter().map(PathBuf::as_path).collect();
                let mut total = 0;
                for (no, part) in plan.iter().enumerate() {
                    let path = split::part_path(&self.gguf_path, no, plan.len());
                    let mut o = AtomicOutput::create(&path, self.force, &inputs)?;
                    total += write_gguf(
                        o.writer(),
                        &path,
                        &part.header,
                        &sources[part.tensors.clone()],
                    )?;
                    parts.push(o);
                }
                self.gguf_path = split::part_path(&self.gguf_path, 0, plan.len());
                Ok(total)
            }
        }
    }

    /// How many GGUF files this output has (once written).
    #[must_use]
    pub fn gguf_files(&self) -> usize {
        match &self.gguf {
            GgufOut::One(_) => 1,
            GgufOut::Split { parts, .. } => parts.len(),
        }
    }

    /// Writes the reference tokenizer (and the SentencePiece `.model` it came from).
    ///
    /// # Errors
    /// [`Error`] when it cannot be serialised or written.
    pub fn write_tokenizer(&mut self, tk: &TargetTokenizer) -> Result<(), Error> {
        let json = tk
            .reference
            .to_string(false)
            .map_err(|e| VocabError::Tokenize(e.to_string()))?;
        self.tokenizer
            .writer()
            .write_all(json.as_bytes())
            .map_err(io_err(&self.tokenizer_path))?;
        if let Some(m) = &tk.spm_model {
            let (_, path) = tokenizer_paths(&self.gguf_path);
            let inputs: Vec<&Path> = self.inputs.iter().map(PathBuf::as_path).collect();
            let mut o = AtomicOutput::create(&path, self.force, &inputs)?;
            o.writer()
                .write_all(&prost::Message::encode_to_vec(m.model()))
                .map_err(io_err(&path))?;
            self.model = Some(o);
        }
        Ok(())
    }

    /// Writes the `--plan` lines, when a plan was asked for.
    ///
    /// # Errors
    /// [`OutputError::Io`].
    pub fn write_plan(&mut self, rows: &PlanRows<'_>) -> Result<(), Error> {
        let Some(out) = self.plan.as_mut() else {
            return Ok(());
        };
        let path = out.target().to_path_buf();
        let by_id: std::collections::HashMap<u32, (&[u32], &[f32])> = rows
            .neighbours
            .iter()
            .map(|(t, n, w)| (*t, (n.as_slice(), *w)))
            .collect();
        let from_method: std::collections::HashSet<u32> =
            rows.from_method.iter().copied().collect();
        let w = out.writer();
        for (i, c) in rows.classes.iter().enumerate() {
            let id = i as u32;
            let (class, source) = match c {
                TargetClass::Shared(s) => ("shared", Some(*s)),
                TargetClass::Special(s, _) | TargetClass::Chat(s) => ("special", Some(*s)),
                TargetClass::New if from_method.contains(&id) => ("regressed", None),
                TargetClass::New => ("random", None),
            };
            let (nbrs, w8) = by_id
                .get(&id)
                .map_or((None, None), |(n, w)| (Some(n), Some(w)));
            let line = serde_json::json!({
                "id": i, "token": rows.vocab.text(id), "class": class,
                "source_id": source, "source_token": source.map(|s| rows.source.text(s)),
                "neighbours": nbrs, "weights": w8,
            });
            writeln!(w, "{line}").map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// Renames every file into place.
    ///
    /// # Errors
    /// [`OutputError`] naming the file.
    pub fn commit(self) -> Result<(), OutputError> {
        let mut placed: Vec<PathBuf> = Vec::new();
        match self.gguf {
            GgufOut::One(o) => {
                placed.push(o.target().to_path_buf());
                o.commit()?;
            }
            GgufOut::Split { parts, .. } => {
                // All files or none: a failed rename takes back those already in place.
                for o in parts {
                    let path = o.target().to_path_buf();
                    if let Err(e) = o.commit() {
                        for p in &placed {
                            let _ = std::fs::remove_file(p);
                        }
                        return Err(e);
                    }
                    placed.push(path);
                }
            }
        }
        self.tokenizer.commit()?;
        if let Some(m) = self.model {
            m.commit()?;
        }
        if let Some(p) = self.plan {
            p.commit()?;
        }
        for path in self.stale.iter().filter(|p| !placed.contains(p)) {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(OutputError::Io {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}

/// The GGUF files an earlier run may have left under the name `out` in another form than
/// the one about to be written: every split of `out` (any count; a split output of another
/// count keeps none of its names), and `out` itself when a split is written. Inputs (a
/// split source under the same prefix) are left out.
fn earlier_forms(out: &Path, split: bool, inputs: &[&Path]) -> Vec<PathBuf> {
    let dir = folder_of(out);
    let canon_inputs: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut found = existing_parts(&dir, out);
    if split && out.is_file() {
        found.push(out.to_path_buf());
    }
    found.retain(|p| p.canonicalize().is_ok_and(|c| !canon_inputs.contains(&c)));
    found
}
