//! Reading and re-writing a real GGUF without changes gives the same bytes.

use salt::gguf::{write_gguf, GgufFile, GgufHeader, TensorSource};
use salt::output::AtomicOutput;

use crate::util::{asset, sha256_file, tmpdir, MODELS};

/// Rewrites `f` unchanged into `dir/name` through the atomic writer; returns the path.
fn rewrite(f: &GgufFile, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let target = dir.join(name);
    let mut out = AtomicOutput::create(&target, false, &[f.path()]).expect("create output");
    let header = GgufHeader::from_file(f);
    let sources: Vec<TensorSource<'_>> = (0..f.tensors.len())
        .map(|i| TensorSource::Copy(f, i))
        .collect();
    {
        let mut w = out.writer();
        write_gguf(&mut w, &target, &header, &sources).expect("write");
    }
    out.commit().expect("commit");
    target
}

#[test]
fn real_models_round_trip_byte_identical() {
    let dir = tmpdir();
    for rel in MODELS {
        let src = asset(rel);
        let f = GgufFile::open(&src).expect("parse");
        let out = rewrite(&f, dir.path(), "copy.gguf");
        assert_eq!(
            sha256_file(&out),
            sha256_file(&src),
            "{rel}: rewritten file differs"
        );
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn llama_cpp_vocab_files_round_trip() {
    let dir = tmpdir();
    let vocab = crate::util::cache().join("llama-vocab");
    let mut n = 0;
    for e in std::fs::read_dir(&vocab).expect("llama-vocab folder: run scripts/setup.sh") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "gguf") {
            let f = GgufFile::open(&p).unwrap_or_else(|e| panic!("{e}"));
            let out = rewrite(&f, dir.path(), "v.gguf");
            assert_eq!(sha256_file(&out), sha256_file(&p), "{}", p.display());
            std::fs::remove_file(&out).unwrap();
            n += 1;
        }
    }
    assert!(
        n >= 15,
        "expected llama.cpp's ggml-vocab-*.gguf files, found {n}"
    );
}

#[test]
fn modified_header_reparses_with_same_tensors() {
    // Adding a key changes the header size; tensor data must follow at the right offsets.
    let f = GgufFile::open(asset(MODELS[0])).unwrap();
    let mut header = GgufHeader::from_file(&f);
    header.set("salt.test", salt::gguf::Value::str(b"x".repeat(77)));
    let sources: Vec<TensorSource<'_>> = (0..f.tensors.len())
        .map(|i| TensorSource::Copy(&f, i))
        .collect();
    let mut buf = Vec::new();
    write_gguf(&mut buf, std::path::Path::new("mem"), &header, &sources).unwrap();
    let g = GgufFile::from_bytes("mem", buf).unwrap();
    assert_eq!(g.kvs.len(), f.kvs.len() + 1);
    for (a, b) in f.tensors.iter().zip(&g.tensors) {
        assert_eq!(a.name, b.name);
        assert_eq!(f.tensor_data(a), g.tensor_data(b), "{}", a.name_str());
    }
}

#[test]
fn output_refuses_existing_and_input_paths() {
    let dir = tmpdir();
    let target = dir.path().join("x.gguf");
    std::fs::write(&target, b"keep me").unwrap();
    let err = AtomicOutput::create(&target, false, &[]).unwrap_err();
    assert!(
        matches!(err, salt::error::OutputError::Exists { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--force"));
    let err = AtomicOutput::create(&target, true, &[&target]).unwrap_err();
    assert!(
        matches!(err, salt::error::OutputError::IsInput { .. }),
        "{err}"
    );
    let err = AtomicOutput::create(&dir.path().join("no/such/dir/x.gguf"), false, &[]).unwrap_err();
    assert!(
        matches!(err, salt::error::OutputError::NoFolder { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    // An output dropped before commit leaves nothing behind.
    let out = AtomicOutput::create(&dir.path().join("y.gguf"), false, &[]).unwrap();
    drop(out);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("x.gguf")]);
}
