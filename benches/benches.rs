//! Criterion benches, one module per stage. Figures that matter are ratios against a
//! baseline measured in the same run (printed by each bench group).

use criterion::{criterion_group, criterion_main};

mod device;
mod gguf_io;
mod head_fit;
mod regression;
mod train_step;
mod transfer;

// The test binary's counting allocator: the head-fit bench reports its peak heap.
#[path = "../tests/alloc.rs"]
mod alloc;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Prints `candidate / baseline` of the times criterion measured (read back from its
/// `estimates.json`, so a group filtered out of this run shows its last run's figures),
/// so each bench states its target as a ratio.
pub fn report_ratio(group: &str, baseline: &str, candidate: &str, target: &str) {
    report_ratio_per(group, (baseline, 1), (candidate, 1), target);
}

/// [`report_ratio`] for benches whose two sides do different amounts of the same work
/// (`(id, items)`): the ratio of the times per item.
pub fn report_ratio_per(
    group: &str,
    (baseline, b_items): (&str, usize),
    (candidate, c_items): (&str, usize),
    target: &str,
) {
    let mean = |id: &str| estimate_ns(group, id);
    match (mean(baseline), mean(candidate)) {
        (Some(b), Some(c)) if b_items == 1 && c_items == 1 => println!(
            "RATIO {group}: {candidate} / {baseline} = {:.2}x ({:.1} ms / {:.1} ms); target {target}",
            c / b,
            c / 1e6,
            b / 1e6
        ),
        (Some(b), Some(c)) => {
            let (b, c) = (b / b_items as f64, c / c_items as f64);
            println!(
                "RATIO {group}: {candidate} / {baseline} per item = {:.2}x ({:.1} us / {:.1} us); target {target}",
                c / b,
                c / 1e3,
                b / 1e3
            );
        }
        _ => println!("RATIO {group}: no estimates found under {}", criterion_home().display()),
    }
}

/// Where criterion keeps its results.
fn criterion_home() -> std::path::PathBuf {
    std::env::var_os("CRITERION_HOME").map_or_else(
        || std::path::PathBuf::from("target/criterion"),
        std::path::PathBuf::from,
    )
}

/// The time criterion prints as `time:` for `group/id`, in ns: the slope when it sampled
/// linearly, else the mean.
fn estimate_ns(group: &str, id: &str) -> Option<f64> {
    let p = criterion_home()
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| v["mean"]["point_estimate"].as_f64())
}

/// The machine in words (CPU model and cores), for figures printed by the benches.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores")
}

/// Prints the time criterion measured for `group/id` against an absolute target.
pub fn report_against(group: &str, id: &str, target_s: f64) {
    match estimate_ns(group, id) {
        Some(ns) => println!(
            "TARGET {group}/{id}: {:.1} s = {:.2}x the target of {target_s} s",
            ns / 1e9,
            ns / 1e9 / target_s
        ),
        None => println!(
            "TARGET {group}/{id}: no estimate under {}",
            criterion_home().display()
        ),
    }
}

criterion_group! {
    name = benches;
    config = criterion::Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = gguf_io::rewrite_vs_copy, regression::gram_vs_literal, head_fit::loss_vs_gemm, head_fit::whole_fit, transfer::stress_transfer, train_step::step_vs_forward, device::gpu_stages, device::fingerprint_vs_copy
}
criterion_main!(benches);
