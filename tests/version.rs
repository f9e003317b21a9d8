//! `salt --version`: the llama.cpp crates it names are the ones Cargo.lock links, and it
//! says whether CUDA was compiled in.

use std::process::Command;

/// The version Cargo.lock records for `name`.
fn locked(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let at = lock
        .find(&format!("name = \"{name}\"\nversion = \""))
        .unwrap_or_else(|| panic!("{name} not in Cargo.lock"));
    let rest = &lock[at..];
    let v = &rest[rest.find("version = \"").unwrap() + 11..];
    v[..v.find('"').unwrap()].to_owned()
}

#[test]
fn version_names_the_linked_llama_cpp_and_the_cuda_feature() {
    assert_eq!(salt::version::LLAMA_CPP_2, locked("llama-cpp-2"));
    assert_eq!(salt::version::LLAMA_CPP_SYS_2, locked("llama-cpp-sys-2"));
    let out = Command::new(env!("CARGO_BIN_EXE_salt"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!("salt {}", env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "llama-cpp-2 {} (llama-cpp-sys-2 {})",
            salt::version::LLAMA_CPP_2,
            salt::version::LLAMA_CPP_SYS_2
        )),
        "{text}"
    );
    let info = salt::version::build_info();
    assert!(!info.ggml_version.is_empty() && text.contains(&format!("ggml {}", info.ggml_version)));
    let cuda = if cfg!(feature = "cuda") {
        "cuda: compiled in"
    } else {
        "cuda: not compiled in"
    };
    assert!(text.contains(cuda), "{text}");
}
