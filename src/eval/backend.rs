//! llama.cpp's backend is initialised once per process and shared.

use std::sync::OnceLock;

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
