//! A model rewritten in place of some of its tensors (`salt tune`, `salt train`): the new
//! GGUF, and the reference tokenizer files beside the input copied beside the output. All
//! are created, and an existing one refused, before the long part runs.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{tokenizer_paths, AtomicOutput};
use crate::error::{Error, OutputError};
use crate::gguf::{keys, GgufFile, GgufHeader, TensorInfo, TensorSource, Value};

/// The header of `f` with an `output.weight` of its own: a tied model (no output tensor)
/// gets one shaped and typed as `token_embd`, and `salt.untied` says so.
///
/// # Errors
/// A tied model without `token_embd`.
pub fn untied_header(f: &GgufFile) -> Result<GgufHeader, Error> {
    let mut header = GgufHeader::from_file(f);
    if f.tensor(keys::OUTPUT).is_none() {
        let embd = f.require_tensor(keys::TOKEN_EMBD)?;
        header.tensors.push(TensorInfo {
            name: keys::OUTPUT.as_bytes().to_vec(),
            ..embd.clone()
        });
        header.set(crate::provenance::key::UNTIED, Value::Bool(1));
    }
    Ok(header)
}

/// The files of one rewrite, created and not yet committed.
pub struct Rewrite {
    out: AtomicOutput,
    path: PathBuf,
    side: Vec<(PathBuf, AtomicOutput)>,
}

impl Rewrite {
    /// Creates `out` (and its tokenizer files, when `model` has them), refusing existing
    /// ones unless `force`; `inputs` are never overwritten.
    ///
    /// # Errors
    /// [`OutputError`] naming the file.
    pub fn create(
        model: &Path,
        out: &Path,
        force: bool,
        inputs: &[&Path],
    ) -> Result<Self, OutputError> {
        let (json, spm) = tokenizer_paths(model);
        let (out_json, out_spm) = tokenizer_paths(out);
        let file = AtomicOutput::create(out, force, inputs)?;
        let mut side = Vec::new();
        for (from, to) in [(json, out_json), (spm, out_spm)] {
            if from.is_file() {
                side.push((from, AtomicOutput::create(&to, force, &[model])?));
            }
        }
        Ok(Self {
            out: file,
            path: out.to_path_buf(),
            side,
        })
    }

    /// Writes `header` with every tensor copied from `f` but those named in `new` (their
    /// bytes, in the header's types), copies the tokenizer files, and commits them all.
    ///
    /// # Errors
    /// [`OutputError`] for a write; a tensor of `header` missing from both `f` and `new`.
    pub fn finish(
        mut self,
        f: &GgufFile,
        header: &GgufHeader,
        mut new: HashMap<&str, Vec<u8>>,
    ) -> Result<(), Error> {
        let sources: Vec<TensorSource<'_>> = header
            .tensors
            .iter()
            .map(|t| {
                let name = t.name_str();
                match (new.remove(name.as_ref()), f.tensor_index(&name)) {
                    (Some(bytes), _) => Ok(TensorSource::Bytes(bytes)),
                    (None, Some(i)) => Ok(TensorSource::Copy(f, i)),
                    (None, None) => Err(crate::error::GgufError::MissingTensor {
                        path: f.path().to_path_buf(),
                        tensor: name.into_owned(),
                    }),
                }
            })
            .collect::<Result<_, _>>()?;
        crate::gguf::write_gguf(self.out.writer(), &self.path, header, &sources)?;
        for (from, mut o) in self.side {
            let b = std::fs::read(&from).map_err(|source| OutputError::Io {
                path: from.clone(),
                source,
            })?;
            o.writer().write_all(&b).map_err(|source| OutputError::Io {
                path: o.target().to_path_buf(),
                source,
            })?;
            o.commit()?;
        }
        self.out.commit()?;
        Ok(())
    }
}
