//! Shared, lazily built fixtures: small fastText models and adapted GGUFs, made once per
//! test process in one temporary folder.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use salt::auxvec::{AuxSource, TrainOptions};
use salt::pipeline::{transfer, Method, TransferConfig, TransferReport};

use crate::util::asset;

/// The folder all fixtures live in (kept for the whole test process).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tmp")).path()
}

/// The bytes of `tests/data/fasttext-tiny.bin` (the reference implementation's tiny model)
/// with the second value of input-matrix row `row` replaced by NaN.
pub fn fasttext_tiny_with_nan(row: usize) -> Vec<u8> {
    let mut bin = std::fs::read(crate::util::data_file("fasttext-tiny.bin")).unwrap();
    let i32_at = |o: usize| i32::from_le_bytes(bin[o..o + 4].try_into().unwrap());
    // dim is the first training argument, bucket the ninth; nwords follows the
    // dictionary size. The input matrix header is [nwords + bucket, dim] as two i64.
    let (dim, bucket, nwords) = (i32_at(8), i32_at(40), i32_at(68));
    let mut header = (i64::from(nwords) + i64::from(bucket))
        .to_le_bytes()
        .to_vec();
    header.extend_from_slice(&i64::from(dim).to_le_bytes());
    let start = bin
        .windows(16)
        .position(|w| w == header.as_slice())
        .expect("the input matrix header")
        + 16;
    let at = start + 4 * (row * dim as usize + 1);
    bin[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    bin
}

/// The first `n` lines of an asset text, written to the fixture folder.
pub fn head(rel: &str, n: usize) -> PathBuf {
    let name = format!("{}.head{n}", rel.replace('/', "_"));
    let p = dir().join(name);
    if !p.exists() {
        let text = std::fs::read_to_string(asset(rel)).unwrap();
        let lines: Vec<&str> = text.lines().take(n).collect();
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    }
    p
}

/// A held-out text with llama.cpp's hard cases appended (the lines parity tests use).
pub fn heldout_with_edges(lang: &str) -> String {
    let mut text =
        std::fs::read_to_string(asset(&format!("text/bible-{lang}-heldout.txt"))).unwrap();
    text.push_str(include_str!("data/edge_lines.txt"));
    text
}

/// The skipgram model of `lang`, trained on the whole training split with the defaults
/// (as the demo does). A model trained on a few thousand lines gives flat similarities
/// and sparsemax supports of thousands, far from the real case.
pub fn fasttext(lang: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap();
    let p = dir().join(format!("{lang}.bin"));
    if !p.exists() {
        let mut o = TrainOptions::new(asset(&format!("text/bible-{lang}-train.txt")));
        o.save = Some(p.clone());
        salt::auxvec::train_fasttext(&o).unwrap();
    }
    p
}

/// The SmolLM2 stress case: SmolLM2 <- the whole USE vocabulary (106k new tokens, 21.9k
/// anchors), with the Korean fastText vectors.
pub fn stress_config() -> TransferConfig {
    TransferConfig::new(
        asset("models/smollm2-135m-instruct-q4_1.gguf"),
        asset("plm/use"),
        AuxSource::FastTextBin(fasttext("ko")),
        "unused.gguf".into(),
    )
}

/// Adapts `model` to USE trimmed to `lang` with `method`; cached per (model, lang, method).
pub fn adapted(model: &str, lang: &str, method: Method) -> (PathBuf, TransferReport) {
    // One build at a time: tests asking for the same output wait for the first.
    static CACHE: Mutex<Vec<(String, PathBuf, TransferReport)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = format!("{model}-{lang}-{}", method.name());
    if let Some((_, p, r)) = cache.iter().find(|(k, _, _)| *k == key) {
        return (p.clone(), r.clone());
    }
    let out = dir().join(format!("{key}.gguf").replace('/', "_"));
    let mut cfg = TransferConfig::new(
        asset(model),
        asset("plm/use"),
        AuxSource::FastTextBin(fasttext(lang)),
        out.clone(),
    );
    cfg.init.method = method;
    cfg.target.trim_to = Some(asset(&format!("text/bible-{lang}-train.txt")));
    cfg.output.force = true;
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap_or_else(|e| panic!("{key}: {e}"));
    cache.push((key, out.clone(), r.clone()));
    (out, r)
}
