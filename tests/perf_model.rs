//! The performance model of the GPU path (`salt::device::perf`) on the SmolLM2 stress case
//! (SmolLM2 <- the whole USE vocabulary: 106k new tokens, 21.9k anchors): its support sizes
//! from the CPU path, Michelot's passes measured on a sample of its rows, and the kernels'
//! registers and shared memory from ptxas (NVRTC, sm_90). It predicts each stage on an H100
//! for the kernels of this build and for the design before them, prints both, and fails
//! when this build's kernels, launches and synchronisations would take more than 0.1 s.

use salt::device::nvrtc::{usage, KernelUsage, Nvrtc};
use salt::device::perf::gpu::H100_SXM;
use salt::device::perf::shape::Shape;
use salt::device::perf::{per_entry_block, per_entry_usage, predict, table, Design};
use salt::device::{kernels, Compute, Cpu};
use salt::pipeline::kernel_problem;

use crate::fixtures::stress_config;

/// ptxas's report for sm_90, and each source's compute_90 PTX as (file, text).
struct Compiled {
    used: Vec<KernelUsage>,
    ptx: Vec<(String, String)>,
}

/// The kernels compiled, or None without NVRTC (a bare `cargo test`; setup installs it and
/// CI requires it).
fn compiled() -> Option<Compiled> {
    let nvrtc = match Nvrtc::load() {
        Ok(n) => n,
        Err(e) if std::env::var_os("SALT_REQUIRE_NVRTC").is_none() => {
            println!("skipped: {e}");
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let (mut used, mut ptx) = (Vec::new(), Vec::new());
    for (file, src) in kernels::sources() {
        let cubin = nvrtc.compile(file, &src, "sm_90").unwrap();
        used.extend(usage(&cubin.log));
        let text = nvrtc.compile(file, &src, "compute_90").unwrap();
        ptx.push((
            file.to_string(),
            String::from_utf8_lossy(&text.image).into_owned(),
        ));
    }
    Some(Compiled { used, ptx })
}

#[test]
fn the_stress_case_is_predicted_under_a_tenth_of_a_second_on_an_h100() {
    let Some(Compiled { used, ptx }) = compiled() else {
        return;
    };
    // The model counts the register tiles' shared-memory reads as 16-byte vectors: the
    // PTX must have them.
    let has = |file: &str, op: &str| ptx.iter().any(|(f, text)| f == file && text.contains(op));
    assert!(
        has("product.cu", "ld.shared.v4.f32"),
        "no float4 reads in product.cu"
    );
    assert!(
        has("product.cu", "ld.shared.v2.f64"),
        "no double2 reads in product.cu"
    );
    assert!(
        has("regress.cu", "ld.shared.v2.f64"),
        "no double2 reads in regress.cu"
    );

    let p = kernel_problem(&stress_config()).unwrap();
    let nb = Cpu
        .neighbours(&p.queries_aux, &p.anchors_aux, p.dim, None, &mut |_, _| {
            true
        })
        .unwrap()
        .unwrap();
    let shape = Shape::measure(
        (&p.queries_aux, &p.anchors_aux, p.dim),
        (p.h_t, p.h_s, p.anchors_s.output.is_some()),
        &nb,
        500,
    );
    let k_max = shape.ks.last().unwrap().0;
    println!(
        "SmolLM2 stress case: {} queries, {} anchors ({} used), dim {}, h_t {}, h_s {}, k up to {k_max}, {:.3e} support entries; the threshold on 500 rows: {:.1} steps from -inf (a pass each), or {:.1} steps in {:.2} passes with {:.0} candidates in shared memory",
        shape.n_q,
        shape.n_a,
        shape.n_u,
        shape.dim,
        shape.h_t,
        shape.h_s,
        shape.sum_k(|k| k),
        shape.michelot.plain_steps,
        shape.michelot.steps,
        shape.michelot.row_passes,
        shape.michelot.candidates
    );
    let g = H100_SXM;
    let now = predict(Design::Current, &shape, &g, &used, kernels::launch_block);
    let before = predict(
        Design::PerEntry,
        &shape,
        &g,
        &per_entry_usage(),
        per_entry_block,
    );
    println!(
        "Predicted on an {} (assumptions: src/device/perf/gpu.rs)",
        g.name
    );
    println!("this build's kernels:\n{}", table(&now));
    println!("the kernels before them:\n{}", table(&before));
    assert!(
        now.kernels_s <= 0.1,
        "the stress case is predicted at {:.1} ms on an H100, over 100 ms",
        now.kernels_s * 1e3
    );
    // The model must see what made the old kernels slow (the estimate: about 3 s).
    assert!(
        before.kernels_s > 1.0 && before.kernels_s > 10.0 * now.kernels_s,
        "{:.3} s before, {:.3} s now",
        before.kernels_s,
        now.kernels_s
    );
}
