//! The CUDA kernels without a GPU: NVRTC compiles every kernel for compute_80 and
//! compute_90 (and sm_90, for ptxas's register and spill report), and the same `.cu`
//! sources, run on the CPU through the shim under the host code that drives the GPU, give
//! the CPU path's neighbours and rows within 1e-4 of the literal formula, on the Korean demo
//! and on a 500-token slice of the SmolLM2 stress case, and on synthetic edge cases, all at
//! the GPU's block size (256 threads). The shim itself fails divergent barriers and poisons
//! shared memory between blocks.

use salt::auxvec::AuxSource;
use salt::device::fixtures::seeded_table;
use salt::device::kernels::GramChoice;
use salt::device::launch::{DeviceBuf, Launcher};
use salt::device::nvrtc::{usage, Nvrtc};
use salt::device::occupancy::{occupancy, SM90};
use salt::device::{kernels, Compute, Cpu, KernelDevice, Shim};
use salt::neighbours::Neighbours;
use salt::pipeline::{kernel_problem, KernelProblem, TransferConfig};
use salt::regression::{
    literal_centred_row, literal_pinv_row, relative_error, rows_f64, Regressed, RegressionInput,
};

use crate::fixtures::{fasttext, stress_config};
use crate::util::asset;

#[test]
fn nvrtc_compiles_every_kernel_without_spills() {
    let nvrtc = match Nvrtc::load() {
        Ok(n) => n,
        // Setup installs the wheel; without it (a bare `cargo test`) say so and stop.
        Err(e) if std::env::var_os("SALT_REQUIRE_NVRTC").is_none() => {
            println!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    println!("NVRTC {:?} from {}", nvrtc.version().unwrap(), nvrtc.path);
    for (file, src) in kernels::sources() {
        for arch in ["compute_80", "compute_90"] {
            let ptx = nvrtc
                .compile(file, &src, arch)
                .unwrap_or_else(|e| panic!("{e}"));
            let text = String::from_utf8_lossy(&ptx.image);
            let entries = kernels::ENTRY_POINTS
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, e)| *e)
                .unwrap();
            for e in entries {
                assert!(
                    text.contains(&format!(".entry {e}")),
                    "{file} {arch}: no {e} in the PTX"
                );
            }
            println!("{file} {arch}: {} bytes of PTX", ptx.image.len());
        }
        for arch in ["sm_80", "sm_90"] {
            let cubin = nvrtc
                .compile(file, &src, arch)
                .unwrap_or_else(|e| panic!("{e}"));
            let used = usage(&cubin.log);
            assert!(
                !used.is_empty(),
                "{file} {arch}: no ptxas report in {:?}",
                cubin.log
            );
            for u in used {
                let block = kernels::launch_block(&u.name);
                let o = occupancy(&u, block, &SM90);
                let fill = if arch == "sm_90" {
                    format!(
                        "; at {block} threads: {} blocks per SM ({}% of its warps, limited by {})",
                        o.blocks, o.percent, o.limit
                    )
                } else {
                    String::new()
                };
                println!(
                    "{file} {arch} {}: {} registers, {} bytes smem, {} bytes spill stores, {} bytes spill loads{fill}",
                    u.name, u.registers, u.shared_bytes, u.spill_stores, u.spill_loads
                );
                if u.name == "salt_regress" {
                    // Its Cholesky panel alone is SALT_PANEL doubles.
                    let g = (kernels::MAX_KERNEL_K * 8) as u32;
                    assert!(
                        u.shared_bytes >= g,
                        "{arch}: {} bytes smem reported",
                        u.shared_bytes
                    );
                }
                assert!(
                    u.spill_stores == 0 && u.spill_loads == 0,
                    "{file} {arch} {} spills registers",
                    u.name
                );
            }
        }
    }
    // A broken source is a typed error with NVRTC's log.
    let e = nvrtc
        .compile(
            "bad.cu",
            "extern \"C\" __global__ void k() { undefined_name; }",
            "compute_90",
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.cu") && e.contains("undefined_name"), "{e}");
}

/// The CPU's and the shim's supports: identical rows, except where an anchor sits on the
/// sparsemax threshold (similarities are summed in another order: f32 GEMM on the CPU,
/// f64 in the kernel), where the anchor in one support and not the other must have a
/// weight below 1e-5. Returns how many rows differ.
fn compare_supports(cpu: &Neighbours, dev: &Neighbours) -> usize {
    assert_eq!(cpu.len(), dev.len());
    let mut differ = 0;
    for q in 0..cpu.len() {
        let ((ia, wa), (ib, wb)) = (cpu.row(q), dev.row(q));
        if ia == ib {
            for (x, y) in wa.iter().zip(wb) {
                assert!((x - y).abs() <= 1e-6, "query {q}: weights {x} and {y}");
            }
            continue;
        }
        differ += 1;
        for (idx, w, other) in [(ia, wa, ib), (ib, wb, ia)] {
            for (a, p) in idx.iter().zip(w) {
                if !other.contains(a) {
                    assert!(
                        *p < 1e-5,
                        "query {q}: anchor {a} (weight {p}) is in one support only"
                    );
                }
            }
        }
    }
    differ
}

/// The shim against the CPU path on `p`'s queries `pick`: neighbours, then rows on the
/// CPU's supports, every row within 1e-4 of the CPU's, and every `literal_every`-th row
/// (and every row the global-memory kernel solved beyond k 200) within 1e-4 of the
/// literal formula in f64.
/// [`device_against_cpu`] on the shim at the GPU's block size (256 threads).
fn shim_against_cpu(p: &KernelProblem, pick: &[usize], literal_every: usize, label: &str) {
    device_against_cpu(
        &KernelDevice::new(Shim::at_block(256)),
        p,
        pick,
        literal_every,
        label,
    );
}

/// [`shim_against_cpu`] for any device.
fn device_against_cpu(
    dev: &dyn Compute,
    p: &KernelProblem,
    pick: &[usize],
    literal_every: usize,
    label: &str,
) {
    let (dim, h_t) = (p.dim, p.h_t);
    let q_aux: Vec<f32> = pick
        .iter()
        .flat_map(|&q| p.queries_aux[q * dim..(q + 1) * dim].iter().copied())
        .collect();
    let e: Vec<f32> = pick
        .iter()
        .flat_map(|&q| p.e[q * h_t..(q + 1) * h_t].iter().copied())
        .collect();
    let go = &mut |_: usize, _: usize| true;
    let shim = dev;
    let t = std::time::Instant::now();
    let nb_cpu = Cpu
        .neighbours(&q_aux, &p.anchors_aux, dim, None, go)
        .unwrap()
        .unwrap();
    let cpu_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let nb_dev = shim
        .neighbours(&q_aux, &p.anchors_aux, dim, None, go)
        .unwrap()
        .unwrap();
    let shim_s = t.elapsed().as_secs_f64();
    let differ = compare_supports(&nb_cpu, &nb_dev);
    let hist = nb_cpu.k_histogram();
    let k_max = hist.last().map_or(0, |h| h.0);
    println!(
        "{label}: {} queries, {} anchors, k {}..{k_max}; supports differ in {differ} rows (at the threshold); neighbours cpu {cpu_s:.2} s, {} {shim_s:.2} s",
        pick.len(),
        p.anchors_aux.len() / dim,
        hist.first().map_or(0, |h| h.0),
        dev.name(),
    );
    assert!(differ * 100 <= pick.len(), "{label}: {differ} rows differ");

    let inp = RegressionInput {
        e: &e,
        ..p.regression_input()
    };
    let cpu: Regressed = Cpu.regress(&inp, &nb_cpu, go).unwrap().unwrap();
    let t = std::time::Instant::now();
    let dev: Regressed = shim.regress(&inp, &nb_cpu, go).unwrap().unwrap();
    println!(
        "{label}: regression paths {:?} ({:.2} s on {})",
        dev.paths,
        t.elapsed().as_secs_f64(),
        shim.name()
    );
    assert!(
        dev.paths.kernel * 10 >= pick.len() * 9,
        "{label}: the kernel solved only {:?}",
        dev.paths
    );
    let h_s = p.h_s;
    let mut worst = (0f64, 0f64);
    for q in 0..pick.len() {
        let (idx, _) = nb_cpu.row(q);
        let row = &dev.embd[q * h_s..(q + 1) * h_s];
        let vs_cpu = relative_error(row, &rows_f64(&cpu.embd, &[q as u32], h_s));
        assert!(
            vs_cpu < 1e-4,
            "{label}: query {q} (k {}): {vs_cpu:.2e} from the CPU's row",
            idx.len()
        );
        worst.0 = worst.0.max(vs_cpu);
        if q % literal_every == 0 || idx.len() > 200 {
            let lit = literal_pinv_row(
                &rows_f64(p.anchors_t.as_slice(), idx, h_t),
                &rows_f64(&p.anchors_s.embd, idx, h_s),
                &e[q * h_t..(q + 1) * h_t]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect::<Vec<_>>(),
                idx.len(),
                h_t,
                h_s,
                p.rcond,
            );
            let err = relative_error(row, &lit);
            assert!(
                err < 1e-4,
                "{label}: query {q} (k {}): {err:.2e} from the literal formula",
                idx.len()
            );
            worst.1 = worst.1.max(err);
        }
    }
    println!(
        "{label}: largest relative error {:.2e} vs the CPU path, {:.2e} vs the literal formula",
        worst.0, worst.1
    );
}

/// The Korean demo's transfer: Gemma <- USE trimmed to the Korean training split.
fn demo_config() -> TransferConfig {
    let mut cfg = TransferConfig::new(
        asset("models/gemma-3-270m-q4_k_m.gguf"),
        asset("plm/use"),
        AuxSource::FastTextBin(fasttext("ko")),
        "unused.gguf".into(),
    );
    cfg.target.trim_to = Some(asset("text/bible-ko-train.txt"));
    cfg
}

#[test]
fn shim_matches_the_cpu_path_on_the_korean_demo() {
    let cfg = demo_config();
    let p = kernel_problem(&cfg).unwrap();
    let n = p.queries_aux.len() / p.dim;
    assert!(n > 800, "{n} queries");
    let all: Vec<usize> = (0..n).collect();
    shim_against_cpu(&p, &all, 1, "Korean demo");
}

#[test]
fn shim_matches_the_cpu_path_on_a_slice_of_the_stress_case() {
    let p = kernel_problem(&stress_config()).unwrap();
    let n = p.queries_aux.len() / p.dim;
    // 500 queries spread over the 106k new tokens (at 256 threads a block, the shim's
    // barriers cost about 0.4 ms each).
    let pick: Vec<usize> = (0..500).map(|i| i * (n / 500)).collect();
    shim_against_cpu(&p, &pick, 5, "SmolLM2 stress slice");
}

/// The same checks on a GPU (feature `cuda`; `scripts/device-check.sh`): skipped with a
/// line when none is usable, unless `SALT_REQUIRE_GPU` is set.
#[cfg(feature = "cuda")]
#[test]
fn gpu_matches_the_cpu_path_on_the_demo_and_the_whole_stress_case() {
    let gpu = match salt::device::cuda::Cuda::open(0) {
        Ok(g) => KernelDevice::new(g),
        Err(e) if std::env::var_os("SALT_REQUIRE_GPU").is_none() => {
            println!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut cfg = demo_config();
    let p = kernel_problem(&cfg).unwrap();
    let all: Vec<usize> = (0..p.queries_aux.len() / p.dim).collect();
    device_against_cpu(&gpu, &p, &all, 1, "Korean demo (GPU)");
    cfg.source = asset("models/smollm2-135m-instruct-q4_1.gguf");
    cfg.target.trim_to = None;
    let p = kernel_problem(&cfg).unwrap();
    let all: Vec<usize> = (0..p.queries_aux.len() / p.dim).collect();
    device_against_cpu(&gpu, &p, &all, 500, "SmolLM2 stress case (GPU)");
}

/// salt-centred goes through the kernels: on the Korean demo's supports, the shim (the GPU's
/// host code and kernels) solves at least 90% of the tokens itself, their weights sum to
/// one, and every row is within 1e-4 of the CPU path and of the literal affine formula.
#[test]
fn shim_runs_salt_centred_through_the_kernels() {
    let p = kernel_problem(&demo_config()).unwrap();
    let (dim, h_t, h_s) = (p.dim, p.h_t, p.h_s);
    let go = &mut |_: usize, _: usize| true;
    let nb = Cpu
        .neighbours(&p.queries_aux, &p.anchors_aux, dim, None, go)
        .unwrap()
        .unwrap();
    let inp = RegressionInput {
        affine: true,
        ..p.regression_input()
    };
    let cpu: Regressed = Cpu.regress(&inp, &nb, go).unwrap().unwrap();
    let dev: Regressed = KernelDevice::new(Shim::at_block(256))
        .regress(&inp, &nb, go)
        .unwrap()
        .unwrap();
    let n = nb.len();
    println!(
        "salt-centred on the Korean demo: {n} queries, paths {:?} (CPU {:?})",
        dev.paths, cpu.paths
    );
    assert_eq!(cpu.paths.kernel, 0);
    assert!(
        dev.paths.kernel * 10 >= n * 9,
        "the kernel solved only {:?}",
        dev.paths
    );
    let mut worst = (0f64, 0f64, 0f64);
    for q in 0..n {
        let (idx, _) = nb.row(q);
        let k = idx.len();
        let w_sum: f64 = dev.w[nb.offsets[q]..nb.offsets[q + 1]]
            .iter()
            .map(|&w| f64::from(w))
            .sum();
        assert!(
            (w_sum - 1.0).abs() < 1e-5,
            "query {q} (k {k}): weights sum to {w_sum}"
        );
        let row = &dev.embd[q * h_s..(q + 1) * h_s];
        let vs_cpu = relative_error(row, &rows_f64(&cpu.embd, &[q as u32], h_s));
        assert!(
            vs_cpu < 1e-4,
            "query {q} (k {k}): {vs_cpu:.2e} from the CPU's row"
        );
        let e: Vec<f64> = p.e[q * h_t..(q + 1) * h_t]
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        let lit = literal_centred_row(
            &rows_f64(&p.anchors_t, idx, h_t),
            &rows_f64(&p.anchors_s.embd, idx, h_s),
            &e,
            k,
            h_t,
            h_s,
            p.rcond,
        );
        let err = relative_error(row, &lit);
        assert!(
            err < 1e-4,
            "query {q} (k {k}): {err:.2e} from the literal formula"
        );
        let cpu_err = relative_error(&cpu.embd[q * h_s..(q + 1) * h_s], &lit);
        worst = (worst.0.max(vs_cpu), worst.1.max(err), worst.2.max(cpu_err));
    }
    println!(
        "largest relative error {:.2e} vs the CPU path, {:.2e} vs the literal formula (CPU path: {:.2e})",
        worst.0, worst.1, worst.2
    );
}

/// Supports of sizes `ks` over `n_a` anchors (ascending, distinct), then `extra` as given.
fn supports_of(ks: &[usize], n_a: usize, extra: &[u32]) -> Neighbours {
    let mut nb = Neighbours {
        offsets: vec![0],
        ..Default::default()
    };
    let mut rows: Vec<Vec<u32>> = ks
        .iter()
        .enumerate()
        .map(|(q, &k)| {
            let start = (q * 37) % n_a;
            let mut idx: Vec<u32> = (0..k).map(|i| ((start + i * 7) % n_a) as u32).collect();
            idx.sort_unstable();
            idx.dedup();
            assert_eq!(idx.len(), k, "k {k} does not fit {n_a} anchors");
            idx
        })
        .collect();
    rows.push(extra.to_vec());
    for idx in rows {
        nb.weight
            .extend(std::iter::repeat_n(1.0 / idx.len() as f32, idx.len()));
        nb.anchor.extend(idx);
        nb.offsets.push(nb.anchor.len());
    }
    nb
}

/// The shim at the GPU's block size (256 threads) on synthetic edge cases that need no
/// assets: k = 1, 2, around the Cholesky's panel of 16 (15, 16, 17), 32, 33, around the
/// panel's shrinking above k = 256 (255, 256, 257, 270: panels of 15 columns) and around h_t
/// (300, and 301, which goes to the CPU path), a singular support (two anchors with the same
/// PLM row), both `salt` and `salt-centred`, with G from the anchors' Gram matrix and from
/// per-token dot products. Every row within 1e-4 of the CPU path and of the literal formula.
#[test]
fn shim_at_real_block_sizes_on_synthetic_edge_cases() {
    let (n_a, h_t, h_s) = (400, 300, 40);
    let mut anchors_t = seeded_table(n_a * h_t, 1);
    // Anchor 391 repeats anchor 390's PLM row: a support holding both is singular. The
    // other supports use anchors below 390 only.
    let row0 = anchors_t[390 * h_t..391 * h_t].to_vec();
    anchors_t[391 * h_t..392 * h_t].copy_from_slice(&row0);
    let anchors_s = seeded_table(n_a * h_s, 2);
    // The last support holds anchors 390 and 391: singular.
    let ks = [1, 2, 15, 16, 17, 32, 33, 255, 256, 257, 270, 300, 301, 4];
    let nb = supports_of(&ks[..ks.len() - 1], 390, &[3, 390, 391, 392]);
    let e = seeded_table(ks.len() * h_t, 3);
    let go = &mut |_: usize, _: usize| true;
    for (affine, gram) in [
        (false, GramChoice::PerToken),
        (true, GramChoice::PerToken),
        (false, GramChoice::Anchor),
        (true, GramChoice::Anchor),
    ] {
        let dev = KernelDevice::new(Shim::at_block(256)).with_gram(gram);
        let inp = RegressionInput {
            e: &e,
            anchors_t: &anchors_t,
            h_t,
            anchors_s: &anchors_s,
            anchors_out: None,
            h_s,
            rcond: 1e-6,
            affine,
        };
        let cpu: Regressed = Cpu.regress(&inp, &nb, go).unwrap().unwrap();
        let shim: Regressed = dev.regress(&inp, &nb, go).unwrap().unwrap();
        println!("affine {affine}, {gram:?}: paths {:?}", shim.paths);
        // The support with k > h_t and the singular one are the CPU path's; the rest the
        // kernels'.
        let to_cpu = (0..nb.len())
            .filter(|&q| {
                let (idx, _) = nb.row(q);
                idx.len() > h_t || (idx.contains(&390) && idx.contains(&391))
            })
            .count();
        assert_eq!(to_cpu, 2, "the test lost its CPU cases");
        assert_eq!(shim.paths.kernel, nb.len() - to_cpu, "{:?}", shim.paths);
        for (q, &k) in ks.iter().enumerate() {
            let (idx, _) = nb.row(q);
            let row = &shim.embd[q * h_s..(q + 1) * h_s];
            let err = relative_error(row, &rows_f64(&cpu.embd, &[q as u32], h_s));
            assert!(
                err < 1e-4,
                "affine {affine}, {gram:?}, k {k}: {err:.2e} from the CPU's row"
            );
            let (a, b) = (
                rows_f64(&anchors_t, idx, h_t),
                rows_f64(&anchors_s, idx, h_s),
            );
            let eq: Vec<f64> = e[q * h_t..(q + 1) * h_t]
                .iter()
                .map(|&x| f64::from(x))
                .collect();
            let lit = if affine {
                literal_centred_row(&a, &b, &eq, k, h_t, h_s, 1e-6)
            } else {
                literal_pinv_row(&a, &b, &eq, k, h_t, h_s, 1e-6)
            };
            let err = relative_error(row, &lit);
            assert!(
                err < 1e-4,
                "affine {affine}, {gram:?}, k {k}: {err:.2e} from the literal formula"
            );
        }
    }
    // A NaN in a support's PLM row is a typed error naming the query (#2), on both paths.
    let mut bad = anchors_t.clone();
    let first = nb.row(2).0[0] as usize;
    bad[first * h_t] = f32::NAN;
    let inp = RegressionInput {
        e: &e,
        anchors_t: &bad,
        h_t,
        anchors_s: &anchors_s,
        anchors_out: None,
        h_s,
        rcond: 1e-6,
        affine: false,
    };
    let dev = KernelDevice::new(Shim::at_block(256));
    for d in [&Cpu as &dyn Compute, &dev] {
        let msg = match d.regress(&inp, &nb, go) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{}: a NaN row was accepted", d.name()),
        };
        assert!(
            msg.contains("token #2") && msg.contains("NaN"),
            "{}: {msg}",
            d.name()
        );
    }
}

/// The CPU path's supports and the shim's at 256 threads per block.
fn cpu_and_shim_256_neighbours(
    queries: &[f32],
    anchors: &[f32],
    dim: usize,
) -> (Neighbours, Neighbours) {
    let go = &mut |_: usize, _: usize| true;
    let cpu = Cpu
        .neighbours(queries, anchors, dim, None, go)
        .unwrap()
        .unwrap();
    let shim = KernelDevice::new(Shim::at_block(256))
        .neighbours(queries, anchors, dim, None, go)
        .unwrap()
        .unwrap();
    (cpu, shim)
}

/// Neighbours at 256 threads per block, with ties: anchors that are the same unit vectors
/// give equal similarities, so supports hold tied anchors and the threshold lands on
/// them; the shim's supports match the CPU's.
#[test]
fn shim_neighbours_at_real_block_size_with_ties() {
    let (n_a, dim) = (600, 16);
    let mut anchors = seeded_table(n_a * dim, 4);
    // Anchors 10..20 all repeat anchor 10's vector: ten-way ties for any query.
    let v = anchors[10 * dim..11 * dim].to_vec();
    for a in 11..20 {
        anchors[a * dim..(a + 1) * dim].copy_from_slice(&v);
    }
    let mut queries = seeded_table(40 * dim, 5);
    // Query 0 is that vector itself; query 1 halfway between it and anchor 30.
    queries[..dim].copy_from_slice(&v);
    for d in 0..dim {
        queries[dim + d] = 0.5 * (v[d] + anchors[30 * dim + d]);
    }
    let (cpu, shim) = cpu_and_shim_256_neighbours(&queries, &anchors, dim);
    assert_eq!(
        cpu.row(0).0,
        &(10..20).collect::<Vec<u32>>()[..],
        "query 0: the ten tied anchors"
    );
    let differ = compare_supports(&cpu, &shim);
    assert_eq!(differ, 0, "{differ} rows differ");
}

/// A support too large for the threshold kernel's shared candidates: 10,000 anchors on one
/// vector give a query on it a support of all of them (39 values above the start per thread
/// at 256 threads, more than its 32 slots), so the kernel steps over the whole row instead;
/// its support is the CPU's.
#[test]
fn shim_threshold_falls_back_to_the_row_when_candidates_overflow() {
    let (n_a, dim) = (10_000, 16);
    let v = seeded_table(dim, 6);
    let anchors: Vec<f32> = v.iter().copied().cycle().take(n_a * dim).collect();
    let mut queries = seeded_table(2 * dim, 7);
    queries[..dim].copy_from_slice(&v);
    let (cpu, shim) = cpu_and_shim_256_neighbours(&queries, &anchors, dim);
    assert_eq!(cpu.row(0).0.len(), n_a, "query 0: every anchor");
    assert_eq!(shim.row(0).0.len(), n_a, "query 0 on the shim");
    let differ = compare_supports(&cpu, &shim);
    assert_eq!(differ, 0, "{differ} rows differ");
}

/// The shim fails what a GPU would: a `__syncthreads()` that only some threads reach is an
/// error naming both call sites (not a silent pairing), and a block finds its shared memory
/// poisoned, not holding the previous block's values.
#[test]
fn shim_fails_divergent_barriers_and_poisons_shared_memory() {
    let l = Shim::at_block(64);
    let out = l.zeroed(4 * 64 * 2).unwrap();
    let mut p = out.addr();
    let mut params = [std::ptr::from_mut(&mut p).cast::<std::ffi::c_void>()];
    // SAFETY: salt_selftest_divergent(int*), 2 blocks of 64 threads, 128 ints.
    let e = unsafe {
        l.launch(
            "salt_selftest_divergent",
            [2, 1, 1],
            [64, 1, 1],
            &mut params,
        )
    }
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("divergent __syncthreads()") && e.contains("the end of the kernel"),
        "{e}"
    );
    let seen = l.zeroed(4 * 64 * 3).unwrap();
    let mut p = seen.addr();
    let mut params = [std::ptr::from_mut(&mut p).cast::<std::ffi::c_void>()];
    // SAFETY: salt_selftest_shared(float*), 3 blocks of 64 threads, 192 floats.
    unsafe { l.launch("salt_selftest_shared", [3, 1, 1], [64, 1, 1], &mut params) }.unwrap();
    let mut bytes = vec![0u8; 4 * 64 * 3];
    l.download(&seen, 0, &mut bytes).unwrap();
    let v: &[f32] = bytemuck::cast_slice(&bytes);
    assert!(
        v.iter().all(|x| x.is_nan()),
        "a block saw another block's shared values: {:?}",
        &v[64..68]
    );
}

/// Launches `kernel` on the shim with `args` (buffer addresses and plain values, in
/// order), over `grid` blocks of 256 threads.
///
/// # Safety
/// `args` must match the kernel's signature and the buffers must be large enough.
unsafe fn shim_launch(l: &Shim, kernel: &'static str, grid: [u32; 3], args: &mut [u64]) {
    let mut params: Vec<*mut std::ffi::c_void> = args
        .iter_mut()
        .map(|a| std::ptr::from_mut(a).cast::<std::ffi::c_void>())
        .collect();
    // SAFETY: forwarded from the caller.
    unsafe { l.launch(kernel, grid, [256, 1, 1], &mut params) }.unwrap();
}

/// The tiled products at 256 threads against plain sums in the same order (d ascending):
/// in the shim (host C++ without fused multiply-adds) they agree to the bit, over tiles and
/// slices that the sizes leave partial (150 rows: 3 tiles of 64; widths 70 and 50: slices of
/// 16), through a row map for the Gram matrix and with its upper tiles mirrored.
#[test]
fn shim_tiled_products_equal_plain_sums() {
    let l = Shim::at_block(256);
    let (n_a, h_t) = (300usize, 70usize);
    let table = seeded_table(n_a * h_t, 9);
    // Every other anchor, from the last: a map that is not the identity.
    let rows: Vec<u32> = (0..150u32).map(|i| 299 - 2 * i).collect();
    let n_u = rows.len();
    let t_buf = l.upload(bytemuck::cast_slice(&table)).unwrap();
    let r_buf = l.upload(bytemuck::cast_slice(&rows)).unwrap();
    let g_buf = l.zeroed(n_u * n_u * 8).unwrap();
    let tiles = n_u.div_ceil(64) as u32;
    // The ints travel as the low bytes of a u64 (little-endian), as cudarc's params do.
    let mut args = [
        t_buf.addr(),
        r_buf.addr(),
        n_u as u64,
        h_t as u64,
        g_buf.addr(),
    ];
    // SAFETY: salt_anchor_gram(const float*, const unsigned*, int, int, double*); the gram
    // holds n_u x n_u doubles and every row id is below n_a.
    unsafe { shim_launch(&l, "salt_anchor_gram", [tiles, tiles, 1], &mut args) };
    let mut bytes = vec![0u8; n_u * n_u * 8];
    l.download(&g_buf, 0, &mut bytes).unwrap();
    let gram: &[f64] = bytemuck::cast_slice(&bytes);
    for i in 0..n_u {
        for j in 0..n_u {
            let (a, b) = (rows[i] as usize * h_t, rows[j] as usize * h_t);
            let mut s = 0.0f64;
            for d in 0..h_t {
                s += f64::from(table[a + d]) * f64::from(table[b + d]);
            }
            assert_eq!(gram[i * n_u + j].to_bits(), s.to_bits(), "gram[{i}][{j}]");
        }
    }
    // Similarities: 150 queries (the first rows, width 50) to all 300 anchors.
    let dim = 50usize;
    let (n_q, q) = (150usize, &table[..150 * 50]);
    let a = &table[..n_a * dim];
    let q_buf = l.upload(bytemuck::cast_slice(q)).unwrap();
    let a_buf = l.upload(bytemuck::cast_slice(a)).unwrap();
    let s_buf = l.zeroed(n_q * n_a * 4).unwrap();
    let mut args = [
        q_buf.addr(),
        n_q as u64,
        a_buf.addr(),
        n_a as u64,
        dim as u64,
        s_buf.addr(),
    ];
    // SAFETY: salt_cosine_tiled(const float*, int, const float*, int, int, float*); sims
    // holds n_q x n_a floats.
    let grid = [n_a.div_ceil(64) as u32, n_q.div_ceil(64) as u32, 1];
    unsafe { shim_launch(&l, "salt_cosine_tiled", grid, &mut args) };
    let mut bytes = vec![0u8; n_q * n_a * 4];
    l.download(&s_buf, 0, &mut bytes).unwrap();
    let sims: &[f32] = bytemuck::cast_slice(&bytes);
    for r in 0..n_q {
        for c in 0..n_a {
            let mut s = 0.0f32;
            for d in 0..dim {
                s += q[r * dim + d] * a[c * dim + d];
            }
            assert_eq!(sims[r * n_a + c].to_bits(), s.to_bits(), "sims[{r}][{c}]");
        }
    }
}

/// The tables of a call stay on the device: the same tables again (fresh copies, as the
/// pipeline makes for each method) are not uploaded again and the anchor Gram matrix is not
/// made again, with the same rows; a changed table is uploaded (and a changed anchor table
/// makes a new Gram matrix), and the rows follow it.
#[test]
fn shim_keeps_the_tables_of_the_last_call() {
    let (n_a, h_t, h_s) = (120, 48, 24);
    let anchors_t = seeded_table(n_a * h_t, 11);
    let anchors_s = seeded_table(n_a * h_s, 12);
    let ks = [1, 5, 17, 33, 40];
    let nb = supports_of(&ks, n_a, &[0, 7, 9]);
    let e = seeded_table((ks.len() + 1) * h_t, 13);
    let dev = KernelDevice::new(Shim::at_block(64)).with_gram(GramChoice::Anchor);
    let go = &mut |_: usize, _: usize| true;
    let regress = |at: &[f32], bs: &[f32], affine: bool| -> Regressed {
        // Fresh copies: the tables are recognised by content, not by address.
        let (e, at, bs) = (e.clone(), at.to_vec(), bs.to_vec());
        let inp = RegressionInput {
            e: &e,
            anchors_t: &at,
            h_t,
            anchors_s: &bs,
            anchors_out: None,
            h_s,
            rcond: 1e-6,
            affine,
        };
        let cpu = Cpu.regress(&inp, &nb, &mut |_, _| true).unwrap().unwrap();
        let r = dev.regress(&inp, &nb, &mut |_, _| true).unwrap().unwrap();
        for q in 0..nb.len() {
            let err = relative_error(
                &r.embd[q * h_s..(q + 1) * h_s],
                &rows_f64(&cpu.embd, &[q as u32], h_s),
            );
            assert!(err < 1e-4, "query {q}: {err:.2e} from the CPU's row");
        }
        r
    };
    let table_bytes = |n: usize| (n * 4) as u64;
    let first = regress(&anchors_t, &anchors_s, false);
    let (up1, grams1) = dev.traffic();
    assert_eq!(grams1, 1);
    assert!(up1 > table_bytes(anchors_t.len() + anchors_s.len() + e.len()));
    // The same tables again: only the call's own small buffers travel.
    let again = regress(&anchors_t, &anchors_s, false);
    let (up2, grams2) = dev.traffic();
    assert_eq!(again.embd, first.embd);
    assert_eq!(grams2, 1, "the anchor Gram matrix was made again");
    let small = up2 - up1;
    assert!(
        small < table_bytes(anchors_s.len()),
        "{small} bytes uploaded for unchanged tables"
    );
    // salt-centred on the same tables: the same Gram matrix.
    regress(&anchors_t, &anchors_s, true);
    assert_eq!(dev.traffic().1, 1);
    // One changed source row: uploaded again, rows follow, same Gram matrix.
    let mut bs2 = anchors_s.clone();
    bs2[7 * h_s] += 1.0;
    let (up3, _) = dev.traffic();
    let changed = regress(&anchors_t, &bs2, false);
    let (up4, grams4) = dev.traffic();
    assert!(up4 - up3 >= table_bytes(bs2.len()) && grams4 == 1);
    assert_ne!(changed.embd, first.embd);
    // One changed PLM row of an anchor: a new Gram matrix.
    let mut at2 = anchors_t.clone();
    at2[9 * h_t + 3] += 0.5;
    regress(&at2, &bs2, false);
    assert_eq!(dev.traffic().1, 2);
    // Released: everything travels again.
    dev.release();
    let (up5, _) = dev.traffic();
    regress(&at2, &bs2, false);
    let (up6, grams6) = dev.traffic();
    assert!(up6 - up5 >= table_bytes(at2.len() + bs2.len() + e.len()) && grams6 == 3);
    // The neighbour search keeps its anchors too.
    let q = seeded_table(6 * h_t, 14);
    let a = dev.traffic().0;
    let n1 = dev
        .neighbours(&q, &anchors_t, h_t, None, go)
        .unwrap()
        .unwrap();
    let mid = dev.traffic().0;
    let n2 = dev
        .neighbours(&q.clone(), &anchors_t.clone(), h_t, None, go)
        .unwrap()
        .unwrap();
    assert_eq!((n1.offsets, n1.anchor), (n2.offsets, n2.anchor));
    assert!(mid - a > table_bytes(anchors_t.len()));
    assert!(dev.traffic().0 - mid < table_bytes(anchors_t.len()));
}

/// The probes that `gpu_check` times on a GPU compute what the host computes, bit for bit,
/// at the GPU's block size: each gather thread's sum, each entry of the f64 product; a
/// gather table that is not a power of two, and a product table too small, are refused.
#[test]
fn shim_probes_compute_what_the_host_computes() {
    use salt::device::probe::{gather, gather_on_host};
    let n = 1 << 12;
    let table: Vec<f64> = seeded_table(n, 21).iter().map(|&x| f64::from(x)).collect();
    let shim = Shim::at_block(256);
    let buf = shim.upload(bytemuck::cast_slice(&table)).unwrap();
    let (threads, reads, seed) = (512, 37, 0x5eed);
    let dev = gather(&shim, &buf, n, threads, reads, seed).unwrap();
    let host = gather_on_host(&table, threads, reads, seed);
    assert_eq!(dev, host);
    // Different threads read different places.
    assert!(host.windows(2).any(|w| w[0] != w[1]));
    let err = gather(&shim, &buf, n - 1, threads, reads, seed).unwrap_err();
    assert!(err.to_string().contains("4095 doubles"), "{err}");
    // The f64 product probe: the whole Gram matrix, each entry the host's sum in order.
    let (rows, dim) = (70, 33);
    let x = seeded_table(rows * dim, 22);
    let xb = shim.upload(bytemuck::cast_slice(&x)).unwrap();
    let g = salt::device::probe::f64_gram(&shim, &xb, rows, dim).unwrap();
    for i in 0..rows {
        for j in 0..rows {
            let mut d = 0f64;
            for k in 0..dim {
                d += f64::from(x[i * dim + k]) * f64::from(x[j * dim + k]);
            }
            assert_eq!(g[i * rows + j], d, "entry ({i}, {j})");
        }
    }
    assert!(salt::device::probe::f64_gram(&shim, &xb, rows + 1, dim).is_err());
}
