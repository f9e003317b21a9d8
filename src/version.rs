//! What this build is made of, for `salt --version` and for runtimes that embed the
//! library: which llama.cpp it validates with (a runtime's own llama.cpp may differ), and
//! whether the CUDA path was compiled in.

use std::ffi::CStr;

use llama_cpp_sys_2 as sys;

/// The `llama-cpp-2` crate this build links (kept equal to Cargo.toml's pin by a test).
pub const LLAMA_CPP_2: &str = "0.1.160";
/// The `llama-cpp-sys-2` crate, which vendors llama.cpp's sources.
pub const LLAMA_CPP_SYS_2: &str = "0.1.161";

/// The build's parts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BuildInfo {
    /// This crate's version.
    pub salt: &'static str,
    /// The `llama-cpp-2` crate version.
    pub llama_cpp_2: &'static str,
    /// The `llama-cpp-sys-2` crate version (its vendored llama.cpp).
    pub llama_cpp_sys_2: &'static str,
    /// ggml's own version string.
    pub ggml_version: String,
    /// ggml's commit as built ("unknown" when built from the crate's sources, which carry
    /// no git history).
    pub ggml_commit: String,
    /// llama.cpp's CPU feature line (`llama_print_system_info`).
    pub system_info: String,
    /// Whether `--features cuda` was compiled in.
    pub cuda: bool,
}

fn c_str(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return "unknown".to_owned();
    }
    // SAFETY: ggml and llama.cpp return pointers to static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim()
        .to_owned()
}

/// This build's parts.
#[must_use]
pub fn build_info() -> BuildInfo {
    // SAFETY: these read static strings; none needs the backend initialised.
    let (ggml_version, ggml_commit, system_info) = unsafe {
        (
            c_str(sys::ggml_version()),
            c_str(sys::ggml_commit()),
            c_str(sys::llama_print_system_info()),
        )
    };
    BuildInfo {
        salt: env!("CARGO_PKG_VERSION"),
        llama_cpp_2: LLAMA_CPP_2,
        llama_cpp_sys_2: LLAMA_CPP_SYS_2,
        ggml_version,
        ggml_commit,
        system_info,
        cuda: cfg!(feature = "cuda"),
    }
}

impl std::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "salt {}", self.salt)?;
        writeln!(
            f,
            "llama.cpp: llama-cpp-2 {} (llama-cpp-sys-2 {}), ggml {} (commit {})",
            self.llama_cpp_2, self.llama_cpp_sys_2, self.ggml_version, self.ggml_commit
        )?;
        writeln!(f, "cpu: {}", self.system_info)?;
        if self.cuda {
            write!(f, "cuda: compiled in (--device cuda)")
        } else {
            write!(f, "cuda: not compiled in (build with --features cuda)")
        }
    }
}
