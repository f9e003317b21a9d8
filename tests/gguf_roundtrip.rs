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
fn built_arrays_read_back_element_for_element() {
    use salt::gguf::{Array, GgufHeader, Kv, Value, ValueType};
    let strings: Vec<&[u8]> = vec![b"", "\u{2581}\u{d55c}".as_bytes(), b"\xff\x00raw"];
    let nested = Array::from_arrays(vec![Array::i32s([1, -2]), Array::i32s([])]);
    let u16s = Array::from_values(ValueType::U16, vec![Value::U16(7), Value::U16(65535)]).unwrap();
    assert!(Array::from_values(ValueType::U16, vec![Value::U32(7)]).is_none());
    let header = GgufHeader {
        version: 3,
        kvs: vec![
            Kv::new("s", Value::Array(Array::strings(&strings))),
            Kv::new("f", Value::Array(Array::f32s([0.5, -1.0, f32::MAX]))),
            Kv::new("n", Value::Array(nested.clone())),
            Kv::new("u", Value::Array(u16s.clone())),
            Kv::new("e", Value::Array(Array::strings(Vec::<&[u8]>::new()))),
        ],
        tensors: vec![],
    };
    let mut buf = Vec::new();
    write_gguf(&mut buf, std::path::Path::new("mem"), &header, &[]).unwrap();
    let g = GgufFile::from_bytes("mem", buf).unwrap();
    assert_eq!(g.kvs, header.kvs, "parsed arrays equal the built ones");
    let s = g.get("s").unwrap().as_array().unwrap();
    assert_eq!((s.len(), s.elem()), (3, ValueType::Str));
    for (i, want) in strings.iter().enumerate() {
        assert_eq!(s.str_at(i), Some(*want));
        assert_eq!(s.get(i), Some(Value::str(want)));
    }
    assert_eq!(s.str_at(3), None);
    let f = g.get("f").unwrap().as_array().unwrap();
    let fs: Vec<f64> = f.iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(fs, vec![0.5, -1.0, f64::from(f32::MAX)]);
    assert_eq!(f.str_at(0), None, "not a string array");
    let n = g.get("n").unwrap().as_array().unwrap();
    assert_eq!(n.get(0), Some(Value::Array(Array::i32s([1, -2]))));
    assert_eq!(n.get(1).unwrap().as_array().unwrap().len(), 0);
    assert_eq!(
        g.get("u").unwrap().as_array().unwrap().get(1),
        Some(Value::U16(65535))
    );
    let e = g.get("e").unwrap().as_array().unwrap();
    assert!(e.is_empty() && e.elem() == ValueType::Str);
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
