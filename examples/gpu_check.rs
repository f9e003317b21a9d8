//! The one binary of a GPU window (feature `cuda`); `scripts/device-check.sh` builds it and
//! prepares its folder. A GPU machine here has a driver but no Rust toolchain, no CUDA
//! toolkit and no network, so everything it needs travels in one folder of at most 60 MiB:
//!
//! - `gpu_check prepare DIR` (here, with the assets and the NVRTC wheel): the Korean demo's
//!   kernel inputs (Gemma <- USE trimmed: the auxiliary vectors, PLM rows and source rows),
//!   the SmolLM2 stress case's auxiliary vectors (its 106k x 512 PLM rows and source rows
//!   are made on the GPU machine from a seed), the kernels' PTX for compute_90 (H100, H200)
//!   where `Cuda::open` looks for its cache, and ptxas's register report for sm_90.
//! - `gpu_check run DIR` (on the GPU machine): the kernels against the CPU path on every row
//!   (and against the literal formula on a sample), `salt` and `salt-centred`; each stage
//!   timed (median of 5 after a warm-up) at h_s 576 and 4096, with the tables kept on the
//!   device from the call before and without; the host-device transfer rates (pageable and
//!   page-locked); the random-gather and f64 product probes; a summary table, and
//!   `DIR/result.json`.
//!
//! `gpu_check run DIR --dry-run` runs the same checks here with the CPU path standing in for
//! the GPU and the stress case cut to 2,000 queries: it checks the folder and this program,
//! not the kernels. `gpu_check run DIR --small` checks the first 300 tokens of the demo on
//! the GPU, untimed: what `run.sh` runs under compute-sanitizer where it finds one.
//!
//! A full run also times each kernel with CUDA events on the stress case and prints the
//! performance model's prediction for it (`salt::device::perf`, an H100) beside them.
//!
//! Exit codes: 0 every check passed; 1 a check failed; 2 bad usage or an unreadable folder;
//! 3 no usable GPU (what `run` answers on a machine without one).

#[cfg(not(feature = "cuda"))]
fn main() {
    eprintln!("gpu_check: build with --features cuda");
    std::process::exit(2);
}

#[cfg(feature = "cuda")]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("prepare"), Some(dir)) => check::prepare(std::path::Path::new(dir)),
        (Some("run"), Some(dir)) => match args.get(3).map(String::as_str) {
            None => check::run(std::path::Path::new(dir), check::Mode::Full),
            Some("--dry-run") => check::run(std::path::Path::new(dir), check::Mode::DryRun),
            Some("--small") => check::run(std::path::Path::new(dir), check::Mode::Small),
            Some(other) => {
                eprintln!("gpu_check run: unknown option {other}");
                2
            }
        },
        _ => {
            eprintln!("usage: gpu_check prepare DIR | gpu_check run DIR [--dry-run | --small]");
            2
        }
    };
    std::process::exit(code);
}

#[cfg(feature = "cuda")]
mod check {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use salt::auxvec::{AuxSource, TrainOptions};
    use salt::device::cuda::{cubin_cache_path, ptx_cache_path, Cuda};
    use salt::device::fixtures::{seeded_table, widen_rows};
    use salt::device::launch::Launcher;
    use salt::device::nvrtc::{cache_dir, usage, KernelUsage, Nvrtc};
    use salt::device::occupancy::{occupancy, SM90};
    use salt::device::perf::gpu::H100_SXM;
    use salt::device::perf::shape::Shape;
    use salt::device::perf::{predict, Design};
    use salt::device::probe::{f64_gram, f64_gram_fmas, gather, gather_on_host};
    use salt::device::{kernels, Compute, Cpu, KernelDevice, Shim};
    use salt::neighbours::Neighbours;
    use salt::pipeline::{kernel_problem, TransferConfig};
    use salt::regression::{
        literal_centred_row, literal_pinv_row, relative_error, rows_f64, Regressed, RegressionInput,
    };
    use serde_json::{json, Value};

    /// The stress case's PLM and source rows are drawn from this seed on the GPU machine.
    const STRESS_SEED: u64 = 7;

    fn write_f32(path: &Path, v: &[f32]) -> std::io::Result<()> {
        std::fs::write(path, bytemuck::cast_slice(v))
    }

    fn read_f32(path: &Path) -> Result<Vec<f32>, String> {
        let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    pub fn prepare(dir: &Path) -> i32 {
        match prepare_in(dir) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("gpu_check prepare: {e}");
                2
            }
        }
    }

    fn prepare_in(dir: &Path) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let cache = cache_dir();
        std::fs::create_dir_all(dir.join("demo")).map_err(|e| err(&e))?;
        std::fs::create_dir_all(dir.join("stress")).map_err(|e| err(&e))?;
        // PTX and cubins of earlier sources would only take room.
        let _ = std::fs::remove_dir_all(dir.join("cache/kernels"));
        std::fs::create_dir_all(dir.join("cache/kernels")).map_err(|e| err(&e))?;
        // Korean fastText vectors, trained as the tests and benches train them.
        let tmp = tempfile::tempdir().map_err(|e| err(&e))?;
        let aux = tmp.path().join("ko.bin");
        let mut train = TrainOptions::new(cache.join("text/bible-ko-train.txt"));
        train.save = Some(aux.clone());
        salt::auxvec::train_fasttext(&train).map_err(|e| err(&e))?;
        let problem = |model: &str, trim: bool| {
            let mut cfg = TransferConfig::new(
                cache.join("models").join(model),
                cache.join("plm/use"),
                AuxSource::FastTextBin(aux.clone()),
                tmp.path().join("unused.gguf"),
            );
            if trim {
                cfg.target.trim_to = Some(cache.join("text/bible-ko-train.txt"));
            }
            kernel_problem(&cfg).map_err(|e| err(&e))
        };
        let demo = problem("gemma-3-270m-q4_k_m.gguf", true)?;
        let d = dir.join("demo");
        for (name, v) in [
            ("queries_aux", &demo.queries_aux),
            ("anchors_aux", &demo.anchors_aux),
            ("e", &demo.e),
            ("anchors_t", &demo.anchors_t),
            ("anchors_s", &demo.anchors_s.embd),
        ] {
            write_f32(&d.join(format!("{name}.f32")), v).map_err(|e| err(&e))?;
        }
        let stress = problem("smollm2-135m-instruct-q4_1.gguf", false)?;
        let s = dir.join("stress");
        write_f32(&s.join("queries_aux.f32"), &stress.queries_aux).map_err(|e| err(&e))?;
        write_f32(&s.join("anchors_aux.f32"), &stress.anchors_aux).map_err(|e| err(&e))?;
        // The kernels' PTX and sm_90 cubins where Cuda::open looks for its cache, and
        // ptxas's report (as text, and as usage.json for the performance model).
        let nvrtc = Nvrtc::load().map_err(|e| err(&e))?;
        let mut report = String::new();
        let mut used = Vec::new();
        for (file, src) in kernels::sources() {
            let ptx = nvrtc
                .compile(file, &src, "compute_90")
                .map_err(|e| err(&e))?;
            let name = ptx_cache_path(file, &src, "compute_90");
            let name = name.file_name().ok_or("a PTX cache name")?;
            std::fs::write(dir.join("cache/kernels").join(name), &ptx.image)
                .map_err(|e| err(&e))?;
            let cubin = nvrtc.compile(file, &src, "sm_90").map_err(|e| err(&e))?;
            std::fs::write(
                dir.join("cache/kernels").join(
                    cubin_cache_path(file, &src, "sm_90")
                        .file_name()
                        .ok_or("a cubin name")?,
                ),
                &cubin.image,
            )
            .map_err(|e| err(&e))?;
            for u in usage(&cubin.log) {
                used.push(json!([u.name, u.registers, u.shared_bytes]));
                let block = kernels::launch_block(&u.name);
                let o = occupancy(&u, block, &SM90);
                report += &format!(
                    "{file} sm_90 {}: {} registers, {} bytes smem, {} bytes spills; {block} threads: {} blocks per SM, {}% of its warps (limited by {})\n",
                    u.name, u.registers, u.shared_bytes, u.spill_stores + u.spill_loads, o.blocks, o.percent, o.limit
                );
            }
        }
        std::fs::write(dir.join("ptxas.txt"), report).map_err(|e| err(&e))?;
        std::fs::write(dir.join("usage.json"), json!(used).to_string()).map_err(|e| err(&e))?;
        let meta = json!({
            "demo": {"dim": demo.dim, "h_t": demo.h_t, "h_s": demo.h_s, "rcond": demo.rcond},
            "stress": {"dim": stress.dim, "h_t": stress.h_t, "h_s": stress.h_s,
                       "rcond": stress.rcond, "seed": STRESS_SEED},
        });
        std::fs::write(dir.join("meta.json"), meta.to_string()).map_err(|e| err(&e))?;
        println!(
            "prepared {}: demo {} queries x {} anchors, stress {} x {}",
            dir.display(),
            demo.queries_aux.len() / demo.dim,
            demo.anchors_aux.len() / demo.dim,
            stress.queries_aux.len() / stress.dim,
            stress.anchors_aux.len() / stress.dim
        );
        Ok(())
    }

    /// One case's tables, as the kernels take them.
    struct Case {
        name: &'static str,
        queries_aux: Vec<f32>,
        anchors_aux: Vec<f32>,
        dim: usize,
        e: Vec<f32>,
        anchors_t: Vec<f32>,
        h_t: usize,
        anchors_s: Vec<f32>,
        h_s: usize,
        rcond: f64,
    }

    impl Case {
        fn input(&self, affine: bool) -> RegressionInput<'_> {
            RegressionInput {
                e: &self.e,
                anchors_t: &self.anchors_t,
                h_t: self.h_t,
                anchors_s: &self.anchors_s,
                anchors_out: None,
                h_s: self.h_s,
                rcond: self.rcond,
                affine,
            }
        }
    }

    fn load(dir: &Path, meta: &Value) -> Result<(Case, Case), String> {
        let num = |v: &Value, k: &str| {
            v[k].as_u64()
                .map(|x| x as usize)
                .ok_or(format!("meta.json: {k}"))
        };
        let (dm, sm) = (&meta["demo"], &meta["stress"]);
        let d = dir.join("demo");
        let demo = Case {
            name: "Korean demo",
            queries_aux: read_f32(&d.join("queries_aux.f32"))?,
            anchors_aux: read_f32(&d.join("anchors_aux.f32"))?,
            dim: num(dm, "dim")?,
            e: read_f32(&d.join("e.f32"))?,
            anchors_t: read_f32(&d.join("anchors_t.f32"))?,
            h_t: num(dm, "h_t")?,
            anchors_s: read_f32(&d.join("anchors_s.f32"))?,
            h_s: num(dm, "h_s")?,
            rcond: dm["rcond"].as_f64().unwrap_or(1e-6),
        };
        let s = dir.join("stress");
        let (dim, h_t, h_s) = (num(sm, "dim")?, num(sm, "h_t")?, num(sm, "h_s")?);
        let queries_aux = read_f32(&s.join("queries_aux.f32"))?;
        let anchors_aux = read_f32(&s.join("anchors_aux.f32"))?;
        let (n_q, n_a) = (queries_aux.len() / dim, anchors_aux.len() / dim);
        let seed = sm["seed"].as_u64().unwrap_or(STRESS_SEED);
        let stress = Case {
            name: "SmolLM2 stress",
            e: seeded_table(n_q * h_t, seed),
            anchors_t: seeded_table(n_a * h_t, seed + 1),
            anchors_s: seeded_table(n_a * h_s, seed + 2),
            queries_aux,
            anchors_aux,
            dim,
            h_t,
            h_s,
            rcond: sm["rcond"].as_f64().unwrap_or(1e-6),
        };
        Ok((demo, stress))
    }

    /// Median seconds of 5 runs after one warm-up.
    fn median_secs(mut f: impl FnMut()) -> f64 {
        f();
        let mut t: Vec<f64> = (0..5)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[2]
    }

    /// Median over 5 runs after one warm-up of the GPU time of the kernels each run launched,
    /// from CUDA events (each launch waited for, so the wall time of these runs is not the
    /// figure); None without a GPU.
    fn median_kernel_secs(events: Option<&Cuda>, mut f: impl FnMut()) -> Option<f64> {
        let cuda = events?;
        f();
        let mut t: Vec<f64> = (0..5)
            .map(|_| {
                cuda.time_kernels(true);
                f();
                let ms: f64 = cuda.kernel_ms().iter().map(|k| k.1).sum();
                cuda.time_kernels(false);
                ms / 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        Some(t[2])
    }

    /// The checks and timings of one case; `failures` gets what failed.
    fn check_case(
        gpu: &dyn Compute,
        c: &Case,
        literal_rows: usize,
        (timed, events): (bool, Option<&Cuda>),
        failures: &mut Vec<String>,
    ) -> Value {
        let go = &mut |_: usize, _: usize| true;
        let t = Instant::now();
        let nb_cpu: Neighbours = Cpu
            .neighbours(&c.queries_aux, &c.anchors_aux, c.dim, None, go)
            .ok()
            .flatten()
            .unwrap_or_default();
        let cpu_nb_s = t.elapsed().as_secs_f64();
        let nb_gpu: Neighbours = gpu
            .neighbours(&c.queries_aux, &c.anchors_aux, c.dim, None, go)
            .ok()
            .flatten()
            .unwrap_or_default();
        let differ = (0..nb_cpu.len().min(nb_gpu.len()))
            .filter(|&q| nb_cpu.row(q).0 != nb_gpu.row(q).0)
            .count();
        if nb_gpu.len() != nb_cpu.len() || differ * 100 > nb_cpu.len() {
            failures.push(format!(
                "{}: {differ} of {} supports differ",
                c.name,
                nb_cpu.len()
            ));
        }
        let mut out = json!({"queries": nb_cpu.len(), "anchors": c.anchors_aux.len() / c.dim.max(1),
                             "supports_differ": differ, "cpu_neighbours_s": cpu_nb_s});
        for affine in [false, true] {
            let label = if affine { "salt-centred" } else { "salt" };
            let inp = c.input(affine);
            let t = Instant::now();
            let cpu: Regressed = match Cpu.regress(&inp, &nb_cpu, go) {
                Ok(Some(r)) => r,
                other => {
                    failures.push(format!(
                        "{} {label}: CPU regression {:?}",
                        c.name,
                        other.err().map(|e| e.to_string())
                    ));
                    continue;
                }
            };
            let cpu_s = t.elapsed().as_secs_f64();
            let dev: Regressed = match gpu.regress(&inp, &nb_cpu, go) {
                Ok(Some(r)) => r,
                other => {
                    failures.push(format!(
                        "{} {label}: GPU regression {:?}",
                        c.name,
                        other.err().map(|e| e.to_string())
                    ));
                    continue;
                }
            };
            let h_s = c.h_s;
            let mut worst = 0f64;
            for q in 0..nb_cpu.len() {
                let r = rows_f64(&cpu.embd, &[q as u32], h_s);
                worst = worst.max(relative_error(&dev.embd[q * h_s..(q + 1) * h_s], &r));
            }
            let mut worst_lit = 0f64;
            let literal = if affine {
                literal_centred_row
            } else {
                literal_pinv_row
            };
            let step = (nb_cpu.len() / literal_rows.max(1)).max(1);
            for q in (0..nb_cpu.len()).step_by(step) {
                let (idx, _) = nb_cpu.row(q);
                let e: Vec<f64> = c.e[q * c.h_t..(q + 1) * c.h_t]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect();
                let lit = literal(
                    &rows_f64(&c.anchors_t, idx, c.h_t),
                    &rows_f64(&c.anchors_s, idx, h_s),
                    &e,
                    idx.len(),
                    c.h_t,
                    h_s,
                    c.rcond,
                );
                worst_lit = worst_lit.max(relative_error(&dev.embd[q * h_s..(q + 1) * h_s], &lit));
            }
            if worst >= 1e-4 || worst_lit >= 1e-4 {
                failures.push(format!("{} {label}: {worst:.2e} from the CPU, {worst_lit:.2e} from the literal formula", c.name));
            }
            // Warm: the tables (and the anchor Gram matrix) kept from the call before; cold:
            // released before each call.
            let run = || {
                let _ = gpu.regress(&inp, &nb_cpu, &mut |_, _| true);
            };
            let (gpu_s, cold_s, kernels_s) = if timed {
                let warm = median_secs(run);
                let cold = median_secs(|| {
                    gpu.release();
                    run();
                });
                (warm, cold, median_kernel_secs(events, run))
            } else {
                (f64::NAN, f64::NAN, None)
            };
            out[label] = json!({"paths": format!("{:?}", dev.paths), "max_rel_err_cpu": worst,
                                "max_rel_err_literal": worst_lit, "cpu_s": cpu_s, "gpu_median_s": gpu_s,
                                "gpu_cold_median_s": cold_s, "gpu_kernels_median_s": kernels_s});
        }
        if timed {
            let run = || {
                let _ = gpu.neighbours(&c.queries_aux, &c.anchors_aux, c.dim, None, &mut |_, _| {
                    true
                });
            };
            out["gpu_neighbours_median_s"] = json!(median_secs(run));
            out["gpu_neighbours_kernels_median_s"] = json!(median_kernel_secs(events, run));
        }
        out
    }

    /// The CPU path's supports of a case.
    fn stress_neighbours(c: &Case) -> Neighbours {
        Cpu.neighbours(&c.queries_aux, &c.anchors_aux, c.dim, None, &mut |_, _| {
            true
        })
        .ok()
        .flatten()
        .unwrap_or_default()
    }

    /// The random-gather probe (`kernels/probe.cu`) on tables of `cases` (name, doubles: a
    /// power of two), `threads` threads of 256 reads each; `secs` times one run of what it
    /// is given. A seeded table's sums are checked against the host's on the first 256
    /// threads; a zeroed table's (the large one) must be zero.
    fn gather_probe<L: Launcher>(
        l: &L,
        cases: &[(&str, usize, bool)],
        threads: usize,
        secs: &mut dyn FnMut(&mut dyn FnMut()) -> f64,
        failures: &mut Vec<String>,
    ) -> Value {
        const READS: u32 = 256;
        let mut rows = Vec::new();
        for &(name, n, seeded) in cases {
            let host: Vec<f64> = if seeded {
                seeded_table(n, 5).iter().map(|&x| f64::from(x)).collect()
            } else {
                Vec::new()
            };
            let table = if seeded {
                l.upload(bytemuck::cast_slice(&host))
            } else {
                l.zeroed(n * 8)
            };
            let mut sums = Err("not run".to_owned());
            let s = match &table {
                Ok(t) => secs(&mut || {
                    sums = gather(l, t, n, threads, READS, 11).map_err(|e| e.to_string());
                }),
                Err(e) => {
                    sums = Err(e.to_string());
                    f64::NAN
                }
            };
            let ok = match &sums {
                Ok(v) if seeded => v[..256] == gather_on_host(&host, 256, READS, 11)[..],
                Ok(v) => v.iter().all(|&x| x == 0.0),
                Err(_) => false,
            };
            if !ok {
                failures.push(format!("gather probe {name}: {:?}", sums.err()));
            }
            let reads = threads as f64 * f64::from(READS);
            // Each 8-byte read costs a 32-byte sector.
            let sector_tb_s = reads * 32.0 / s / 1e12;
            println!(
                "gather probe, {name} ({:.2} MiB): {:.2} ms, {:.2e} reads/s, {sector_tb_s:.2} TB/s of 32-byte sectors",
                (n * 8) as f64 / f64::from(1u32 << 20),
                s * 1e3,
                reads / s
            );
            rows.push(
                json!({"table": name, "bytes": n * 8, "seconds": s, "reads_per_s": reads / s,
                             "sector_tb_s": sector_tb_s}),
            );
        }
        json!(rows)
    }

    /// The f64 product probe: the Gram matrix of a seeded `n x dim` table through
    /// `salt_anchor_gram`, checked against f64 dot products on the host at a few entries;
    /// `secs` times one run of what it is given.
    fn gemm_probe<L: Launcher>(
        l: &L,
        n: usize,
        dim: usize,
        secs: &mut dyn FnMut(&mut dyn FnMut()) -> f64,
        failures: &mut Vec<String>,
    ) -> Value {
        let host = seeded_table(n * dim, 6);
        let mut gram = Err("not run".to_owned());
        let s = match l.upload(bytemuck::cast_slice(&host)) {
            Ok(t) => secs(&mut || gram = f64_gram(l, &t, n, dim).map_err(|e| e.to_string())),
            Err(e) => {
                gram = Err(e.to_string());
                f64::NAN
            }
        };
        let dot = |i: usize, j: usize| -> f64 {
            (0..dim)
                .map(|d| f64::from(host[i * dim + d]) * f64::from(host[j * dim + d]))
                .sum()
        };
        let ok = gram.as_ref().is_ok_and(|g| {
            [
                (0, 0),
                (n - 1, 0),
                (n / 2, n / 3),
                (n / 3, n / 2),
                (n - 1, n - 1),
            ]
            .iter()
            .all(|&(i, j)| (g[i * n + j] - dot(i, j)).abs() <= 1e-9 * dot(i, i).max(dot(j, j)))
        });
        if !ok {
            failures.push(format!("f64 product probe: {:?}", gram.err()));
        }
        let tflops = 2.0 * f64_gram_fmas(n, dim) / s / 1e12;
        println!(
            "f64 product probe ({n} x {dim}): {:.2} ms, {tflops:.2} TFLOP/s",
            s * 1e3
        );
        json!({"n": n, "dim": dim, "seconds": s, "tflop_s": tflops})
    }

    /// What `run` does.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// Every check and timing on the GPU.
        Full,
        /// The checks with the CPU path standing in for the GPU, the stress case cut.
        DryRun,
        /// 300 demo tokens on the GPU, untimed (for compute-sanitizer).
        Small,
    }

    /// ptxas's report that `prepare` wrote.
    fn read_usage(dir: &Path) -> Vec<KernelUsage> {
        let v: Value = std::fs::read_to_string(dir.join("usage.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| {
                Some(KernelUsage {
                    name: u.get(0)?.as_str()?.to_owned(),
                    registers: u32::try_from(u.get(1)?.as_u64()?).ok()?,
                    shared_bytes: u32::try_from(u.get(2)?.as_u64()?).ok()?,
                    spill_stores: 0,
                    spill_loads: 0,
                })
            })
            .collect()
    }

    /// The performance model's prediction for case `c` (supports `nb`) on an H100, beside
    /// the GPU's milliseconds per kernel where measured; printed as a table.
    fn model_beside(dir: &Path, c: &Case, nb: &Neighbours, measured: &[(&str, f64)]) -> Value {
        let shape = Shape::measure(
            (&c.queries_aux, &c.anchors_aux, c.dim),
            (c.h_t, c.h_s, false),
            nb,
            500,
        );
        let p = predict(
            Design::Current,
            &shape,
            &H100_SXM,
            &read_usage(dir),
            kernels::launch_block,
        );
        println!(
            "\n{} queries: the model (an {}) beside this GPU\n| kernel | predicted ms | limited by | measured ms | measured rate of that resource |\n| --- | --- | --- | --- | --- |",
            shape.n_q, H100_SXM.name
        );
        let mut rows = Vec::new();
        for e in &p.kernels {
            let m = measured
                .iter()
                .find(|(k, _)| *k == e.work.kernel)
                .map(|&(_, ms)| ms);
            // What the kernel drew of its limiting resource: the ceilings the design rests
            // on (random 8-byte gathers inside salt_regress, f64 products in
            // salt_anchor_gram), measured through the kernels themselves.
            let rate = m.and_then(|ms| e.rate_at(ms / 1e3));
            println!(
                "| {} | {:.2} | {} | {} | {} |",
                e.work.kernel,
                e.seconds * 1e3,
                e.limit,
                m.map_or("-".to_owned(), |ms| format!("{ms:.2}")),
                rate.as_deref().unwrap_or("-")
            );
            rows.push(
                json!({"kernel": e.work.kernel, "predicted_ms": e.seconds * 1e3,
                             "limit": e.limit, "measured_ms": m, "measured_rate": rate}),
            );
        }
        let total: f64 = measured.iter().map(|m| m.1).sum();
        println!(
            "| total | {:.2} | | {} | |",
            p.kernels_s * 1e3,
            if measured.is_empty() {
                "-".to_owned()
            } else {
                format!("{total:.2}")
            }
        );
        json!({"kernels": rows, "predicted_ms": p.kernels_s * 1e3, "measured_ms": total})
    }

    pub fn run(dir: &Path, mode: Mode) -> i32 {
        let meta: Value = match std::fs::read_to_string(dir.join("meta.json"))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "gpu_check run: {}: {e} (run `gpu_check prepare` first)",
                    dir.join("meta.json").display()
                );
                return 2;
            }
        };
        let (demo, mut stress) = match load(dir, &meta) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gpu_check run: {e}");
                return 2;
            }
        };
        if mode == Mode::DryRun {
            stress.queries_aux.truncate(2000 * stress.dim);
            stress.e.truncate(2000 * stress.h_t);
            let mut failures = Vec::new();
            let d = check_case(&Cpu, &demo, 100, (true, None), &mut failures);
            let s = check_case(&Cpu, &stress, 20, (true, None), &mut failures);
            println!("dry run (the CPU path standing in for the GPU):\ndemo {d}\nstress {s}");
            let nb = stress_neighbours(&stress);
            let _ = model_beside(dir, &stress, &nb, &[]);
            // The probes' host code and kernels, through the shim, on small tables.
            let wall = &mut |f: &mut dyn FnMut()| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            };
            let shim = Shim::at_block(256);
            let _ = gather_probe(
                &shim,
                &[("seeded", 1 << 12, true), ("zeroed", 1 << 14, false)],
                512,
                wall,
                &mut failures,
            );
            let _ = gemm_probe(&shim, 100, 40, wall, &mut failures);
            for f in &failures {
                eprintln!("FAILED: {f}");
            }
            return i32::from(!failures.is_empty());
        }
        // Cuda::open finds the prepared PTX under $SALT_CACHE/kernels: no NVRTC needed.
        // Set before any thread is started (edition 2021: not an unsafe call).
        std::env::set_var("SALT_CACHE", dir.join("cache"));
        let cuda = match Cuda::open(0) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gpu_check run: needs a GPU: {e}");
                return 3;
            }
        };
        // Host-device transfer rates, 256 MiB each way: the driver's pageable copies, then
        // through page-locked staging (what the launcher uses).
        let bytes: Vec<u8> = (0..256u32 << 20).map(|i| (i % 251) as u8).collect();
        let gib = bytes.len() as f64 / f64::from(1u32 << 30);
        let mut transfer = Vec::new();
        let mut round_trip = true;
        for staged in [false, true] {
            cuda.stage_copies(staged);
            let mut back = vec![0u8; bytes.len()];
            let t = Instant::now();
            let buf = cuda.upload(&bytes);
            let up = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let down = buf.and_then(|b| cuda.download(&b, 0, &mut back));
            let down_s = t.elapsed().as_secs_f64();
            round_trip &= down.is_ok() && back == bytes;
            transfer.push((staged, gib / up, gib / down_s));
        }
        cuda.stage_copies(true);
        let gpu = KernelDevice::new(cuda);
        println!("device: {}", gpu.name());
        if mode == Mode::Small {
            let mut demo = demo;
            demo.queries_aux.truncate(300 * demo.dim);
            demo.e.truncate(300 * demo.h_t);
            let mut failures = Vec::new();
            let d = check_case(&gpu, &demo, 300, (false, None), &mut failures);
            println!("300 demo tokens: {d}");
            for f in &failures {
                eprintln!("FAILED: {f}");
            }
            return i32::from(!failures.is_empty());
        }
        if let Ok(r) = std::fs::read_to_string(dir.join("ptxas.txt")) {
            print!("{r}");
        }
        let mut failures = Vec::new();
        if !round_trip {
            failures.push("the transfer probe did not round-trip".to_owned());
        }
        let ev = Some(gpu.launcher());
        let demo_r = check_case(
            &gpu,
            &demo,
            demo.e.len() / demo.h_t,
            (true, ev),
            &mut failures,
        );
        let stress_r = check_case(&gpu, &stress, 200, (true, ev), &mut failures);
        // Each kernel timed with CUDA events on one more stress run, beside the model.
        let nb = stress_neighbours(&stress);
        gpu.launcher().time_kernels(true);
        let _ = gpu.neighbours(
            &stress.queries_aux,
            &stress.anchors_aux,
            stress.dim,
            None,
            &mut |_, _| true,
        );
        let _ = gpu.regress(&stress.input(false), &nb, &mut |_, _| true);
        let measured = gpu.launcher().kernel_ms();
        gpu.launcher().time_kernels(false);
        let model = model_beside(dir, &stress, &nb, &measured);
        // The random-gather ceiling, stand-alone: a table that fits L2 (16 MiB) and one far
        // larger (2 GiB, like the stress case's 3.8 GB anchor Gram matrix); CUDA events,
        // after a warm-up. The model assumes 75% of 5.5 TB/s (L2) and of 3.35 TB/s (HBM).
        let launcher = gpu.launcher();
        let events =
            &mut |f: &mut dyn FnMut()| median_kernel_secs(Some(launcher), f).unwrap_or(f64::NAN);
        let gathers = gather_probe(
            launcher,
            &[("L2-sized", 1 << 21, true), ("HBM-sized", 1 << 28, false)],
            1 << 20,
            events,
            &mut failures,
        );
        // The f64 product ceiling, stand-alone (the model: 75% of 33.5 TFLOP/s).
        let gemm = gemm_probe(launcher, 8192, 512, events, &mut failures);
        // The stress shape with h_s 4096: the regression alone, timed.
        stress.anchors_s = widen_rows(&stress.anchors_s, stress.h_s, 4096);
        stress.h_s = 4096;
        let wide_s = median_secs(|| {
            let _ = gpu.regress(&stress.input(false), &nb, &mut |_, _| true);
        });
        let rates: Vec<Value> = transfer
            .iter()
            .map(|&(staged, up, down)| json!({"staged": staged, "upload_gib_s": up, "download_gib_s": down}))
            .collect();
        let result = json!({"device": gpu.name(), "transfer": rates,
                            "demo": demo_r, "stress": stress_r, "stress_hs4096_regression_median_s": wide_s,
                            "stress_kernels_vs_model": model, "gather_probe": gathers, "f64_product_probe": gemm,
                            "failures": failures});
        println!("\n| case | stage | GPU median s (tables kept) | GPU median s (cold) | kernels median s (CUDA events) | CPU s | max rel. err vs CPU |\n| --- | --- | --- | --- | --- | --- | --- |");
        let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        for (name, r) in [("demo", &result["demo"]), ("stress", &result["stress"])] {
            println!(
                "| {name} | neighbours | {:.4} | | {:.4} | {:.3} | supports differ: {} |",
                f(&r["gpu_neighbours_median_s"]),
                f(&r["gpu_neighbours_kernels_median_s"]),
                f(&r["cpu_neighbours_s"]),
                r["supports_differ"]
            );
            for m in ["salt", "salt-centred"] {
                let x = &r[m];
                println!(
                    "| {name} | regression {m} | {:.4} | {:.4} | {:.4} | {:.3} | {:.2e} |",
                    f(&x["gpu_median_s"]),
                    f(&x["gpu_cold_median_s"]),
                    f(&x["gpu_kernels_median_s"]),
                    x["cpu_s"].as_f64().unwrap_or(f64::NAN),
                    x["max_rel_err_cpu"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        println!("| stress, h_s 4096 | regression salt | {wide_s:.4} | | | | |");
        for (staged, up, down) in transfer {
            let how = if staged {
                "page-locked staging"
            } else {
                "pageable"
            };
            println!("transfer ({how}): {up:.1} GiB/s up, {down:.1} GiB/s down");
        }
        let path: PathBuf = dir.join("result.json");
        if let Err(e) = std::fs::write(
            &path,
            serde_json::to_string_pretty(&result).unwrap_or_default(),
        ) {
            eprintln!("gpu_check run: {}: {e}", path.display());
        }
        if failures.is_empty() {
            println!("all checks passed; figures in {}", path.display());
            0
        } else {
            for f in &failures {
                eprintln!("FAILED: {f}");
            }
            1
        }
    }
}
