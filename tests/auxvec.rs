//! Auxiliary vectors against the reference fastText implementation.

use salt::auxvec::{aux_vectors, load_fasttext, AuxSource, TrainOptions};

use crate::util::data_file as data;

/// `tests/data/fasttext-tiny.{bin,json}` come from the Python reference implementation
/// (`scripts/make_fasttext_golden.py`); Hangul words exercise the signed-byte n-gram hash.
#[test]
fn word_vectors_equal_the_reference_implementation() {
    let ft = load_fasttext(&data("fasttext-tiny.bin")).unwrap();
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("fasttext-tiny.json")).unwrap())
            .unwrap();
    let vectors = golden["vectors"].as_object().unwrap();
    assert!(vectors.len() >= 15);
    for (word, want) in vectors {
        let got = ft.get_word_vector(word);
        let want: Vec<f32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6, "{word}: {got:?} vs {want:?}");
        }
    }
}

/// A NaN in the input matrix of a `.bin` (whose rows make the word vectors) is refused
/// at load, naming the file and the row.
#[test]
fn a_non_finite_input_matrix_is_refused() {
    let bin = crate::fixtures::fasttext_tiny_with_nan(3);
    let dir = crate::util::tmpdir();
    let path = dir.path().join("nan.bin");
    std::fs::write(&path, &bin).unwrap();
    let msg = load_fasttext(&path).unwrap_err().to_string();
    assert!(
        msg.contains("nan.bin") && msg.contains("input matrix row 3"),
        "{msg}"
    );
    assert!(msg.contains("non-finite"), "{msg}");
}

#[test]
fn lookup_text_is_the_trimmed_key() {
    let keys: Vec<Option<Vec<u8>>> = vec![
        Some(" 대한민국".as_bytes().to_vec()), // a word-initial piece: leading space trimmed
        Some("대한민국".as_bytes().to_vec()),
        Some(b" ".to_vec()),    // empty after trimming: no vector
        Some(vec![0xEA, 0xB0]), // not UTF-8: no vector
        None,                   // control token: no vector
    ];
    let v = aux_vectors(
        &AuxSource::FastTextBin(data("fasttext-tiny.bin")),
        &keys,
        None,
    )
    .unwrap();
    assert_eq!(v.has, vec![true, true, false, false, false]);
    assert_eq!(v.row(0), v.row(1));
    assert!(v.row(2).iter().all(|x| *x == 0.0));
}

#[test]
fn vec_files_and_training_are_deterministic() {
    let dir = crate::util::tmpdir();
    let vec_path = dir.path().join("w.vec");
    std::fs::write(&vec_path, "2 3\n가 1 2 3\nb 0 0 0\n").unwrap();
    let keys = vec![
        Some(" 가".as_bytes().to_vec()),
        Some(b"b".to_vec()),
        Some(b"c".to_vec()),
    ];
    let v = aux_vectors(&AuxSource::VecText(vec_path.clone()), &keys, None).unwrap();
    assert_eq!(
        v.has,
        vec![true, false, false],
        "a zero vector counts as none"
    );
    assert_eq!(v.row(0), &[1.0, 2.0, 3.0]);
    std::fs::write(&vec_path, "2 3\n가 1 2\n").unwrap();
    let e = aux_vectors(&AuxSource::VecText(vec_path.clone()), &keys, None).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    // A NaN or an infinity is refused, naming the line and the word.
    for bad in ["nan", "inf"] {
        std::fs::write(&vec_path, format!("2 3\nb 0 1 0\n가 1 {bad} 3\n")).unwrap();
        let e = aux_vectors(&AuxSource::VecText(vec_path.clone()), &keys, None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("w.vec") && msg.contains("line 3"), "{msg}");
        assert!(
            msg.contains("\"가\"") && msg.contains("non-finite"),
            "{msg}"
        );
    }
    // Training twice on the same text gives the same model bytes.
    let text = crate::fixtures::head("text/constitution-ko.txt", 300);
    let mut hashes = Vec::new();
    for i in 0..2 {
        let mut o = TrainOptions::new(text.clone());
        o.save = Some(dir.path().join(format!("t{i}.bin")));
        o.min_count = 1;
        o.epoch = 1;
        salt::auxvec::train_fasttext(&o).unwrap();
        hashes.push(crate::util::sha256_file(o.save.as_ref().unwrap()));
    }
    assert_eq!(hashes[0], hashes[1]);
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "  \n").unwrap();
    let e = salt::auxvec::train_fasttext(&TrainOptions::new(empty)).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}
