//! llama.cpp's backend is initialised once per process and shared.

use std::num::NonZeroU32;
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;

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
