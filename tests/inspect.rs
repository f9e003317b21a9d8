//! `salt inspect` facts on the three real models (issue 2's expected values).

use salt::gguf::GgufFile;
use salt::inspect::inspect;

use crate::util::{asset, MODELS};

#[test]
fn inspect_reports_the_real_models() {
    let s = inspect(&GgufFile::open(asset(MODELS[0])).unwrap()).unwrap();
    let e = s.token_embd.as_ref().unwrap();
    assert_eq!(
        (e.ty.as_str(), e.shape.as_slice()),
        ("q8_0", &[576, 49152][..])
    );
    assert!(s.tied && s.output.is_none());
    assert_eq!(
        (s.tokenizer_model.as_deref(), s.tokenizer_pre.as_deref()),
        (Some("gpt2"), Some("smollm"))
    );
    assert_eq!(s.n_vocab, Some(49152));

    let s = inspect(&GgufFile::open(asset(MODELS[1])).unwrap()).unwrap();
    let e = s.token_embd.as_ref().unwrap();
    assert_eq!(
        (e.ty.as_str(), e.shape.as_slice()),
        ("q8_0", &[640, 262144][..])
    );
    assert!(s.tied);
    assert_eq!(s.tokenizer_model.as_deref(), Some("llama"));
    assert_eq!(s.architecture, "gemma3");
    assert_eq!(s.special_ids.get("bos"), Some(&2));

    let s = inspect(&GgufFile::open(asset(MODELS[2])).unwrap()).unwrap();
    let e = s.token_embd.as_ref().unwrap();
    assert_eq!(
        (e.ty.as_str(), e.shape.as_slice()),
        ("q5_0", &[896, 151936][..])
    );
    let o = s.output.as_ref().unwrap();
    assert_eq!(
        (o.ty.as_str(), o.shape.as_slice()),
        ("q8_0", &[896, 151936][..])
    );
    assert!(!s.tied);
    assert_eq!(
        (s.tokenizer_model.as_deref(), s.tokenizer_pre.as_deref()),
        (Some("gpt2"), Some("qwen2"))
    );
    assert!(s.chat_template);

    // The JSON carries the documented keys.
    let v = serde_json::to_value(&s).unwrap();
    for k in [
        "architecture",
        "n_embd",
        "n_layer",
        "tokenizer_model",
        "tokenizer_pre",
        "n_vocab",
        "special_ids",
        "add_bos",
        "add_eos",
        "chat_template",
        "token_embd",
        "output",
        "tied",
        "version",
        "alignment",
        "n_tensors",
        "tensor_types",
    ] {
        assert!(v.get(k).is_some(), "missing JSON key {k}");
    }
}

#[test]
fn inspect_cli_json() {
    let exe = env!("CARGO_BIN_EXE_salt");
    let out = std::process::Command::new(exe)
        .args(["inspect", "--json"])
        .arg(asset(MODELS[0]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["token_embd"]["type"], "q8_0");
    assert_eq!(v[0]["tied"], true);
    let out = std::process::Command::new(exe)
        .args(["inspect", "/nonexistent.gguf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.gguf"));
}
