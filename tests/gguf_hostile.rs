//! Hostile GGUF headers, built byte by byte: each gets a typed error, never a panic and
//! never an allocation sized by an unchecked field.

use salt::error::GgufError;
use salt::gguf::GgufFile;

/// A little-endian GGUF image builder.
#[derive(Default, Clone)]
struct B(Vec<u8>);

impl B {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    fn head(n_tensors: u64, n_kv: u64) -> Self {
        B::default().raw(b"GGUF").u32(3).u64(n_tensors).u64(n_kv)
    }
    /// A tensor info: name, dims, type, offset.
    fn tensor(self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        let mut b = self.str(name).u32(dims.len() as u32);
        for d in dims {
            b = b.u64(*d);
        }
        b.u32(ty).u64(offset)
    }
    /// Pads to 32 and appends `n` data bytes.
    fn data(mut self, n: usize) -> Self {
        let len = self.0.len().next_multiple_of(32);
        self.0.resize(len + n, 0);
        self
    }
}

fn parse(b: &B) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes("hostile.gguf", b.0.clone())
}

/// A valid file: two keys, two tensors (f32 [4], q8_0 [32, 2]).
fn valid() -> B {
    B::head(2, 2)
        .str("general.architecture")
        .u32(8)
        .str("llama")
        .str("tokenizer.ggml.tokens")
        .u32(9)
        .u32(8)
        .u64(2)
        .str("a")
        .str("b")
        .tensor("a", &[4], 0, 0)
        .tensor("b", &[32, 2], 8, 32)
        .data(32 + 68)
}

#[test]
fn the_valid_image_parses() {
    let f = parse(&valid()).unwrap();
    assert_eq!(f.tensors.len(), 2);
    assert_eq!(f.tensor_data(&f.tensors[1]).len(), 68);
}

#[test]
fn every_truncation_is_an_error() {
    let v = valid().0;
    let header_len = v.len() - 100; // everything but the data
    for n in 0..v.len() {
        let r = GgufFile::from_bytes("t.gguf", v[..n].to_vec());
        assert!(r.is_err(), "prefix of {n} bytes parsed");
        let e = r.unwrap_err();
        if n < header_len.min(40) {
            assert!(
                matches!(
                    e,
                    GgufError::Truncated { .. }
                        | GgufError::BadMagic { .. }
                        | GgufError::AbsurdCount { .. }
                ),
                "{n}: {e}"
            );
        }
        assert!(e.to_string().contains("t.gguf"), "{e}");
    }
}

#[test]
fn wrong_magic_and_versions() {
    let e = GgufFile::from_bytes("m", b"GGML\x03\0\0\0".to_vec()).unwrap_err();
    assert!(matches!(e, GgufError::BadMagic { .. }), "{e}");
    for v in [0u32, 1, 4, 0x0300_0000] {
        let e = parse(&B::default().raw(b"GGUF").u32(v).u64(0).u64(0)).unwrap_err();
        assert!(
            matches!(e, GgufError::UnsupportedVersion { version, .. } if version == v),
            "{e}"
        );
    }
}

#[test]
fn absurd_counts_and_lengths() {
    let e = parse(&B::head(0, u64::MAX)).unwrap_err();
    assert!(matches!(e, GgufError::AbsurdCount { .. }), "{e}");
    let e = parse(&B::head(1 << 40, 0)).unwrap_err();
    assert!(matches!(e, GgufError::AbsurdCount { .. }), "{e}");
    let e = parse(&B::head(0, 1).u64(1 << 50).raw(b"k")).unwrap_err();
    assert!(matches!(e, GgufError::AbsurdCount { .. }), "{e}");
    let e = parse(&B::head(0, 1).str("k").u32(8).u64(u64::MAX)).unwrap_err();
    assert!(matches!(e, GgufError::AbsurdCount { .. }), "{e}");
    // Array of 2^60 u32 / strings / nested arrays.
    for elem in [4u32, 8, 9] {
        let e = parse(&B::head(0, 1).str("k").u32(9).u32(elem).u64(1 << 60)).unwrap_err();
        assert!(
            matches!(e, GgufError::AbsurdCount { .. }),
            "elem {elem}: {e}"
        );
    }
}

#[test]
fn bad_types_and_duplicates() {
    let e = parse(&B::head(0, 1).str("k").u32(13).u32(0)).unwrap_err();
    assert!(
        matches!(e, GgufError::BadValueType { type_id: 13, .. }),
        "{e}"
    );
    let e = parse(&B::head(0, 1).str("k").u32(9).u32(77).u64(0)).unwrap_err();
    assert!(
        matches!(e, GgufError::BadValueType { type_id: 77, .. }),
        "{e}"
    );
    let e = parse(&B::head(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2)).unwrap_err();
    assert!(matches!(e, GgufError::DuplicateKey { .. }), "{e}");
    for ty in [4u32, 5, 99, u32::MAX] {
        let e = parse(&B::head(1, 0).tensor("t", &[32], ty, 0).data(128)).unwrap_err();
        assert!(
            matches!(e, GgufError::UnknownTensorType { .. }),
            "{ty}: {e}"
        );
        assert!(e.to_string().contains("\"t\""), "{e}");
    }
    let e = parse(
        &B::head(2, 0)
            .tensor("t", &[4], 0, 0)
            .tensor("t", &[4], 0, 32)
            .data(64),
    )
    .unwrap_err();
    assert!(matches!(e, GgufError::DuplicateTensor { .. }), "{e}");
    // Nested arrays deeper than the limit.
    let mut b = B::head(0, 1).str("deep").u32(9);
    for _ in 0..20 {
        b = b.u32(9).u64(1);
    }
    let e = parse(&b.u32(4).u64(0)).unwrap_err();
    assert!(
        matches!(
            e,
            GgufError::NestingTooDeep { .. } | GgufError::AbsurdCount { .. }
        ),
        "{e}"
    );
}

#[test]
fn bad_tensor_shapes_and_offsets() {
    let cases: Vec<(B, &str)> = vec![
        (
            B::head(1, 0).tensor("t", &[1, 1, 1, 1, 1], 0, 0).data(32),
            "dimensions",
        ),
        (
            B::head(1, 0)
                .tensor("t", &[1 << 40, 1 << 40], 0, 0)
                .data(32),
            "overflows",
        ),
        // Found by cargo-fuzz: a zero width hid a row count that overflows.
        (
            B::head(1, 0)
                .tensor("t", &[0, 1 << 40, 1 << 40], 0, 0)
                .data(32),
            "overflows",
        ),
        // Found by cargo-fuzz: a zero row count hid a row size that overflows.
        (
            B::head(1, 0).tensor("t", &[1 << 62, 0], 0, 0).data(32),
            "too large",
        ),
        (B::head(1, 0).tensor("t", &[33], 8, 0).data(64), "multiple"),
        (B::head(1, 0).tensor("t", &[4], 0, 16).data(64), "alignment"),
        (
            B::head(1, 0).tensor("t", &[64], 0, 0).data(100),
            "past the end",
        ),
        (
            B::head(1, 0).tensor("t", &[4], 0, u64::MAX - 31).data(64),
            "past the end",
        ),
    ];
    for (b, want) in cases {
        let e = parse(&b).unwrap_err();
        assert!(matches!(e, GgufError::BadTensor { .. }), "{want}: {e}");
        assert!(e.to_string().contains(want), "expected {want:?} in: {e}");
    }
    let e = parse(&B::head(0, 1).str("general.alignment").u32(4).u32(3)).unwrap_err();
    assert!(
        matches!(e, GgufError::BadAlignment { alignment: 3, .. }),
        "{e}"
    );
}

/// Seeded mutations of a valid image (bit flips, truncations, huge length fields, byte
/// splices): each parses or fails with a typed error; none panics.
#[test]
fn mutation_campaign_never_panics() {
    let base = valid().0;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..10_000 {
        let mut m = base.clone();
        match next() % 4 {
            0 => {
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % m.len();
                    m[i] ^= 1 << (next() % 8);
                }
            }
            1 => m.truncate((next() as usize) % m.len()),
            2 => {
                let i = (next() as usize) % (m.len() - 8);
                let v = [u64::MAX, 1 << 62, 1 << 32, u64::from(u32::MAX)][(next() % 4) as usize];
                m[i..i + 8].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let i = (next() as usize) % m.len();
                let j = (next() as usize) % m.len();
                let chunk: Vec<u8> = m[i.min(j)..i.max(j)].to_vec();
                m.splice(i..i, chunk);
            }
        }
        match std::panic::catch_unwind(|| {
            GgufFile::from_bytes("mut.gguf", m).map(|f| f.tensors.len())
        }) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("the GGUF reader panicked on a mutated input"),
        }
    }
    println!("gguf mutation campaign: 10000 inputs, {ok} parsed, {err} typed errors, 0 panics");
    assert_eq!(ok + err, 10_000);
}
