//! The files of one transfer output: `OUT.gguf`, its reference tokenizer
//! (`OUT.tokenizer.json`, and `OUT.model` for a SentencePiece target) and the optional
//! `--plan` JSON lines. All are created before any compute (so that a refused path fails
//! at once) and renamed into place together by [`OutputSet::commit`].

use std::io::Write;
use std::path::{Path, PathBuf};

use super::AtomicOutput;
use crate::error::{Error, OutputError, VocabError};
use crate::gguf::{write_gguf, GgufHeader, TensorSource};
use crate::vocab::{TargetClass, TargetTokenizer, Vocab};

/// The paths of the reference tokenizer files written next to `out`.
#[must_use]
pub fn tokenizer_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
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

/// The files of one output, being written.
pub struct OutputSet {
    /// The GGUF path.
    pub gguf_path: PathBuf,
    /// The reference `tokenizer.json` path.
    pub tokenizer_path: PathBuf,
    force: bool,
    inputs: Vec<PathBuf>,
    gguf: AtomicOutput,
    tokenizer: AtomicOutput,
    model: Option<AtomicOutput>,
    plan: Option<AtomicOutput>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl OutputSet {
    /// Prepares `out`, its tokenizer and `plan`: refuses an existing file without `force`,
    /// an input as output, a missing folder.
    ///
    /// # Errors
    /// [`OutputError`] naming the path.
    pub fn create(
        out: &Path,
        plan: Option<&Path>,
        force: bool,
        inputs: &[&Path],
    ) -> Result<Self, OutputError> {
        let gguf = AtomicOutput::create(out, force, inputs)?;
        let (tok_json, _) = tokenizer_paths(out);
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
        let mut w = self.gguf.writer();
        Ok(write_gguf(&mut w, &self.gguf_path, header, sources)?)
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
        self.gguf.commit()?;
        self.tokenizer.commit()?;
        if let Some(m) = self.model {
            m.commit()?;
        }
        if let Some(p) = self.plan {
            p.commit()?;
        }
        Ok(())
    }
}
