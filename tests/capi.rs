//! The C API: the C example (`examples/c/adapt.c`) built with the system C compiler
//! against `libsalt.so` adapts the demo model and prints the same table as the CLI for the
//! same inputs; its cancel flag leaves nothing behind; `salt_tune` writes the library's
//! bytes; the shared library exports only `salt_*` symbols; errors come back per thread,
//! with codes, and never as a panic.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

use salt::capi::{
    salt_adapt, salt_eval, salt_last_error, salt_plan, salt_string_free, salt_transfer, salt_tune,
    SaltStatus,
};
use salt::pipeline::Method;
use salt::tune::{FitRows, TuneConfig};

use crate::fixtures::{adapted, head};
use crate::util::{asset, sha256_file, tmpdir};

/// The folder cargo put `libsalt.so` in for this test binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    for dir in [deps.clone(), deps.parent().unwrap().to_path_buf()] {
        if dir.join("libsalt.so").is_file() {
            return dir;
        }
    }
    panic!("libsalt.so not found next to {}", exe.display());
}

fn build_example(dir: &Path) -> PathBuf {
    let lib = lib_dir();
    let exe = dir.join("adapt");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/c/adapt.c"))
        .arg("-L")
        .arg(&lib)
        .arg("-lsalt")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("the system C compiler (cc); scripts/setup.sh installs build-essential");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

#[test]
fn the_c_example_adapts_the_demo_model_and_prints_the_clis_table() {
    let dir = tmpdir();
    let exe = build_example(dir.path());
    let gemma = asset("models/gemma-3-270m-q4_k_m.gguf");
    let heldout = asset("text/bible-ko-heldout.txt");
    let out = dir.path().join("gemma-ko.gguf");
    let args = |out: &Path| {
        vec![
            gemma.display().to_string(),
            asset("plm/use").display().to_string(),
            asset("text/bible-ko-train.txt").display().to_string(),
            heldout.display().to_string(),
            out.display().to_string(),
            "512".to_owned(),
        ]
    };
    let c = Command::new(&exe).args(args(&out)).output().unwrap();
    let stderr = String::from_utf8_lossy(&c.stderr);
    assert!(c.status.success(), "the C example failed:\n{stderr}");
    assert!(
        stderr.contains("[neighbours] neighbours of 828 tokens"),
        "no progress events:\n{stderr}"
    );
    let c_table = String::from_utf8(c.stdout).unwrap();
    println!("{c_table}");
    let cli = Command::new(env!("CARGO_BIN_EXE_salt"))
        // The C API times nothing unless asked ("speed": true); the CLI's default does.
        .args([
            "eval",
            "--quiet",
            "--no-speed",
            "--max-tokens",
            "512",
            "--model",
        ])
        .arg(&gemma)
        .arg("--model")
        .arg(&out)
        .arg("--text")
        .arg(&heldout)
        .output()
        .unwrap();
    assert!(cli.status.success());
    assert_eq!(
        c_table.trim_end(),
        String::from_utf8(cli.stdout).unwrap().trim_end(),
        "the C API's table differs from the CLI's"
    );
    assert!(c_table.lines().count() >= 3 && c_table.contains("focus"));

    // The cancel flag, set from the callback at the third event: status 3, no output.
    let cancelled = dir.path().join("cancelled.gguf");
    let c = Command::new(&exe)
        .args(args(&cancelled))
        .env("SALT_CANCEL_AFTER", "3")
        .output()
        .unwrap();
    assert_eq!(
        c.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert!(String::from_utf8_lossy(&c.stderr).contains("cancelled"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cancelled") || n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "a cancelled run left {left:?}");
}

#[test]
fn the_shared_library_exports_only_salt_symbols() {
    let so = lib_dir().join("libsalt.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils)");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    println!("{text}");
    for want in [
        "salt_transfer",
        "salt_tune",
        "salt_train",
        "salt_eval",
        "salt_plan",
        "salt_adapt",
        "salt_last_error",
        "salt_cancel_new",
    ] {
        assert!(names.contains(&want), "{want} is not exported:\n{text}");
    }
    let other: Vec<&&str> = names.iter().filter(|n| !n.starts_with("salt_")).collect();
    assert!(other.is_empty(), "exported beyond salt_*: {other:?}");
}

/// Calls `salt_transfer` with `json`; (status, this thread's error message).
fn transfer_json(json: &str) -> (SaltStatus, String) {
    let c = CString::new(json).unwrap();
    let mut result = std::ptr::null_mut();
    // SAFETY: a valid string, no callback, no flag, a place for the result.
    let status = unsafe {
        salt_transfer(
            c.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null(),
            &mut result,
        )
    };
    // SAFETY: null or the library's string.
    unsafe { salt_string_free(result) };
    // SAFETY: the library's thread-local message.
    let msg = unsafe { CStr::from_ptr(salt_last_error()) }
        .to_string_lossy()
        .into_owned();
    (status, msg)
}

#[test]
fn c_api_errors_are_codes_and_per_thread_messages() {
    let (s, msg) = transfer_json("{not json");
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(
        msg.starts_with("salt_transfer: the configuration:"),
        "{msg}"
    );
    let (s, msg) = transfer_json(r#"{"source": "a", "plm": "b", "out": "c", "metods": []}"#);
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(msg.contains("unknown field `metods`"), "{msg}");
    let (s, msg) =
        transfer_json(r#"{"source": "a", "plm": "b", "out": "c", "methods": ["saltt"]}"#);
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(msg.contains("\"saltt\" is not a method"), "{msg}");
    // SAFETY: a null configuration is refused, not dereferenced.
    let s = unsafe {
        salt_eval(
            std::ptr::null(),
            None,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(s, SaltStatus::BadArgument);
    // Two threads at once, each failing on its own missing file: each reads its own
    // message, naming its own file.
    let dir = tmpdir();
    let plm = asset("plm/use");
    let handles: Vec<_> = ["first", "second"]
        .into_iter()
        .map(|name| {
            let src = dir.path().join(format!("{name}-missing.gguf"));
            let out = dir.path().join(format!("{name}-out.gguf"));
            let json = serde_json::json!({
                "source": src, "plm": plm, "out": out, "aux": "plm"
            })
            .to_string();
            std::thread::spawn(move || (name, transfer_json(&json)))
        })
        .collect();
    for h in handles {
        let (name, (s, msg)) = h.join().unwrap();
        assert_eq!(s, SaltStatus::Error, "{msg}");
        assert!(
            msg.contains(&format!("{name}-missing.gguf")),
            "{name}: {msg}"
        );
    }
}

/// Counts the progress events of the fit stage (`user` is a `u64` counter).
unsafe extern "C" fn count_fit_events(
    user: *mut c_void,
    stage: *const c_char,
    _done: u64,
    _total: u64,
    _message: *const c_char,
) {
    // SAFETY: the library passes a NUL-terminated stage name and our counter.
    if matches!(
        unsafe { CStr::from_ptr(stage) }.to_bytes(),
        b"fit" | b"train"
    ) {
        unsafe { *user.cast::<u64>() += 1 };
    }
}

/// A C API job's entry point (`salt_tune`, `salt_train`).
type Job = unsafe extern "C" fn(
    *const c_char,
    salt::capi::SaltProgressFn,
    *mut std::ffi::c_void,
    *const salt::capi::SaltCancel,
    *mut *mut c_char,
) -> SaltStatus;

/// Calls `salt_tune` with `json`; (status, the result or this thread's error message,
/// fit events seen).
fn tune_json(json: &str) -> (SaltStatus, String, u64) {
    job_json(salt_tune, json)
}

/// Calls `job` with `json`; (status, the result or this thread's error message, events
/// seen).
fn job_json(job: Job, json: &str) -> (SaltStatus, String, u64) {
    let c = CString::new(json).unwrap();
    let mut result: *mut c_char = std::ptr::null_mut();
    let mut events = 0u64;
    // SAFETY: a valid string, a callback matching the contract with our counter, no flag,
    // a place for the result.
    let status = unsafe {
        job(
            c.as_ptr(),
            Some(count_fit_events),
            (&raw mut events).cast(),
            std::ptr::null(),
            &mut result,
        )
    };
    let text = if result.is_null() {
        // SAFETY: the library's thread-local message.
        unsafe { CStr::from_ptr(salt_last_error()) }
            .to_string_lossy()
            .into_owned()
    } else {
        // SAFETY: the library's string, freed once.
        let s = unsafe { CStr::from_ptr(result) }
            .to_string_lossy()
            .into_owned();
        unsafe { salt_string_free(result) };
        s
    };
    (status, text, events)
}

#[test]
fn salt_tune_writes_the_librarys_bytes_and_refuses_bad_settings() {
    let dir = tmpdir();
    let (focus, _) = adapted("models/gemma-3-270m-q4_k_m.gguf", "ko", Method::Focus);
    let train = head("text/bible-ko-train.txt", 400);
    let c_out = dir.path().join("c.gguf");
    let json = |extra: serde_json::Value| {
        let mut j = serde_json::json!({
            "model": focus, "train": train, "out": c_out,
            "ctx": 256, "max_tokens": 1500, "iters": 4
        });
        j.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        j.to_string()
    };
    let (s, result, events) = tune_json(&json(serde_json::json!({})));
    assert_eq!(s, SaltStatus::Ok, "{result}");
    assert!(events > 0, "no fit progress reached the callback");
    let report: serde_json::Value = serde_json::from_str(&result).unwrap();

    // The library with the same settings (and TuneConfig::new's defaults for the rest).
    let mut cfg = TuneConfig::new(focus.clone(), train.clone(), dir.path().join("lib.gguf"));
    cfg.hidden.ctx = 256;
    cfg.hidden.max_tokens = Some(1500);
    cfg.fit.iters = 4;
    assert_eq!(cfg.rows, FitRows::DEFAULT);
    let r = salt::tune::tune(&cfg, &mut salt::progress::Silent).unwrap();
    assert_eq!(report["rows_fitted"], r.rows_fitted);
    assert_eq!(report["best_iter"], r.best_iter);
    assert_eq!(sha256_file(&c_out), sha256_file(&cfg.out));

    // Bad settings name their key, and nothing new is written.
    let bad_out = dir.path().join("bad.gguf");
    let bad = |extra: serde_json::Value| {
        let mut j: serde_json::Value = serde_json::from_str(&json(extra)).unwrap();
        j["out"] = serde_json::json!(bad_out);
        tune_json(&j.to_string())
    };
    let (s, msg, _) = bad(serde_json::json!({"rows": "everything"}));
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(
        msg.contains("\"rows\": \"everything\" is not one of all, new, unshared"),
        "{msg}"
    );
    let (s, msg, _) = bad(serde_json::json!({"head_type": "q9_9"}));
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(msg.contains("\"head_type\": \"q9_9\""), "{msg}");
    for share in [0.0, 1.0, -0.5] {
        let (s, msg, _) = bad(serde_json::json!({ "val_share": share }));
        assert_eq!(s, SaltStatus::Error, "{share}: {msg}");
        assert!(msg.starts_with("--val-share (val_share) "), "{msg}");
    }
    let (s, msg, _) = bad(serde_json::json!({"l2": -1.0}));
    assert_eq!(s, SaltStatus::Error);
    assert!(msg.starts_with("--l2 (l2) -1:"), "{msg}");
    let (s, msg, _) = bad(serde_json::json!({"threds": 2}));
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(msg.contains("unknown field `threds`"), "{msg}");
    assert!(!bad_out.exists());
    // An existing output is refused without force.
    let (s, msg, _) = tune_json(&json(serde_json::json!({})));
    assert_eq!(s, SaltStatus::Error, "{msg}");
    assert!(msg.contains("c.gguf"), "{msg}");
}

/// `salt_train` writes the library's bytes for the same settings and names a bad key.
#[test]
fn salt_train_writes_the_librarys_bytes_and_refuses_bad_settings() {
    let dir = tmpdir();
    let model = crate::util::asset("models/smollm2-135m-instruct-q4_1.gguf");
    let train = head("text/bible-ko-train.txt", 400);
    let c_out = dir.path().join("c.gguf");
    let json = serde_json::json!({
        "model": model, "train": train, "out": c_out,
        "ctx": 64, "steps": 2, "eval_every": 1, "val_windows": 1, "rows": "all"
    });
    let (s, result, events) = job_json(salt::capi::salt_train, &json.to_string());
    assert_eq!(s, SaltStatus::Ok, "{result}");
    assert!(events > 0, "no training progress reached the callback");
    let report: serde_json::Value = serde_json::from_str(&result).unwrap();
    let mut cfg = salt::train::TrainConfig::new(model, train, dir.path().join("lib.gguf"));
    cfg.ctx = 64;
    cfg.steps = 2;
    cfg.eval_every = 1;
    cfg.val_windows = 1;
    cfg.rows = salt::tune::FitRows::All;
    let r = salt::train::train(&cfg, &mut salt::progress::Silent).unwrap();
    assert_eq!(report["best_step"], r.best_step);
    assert_eq!(sha256_file(&c_out), sha256_file(&cfg.out));
    let mut bad = json.clone();
    bad["out"] = serde_json::json!(dir.path().join("bad.gguf"));
    bad["lr_inputs"] = serde_json::json!(0.1);
    let (s, msg, _) = job_json(salt::capi::salt_train, &bad.to_string());
    assert_eq!(s, SaltStatus::BadArgument);
    assert!(msg.contains("unknown field `lr_inputs`"), "{msg}");
    assert!(!dir.path().join("bad.gguf").exists());
}

/// `salt_plan` gives the library's plan as JSON; `salt_adapt` refuses an unknown key and
/// an out-of-range setting with `BadArgument`, and a text too short to split with `Error`,
/// writing nothing.
#[test]
fn salt_plan_and_salt_adapt_answer_through_the_c_api() {
    let text = head("text/bible-ko-train.txt", 3000);
    let smol = asset("models/smollm2-135m-instruct-q4_1.gguf");
    let call = |f: unsafe extern "C" fn(
        *const c_char,
        salt::capi::SaltProgressFn,
        *mut c_void,
        *const salt::capi::SaltCancel,
        *mut *mut c_char,
    ) -> SaltStatus,
                json: &str| {
        let c = CString::new(json).unwrap();
        let mut result: *mut c_char = std::ptr::null_mut();
        // SAFETY: a valid string, no callback, no flag, a place for the result.
        let status = unsafe {
            f(
                c.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null(),
                &mut result,
            )
        };
        let text = if result.is_null() {
            // SAFETY: the library's thread-local message.
            unsafe { CStr::from_ptr(salt_last_error()) }
                .to_string_lossy()
                .into_owned()
        } else {
            // SAFETY: the library's string, freed once.
            let s = unsafe { CStr::from_ptr(result) }
                .to_string_lossy()
                .into_owned();
            unsafe { salt_string_free(result) };
            s
        };
        (status, text)
    };
    let json = serde_json::json!({
        "source": smol,
        "plm": asset("plm/use/sp.model"),
        "text": text,
    });
    let (status, plan) = call(salt_plan, &json.to_string());
    assert_eq!(status, SaltStatus::Ok, "{plan}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["recommended"], "replace");
    assert_eq!(plan["method"], "fvt");
    let want = salt::plan::plan(
        &salt::plan::PlanConfig {
            source: smol.clone(),
            plm: Some(asset("plm/use/sp.model")),
            text: text.clone(),
            keep: salt::vocab::TrimKeep::default(),
        },
        &mut salt::progress::Silent,
    )
    .unwrap();
    // Both sides parsed from text, so that floats round the same way.
    let want: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&want).unwrap()).unwrap();
    assert_eq!(plan, want);

    let dir = tmpdir();
    let out = dir.path().join("a.gguf");
    let base = serde_json::json!({"source": smol, "text": text, "out": out});
    let mut odd = base.clone();
    odd["val_shar"] = 0.2.into();
    let (status, msg) = call(salt_adapt, &odd.to_string());
    assert_eq!(status, SaltStatus::BadArgument);
    assert!(msg.contains("val_shar"), "{msg}");
    let mut bad = base.clone();
    bad["val_share"] = 0.9.into();
    let (status, msg) = call(salt_adapt, &bad.to_string());
    assert_eq!(status, SaltStatus::BadArgument);
    assert!(msg.contains("val_share 0.9"), "{msg}");
    let mut short = base;
    short["text"] = head("text/bible-ko-train.txt", 20)
        .display()
        .to_string()
        .into();
    let (status, msg) = call(salt_adapt, &short.to_string());
    assert_eq!(status, SaltStatus::Error);
    assert!(msg.contains("too short to split"), "{msg}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// `salt_transfer` takes every option of `salt transfer` and reads it through the same
/// library functions: the trim route with a script kept, the basic pieces and the chat
/// tokens dropped, a minimum count and another embedding type writes the same bytes as
/// the CLI with the same flags; a bad device, type or script is refused by its key.
#[test]
fn salt_transfer_takes_the_clis_options_and_writes_its_bytes() {
    let dir = tmpdir();
    let source = asset("models/smollm2-135m-instruct-q4_1.gguf");
    let text = head("text/bible-ko-train.txt", 2000);
    let (c_out, cli_out) = (dir.path().join("c.gguf"), dir.path().join("cli.gguf"));
    let json = serde_json::json!({
        "source": source, "out": c_out, "methods": ["trim"], "trim_to": text,
        "trim_min_count": 2, "keep_script": ["Hangul"], "keep_basic": false,
        "chat_tokens": false, "embd_type": "q8_0", "device": "cpu", "rcond": 1e-6,
        "omp_k": 64
    })
    .to_string();
    let (s, msg) = transfer_json(&json);
    assert_eq!(s, SaltStatus::Ok, "{msg}");
    let cli = Command::new(env!("CARGO_BIN_EXE_salt"))
        .arg("transfer")
        .arg("--source")
        .arg(&source)
        .arg("--out")
        .arg(&cli_out)
        .arg("--trim-to")
        .arg(&text)
        .args([
            "--trim-min-count",
            "2",
            "--keep-script",
            "Hangul",
            "--no-keep-basic",
        ])
        .args([
            "--no-chat-tokens",
            "--embd-type",
            "q8_0",
            "--device",
            "cpu",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(
        sha256_file(&c_out),
        sha256_file(&cli_out),
        "the C API and the CLI wrote other bytes"
    );
    for (key, value, want) in [
        ("device", "gpu", "\"device\": \"gpu\" is not a device"),
        (
            "embd_type",
            "q9_9",
            "\"embd_type\": \"q9_9\" is not a ggml type",
        ),
    ] {
        let mut j: serde_json::Value = serde_json::from_str(&json).unwrap();
        j[key] = serde_json::Value::String(value.into());
        let (s, msg) = transfer_json(&j.to_string());
        assert_eq!(s, SaltStatus::BadArgument, "{msg}");
        assert!(msg.contains(want), "{msg}");
    }
    let mut j: serde_json::Value = serde_json::from_str(&json).unwrap();
    j["keep_script"] = serde_json::json!(["Klingon"]);
    let (s, msg) = transfer_json(&j.to_string());
    assert_eq!(s, SaltStatus::BadArgument, "{msg}");
    assert!(msg.contains("\"keep_script\": \"Klingon\""), "{msg}");
}
