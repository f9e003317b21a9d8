//! Stages 5 and 6 on the GPU (feature `cuda`, `SALT_BENCH_DEVICE=1`): neighbours plus
//! regression through the CUDA kernels against the CPU path in the same run, on the Korean
//! demo's shape (Gemma <- USE trimmed: 828 tokens, 2,202 anchors) and the stress shape
//! (SmolLM2 <- the full USE: 106k tokens, 21.9k anchors, h_t 512, h_s 576), and the stress
//! shape with h_s 4096 (the source rows repeated to that width). Goal on one H100/H200:
//! at most 0.1 s for the stress shape's neighbours plus regression, after warm-up.
//! `scripts/device-check.sh` runs it on a GPU machine.

use criterion::Criterion;

#[cfg(feature = "cuda")]
pub fn gpu_stages(c: &mut Criterion) {
    use std::path::PathBuf;
    use std::time::Duration;

    use salt::auxvec::{AuxSource, TrainOptions};
    use salt::device::{Compute, Cpu, KernelDevice};
    use salt::pipeline::{kernel_problem, KernelProblem, TransferConfig};

    if std::env::var_os("SALT_BENCH_DEVICE").is_none() {
        eprintln!("skipping the GPU stage bench: set SALT_BENCH_DEVICE=1 on a GPU machine");
        return;
    }
    let gpu = match salt::device::cuda::Cuda::open(0) {
        Ok(g) => KernelDevice::new(g),
        Err(e) => {
            eprintln!("skipping the GPU stage bench: {e}");
            return;
        }
    };
    println!("device: {}", gpu.name());
    let cache = std::env::var_os("SALT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/salt"),
        PathBuf::from,
    );
    let dir = tempfile::tempdir().expect("tmp");
    let aux = dir.path().join("ko.bin");
    let mut train = TrainOptions::new(cache.join("text/bible-ko-train.txt"));
    train.save = Some(aux.clone());
    salt::auxvec::train_fasttext(&train).expect("fastText training");
    let problem = |model: &str, trim: bool| -> KernelProblem {
        let mut cfg = TransferConfig::new(
            cache.join("models").join(model),
            cache.join("plm/use"),
            AuxSource::FastTextBin(aux.clone()),
            dir.path().join("unused.gguf"),
        );
        if trim {
            cfg.target.trim_to = Some(cache.join("text/bible-ko-train.txt"));
        }
        kernel_problem(&cfg).expect("problem")
    };
    let stages = |dev: &dyn Compute, p: &KernelProblem| {
        let go = &mut |_: usize, _: usize| true;
        let nb = dev
            .neighbours(&p.queries_aux, &p.anchors_aux, p.dim, None, go)
            .expect("neighbours")
            .expect("not cancelled");
        dev.regress(&p.regression_input(), &nb, go)
            .expect("regression")
            .expect("not cancelled")
    };
    let demo = problem("gemma-3-270m-q4_k_m.gguf", true);
    let stress = problem("smollm2-135m-instruct-q4_1.gguf", false);
    // The stress shape with h_s 4096: each source row repeated to that width.
    let mut wide = stress.clone();
    wide.anchors_s.embd =
        salt::device::fixtures::widen_rows(&stress.anchors_s.embd, stress.h_s, 4096);
    wide.anchors_s.output = None;
    wide.h_s = 4096;
    let mut g = c.benchmark_group("device");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("cpu_demo", |b| b.iter(|| stages(&Cpu, &demo)));
    g.bench_function("cuda_demo", |b| b.iter(|| stages(&gpu, &demo)));
    g.bench_function("cuda_stress", |b| b.iter(|| stages(&gpu, &stress)));
    g.bench_function("cuda_stress_hs4096", |b| b.iter(|| stages(&gpu, &wide)));
    g.finish();
    crate::report_ratio("device", "cpu_demo", "cuda_demo", "below 1");
    crate::report_against("device", "cuda_stress", 0.1);
}

#[cfg(not(feature = "cuda"))]
pub fn gpu_stages(_c: &mut Criterion) {
    eprintln!("skipping the GPU stage bench: build with --features cuda");
}

/// The key of a table kept on the device (`salt::device::resident`) against a plain copy
/// of the same 256 MiB (the host's part of any upload): what recognising a table costs
/// each call, against the upload it saves on a repeated one. Target: at most the copy.
pub fn fingerprint_vs_copy(c: &mut Criterion) {
    let bytes: Vec<u8> = (0..256u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut dst = vec![0u8; bytes.len()];
    let mut g = c.benchmark_group("fingerprint");
    g.sample_size(10);
    g.bench_function("copy_256mib", |b| {
        b.iter(|| dst.copy_from_slice(std::hint::black_box(&bytes)));
    });
    g.bench_function("fingerprint_256mib", |b| {
        b.iter(|| salt::device::resident::fingerprint(std::hint::black_box(&bytes)));
    });
    g.finish();
    println!("machine: {}", crate::machine());
    crate::report_ratio(
        "fingerprint",
        "copy_256mib",
        "fingerprint_256mib",
        "at most 1",
    );
}
