//! The C API (`include/salt.h`): transfer, tune and eval for runtimes written in C, C++, Go,
//! Python or Swift, built as `libsalt.so` / `libsalt.a`.
//!
//! - Configurations are JSON strings ([`config`]): one stable ABI whatever keys later
//!   versions add, and every binding language has a JSON writer.
//! - Progress events go to a callback with the caller's pointer, on the calling thread; a
//!   [`SaltCancel`] flag set from any thread stops the run at its next check.
//! - Every call returns a [`SaltStatus`]; on failure `salt_last_error()` gives this
//!   thread's message. No panic crosses the boundary (each call runs under
//!   `catch_unwind`, and a panic becomes `SALT_PANIC` with its message).
//! - Calls are safe from several threads at once: each keeps its state on its own stack,
//!   llama.cpp's backend is initialised once, and two runs writing the same output path
//!   are kept apart by the output lock (one gets an error naming the other).
//!
//! Only `salt_*` symbols are exported from the shared library (rustc's version script
//! hides every other symbol, llama.cpp's and ggml's included), so a runtime that links
//! its own llama.cpp does not clash with ours.

pub mod config;

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::progress::{CancelFlag, Event, Progress};

/// A call's outcome (`salt_status` in C).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaltStatus {
    /// Done.
    Ok = 0,
    /// Done, but a check failed (eval: a tokenizer parity mismatch).
    CheckFailed = 1,
    /// The run failed; `salt_last_error()` says why, naming the file, key or tensor.
    Error = 2,
    /// Cancelled through the flag; nothing was written at the output paths.
    Cancelled = 3,
    /// A null pointer, a string that is not UTF-8, or a configuration that is not valid
    /// JSON for this call.
    BadArgument = 4,
    /// A bug: a panic was caught at the boundary.
    Panic = 5,
}

/// The progress callback: stage name, done, total (0: a message line), message, and the
/// caller's pointer. The strings live only for the call.
pub type SaltProgressFn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        stage: *const c_char,
        done: u64,
        total: u64,
        message: *const c_char,
    ),
>;

/// A cancel flag (`salt_cancel` in C), shared between the thread that runs a call and the
/// thread that cancels it.
pub struct SaltCancel(CancelFlag);

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The library error with its chain of causes, one per line (as the CLI prints it).
fn error_text(e: &crate::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str("\n  caused by: ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Events to the C callback; cancellation from the flag.
struct Callback<'a> {
    f: SaltProgressFn,
    user: *mut c_void,
    cancel: Option<&'a SaltCancel>,
}

impl Callback<'_> {
    /// The caller's callback and flag.
    ///
    /// # Safety
    /// `cancel` is null or a live flag from `salt_cancel_new` for the whole call.
    unsafe fn new(f: SaltProgressFn, user: *mut c_void, cancel: *const SaltCancel) -> Self {
        Self {
            f,
            user,
            // SAFETY: by this function's contract.
            cancel: unsafe { cancel.as_ref() },
        }
    }
}

impl Progress for Callback<'_> {
    fn event(&mut self, e: &Event<'_>) {
        let Some(f) = self.f else { return };
        let stage = CString::new(e.stage.name()).unwrap_or_default();
        let message = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller promised a callable function; the strings outlive the call.
        unsafe { f(self.user, stage.as_ptr(), e.done, e.total, message.as_ptr()) };
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.0.is_cancelled())
    }
}

/// Reads a JSON configuration argument.
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn read_config<T: serde::de::DeserializeOwned>(
    p: *const c_char,
    what: &str,
) -> Result<T, SaltStatus> {
    if p.is_null() {
        set_error(&format!("{what}: the configuration is a null pointer"));
        return Err(SaltStatus::BadArgument);
    }
    // SAFETY: checked non-null; NUL-terminated by the contract.
    let s = unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        set_error(&format!("{what}: the configuration is not UTF-8"));
        SaltStatus::BadArgument
    })?;
    serde_json::from_str(s).map_err(|e| {
        set_error(&format!("{what}: the configuration: {e}"));
        SaltStatus::BadArgument
    })
}

/// Hands a string to C (freed with `salt_string_free`).
fn give(out: *mut *mut c_char, s: String) {
    if !out.is_null() {
        let c = CString::new(s.replace('\0', " ")).unwrap_or_default();
        // SAFETY: checked non-null; the caller gave a place for one pointer.
        unsafe { *out = c.into_raw() };
    }
}

/// Runs `f` under `catch_unwind`, on the calling thread; maps the result.
fn guarded(f: impl FnOnce() -> Result<SaltStatus, crate::Error>) -> SaltStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(status)) => status,
        Ok(Err(crate::Error::Cancelled)) => {
            set_error("cancelled; nothing was written");
            SaltStatus::Cancelled
        }
        Ok(Err(e)) => {
            set_error(&error_text(&e));
            SaltStatus::Error
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            set_error(&format!("internal error (a bug; please report it): {what}"));
            SaltStatus::Panic
        }
    }
}

/// The shape of the calls that write a model: read and resolve the JSON configuration
/// (`BadArgument` naming the key), run under the guard with the caller's callback, and
/// hand back the run's report as JSON.
///
/// # Safety
/// `config_json` is null or a NUL-terminated string; `result_json` is null or a place for
/// one pointer.
unsafe fn run_job<J: serde::de::DeserializeOwned, C, R: serde::Serialize>(
    what: &str,
    config_json: *const c_char,
    resolve: impl FnOnce(J) -> Result<C, String>,
    mut cb: Callback<'_>,
    result_json: *mut *mut c_char,
    run: impl FnOnce(&C, &mut dyn Progress) -> Result<R, crate::Error>,
) -> SaltStatus {
    // SAFETY: by this function's contract.
    let job: J = match unsafe { read_config(config_json, what) } {
        Ok(j) => j,
        Err(s) => return s,
    };
    let cfg = match resolve(job) {
        Ok(c) => c,
        Err(msg) => {
            set_error(&format!("{what}: {msg}"));
            return SaltStatus::BadArgument;
        }
    };
    guarded(|| {
        let report = run(&cfg, &mut cb)?;
        give(
            result_json,
            serde_json::to_string(&report).unwrap_or_default(),
        );
        Ok(SaltStatus::Ok)
    })
}

/// Adapts a GGUF model (see `include/salt.h`).
///
/// # Safety
/// `config_json` is a NUL-terminated string; `cancel` is null or from `salt_cancel_new`;
/// `result_json` is null or a place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn salt_transfer(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    // SAFETY: null or a live flag, by the contract.
    let cb = unsafe { Callback::new(progress, user, cancel) };
    // SAFETY: by this function's contract.
    unsafe {
        run_job(
            "salt_transfer",
            config_json,
            config::TransferJson::resolve,
            cb,
            result_json,
            |(cfg, methods), p| crate::pipeline::transfer_methods(cfg, methods, p),
        )
    }
}

/// Fits the head of a GGUF on a target-language text and writes a new GGUF (see
/// `include/salt.h`).
///
/// # Safety
/// As [`salt_transfer`].
#[no_mangle]
pub unsafe extern "C" fn salt_tune(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    // SAFETY: null or a live flag, by the contract.
    let cb = unsafe { Callback::new(progress, user, cancel) };
    // SAFETY: by this function's contract.
    unsafe {
        run_job(
            "salt_tune",
            config_json,
            config::TuneJson::resolve,
            cb,
            result_json,
            crate::tune::tune,
        )
    }
}

/// Trains the input and output rows through the frozen body (see `include/salt.h`).
///
/// # Safety
/// As [`salt_transfer`].
#[no_mangle]
pub unsafe extern "C" fn salt_train(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    // SAFETY: null or a live flag, by the contract.
    let cb = unsafe { Callback::new(progress, user, cancel) };
    // SAFETY: by this function's contract.
    unsafe {
        run_job(
            "salt_train",
            config_json,
            config::TrainJson::resolve,
            cb,
            result_json,
            crate::train::train,
        )
    }
}

/// Evaluates GGUF models through llama.cpp (see `include/salt.h`).
///
/// # Safety
/// As [`salt_transfer`]; `table` is null or a place for one pointer.
#[no_mangle]
pub unsafe extern "C" fn salt_eval(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    table: *mut *mut c_char,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    let job: crate::eval::EvalRequest = match unsafe { read_config(config_json, "salt_eval") } {
        Ok(j) => j,
        Err(s) => return s,
    };
    let cfg = job.resolve(None);
    // SAFETY: null or a live flag, by the contract.
    let mut cb = unsafe { Callback::new(progress, user, cancel) };
    guarded(|| {
        let r = crate::eval::evaluate(&cfg, &mut cb)?;
        give(table, crate::eval::table(&r));
        give(result_json, serde_json::to_string(&r).unwrap_or_default());
        Ok(if r.parity_ok {
            SaltStatus::Ok
        } else {
            set_error("a tokenizer parity check failed (see the table)");
            SaltStatus::CheckFailed
        })
    })
}

/// Plans the routes for a source, an optional PLM and a text (see `include/salt.h`).
///
/// # Safety
/// As [`salt_transfer`].
#[no_mangle]
pub unsafe extern "C" fn salt_plan(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    // SAFETY: null or a live flag, by the contract.
    let cb = unsafe { Callback::new(progress, user, cancel) };
    // SAFETY: by this function's contract.
    unsafe {
        run_job(
            "salt_plan",
            config_json,
            config::PlanJson::resolve,
            cb,
            result_json,
            crate::plan::plan,
        )
    }
}

/// Builds every viable route, scores them on a validation part of the text and writes the
/// winner (see `include/salt.h`).
///
/// # Safety
/// As [`salt_transfer`].
#[no_mangle]
pub unsafe extern "C" fn salt_adapt(
    config_json: *const c_char,
    progress: SaltProgressFn,
    user: *mut c_void,
    cancel: *const SaltCancel,
    result_json: *mut *mut c_char,
) -> SaltStatus {
    // SAFETY: null or a live flag, by the contract.
    let cb = unsafe { Callback::new(progress, user, cancel) };
    // SAFETY: by this function's contract.
    unsafe {
        run_job(
            "salt_adapt",
            config_json,
            config::AdaptJson::resolve,
            cb,
            result_json,
            crate::adapt::adapt,
        )
    }
}

/// This thread's last error message (empty when none); valid until this thread's next
/// call.
#[no_mangle]
pub extern "C" fn salt_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Frees a string the library returned.
///
/// # Safety
/// `s` is null or a string from this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn salt_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in `give`.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// A new cancel flag.
#[no_mangle]
pub extern "C" fn salt_cancel_new() -> *mut SaltCancel {
    Box::into_raw(Box::new(SaltCancel(CancelFlag::new())))
}

/// Asks every run using `flag` to stop (any thread).
///
/// # Safety
/// `flag` is null or from `salt_cancel_new` and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn salt_cancel_set(flag: *const SaltCancel) {
    // SAFETY: by the contract.
    if let Some(f) = unsafe { flag.as_ref() } {
        f.0.cancel();
    }
}

/// Frees a cancel flag (after the runs using it have returned).
///
/// # Safety
/// `flag` is null or from `salt_cancel_new`, freed once.
#[no_mangle]
pub unsafe extern "C" fn salt_cancel_free(flag: *mut SaltCancel) {
    if !flag.is_null() {
        // SAFETY: made by `Box::into_raw` in `salt_cancel_new`.
        drop(unsafe { Box::from_raw(flag) });
    }
}

/// The library version and its llama.cpp build, as `salt --version` prints them (static).
#[no_mangle]
pub extern "C" fn salt_version() -> *const c_char {
    static V: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    V.get_or_init(|| CString::new(crate::version::build_info().to_string()).unwrap_or_default())
        .as_ptr()
}
