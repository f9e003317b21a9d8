//! Criterion benches, one module per stage. Figures that matter are ratios against a
//! baseline measured in the same run (printed by each bench group).

use criterion::{criterion_group, criterion_main};

mod gguf_io;
mod regression;

criterion_group! {
    name = benches;
    config = criterion::Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = gguf_io::rewrite_vs_copy, regression::gram_vs_literal
}
criterion_main!(benches);
