//! Byte-level BPE (`gpt2`) targets: a GGUF's byte-level vocabulary as the reference
//! tokenizer, checked against llama.cpp's own test files and llama.cpp itself for every
//! supported `tokenizer.ggml.pre`; the GGUF writer (merges, pre); refusal of splittings
//! llama.cpp does not know; and a model adapted to Qwen2.5's vocabulary trimmed to Korean.

use std::path::Path;

use salt::auxvec::AuxSource;
use salt::gguf::{GgufFile, GgufHeader};
use salt::pipeline::{transfer, Method, TransferConfig};
use salt::vocab::{TokenizerKind, TokenizerMetaOptions};

use crate::fixtures::heldout_with_edges;
use crate::util::{asset, tmpdir};

const QWEN: &str = "models/qwen2.5-coder-0.5b-instruct.gguf";
const SEP: &str = "\n__ggml_vocab_test__\n";

/// llama.cpp's byte-level test vocabularies with their expected ids: every entry of the
/// pre-tokenizer table but `dbrx` (no test file), through several of its aliases.
const VOCABS: [&str; 8] = [
    "gpt-2",
    "mpt",
    "starcoder",
    "refact",
    "command-r",
    "llama-bpe",
    "qwen2",
    "qwen35",
];

/// `tk`'s tokenizer keys written into a copy of `f`'s header equal `f`'s own for `keys`.
fn assert_rewrites_keys(
    f: &GgufFile,
    arch: &str,
    tk: &salt::vocab::TargetTokenizer,
    keys: &[&str],
) {
    let mut h = GgufHeader::from_file(f);
    salt::vocab::write_tokenizer_meta(
        &mut h,
        arch,
        &tk.vocab,
        tk,
        &TokenizerMetaOptions::default(),
    )
    .unwrap();
    let get = |h: &GgufHeader, k: &str| {
        h.kvs
            .iter()
            .find(|kv| kv.key == k.as_bytes())
            .map(|kv| format!("{:?}", kv.value))
    };
    let orig = GgufHeader::from_file(f);
    for key in keys {
        assert_eq!(
            get(&h, key),
            get(&orig, key),
            "{}: {key}",
            tk.path.display()
        );
    }
}

#[test]
fn byte_level_gguf_vocabularies_match_llama_cpp() {
    let en = heldout_with_edges("en");
    let ko = heldout_with_edges("ko");
    for name in VOCABS {
        let g = asset(&format!("llama-vocab/ggml-vocab-{name}.gguf"));
        let tk = salt::vocab::load_target(&g).unwrap();
        assert_eq!(tk.vocab.kind, TokenizerKind::ByteLevelBpe, "{name}");

        // 1. The ids llama.cpp's test files expect (made with the models' own tokenizers).
        let inp = std::fs::read_to_string(g.with_extension("gguf.inp")).unwrap();
        let out = std::fs::read_to_string(g.with_extension("gguf.out")).unwrap();
        let cases: Vec<&str> = inp.split(SEP).collect();
        let expected: Vec<Vec<u32>> = out
            .lines()
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        let mut file_ok = 0;
        for (case, want) in cases.iter().zip(&expected) {
            let got = tk.encode(case).unwrap();
            assert_eq!(&got, want, "{name}: {case:?}");
            file_ok += 1;
        }
        assert!(file_ok >= 30, "{name}: only {file_ok} cases read");

        // 2. llama.cpp itself on the test cases and on English and Korean held-out text.
        let lines: Vec<&str> = cases
            .iter()
            .copied()
            .chain(en.lines())
            .chain(ko.lines())
            .collect();
        println!("{name}: {file_ok}/{} test-file cases", expected.len());
        crate::spm_bpe::reference_equals_llama_cpp(&tk, &g, &lines);

        // 3. Written back, the tokenizer keys say the same: same pre, same merges.
        let f = GgufFile::open(&g).unwrap();
        let arch = f.get_str("general.architecture").unwrap().to_owned();
        assert_rewrites_keys(
            &f,
            &arch,
            &tk,
            &[
                "tokenizer.ggml.pre",
                "tokenizer.ggml.merges",
                "tokenizer.ggml.tokens",
            ],
        );
    }
}

#[test]
fn unknown_pre_tokenizers_are_refused() {
    // A GGUF whose pre-tokenizer is not in the table: named, with what is supported.
    let g = asset("llama-vocab/ggml-vocab-deepseek-llm.gguf");
    let e = salt::vocab::load_target(&g).unwrap_err().to_string();
    assert!(e.contains("deepseek-llm") && e.contains("qwen2"), "{e}");

    // A tokenizer.json with a splitting llama.cpp does not know: loads (it is a fine
    // reference tokenizer) but has no GGUF equivalent; the error names the closest.
    let qwen = salt::vocab::load_target(&asset("llama-vocab/ggml-vocab-qwen2.gguf")).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&qwen.reference.to_string(false).unwrap()).unwrap();
    let split = &mut json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"];
    let changed = split.as_str().unwrap().replace(r"\p{N}|", r"\p{N}+|");
    *split = changed.into();
    let dir = tmpdir();
    let p = dir.path().join("tokenizer.json");
    std::fs::write(&p, json.to_string()).unwrap();
    let tk = salt::vocab::load_target(&p).unwrap();
    assert_eq!(tk.vocab.kind, TokenizerKind::ByteLevelBpe);
    let f = GgufFile::open(asset(QWEN)).unwrap();
    let e = salt::vocab::write_tokenizer_meta(
        &mut GgufHeader::from_file(&f),
        "qwen2",
        &tk.vocab,
        &tk,
        &TokenizerMetaOptions::default(),
    )
    .unwrap_err()
    .to_string();
    println!("{e}");
    assert!(
        e.contains("tokenizer.json") && e.contains("closest: qwen2 ("),
        "{e}"
    );

    // A normaliser llama.cpp does not apply (lowercasing) is refused too; NFC passes.
    let meta = |json: &serde_json::Value| {
        let p = dir.path().join("norm.tokenizer.json");
        std::fs::write(&p, json.to_string()).unwrap();
        let tk = salt::vocab::load_target(&p).unwrap();
        salt::vocab::write_tokenizer_meta(
            &mut GgufHeader::from_file(&f),
            "qwen2",
            &tk.vocab,
            &tk,
            &TokenizerMetaOptions::default(),
        )
        .map_err(|e| e.to_string())
    };
    let mut qjson: serde_json::Value =
        serde_json::from_str(&qwen.reference.to_string(false).unwrap()).unwrap();
    qjson["normalizer"] = serde_json::json!({"type": "NFC"});
    meta(&qjson).unwrap();
    qjson["normalizer"] = serde_json::json!({"type": "Lowercase"});
    let e = meta(&qjson).unwrap_err();
    assert!(e.contains("normalizer (Lowercase)"), "{e}");

    // The same file through `salt transfer`: refused before any compute, nothing written.
    let out = dir.path().join("out.gguf");
    let cfg = TransferConfig::new(asset(QWEN), p.clone(), AuxSource::Plm, out.clone());
    let e = transfer(&cfg, &mut salt::progress::Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("closest: qwen2 ("), "{e}");
    assert!(!out.exists());
}

#[test]
fn gemma_adapted_to_qwen_vocabulary_trimmed_to_korean() {
    let dir = tmpdir();
    let out = dir.path().join("gemma-qwen-ko.gguf");
    let mut cfg = TransferConfig::new(
        asset("models/gemma-3-270m-q4_k_m.gguf"),
        asset(QWEN),
        AuxSource::Plm,
        out.clone(),
    );
    cfg.init.method = Method::Mean;
    cfg.target.trim_to = Some(asset("text/bible-ko-train.txt"));
    cfg.target.trim_heldout = Some(asset("text/bible-ko-heldout.txt"));
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();
    let trim = r.trim.as_ref().unwrap();
    let seg = r.segmentation.as_ref().unwrap();
    println!(
        "Gemma <- Qwen2.5 vocabulary trimmed to Korean: {} of {} pieces kept ({} used), {} shared; held-out lines changed {}/{}, new unknowns {}",
        trim.kept, trim.original, trim.used, r.shared, seg.changed, seg.lines, seg.new_unknowns
    );
    assert!(trim.kept < trim.original / 10, "{trim:?}");
    assert_eq!(seg.new_unknowns, 0, "byte-level BPE has no unknowns");

    // The output is a `gpt2` vocabulary with Qwen2's pre-tokenizer and the kept merges.
    let f = GgufFile::open(&out).unwrap();
    assert_eq!(f.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(f.get_str("tokenizer.ggml.pre").unwrap(), "qwen2");

    // Trimming keeps the segmentation of the trimming text exactly.
    let full = salt::vocab::load_target(&asset(QWEN)).unwrap();
    let trimmed = salt::vocab::load_target(Path::new(&r.tokenizer)).unwrap();
    assert_eq!(trimmed.vocab.kind, TokenizerKind::ByteLevelBpe);
    let train = std::fs::read_to_string(asset("text/bible-ko-train.txt")).unwrap();
    let lines: Vec<&str> = train.lines().collect();
    let same = salt::vocab::segmentation_change(&full, &trimmed, &lines).unwrap();
    assert_eq!(same.changed, 0, "{same:?}");

    // The written tokenizer.json, loaded back, writes the same tokenizer keys (its
    // splitting is matched against the table: `qwen2` again, same merges).
    assert_rewrites_keys(
        &f,
        "gemma3",
        &trimmed,
        &["tokenizer.ggml.pre", "tokenizer.ggml.merges"],
    );

    // llama.cpp tokenizes the adapted model exactly like the trimmed reference.
    let held = heldout_with_edges("ko");
    let held_lines: Vec<&str> = held.lines().collect();
    let p = salt::eval::parity(&out, &trimmed, &held_lines).unwrap();
    println!("parity {}/{}", p.identical, p.lines);
    assert!(p.ok(), "{}/{}: {:#?}", p.identical, p.lines, p.mismatches);
}
