//! The README's bad-input table, row by row, through the `salt` binary: each row exits
//! with code 2, prints a message naming the file, key, tensor or token and the fix, leaves
//! nothing in the output folder, and changes no input (sha256 before and after).
//! Also: killing a transfer at any point leaves no output at the target path, and the
//! next run removes the killed run's temporary and lock files; two runs started together
//! with one output give one complete file and a message naming the other run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use salt::gguf::{write_gguf, Array, GgufFile, GgufHeader, TensorSource, Value};

use crate::util::{asset, sha256_file, tmpdir};

const SMOL: &str = "models/smollm2-135m-instruct-q4_1.gguf";
const USE_SP: &str = "plm/use/sp.model";
const KO: &str = "text/bible-ko-train.txt";

fn salt_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_salt"))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The fast transfer (SmolLM2, USE trimmed to Korean, random init): about 3 s.
fn fast_transfer(source: &Path, out: &Path) -> Vec<String> {
    [
        "transfer",
        "--source",
        &source.display().to_string(),
        "--plm",
        &asset("plm/use").display().to_string(),
        "--trim-to",
        &asset(KO).display().to_string(),
        "--method",
        "random",
        "--out",
        &out.display().to_string(),
        "--quiet",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

/// Replaces the `--method` of `args`.
fn set_method(args: &mut [String], method: &str) {
    let i = args.iter().position(|a| a == "--method").unwrap();
    args[i + 1] = method.into();
}

/// SmolLM2's header changed by `edit`, its tensors copied, written to `dst`.
fn rewrite_smol(dst: &Path, edit: impl FnOnce(&mut GgufHeader)) {
    let f = GgufFile::open(asset(SMOL)).unwrap();
    let mut h = GgufHeader::from_file(&f);
    edit(&mut h);
    let sources: Vec<_> = (0..f.tensors.len())
        .map(|i| TensorSource::Copy(&f, i))
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst).unwrap());
    write_gguf(&mut out, dst, &h, &sources).unwrap();
}

/// SmolLM2's bytes, patched by `edit`, written to `dst`.
fn patch_smol(dst: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut b = std::fs::read(asset(SMOL)).unwrap();
    edit(&mut b);
    std::fs::write(dst, b).unwrap();
}

/// Where in SmolLM2's header the tensor info of `name` starts (its name's u64 length).
fn tensor_info_at(b: &[u8], name: &str) -> usize {
    let mut pat = (name.len() as u64).to_le_bytes().to_vec();
    pat.extend_from_slice(name.as_bytes());
    let f = GgufFile::from_bytes("smol", b.to_vec()).unwrap();
    let head = &b[..f.data_offset as usize];
    head.windows(pat.len())
        .rposition(|w| w == pat.as_slice())
        .expect("tensor info present")
}

fn write_npy(path: &Path, rows: usize, dim: usize, f: impl Fn(usize) -> f32) {
    std::fs::write(path, crate::util::npy_image(rows, dim, f)).unwrap();
}

/// A PLM folder with MiniLM's tokenizer and config but no embeddings (given separately).
fn minilm_folder(dir: &Path) -> PathBuf {
    let p = dir.join("plm");
    std::fs::create_dir_all(&p).unwrap();
    for f in ["tokenizer.json", "config.json"] {
        std::fs::copy(asset(&format!("plm/minilm/{f}")), p.join(f)).unwrap();
    }
    p
}

struct Row {
    name: &'static str,
    args: Vec<String>,
    /// Substrings the error output must contain.
    expect: Vec<String>,
    /// Files that must not change.
    inputs: Vec<PathBuf>,
    /// The folder that must hold exactly what it held before.
    out_dir: PathBuf,
    /// Run under `ulimit -f` (KiB) with SIGXFSZ ignored: a full disk.
    fsize_kib: Option<u64>,
}

fn run_row(row: &Row) {
    let before: Vec<String> = row.inputs.iter().map(|p| sha256_file(p)).collect();
    let listed = listing(&row.out_dir);
    let out = match row.fsize_kib {
        None => salt_bin().args(&row.args).output().unwrap(),
        Some(k) => Command::new("sh")
            .arg("-c")
            .arg(format!("trap '' XFSZ; ulimit -f {k}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_salt"))
            .args(&row.args)
            .output()
            .unwrap(),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: exit code {:?}, stderr:\n{err}",
        row.name,
        out.status.code()
    );
    for e in &row.expect {
        assert!(
            err.contains(e.as_str()),
            "{}: {e:?} not in:\n{err}",
            row.name
        );
    }
    assert_eq!(
        listing(&row.out_dir),
        listed,
        "{}: output folder changed",
        row.name
    );
    for (p, h) in row.inputs.iter().zip(&before) {
        assert_eq!(
            &sha256_file(p),
            h,
            "{}: input {} changed",
            row.name,
            p.display()
        );
    }
    println!(
        "bad input ok: {:<28} {}",
        row.name,
        err.lines().next().unwrap_or("")
    );
}

/// A folder this process cannot create files in, if the machine offers one.
fn read_only_folder(tmp: &Path) -> Option<PathBuf> {
    let ro = tmp.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let mut perm = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o555);
    std::fs::set_permissions(&ro, perm).unwrap();
    // Root ignores permission bits; sysfs refuses new files even to root.
    [ro, PathBuf::from("/sys/kernel")]
        .into_iter()
        .find(|d| std::fs::File::create(d.join(".salt-probe")).is_err())
}

#[test]
fn bad_input_table() {
    let dir = tmpdir();
    let d = dir.path();
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("x.gguf");
    let smol = asset(SMOL);
    let common = vec![smol.clone(), asset(USE_SP), asset(KO)];
    let mut rows = Vec::new();
    let mut row = |name, args: Vec<String>, expect: &[&str], extra: Vec<PathBuf>| {
        let mut inputs = common.clone();
        inputs.extend(extra);
        rows.push(Row {
            name,
            args,
            expect: expect.iter().map(ToString::to_string).collect(),
            inputs,
            out_dir: out_dir.clone(),
            fsize_kib: None,
        });
    };

    let head = std::fs::read(&smol).unwrap()[..1_000_000].to_vec();
    let trunc = d.join("trunc.gguf");
    std::fs::write(&trunc, &head).unwrap();
    row(
        "truncated GGUF",
        fast_transfer(&trunc, &out),
        &["trunc.gguf", "truncated", "download or convert it again"],
        vec![trunc.clone()],
    );

    let magic = d.join("magic.gguf");
    let mut m = head.clone();
    m[..4].copy_from_slice(b"GGML");
    std::fs::write(&magic, &m).unwrap();
    row(
        "wrong magic",
        fast_transfer(&magic, &out),
        &["magic.gguf", "not a GGUF file", "pass a .gguf model"],
        vec![magic.clone()],
    );

    let version = d.join("version.gguf");
    let mut m = head.clone();
    m[4..8].copy_from_slice(&4u32.to_le_bytes());
    std::fs::write(&version, &m).unwrap();
    row(
        "unsupported version",
        fast_transfer(&version, &out),
        &["version.gguf", "GGUF version 4 is not supported"],
        vec![version.clone()],
    );

    let absurd = d.join("absurd.gguf");
    let mut m = head.clone();
    m[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes());
    std::fs::write(&absurd, &m).unwrap();
    row(
        "absurd counts",
        fast_transfer(&absurd, &out),
        &[
            "absurd.gguf",
            "metadata key count",
            "more than the rest of this file can hold",
            "corrupt",
        ],
        vec![absurd.clone()],
    );

    let unknown = d.join("unknown-type.gguf");
    patch_smol(&unknown, |b| {
        let at = tensor_info_at(b, "token_embd.weight") + 8 + "token_embd.weight".len();
        let n_dims = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let ty = at + 4 + 8 * n_dims;
        b[ty..ty + 4].copy_from_slice(&200u32.to_le_bytes());
    });
    row(
        "unknown tensor type",
        fast_transfer(&unknown, &out),
        &["unknown-type.gguf", "token_embd.weight", "ggml type 200"],
        vec![unknown.clone()],
    );

    let no_embd = d.join("no-embd.gguf");
    patch_smol(&no_embd, |b| {
        let at = tensor_info_at(b, "token_embd.weight") + 8;
        b[at..at + 17].copy_from_slice(b"token_embd.weighq");
    });
    row(
        "missing token_embd",
        fast_transfer(&no_embd, &out),
        &[
            "no-embd.gguf",
            "missing tensor \"token_embd.weight\"",
            "complete model GGUF",
        ],
        vec![no_embd.clone()],
    );

    let short = d.join("short-vocab.gguf");
    rewrite_smol(&short, |h| {
        for kv in &mut h.kvs {
            if let Value::Array(a) = &kv.value {
                if kv.key.starts_with(b"tokenizer.ggml.") && a.len() == 49_152 {
                    let items: Vec<Value> = a.iter().take(49_151).collect();
                    kv.value = Value::Array(Array::from_values(a.elem(), items).unwrap());
                }
            }
        }
    });
    row(
        "embedding rows != vocabulary",
        fast_transfer(&short, &out),
        &[
            "short-vocab.gguf",
            "token_embd.weight",
            "one row per token (49151 tokens",
            "convert the model again",
        ],
        vec![short.clone()],
    );

    let no_shared = d.join("no-shared.gguf");
    rewrite_smol(&no_shared, |h| {
        let n = 49_152;
        h.set(
            "tokenizer.ggml.tokens",
            Value::Array(Array::strings((0..n).map(|i| format!("\u{E000}{i}")))),
        );
    });
    row(
        "no shared tokens",
        fast_transfer(&no_shared, &out),
        &["no-shared.gguf", "share no token"],
        vec![no_shared.clone()],
    );

    // A byte-level BPE whose splitting llama.cpp does not know (Qwen2's with runs of
    // digits instead of single ones).
    let odd_pre = d.join("odd-pre.tokenizer.json");
    {
        let q = salt::vocab::load_target(&asset("llama-vocab/ggml-vocab-qwen2.gguf")).unwrap();
        let json = q.reference.to_string(false).unwrap();
        std::fs::write(&odd_pre, json.replacen(r"\\p{N}|", r"\\p{N}+|", 1)).unwrap();
    }
    let mut args = fast_transfer(&smol, &out);
    let i = args.iter().position(|a| a == "--plm").unwrap();
    args[i + 1] = odd_pre.display().to_string();
    row(
        "unknown BPE pre-tokenizer",
        args,
        &[
            "odd-pre.tokenizer.json",
            "matches none of the splittings llama.cpp knows",
            "closest: qwen2 (1 edit)",
        ],
        vec![odd_pre.clone()],
    );

    // A tokenizer kind llama.cpp has no tokenizer for.
    let word_level = d.join("wordlevel.tokenizer.json");
    std::fs::write(
        &word_level,
        r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"태초에":1},"unk_token":"[UNK]"}}"#,
    )
    .unwrap();
    let mut args = fast_transfer(&smol, &out);
    let i = args.iter().position(|a| a == "--plm").unwrap();
    args[i + 1] = word_level.display().to_string();
    row(
        "unsupported tokenizer kind",
        args,
        &[
            "wordlevel.tokenizer.json",
            "WordLevel",
            "Unigram, WordPiece, BPE",
        ],
        vec![word_level.clone()],
    );

    let nan_src = d.join("nan-source.gguf");
    patch_smol(&nan_src, |b| {
        let f = GgufFile::from_bytes("smol", b.clone()).unwrap();
        let t = f.tensor("token_embd.weight").unwrap().clone();
        let at = f.data_offset as usize + t.offset as usize + 5 * t.row_bytes() as usize;
        b[at..at + 2].copy_from_slice(&0x7E00u16.to_le_bytes()); // f16 NaN block scale
    });
    row(
        "NaN in the source embedding",
        fast_transfer(&nan_src, &out),
        &[
            "nan-source.gguf",
            "token_embd.weight",
            "row 5",
            "non-finite",
            "damaged",
        ],
        vec![nan_src.clone()],
    );

    // PLM rows != tokenizer size: USE's tokenizer with MiniLM's table.
    let mut a = fast_transfer(&smol, &out);
    let minilm_st = asset("plm/minilm/model.safetensors");
    set_method(&mut a, "salt");
    a.extend(["--aux", "plm", "--plm-embeddings"].map(String::from));
    a.push(minilm_st.display().to_string());
    row(
        "PLM rows != tokenizer size",
        a,
        &[
            "model.safetensors",
            "30522 embedding rows",
            "128000 tokens",
            "use the embedding table that belongs to this tokenizer",
        ],
        vec![minilm_st.clone()],
    );

    let plm = minilm_folder(d);
    let salt_on = |plm: &Path, emb: &Path| -> Vec<String> {
        [
            "transfer",
            "--source",
            &smol.display().to_string(),
            "--plm",
            &plm.display().to_string(),
            "--plm-embeddings",
            &emb.display().to_string(),
            "--method",
            "salt",
            "--aux",
            "plm",
            "--out",
            &out.display().to_string(),
            "--quiet",
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    let narrow = d.join("narrow.npy");
    write_npy(&narrow, 30_522, 16, |i| (i as f32).sin());
    row(
        "PLM width mismatch",
        salt_on(&plm, &narrow),
        &[
            "narrow.npy",
            "16 wide",
            "config.json says hidden_size = 384",
            "different models",
        ],
        vec![narrow.clone(), plm.join("config.json")],
    );

    let nan_plm = d.join("nan-plm.npy");
    write_npy(&nan_plm, 30_522, 384, |i| {
        if i == 7 * 384 + 3 {
            f32::NAN
        } else {
            (i as f32).sin()
        }
    });
    row(
        "NaN in the PLM embedding",
        salt_on(&plm, &nan_plm),
        &["nan-plm.npy", "row 7", "non-finite", "export it again"],
        vec![nan_plm.clone()],
    );

    let empty = d.join("empty.txt");
    std::fs::write(&empty, " \n\n").unwrap();
    let binary = d.join("binary.txt");
    std::fs::write(&binary, b"GGUF\x00\x01\x02\xff\xfe").unwrap();
    for (name, text, what) in [
        ("empty text for eval", &empty, "the text is empty"),
        ("binary text for eval", &binary, "not UTF-8 text"),
    ] {
        let args = [
            "eval",
            "--model",
            &smol.display().to_string(),
            "--text",
            &text.display().to_string(),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        row(
            name,
            args,
            &[
                &text.file_name().unwrap().to_string_lossy(),
                what,
                "plain UTF-8 text",
            ],
            vec![text.clone()],
        );
    }
    for (name, text, what) in [
        ("empty --aux-train text", &empty, "the text is empty"),
        ("binary --aux-train text", &binary, "not UTF-8 text"),
    ] {
        let mut a = fast_transfer(&smol, &out);
        set_method(&mut a, "salt");
        a.extend(["--aux-train".into(), text.display().to_string()]);
        row(
            name,
            a,
            &[
                &text.file_name().unwrap().to_string_lossy(),
                what,
                "plain UTF-8 text",
            ],
            vec![text.clone()],
        );
    }

    // NaN in a fastText model: the tiny reference .bin with one input-matrix value
    // replaced, and a .vec with a "nan".
    let nan_bin = d.join("nan.bin");
    let bin = crate::fixtures::fasttext_tiny_with_nan(3);
    std::fs::write(&nan_bin, &bin).unwrap();
    let nan_vec = d.join("nan.vec");
    std::fs::write(&nan_vec, "2 3\nb 0 1 0\n가 1 nan 3\n").unwrap();
    for (name, file, expect) in [
        (
            "NaN in a fastText .bin",
            &nan_bin,
            &[
                "nan.bin",
                "input matrix row 3",
                "non-finite",
                "train or download it again",
            ][..],
        ),
        (
            "NaN in a fastText .vec",
            &nan_vec,
            &[
                "nan.vec",
                "line 3",
                "\"가\"",
                "non-finite",
                "export it again",
            ][..],
        ),
    ] {
        let mut a = fast_transfer(&smol, &out);
        set_method(&mut a, "salt");
        a.extend(["--aux".into(), file.display().to_string()]);
        row(name, a, expect, vec![file.clone()]);
    }

    let mut a = fast_transfer(&smol, &smol);
    a.push("--force".into());
    row(
        "output path = an input",
        a,
        &["overwrite an input", "choose another --out"],
        vec![],
    );

    let existing = out_dir.join("exists.gguf");
    std::fs::write(&existing, b"keep me").unwrap();
    row(
        "output exists, no --force",
        fast_transfer(&smol, &existing),
        &["exists.gguf", "exists; pass --force"],
        vec![existing.clone()],
    );

    row(
        "output folder missing",
        fast_transfer(&smol, &d.join("missing/x.gguf")),
        &["missing", "does not exist; create it first"],
        vec![],
    );

    match read_only_folder(d) {
        Some(ro) => {
            let mut r = Row {
                name: "output folder read-only",
                args: fast_transfer(&smol, &ro.join("x.gguf")),
                expect: vec![ro.display().to_string(), "not writable".into()],
                inputs: common.clone(),
                out_dir: ro.clone(),
                fsize_kib: None,
            };
            r.expect.push("choose another --out".into());
            rows.push(r);
        }
        None => println!(
            "skipping the read-only folder row: no folder here refuses new files to this user"
        ),
    }

    rows.push(Row {
        name: "disk full during the write",
        args: fast_transfer(&smol, &out),
        expect: vec![
            "x.gguf".into(),
            "File too large".into(),
            "output device is full".into(),
        ],
        inputs: common.clone(),
        out_dir: out_dir.clone(),
        fsize_kib: Some(20_000),
    });

    for r in &rows {
        run_row(r);
    }
    assert!(rows.len() >= 20, "{} rows", rows.len());
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
}

#[test]
fn killing_a_transfer_leaves_no_output() {
    let dir = tmpdir();
    let out = dir.path().join("k.gguf");
    let smol = asset(SMOL);
    let before = sha256_file(&smol);
    // A whole run first: an output seen after a kill must equal it byte for byte (the
    // kill came after the rename), else there must be none.
    let ref_dir = tmpdir();
    let reference = ref_dir.path().join("k.gguf");
    assert!(salt_bin()
        .args(fast_transfer(&smol, &reference))
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    assert!(salt_bin()
        .args(fast_transfer(&smol, &reference))
        .arg("--force")
        .status()
        .unwrap()
        .success());
    let whole = started.elapsed().as_millis() as u64;
    let want = sha256_file(&reference);
    // Kill at points across the run (reading, trimming, writing), as fractions of a
    // whole run timed just now (the second, with the files cached): fixed times in ms
    // killed too few runs when the machine ran faster than when they were chosen.
    let mut killed = 0;
    for ms in [2u64, 12, 25, 40, 55, 75, 95].map(|pct| whole * pct / 100) {
        let mut child = salt_bin()
            .args(fast_transfer(&smol, &out))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        child.kill().ok();
        let status = child.wait().unwrap();
        killed += usize::from(!status.success());
        if out.exists() {
            assert_eq!(
                sha256_file(&out),
                want,
                "killed at {ms} ms: a partial output"
            );
            std::fs::remove_file(&out).unwrap();
            for side in ["k.tokenizer.json", "k.model"] {
                std::fs::remove_file(dir.path().join(side)).ok();
            }
        }
    }
    assert!(
        killed >= 4,
        "only {killed} runs were killed before finishing"
    );
    // The next run completes and removes the temporary files the killed runs left.
    let status = salt_bin()
        .args(fast_transfer(&smol, &out))
        .status()
        .unwrap();
    assert!(status.success());
    GgufFile::open(&out).unwrap();
    let stale: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|n| n.starts_with(".salt-tmp-") || n.starts_with(salt::output::LOCK_PREFIX))
        .collect();
    assert!(stale.is_empty(), "left behind: {stale:?}");
    assert_eq!(sha256_file(&smol), before);
}

#[test]
fn two_transfers_to_one_output_give_one_complete_file_and_a_clear_message() {
    let dir = tmpdir();
    let out = dir.path().join("same.gguf");
    let smol = asset(SMOL);
    let ref_dir = tmpdir();
    let reference = ref_dir.path().join("same.gguf");
    assert!(salt_bin()
        .args(fast_transfer(&smol, &reference))
        .status()
        .unwrap()
        .success());
    let want = sha256_file(&reference);
    // Both with --force: a run that starts after the other has finished replaces its
    // output (two complete runs one after the other); one that overlaps it must fail at
    // once, naming the other run.
    let spawn = || {
        salt_bin()
            .args(fast_transfer(&smol, &out))
            .arg("--force")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let pids = [a.id(), b.id()];
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert!(ok >= 1, "neither run succeeded: {outs:?}");
    for (i, o) in outs.iter().enumerate() {
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{err}");
            let other = pids[1 - i];
            assert!(
                err.contains("same.gguf")
                    && err.contains(&format!("another salt run, pid {other}"))
                    && err.contains("choose another --out"),
                "the refused run's message: {err}"
            );
        }
    }
    assert_eq!(
        sha256_file(&out),
        want,
        "the output is not the complete file"
    );
    let left: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
