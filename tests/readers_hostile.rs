//! Seeded mutation campaigns on every reader of untrusted input: the GGUF reader (on a
//! real vocabulary header), the fastText `.bin` reader, the three tokenizer loaders and the
//! `.npy` / safetensors embedding readers. Each runs 10,000 mutated inputs (bit flips,
//! truncations, length and count fields set to huge values, duplicated chunks, huge
//! numbers in text) and asserts: no panic, a typed error or a valid parse, and a peak
//! allocation within a small multiple of the input size.
//!
//! The bases are small files derived from the real assets (the first 300 entries of a
//! vocabulary), so that 10,000 parses take seconds.

use std::path::Path;

use salt::gguf::{Array, GgufFile, GgufHeader, Value};

use crate::alloc::peak_during;
use crate::util::asset;

const RUNS: usize = 10_000;
const KEEP: usize = 300;

/// xorshift64: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// A position, three times in four within the first 4 KiB (where headers and counts
    /// are), else anywhere.
    fn pos(&mut self, len: usize) -> usize {
        if self.below(4) > 0 {
            self.below(len.min(4096))
        } else {
            self.below(len)
        }
    }
}

fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = base.to_vec();
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.pos(m.len());
                m[i] ^= 1 << rng.below(8);
            }
        }
        1 => m.truncate(rng.below(m.len())),
        2 => {
            // A length or count field set to something huge (8 or 4 bytes).
            let v: u64 = [
                u64::MAX,
                1 << 62,
                1 << 40,
                1 << 32,
                u64::from(u32::MAX),
                1 << 31,
            ][rng.below(6)];
            let w = if rng.below(2) == 0 { 8 } else { 4 };
            let i = rng.pos(m.len().saturating_sub(w));
            m[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        3 => {
            // A duplicated chunk: repeats keys, entries, fields.
            let i = rng.pos(m.len());
            let n = 1 + rng.below(256);
            let chunk = m[i..(i + n).min(m.len())].to_vec();
            let at = rng.pos(m.len());
            m.splice(at..at, chunk);
        }
        4 => {
            // A number in text made huge (ids, dimensions, lengths in JSON or headers).
            let start = rng.pos(m.len());
            if let Some(d) = m[start..].iter().position(u8::is_ascii_digit) {
                let at = start + d;
                let end = m[at..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(m.len(), |e| at + e);
                let big: &[u8] =
                    [&b"4294967296"[..], b"99999999999999999999", b"-1", b"0"][rng.below(4)];
                m.splice(at..end, big.iter().copied());
            }
        }
        _ => {
            let i = rng.pos(m.len());
            m.insert(i, rng.next() as u8);
        }
    }
    m
}

/// Runs the campaign; `parse` returns `Ok(())` for a valid parse and `Err(())` for a
/// typed error. Prints the counts (CI shows them) and the worst memory ratio.
fn campaign(reader: &str, base: &[u8], seed: u64, parse: impl Fn(&[u8]) -> Result<(), ()>) {
    let (base_ok, base_peak) = peak_during(|| parse(base));
    assert!(base_ok.is_ok(), "{reader}: the unmutated base must parse");
    let mut rng = Rng(seed);
    let (mut ok, mut err, mut worst) = (0usize, 0usize, 0f64);
    for i in 0..RUNS {
        let m = mutate(base, &mut rng);
        let (r, peak) =
            peak_during(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&m))));
        match r {
            Ok(Ok(())) => ok += 1,
            Ok(Err(())) => err += 1,
            Err(_) => panic!(
                "{reader} panicked on mutated input #{i} ({} bytes)",
                m.len()
            ),
        }
        // A small multiple of the input, plus a fixed allowance for tables every parse
        // builds (regex and normaliser tables in `tokenizers`).
        let limit = 16 * m.len().max(base.len()) + (1 << 20);
        assert!(
            peak <= limit,
            "{reader}: mutated input #{i} ({} bytes) made it allocate {peak} bytes",
            m.len()
        );
        worst = worst.max(peak as f64 / m.len().max(base.len()) as f64);
    }
    println!(
        "{reader} mutation campaign: {RUNS} inputs of ~{} bytes, {ok} parsed, {err} typed errors, \
         0 panics; peak allocation {:.1}x the input at worst (unmutated: {:.1}x)",
        base.len(),
        worst,
        base_peak as f64 / base.len() as f64
    );
    assert_eq!(ok + err, RUNS);
}

fn ok_or_unit<T, E>(r: Result<T, E>) -> Result<(), ()> {
    r.map(|_| ()).map_err(|_| ())
}

/// The real BERT vocabulary header of llama.cpp's test files, its arrays cut to 300.
fn small_vocab_gguf() -> Vec<u8> {
    let f = GgufFile::open(asset("llama-vocab/ggml-vocab-bert-bge.gguf")).unwrap();
    let mut h = GgufHeader::from_file(&f);
    for kv in &mut h.kvs {
        if let Value::Array(a) = &kv.value {
            if a.len() > KEEP {
                let items: Vec<Value> = a.iter().take(KEEP).collect();
                kv.value = Value::Array(Array::from_values(a.elem(), items).unwrap());
            }
        }
    }
    let mut buf = Vec::new();
    salt::gguf::write_gguf(&mut buf, Path::new("mem"), &h, &[]).unwrap();
    buf
}

#[test]
fn gguf_reader_on_a_real_header() {
    let base = small_vocab_gguf();
    campaign("gguf (bert-bge header)", &base, 0x51, |b| {
        let f = GgufFile::from_bytes("mut.gguf", b.to_vec()).map_err(|_| ())?;
        ok_or_unit(salt::vocab::vocab_from_gguf(&f))
    });
}

#[test]
fn fasttext_reader() {
    let base = std::fs::read(crate::util::data_file("fasttext-tiny.bin")).unwrap();
    campaign("fastText .bin", &base, 0x52, |b| {
        let ft = salt::auxvec::parse_fasttext(Path::new("mut.bin"), b).map_err(|_| ())?;
        ft.get_word_vector("대한민국");
        Ok(())
    });
}

#[test]
fn tokenizer_json_loader() {
    // MiniLM's tokenizer.json with the vocabulary cut to ids below 300 (its added tokens,
    // [PAD] 0 and [UNK] [CLS] [SEP] [MASK] 100-103, stay).
    let text = std::fs::read_to_string(asset("plm/minilm/tokenizer.json")).unwrap();
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    j["model"]["vocab"]
        .as_object_mut()
        .unwrap()
        .retain(|_, id| id.as_u64().unwrap() < KEEP as u64);
    let base = serde_json::to_vec_pretty(&j).unwrap();
    campaign("tokenizer.json", &base, 0x53, |b| {
        let tk = salt::vocab::parse_target(Path::new("tokenizer.json"), b).map_err(|_| ())?;
        ok_or_unit(tk.encode("hello world"))
    });
}

#[test]
fn sentencepiece_model_loader() {
    use prost::Message;
    let model =
        sentencepiece_model::SentencePieceModel::from_file(asset("plm/use/sp.model")).unwrap();
    let mut proto = model.model().clone();
    proto.pieces.truncate(KEEP);
    let base = proto.encode_to_vec();
    campaign("SentencePiece .model", &base, 0x54, |b| {
        let tk = salt::vocab::parse_target(Path::new("sp.model"), b).map_err(|_| ())?;
        ok_or_unit(tk.encode("안녕하세요 world"))
    });
}

#[test]
fn vocab_txt_loader() {
    let text = std::fs::read_to_string(asset("plm/minilm/vocab.txt")).unwrap();
    let base: String = text.lines().take(KEEP).map(|l| format!("{l}\n")).collect();
    campaign("vocab.txt", base.as_bytes(), 0x55, |b| {
        let tk = salt::vocab::parse_target(Path::new("vocab.txt"), b).map_err(|_| ())?;
        ok_or_unit(tk.encode("hello world"))
    });
}

/// A `[300 x 8]` f32 table: (npy image, safetensors image).
fn small_tables() -> (Vec<u8>, Vec<u8>) {
    let (rows, dim) = (KEEP, 8);
    let data: Vec<f32> = (0..rows * dim).map(|i| (i as f32 * 0.37).sin()).collect();
    let npy = crate::util::npy_image(rows, dim, |i| data[i]);
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows, dim], &bytes)
            .unwrap();
    let st = safetensors::serialize([("embeddings.word_embeddings.weight", view)], None).unwrap();
    (npy, st)
}

#[test]
fn npy_reader() {
    let (npy, _) = small_tables();
    campaign(".npy", &npy, 0x56, |b| {
        ok_or_unit(salt::plm::parse_npy(Path::new("mut.npy"), b))
    });
}

#[test]
fn safetensors_reader() {
    let (_, st) = small_tables();
    campaign("safetensors", &st, 0x57, |b| {
        ok_or_unit(salt::plm::parse_safetensors(
            Path::new("mut.safetensors"),
            b,
            None,
        ))
    });
}

/// Found by the campaign: `tokenizers` 0.23.2 panics (`expect("Helper")`) on a JSON
/// syntax error inside the decoder section; the loader reports it instead.
#[test]
fn tokenizer_json_syntax_error_in_decoder_is_an_error() {
    let text = std::fs::read_to_string(asset("plm/minilm/tokenizer.json")).unwrap();
    let at = text.find("\"decoder\"").unwrap();
    let broken = format!(
        "{}\"decoder\": {{\"type\": ,{}",
        &text[..at],
        &text[at + 10..]
    );
    let Err(e) = salt::vocab::parse_target(Path::new("tokenizer.json"), broken.as_bytes()) else {
        panic!("a broken tokenizer.json loaded");
    };
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

/// Found by cargo-fuzz: ndarray-npy allocated the header length an `.npy` states (u32 in
/// format 2) before reading it; 600 MB for a 157-byte file. Now refused without allocating.
#[test]
fn npy_header_length_is_checked_before_allocating() {
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&0x2600_0000u32.to_le_bytes());
    b.extend_from_slice(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n");
    let (r, peak) = peak_during(|| salt::plm::parse_npy(Path::new("evil.npy"), &b));
    let e = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("header claims"), "{e}");
    assert!(peak < 1 << 20, "allocated {peak} bytes");
}
