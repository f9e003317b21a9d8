//! Split GGUF models (gguf-split's `split.*` keys): a source cut from Gemma into three
//! files reads as the unsplit model and loads in llama.cpp with the same bits per byte; a
//! transfer from it equals the transfer from the unsplit file; a split output loads in
//! llama.cpp with the unsplit output's bits per byte.

use std::path::{Path, PathBuf};

use salt::eval::{score, ScoreOptions};
use salt::gguf::{keys, split, write_gguf, GgufFile, GgufHeader, TensorSource, Value};
use salt::pipeline::{transfer, Method, TransferConfig};

use crate::util::{asset, tmpdir};

const GEMMA: &str = "models/gemma-3-270m-q4_k_m.gguf";

/// Cuts `src` into `n` files in `dir` with the library's split writer (the largest limit
/// that gives `n` files); returns the first file's path.
fn cut(src: &Path, dir: &Path, n: usize) -> PathBuf {
    let f = GgufFile::open(src).unwrap();
    let header = GgufHeader::from_file(&f);
    let size = std::fs::metadata(src).unwrap().len();
    let out = dir.join(src.file_name().unwrap());
    let max = (1..=64)
        .map(|k| size * 2 / (n as u64 + k))
        .find(|&m| split::plan(&header, m, &out).unwrap().len() == n)
        .expect("some limit gives n files");
    let parts = split::plan(&header, max, &out).unwrap();
    let sources: Vec<TensorSource<'_>> = (0..f.tensors.len())
        .map(|i| TensorSource::Copy(&f, i))
        .collect();
    for (no, p) in parts.iter().enumerate() {
        let path = split::part_path(&out, no, n);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        write_gguf(&mut w, &path, &p.header, &sources[p.tensors.clone()]).unwrap();
    }
    split::part_path(&out, 0, n)
}

/// The same tensors (names, shapes, types, bytes) in the same order.
fn assert_same_tensors(a: &GgufFile, b: &GgufFile) {
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (s, t) in a.tensors.iter().zip(&b.tensors) {
        assert_eq!(
            (&s.name, &s.dims, s.ty),
            (&t.name, &t.dims, t.ty),
            "tensor {}",
            s.name_str()
        );
        assert!(
            a.tensor_data(s) == b.tensor_data(t),
            "tensor {} has other bytes",
            s.name_str()
        );
    }
}

/// Bits per byte of `model` over the first 256 tokens of the Korean held-out text.
fn bpb(model: &Path) -> f64 {
    let text_path = asset("text/bible-ko-heldout.txt");
    let text = std::fs::read_to_string(&text_path).unwrap();
    let opts = ScoreOptions {
        ctx: 128,
        max_tokens: Some(254),
        ..ScoreOptions::default()
    };
    score(model, &text_path, &text, &opts, &mut salt::progress::Silent)
        .unwrap()
        .bits_per_byte
}

#[test]
fn gemma_cut_in_three_reads_as_one_and_loads_in_llama_cpp() {
    let dir = tmpdir();
    let src = asset(GEMMA);
    let first = cut(&src, dir.path(), 3);
    let whole = GgufFile::open(&src).unwrap();

    // Each file carries the split keys with llama.cpp's types; only the first the metadata.
    let paths = split::sibling_paths(&first);
    assert_eq!(paths.len(), 3, "{paths:?}");
    let mut held = 0;
    for (no, p) in paths.iter().enumerate() {
        let f = GgufFile::open_part(p).unwrap();
        assert_eq!(f.get(keys::SPLIT_NO), Some(&Value::U16(no as u16)));
        assert_eq!(f.get(keys::SPLIT_COUNT), Some(&Value::U16(3)));
        let total = i32::try_from(whole.tensors.len()).unwrap();
        assert_eq!(f.get(keys::SPLIT_TENSORS_COUNT), Some(&Value::I32(total)));
        assert_eq!(f.get(keys::TOKENIZER_TOKENS).is_some(), no == 0);
        assert!(!f.tensors.is_empty());
        held += f.tensors.len();
    }
    assert_eq!(held, whole.tensors.len());

    // Joined from its first file: the unsplit model's keys and tensors, byte for byte.
    let joined = GgufFile::open(&first).unwrap();
    assert_eq!(joined.n_parts(), 3);
    assert_eq!(
        joined.kvs, whole.kvs,
        "the split keys are dropped, nothing else"
    );
    assert_same_tensors(&joined, &whole);
    let summary = salt::inspect::inspect(&joined).unwrap();
    assert_eq!(
        (summary.n_files, summary.n_tensors),
        (3, whole.tensors.len())
    );

    // llama.cpp loads the split (our writer against its reader) with the same result.
    let (a, b) = (bpb(&src), bpb(&first));
    println!("bits/byte: unsplit {a}, split {b}");
    assert!(a.to_bits() == b.to_bits(), "{a} vs {b}");

    // A later file, or a missing one, is refused with the way out.
    let e = GgufFile::open(&paths[1]).unwrap_err().to_string();
    assert!(
        e.contains("file 2 of 3") && e.contains("-00001-of-00003.gguf"),
        "{e}"
    );
    let away = dir.path().join("away.gguf");
    std::fs::rename(&paths[2], &away).unwrap();
    let e = GgufFile::open(&first).unwrap_err().to_string();
    assert!(
        e.contains("-00003-of-00003.gguf") && e.contains("missing"),
        "{e}"
    );
    // A part from another split (here: the first file standing in for the third).
    std::fs::copy(&paths[0], &paths[2]).unwrap();
    let e = GgufFile::open(&first).unwrap_err().to_string();
    assert!(
        e.contains("split.no = 2") && e.contains("different splits"),
        "{e}"
    );
    std::fs::rename(&away, &paths[2]).unwrap();
    GgufFile::open(&first).unwrap();
}

/// Gemma <- USE trimmed to 2,000 Korean verses by `fvt` (needs no auxiliary vectors).
fn config(source: PathBuf, out: PathBuf) -> TransferConfig {
    let mut cfg = TransferConfig::new(source, asset("plm/use"), None, out);
    cfg.target.trim_to = Some(crate::fixtures::head("text/bible-ko-train.txt", 2000));
    cfg.init.method = Method::Fvt;
    cfg
}

/// The unsplit name of the split file `first` (`m-00001-of-00003.gguf` -> `m.gguf`).
fn src_like(first: &Path) -> PathBuf {
    let stem = split::unsplit_stem(&first.file_stem().unwrap().to_string_lossy());
    first.with_file_name(format!("{stem}.gguf"))
}

/// Keys of `f` but the provenance of the source file (its name and hash).
fn keys_but_source(f: &GgufFile) -> Vec<salt::gguf::Kv> {
    f.kvs
        .iter()
        .filter(|kv| kv.key != b"salt.source" && kv.key != b"salt.source_sha256")
        .cloned()
        .collect()
}

#[test]
fn split_source_and_split_output_give_the_unsplit_model() {
    let dir = tmpdir();
    let src = asset(GEMMA);
    let first = cut(&src, dir.path(), 3);

    let plain = dir.path().join("plain.gguf");
    transfer(
        &config(src.clone(), plain.clone()),
        &mut salt::progress::Silent,
    )
    .unwrap();
    let from_split = dir.path().join("from-split.gguf");
    transfer(
        &config(first.clone(), from_split.clone()),
        &mut salt::progress::Silent,
    )
    .unwrap();
    let (a, b) = (
        GgufFile::open(&plain).unwrap(),
        GgufFile::open(&from_split).unwrap(),
    );
    assert_eq!(keys_but_source(&a), keys_but_source(&b));
    assert_same_tensors(&a, &b);
    // The source's hash covers all three files: not the first file's alone.
    let sha = |f: &GgufFile| f.get_str("salt.source_sha256").unwrap().to_owned();
    assert_ne!(sha(&a), sha(&b));
    let first_only = salt::provenance::name_and_sha256(&first).unwrap().1;
    assert_ne!(sha(&b), first_only);

    // A split output: several files under the limit, joined equal to the unsplit output.
    let size = std::fs::metadata(&plain).unwrap().len();
    let max = size / 3 + 1;
    let out = dir.path().join("split-out.gguf");
    let mut cfg = config(first.clone(), out.clone());
    cfg.output.split_max_size = Some(max);
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();
    let parts = split::sibling_paths(Path::new(&r.out));
    println!("{} -> {} files", r.out, parts.len());
    assert!(
        parts.len() >= 3
            && r.out
                .ends_with(&format!("-00001-of-{:05}.gguf", parts.len()))
    );
    assert!(!out.exists(), "the unsplit name is not written");
    for p in &parts {
        let f = GgufFile::open_part(p).unwrap();
        let n = std::fs::metadata(p).unwrap().len();
        assert!(
            n <= max || f.tensors.len() == 1,
            "{}: {n} bytes",
            p.display()
        );
    }
    let c = GgufFile::open(&parts[0]).unwrap();
    assert_eq!(keys_but_source(&c), keys_but_source(&a));
    assert_eq!(sha(&c), sha(&b), "same source files");
    assert_same_tensors(&c, &a);
    let (x, y) = (bpb(&plain), bpb(&parts[0]));
    println!("bits/byte: unsplit output {x}, split output {y}");
    assert!(x.to_bits() == y.to_bits(), "{x} vs {y}");

    // Its files are not replaced without --force, whatever the count.
    let e = transfer(&cfg, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("-00001-of-") && e.contains("--force"), "{e}");
    // With --force, a split of another count replaces the old one: none of the old
    // files is left to be loaded by mistake, and the new one joins to the same model.
    let mut fewer = cfg.clone();
    fewer.output.split_max_size = Some(size / 2 + 1);
    fewer.output.force = true;
    let r2 = transfer(&fewer, &mut salt::progress::Silent).unwrap();
    let parts2 = split::sibling_paths(Path::new(&r2.out));
    println!("--force: {} files -> {} files", parts.len(), parts2.len());
    assert!(parts2.len() >= 2 && parts2.len() < parts.len());
    for p in &parts {
        assert!(!p.exists(), "{} left behind", p.display());
    }
    assert_same_tensors(&GgufFile::open(&parts2[0]).unwrap(), &a);
    // And an unsplit output replaces a split one, with its files.
    let mut whole = fewer.clone();
    whole.output.split_max_size = None;
    transfer(&whole, &mut salt::progress::Silent).unwrap();
    assert!(out.exists());
    for p in &parts2 {
        assert!(!p.exists(), "{} left behind", p.display());
    }
    // The split source under the output's prefix is an input: never removed as stale.
    let mut beside = config(first.clone(), src_like(&first));
    beside.output.force = true;
    transfer(&beside, &mut salt::progress::Silent).unwrap();
    for p in split::sibling_paths(&first) {
        assert!(p.exists(), "input {} removed", p.display());
    }
    // An input is never an output: not even the third file of a split source.
    let mut cfg = config(first.clone(), dir.path().join("x.gguf"));
    cfg.output.out = split::sibling_paths(&first)[2].clone();
    let before = std::fs::metadata(&cfg.output.out).unwrap().len();
    cfg.output.force = true;
    let e = transfer(&cfg, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("00003-of-00003"), "{e}");
    assert_eq!(std::fs::metadata(&cfg.output.out).unwrap().len(), before);
}
