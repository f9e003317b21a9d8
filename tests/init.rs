//! The initialisers beyond the paper's: subword composition (fvt), matching pursuit (omp),
//! centred SALT, and separate output rows (`--untie`, `--output-method`), each against an
//! independent computation or an invariant, on the real models where it matters.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use salt::auxvec::AuxSource;
use salt::gguf::GgufFile;
use salt::pipeline::{transfer, Method, TransferConfig};

use crate::fixtures::{fasttext, head};
use crate::util::{asset, tmpdir};

const GEMMA: &str = "models/gemma-3-270m-q4_k_m.gguf";
const SMOLLM: &str = "models/smollm2-135m-instruct-q4_1.gguf";

fn normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
        .collect()
}

/// Dequantized `token_embd` row `id`.
fn row(f: &GgufFile, id: usize) -> Vec<f32> {
    let t = f.require_tensor("token_embd.weight").unwrap();
    salt::codec::dequantize_rows(f, t, id, id + 1).unwrap()
}

/// fvt: every new row is the mean of the source rows of the source tokenizer's pieces of
/// the token's text, recomputed here with llama.cpp directly (Gemma: no space prefix;
/// SmolLM2: byte-level, the key's space becomes `Ġ`).
#[test]
fn fvt_rows_are_means_of_source_pieces() {
    let dir = tmpdir();
    for model in [GEMMA, SMOLLM] {
        let out = dir.path().join("fvt.gguf");
        let mut cfg = TransferConfig::new(asset(model), asset("plm/use"), None, out.clone());
        cfg.init.method = Method::Fvt;
        cfg.target.trim_to = Some(head("text/bible-ko-train.txt", 3000));
        cfg.output.force = true;
        let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();
        assert!(r.regressed > 100 && r.random <= 3, "{model}: {r:?}");
        let (src, dst) = (
            GgufFile::open(asset(model)).unwrap(),
            GgufFile::open(&out).unwrap(),
        );
        let llama = salt::eval::load_vocab_only(&asset(model)).unwrap();
        let tk = salt::vocab::load_target(std::path::Path::new(&r.tokenizer)).unwrap();
        let srcv = salt::vocab::vocab_from_gguf(&src).unwrap();
        let al = salt::vocab::align(&srcv, &tk.vocab, &[]);
        let mut checked = 0;
        for (id, c) in al.classes.iter().enumerate().step_by(7) {
            if *c != salt::vocab::TargetClass::New {
                continue;
            }
            let text = String::from_utf8_lossy(&tk.vocab.tokens[id].text).replace('\u{2581}', " ");
            let pieces = llama.vocab().tokenize(text.as_bytes(), false, false);
            if pieces.is_empty() {
                continue;
            }
            let mut mean = vec![0f64; row(&src, 0).len()];
            for p in &pieces {
                for (m, x) in mean.iter_mut().zip(row(&src, p.0 as usize)) {
                    *m += f64::from(x) / pieces.len() as f64;
                }
            }
            let got = row(&dst, id);
            let err = got
                .iter()
                .zip(&mean)
                .map(|(a, b)| (f64::from(*a) - b).powi(2))
                .sum::<f64>()
                .sqrt()
                / mean.iter().map(|b| b * b).sum::<f64>().sqrt();
            // q8_0 storage of the new row: about 0.4% relative.
            assert!(err < 0.01, "{model} token {text:?}: {err}");
            checked += 1;
        }
        println!("{model}: {checked} fvt rows checked");
        assert!(checked > 20);
    }
}

/// omp: a row that is an exact combination of three anchors is found with exactly those
/// three (in any number of atoms allowed), and a random row uses at most k atoms with a
/// residual that never grows as k does.
#[test]
fn omp_recovers_a_sparse_combination() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (n_a, h) = (300usize, 48usize);
    let a = normal(&mut rng, n_a * h);
    let picks = [17u32, 140, 299];
    let mut e = vec![0f32; h];
    for (&p, c) in picks.iter().zip([0.7f32, -1.3, 0.4]) {
        for (x, y) in e.iter_mut().zip(&a[p as usize * h..(p as usize + 1) * h]) {
            *x += c * y;
        }
    }
    let noise = normal(&mut rng, h);
    let e2: Vec<f32> = e.iter().chain(&noise).copied().collect();
    let s = salt::init::omp::pursue(&e2, &a, h, 16);
    assert_eq!(s[0], picks.to_vec(), "the sparse combination");
    assert_eq!(s[1].len(), 16, "a dense row uses all k atoms");
    let resid = |k: usize| {
        let idx = &salt::init::omp::pursue(&noise, &a, h, k)[0];
        let (w, _) = salt::regression::solve_weights(&a, idx, &noise, h, 1e-6);
        let mut r: Vec<f64> = noise.iter().map(|x| f64::from(*x)).collect();
        for (&i, wi) in idx.iter().zip(&w) {
            for (x, y) in r.iter_mut().zip(&a[i as usize * h..(i as usize + 1) * h]) {
                *x -= wi * f64::from(*y);
            }
        }
        r.iter().map(|x| x * x).sum::<f64>().sqrt()
    };
    let rs: Vec<f64> = [1, 4, 8, 16, 32].iter().map(|&k| resid(k)).collect();
    assert!(rs.windows(2).all(|w| w[1] <= w[0] + 1e-9), "{rs:?}");
}

/// salt-centred: weights sum to one, and the row equals the literal affine formula
/// μ_B + (e - μ_A) · pinv(A - 1μ_A) · (B - 1μ_B) in f64 (SVD).
#[test]
fn centred_salt_is_the_affine_regression() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for &(k, h, h_s) in &[(5usize, 32usize, 8usize), (40, 64, 16), (90, 48, 12)] {
        let a = normal(&mut rng, (k + 3) * h);
        let b = normal(&mut rng, (k + 3) * h_s);
        let e = normal(&mut rng, h);
        let idx: Vec<u32> = (3..k as u32 + 3).collect();
        let w = salt::init::salt_centred::centred_weights(&a, &idx, &e, h, 1e-6);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9, "k {k}");
        let rows = |t: &[f32], d: usize| -> Vec<f64> {
            idx.iter()
                .flat_map(|&i| {
                    t[i as usize * d..(i as usize + 1) * d]
                        .iter()
                        .map(|x| f64::from(*x))
                })
                .collect()
        };
        let (ra, rb) = (rows(&a, h), rows(&b, h_s));
        let mean = |r: &[f64], d: usize| -> Vec<f64> {
            (0..d)
                .map(|c| (0..k).map(|i| r[i * d + c]).sum::<f64>() / k as f64)
                .collect()
        };
        let (ma, mb) = (mean(&ra, h), mean(&rb, h_s));
        let ac: Vec<f64> = ra.iter().enumerate().map(|(i, x)| x - ma[i % h]).collect();
        let bc: Vec<f64> = rb
            .iter()
            .enumerate()
            .map(|(i, x)| x - mb[i % h_s])
            .collect();
        let ec: Vec<f64> = e.iter().zip(&ma).map(|(x, m)| f64::from(*x) - m).collect();
        let lit = salt::regression::literal_pinv_row(&ac, &bc, &ec, k, h, h_s, 1e-6);
        let want: Vec<f64> = lit.iter().zip(&mb).map(|(x, m)| x + m).collect();
        let got: Vec<f64> = (0..h_s)
            .map(|c| (0..k).map(|i| w[i] * rb[i * h_s + c]).sum())
            .collect();
        let err = got
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
            / want.iter().map(|y| y * y).sum::<f64>().sqrt();
        assert!(err < 1e-6, "k {k} h {h}: {err}");
    }
}

/// --untie: gemma3 and llama sources gain an output.weight holding token_embd's bytes;
/// llama.cpp loads it and the scores are unchanged; with --output-method random only the
/// output side changes, and the scores do (so llama.cpp reads that tensor).
#[test]
fn untie_writes_an_output_tensor_llama_cpp_uses() {
    let dir = tmpdir();
    let text = head("text/bible-ko-heldout.txt", 200);
    let content = std::fs::read_to_string(&text).unwrap();
    for model in [GEMMA, SMOLLM] {
        let run = |name: &str, untie: bool, out_method: Option<Method>| {
            let out = dir.path().join(format!("{name}.gguf"));
            let mut cfg = TransferConfig::new(
                asset(model),
                asset("plm/use"),
                AuxSource::FastTextBin(fasttext("ko")),
                out.clone(),
            );
            cfg.init.method = Method::Focus;
            cfg.target.trim_to = Some(head("text/bible-ko-train.txt", 3000));
            cfg.output.untie = untie;
            cfg.init.output_method = out_method;
            cfg.output.force = true;
            transfer(&cfg, &mut salt::progress::Silent).unwrap();
            let opts = salt::eval::ScoreOptions {
                ctx: 128,
                max_tokens: Some(500),
                ..Default::default()
            };
            let s = salt::eval::score(&out, &text, &content, &opts, &mut salt::progress::Silent)
                .unwrap();
            (out, s.bits_per_byte)
        };
        let (tied, b0) = run("tied", false, None);
        let (untied, b1) = run("untied", true, None);
        let (_, b2) = run("out-random", true, Some(Method::Random));
        let (ft, fu) = (
            GgufFile::open(&tied).unwrap(),
            GgufFile::open(&untied).unwrap(),
        );
        assert!(ft.tensor("output.weight").is_none());
        let (e, o) = (
            fu.require_tensor("token_embd.weight").unwrap(),
            fu.require_tensor("output.weight").unwrap(),
        );
        assert_eq!((e.ty, &e.dims), (o.ty, &o.dims));
        assert!(
            fu.tensor_data(e) == fu.tensor_data(o),
            "{model}: untied output starts as token_embd"
        );
        println!("{model}: tied {b0}, untied {b1}, output random {b2}");
        assert_eq!(
            b0.to_bits(),
            b1.to_bits(),
            "{model}: untying alone changes nothing"
        );
        assert!(b2 > b0 + 0.01, "{model}: llama.cpp must use output.weight");
        // The generation path works on the untied file too.
        let c =
            salt::eval::continuations(&untied, &["태초에 하나님이".to_owned()], 4, None).unwrap();
        assert_eq!(c.len(), 1);
    }
    // An output rule without an output tensor is refused before any compute.
    let mut cfg = TransferConfig::new(
        asset(GEMMA),
        asset("plm/use"),
        None,
        dir.path().join("x.gguf"),
    );
    cfg.init.method = Method::Mean;
    cfg.init.output_method = Some(Method::Random);
    let e = transfer(&cfg, &mut salt::progress::Silent).unwrap_err();
    assert!(e.to_string().contains("--untie"), "{e}");
}
