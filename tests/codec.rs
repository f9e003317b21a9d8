//! Row codecs against ggml's own round trip and against gguf-py's independent decoder.

use std::collections::BTreeMap;

use salt::codec::{check_quantizable, dequantize_rows, quantize};
use salt::ggml::GgmlType;
use salt::gguf::GgufFile;

use crate::util::{asset, MODELS};

/// Rows per tensor checked (all rows of small tensors).
const MAX_ROWS: usize = 2048;

#[test]
fn dequantize_matches_gguf_py_golden() {
    let golden: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("data/golden_dequant.json")).expect("golden json");
    assert!(golden.len() >= 10);
    let mut files = BTreeMap::new();
    for g in &golden {
        let model = g["model"].as_str().unwrap();
        let f = files
            .entry(model.to_owned())
            .or_insert_with(|| GgufFile::open(asset(model)).unwrap());
        let t = f.require_tensor(g["tensor"].as_str().unwrap()).unwrap();
        assert_eq!(
            t.ty.name().to_ascii_lowercase(),
            g["type"].as_str().unwrap()
        );
        let rows = (t.n_rows() as usize).min(2);
        let ours = dequantize_rows(f, t, 0, rows).unwrap();
        let want: Vec<f32> = g["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
        for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * scale,
                "{model} {}: value {i}: ggml {a} vs gguf-py {b}",
                t.name_str()
            );
        }
    }
}

/// Per type: dequantize -> quantize of real rows. Exact where ggml's quantizer is
/// idempotent on its own output, else within its round-trip error.
#[test]
fn requantize_real_rows() {
    let mut checked = BTreeMap::<String, (usize, usize, f64)>::new(); // type -> (rows, exact rows, max rel err)
    for rel in MODELS {
        let f = GgufFile::open(asset(rel)).unwrap();
        let mut seen = std::collections::HashSet::new();
        for t in &f.tensors {
            if t.ty == GgmlType::F32 || !seen.insert(t.ty) {
                continue;
            }
            let width = t.row_width() as usize;
            let rows = (t.n_rows() as usize).min(MAX_ROWS);
            let x = dequantize_rows(&f, t, 0, rows).unwrap();
            let q = quantize(t.ty, &x, width, &t.name_str()).unwrap();
            let orig = &f.tensor_data(t)[..q.len()];
            let rb = t.row_bytes() as usize;
            let exact = q
                .chunks(rb)
                .zip(orig.chunks(rb))
                .filter(|(a, b)| a == b)
                .count();
            let y = salt::codec::dequantize(t.ty, &q, width).unwrap();
            let num: f64 = x
                .iter()
                .zip(&y)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            let den: f64 = x.iter().map(|a| f64::from(*a).powi(2)).sum();
            let rel_err = (num / den.max(1e-300)).sqrt();
            let e = checked.entry(t.ty.to_string()).or_default();
            e.0 += rows;
            e.1 += exact;
            e.2 = e.2.max(rel_err);
        }
    }
    for (ty, (rows, exact, err)) in &checked {
        println!(
            "requantize {ty}: {exact}/{rows} rows byte-identical, max relative error {err:.2e}"
        );
    }
    for ty in ["q8_0", "q5_0", "q4_1"] {
        let (rows, exact, _) = checked[ty];
        assert_eq!(
            exact, rows,
            "{ty}: ggml's quantizer should reproduce its own output"
        );
    }
    // Measured here: Q4_K 97% of rows byte-identical (the rest were not written by ggml's
    // reference quantizer without an imatrix), relative error 3e-3; Q6_K 7.3e-4.
    let (rows, exact, err) = checked["q4_K"];
    assert!(
        exact * 100 >= rows * 95 && err < 1e-2,
        "q4_K: {exact}/{rows} identical, error {err}"
    );
    let (_, _, err) = checked["q6_K"];
    assert!(err < 1e-3, "q6_K round trip error {err}");
}

#[test]
fn quantize_refuses_with_a_fallback() {
    // Gemma's width 640 does not fill 256-value K-quant blocks.
    let e = check_quantizable(GgmlType::Q4_K, 640).unwrap_err();
    assert!(e.to_string().contains("q5_0"), "{e}");
    let iq2 = GgmlType::from_name("iq2_xxs").unwrap();
    let e = check_quantizable(iq2, 512).unwrap_err();
    assert!(
        matches!(e, salt::error::CodecError::NeedsImatrix { .. }),
        "{e}"
    );
    let mut bad = vec![0.5f32; 96];
    bad[40] = f32::NAN;
    let e = quantize(GgmlType::Q8_0, &bad, 32, "token_embd").unwrap_err();
    assert!(e.to_string().contains("row 1 of token_embd"), "{e}");
    // f16 and bf16 go through ggml too, and come back close.
    let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 7.0).collect();
    for ty in [GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0] {
        let q = quantize(ty, &x, 32, "t").unwrap();
        let y = salt::codec::dequantize(ty, &q, 32).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 0.05, "{ty}: {a} vs {b}");
        }
    }
}

#[test]
fn type_table_comes_from_ggml() {
    assert_eq!(GgmlType::Q8_0.block_size(), 32);
    assert_eq!(GgmlType::Q8_0.type_size(), 34);
    assert_eq!(GgmlType::Q4_K.type_size(), 144);
    assert_eq!(GgmlType::BF16.type_size(), 2);
    for name in ["mxfp4", "tq1_0", "tq2_0", "iq4_nl", "iq1_m", "i64", "f64"] {
        assert!(
            GgmlType::from_name(name).is_some(),
            "{name} missing from the type table"
        );
    }
    // Removed ids (4, 5: Q4_2, Q4_3) are unknown.
    assert!(GgmlType::from_id(4).is_none() && GgmlType::from_id(5).is_none());
    assert!(GgmlType::from_id(1000).is_none());
}
