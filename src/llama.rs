//! The one seam to llama.cpp (the `llama-cpp-2` crate): the process-wide backend, context
//! parameters, loading a model (whole, or its tokenizer alone) and cutting a tokenized
//! text into windows. Evaluation, the head fit's hidden states, fvt's segmentation, the
//! training's reference logits and `salt adapt` all reach llama.cpp through here, so that
//! they load, thread and window the same way.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::error::EvalError;

/// The process-wide llama.cpp backend (logs silenced unless `SALT_LLAMA_LOGS` is set).
///
/// # Errors
/// [`EvalError::Backend`] when llama.cpp cannot initialise.
pub fn backend() -> Result<&'static LlamaBackend, EvalError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("SALT_LLAMA_LOGS").is_none() {
                b.void_logs();
            }
            Ok(b)
        })
        .as_ref()
        .map_err(|e| EvalError::Backend(e.clone()))
}

/// Parameters of a llama.cpp context of `n_ctx` tokens on `threads` threads, for prompt
/// processing and generation alike; `None` uses every core the process may run on (2 when
/// that is unknown). One place, so that eval, tune and the continuations agree.
#[must_use]
pub(crate) fn context_params(n_ctx: u32, threads: Option<usize>) -> LlamaContextParams {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let threads = i32::try_from(threads).unwrap_or(i32::MAX);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
}

/// Loads a full model with llama.cpp.
///
/// # Errors
/// [`EvalError::Load`] naming the file.
pub fn load_model(path: &Path) -> Result<LlamaModel, EvalError> {
    if !path.is_file() {
        return Err(EvalError::Load {
            path: path.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default()).map_err(|e| {
        EvalError::Load {
            path: path.to_path_buf(),
            reason: format!("llama.cpp could not load it ({e})"),
        }
    })
}

/// The windows of a tokenized text: (input tokens, index of the first scored input position).
#[must_use]
pub fn windows(
    tokens: &[LlamaToken],
    bos: Option<LlamaToken>,
    ctx: usize,
) -> Vec<(Vec<LlamaToken>, usize)> {
    let body = if bos.is_some() { ctx - 1 } else { ctx };
    tokens
        .chunks_exact(body.max(1))
        .map(|c| match bos {
            Some(b) => (std::iter::once(b).chain(c.iter().copied()).collect(), 1),
            None => (c.to_vec(), 1),
        })
        .collect()
}

/// Loads only the tokenizer of a GGUF with llama.cpp.
///
/// # Errors
/// [`EvalError::Load`] naming the file.
pub fn load_vocab_only(path: &Path) -> Result<LlamaModel, EvalError> {
    if !path.is_file() {
        return Err(EvalError::Load {
            path: path.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    let params = LlamaModelParams::default().with_vocab_only(true);
    LlamaModel::load_from_file(backend()?, path, &params).map_err(|e| EvalError::Load {
        path: path.to_path_buf(),
        reason: format!("llama.cpp could not load it ({e})"),
    })
}
