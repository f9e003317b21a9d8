//! SentencePiece BPE targets. No asset ships a BPE `.model`, so one is built from a real
//! BPE vocabulary: Gemma-3's 262,144 pieces and scores, as its GGUF holds them. Its
//! reference tokenizer must then tokenize exactly like llama.cpp does with Gemma itself,
//! and a SmolLM2 adapted to it (trimmed to Korean) must load with the `llama` tokenizer
//! and tokenize exactly like the trimmed reference.

use std::path::{Path, PathBuf};

use salt::auxvec::AuxSource;
use salt::gguf::GgufFile;
use salt::pipeline::{transfer, Method, TransferConfig};
use salt::vocab::TokenizerKind;
use sentencepiece_model::ModelType;

use crate::fixtures::heldout_with_edges;
use crate::util::{asset, tmpdir};

const GEMMA: &str = "models/gemma-3-270m-q4_k_m.gguf";

/// Gemma's vocabulary as a SentencePiece BPE `.model` file (byte fallback, no
/// normalisation, no dummy prefix: Gemma-3's settings, as its GGUF states them).
fn gemma_bpe_model(dir: &Path) -> PathBuf {
    let f = GgufFile::open(asset(GEMMA)).unwrap();
    let proto = salt::vocab::sentencepiece_proto(&f).unwrap();
    let (t, n) = (
        proto.trainer_spec.as_ref().unwrap(),
        proto.normalizer_spec.as_ref().unwrap(),
    );
    assert_eq!(t.model_type, Some(ModelType::Bpe as i32));
    assert_eq!(t.byte_fallback, Some(true));
    assert_eq!(
        (
            n.add_dummy_prefix,
            n.remove_extra_whitespaces,
            n.precompiled_charsmap.as_ref()
        ),
        (Some(false), Some(false), None)
    );
    let p = dir.join("gemma-bpe.model");
    std::fs::write(&p, prost::Message::encode_to_vec(&proto)).unwrap();
    p
}

#[test]
fn spm_bpe_reference_matches_llama_cpp_and_adapts() {
    let dir = tmpdir();
    let model = gemma_bpe_model(dir.path());
    let tk = salt::vocab::load_target(&model).unwrap();
    assert_eq!(tk.vocab.kind, TokenizerKind::SentencePieceBpe);
    assert_eq!(tk.vocab.len(), 262_144);

    // 1. The reference equals llama.cpp's own tokenization of Gemma, id for id.
    let text = heldout_with_edges("ko");
    let lines: Vec<&str> = text.lines().collect();
    reference_equals_llama_cpp(&tk, &asset(GEMMA), &lines);

    // 2. SmolLM2 adapted to the BPE vocabulary trimmed to Korean: `llama` tokenizer, parity.
    let out = dir.path().join("smol-gemma-bpe.gguf");
    let mut cfg = TransferConfig::new(
        asset("models/smollm2-135m-instruct-q4_1.gguf"),
        model.clone(),
        AuxSource::Plm,
        out.clone(),
    );
    cfg.init.method = Method::Mean;
    cfg.target.trim_to = Some(asset("text/bible-ko-train.txt"));
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();
    let f = GgufFile::open(&out).unwrap();
    assert_eq!(f.get_str("tokenizer.ggml.model").unwrap(), "llama");
    assert!(r.n_vocab < 20_000, "{}", r.n_vocab);
    let trimmed = salt::vocab::load_target(Path::new(&r.tokenizer)).unwrap();
    let p = salt::eval::parity(&out, &trimmed, &lines).unwrap();
    println!(
        "SmolLM2 <- Gemma BPE trimmed to Korean: parity {}/{}",
        p.identical, p.lines
    );
    assert!(p.ok(), "{}/{}: {:#?}", p.identical, p.lines, p.mismatches);
}

/// Reference ids of every line equal llama.cpp's with the vocabulary-only `gguf`.
pub fn reference_equals_llama_cpp(tk: &salt::vocab::TargetTokenizer, gguf: &Path, lines: &[&str]) {
    let m = salt::eval::load_vocab_only(gguf).unwrap();
    let mut diffs = Vec::new();
    for l in lines {
        let ours = tk.encode(l).unwrap();
        let theirs: Vec<u32> = m
            .vocab()
            .tokenize(l.as_bytes(), false, false)
            .iter()
            .map(|t| t.0 as u32)
            .collect();
        if ours != theirs {
            diffs.push((l.to_string(), ours, theirs));
        }
    }
    println!(
        "{} as a target tokenizer vs llama.cpp: {}/{} lines",
        gguf.display(),
        lines.len() - diffs.len(),
        lines.len()
    );
    assert!(
        diffs.is_empty(),
        "{} differ, first: {:?}",
        diffs.len(),
        diffs[0]
    );
}

#[test]
fn gguf_vocabularies_as_targets() {
    // `llama` (SentencePiece BPE): Gemma-3's own vocabulary, read from its GGUF.
    let text = heldout_with_edges("ko");
    let lines: Vec<&str> = text.lines().collect();
    let gemma = salt::vocab::load_target(&asset(GEMMA)).unwrap();
    assert_eq!(gemma.vocab.kind, TokenizerKind::SentencePieceBpe);
    reference_equals_llama_cpp(&gemma, &asset(GEMMA), &lines);
    // ... and as the target of a transfer, trimmed to Korean.
    let dir = tmpdir();
    let out = dir.path().join("smol-gemma-vocab.gguf");
    let mut cfg = TransferConfig::new(
        asset("models/smollm2-135m-instruct-q4_1.gguf"),
        asset(GEMMA),
        AuxSource::Plm,
        out.clone(),
    );
    cfg.init.method = Method::Mean;
    cfg.target.trim_to = Some(asset("text/bible-ko-train.txt"));
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();
    let trimmed = salt::vocab::load_target(Path::new(&r.tokenizer)).unwrap();
    let p = salt::eval::parity(&out, &trimmed, &lines).unwrap();
    assert!(p.ok(), "{}/{}: {:#?}", p.identical, p.lines, p.mismatches);

    // `bert` (WordPiece): llama.cpp's BGE test vocabulary, on English.
    let bge = asset("llama-vocab/ggml-vocab-bert-bge.gguf");
    let wp = salt::vocab::load_target(&bge).unwrap();
    assert_eq!(wp.vocab.kind, TokenizerKind::WordPiece);
    let en = heldout_with_edges("en");
    // llama.cpp's WPM drops Hangul vowel jamo (see the Gemma <- MiniLM test).
    let hangul = |l: &&str| l.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c));
    let en_lines: Vec<&str> = en.lines().filter(|l| !hangul(l)).collect();
    reference_equals_llama_cpp(&wp, &bge, &en_lines);

    // More of llama.cpp's test vocabularies: Llama-2's SentencePiece BPE (dummy prefix)
    // on English, and a `t5` Unigram with a charsmap (nomic-bert-moe, XLM-R's) on Korean.
    for (name, lines) in [("llama-spm", &en_lines), ("nomic-bert-moe", &lines)] {
        let g = asset(&format!("llama-vocab/ggml-vocab-{name}.gguf"));
        let tk = salt::vocab::load_target(&g).unwrap();
        reference_equals_llama_cpp(&tk, &g, lines);
    }

    // `gpt2` (byte-level BPE) vocabularies: tests/bpe.rs.
}
