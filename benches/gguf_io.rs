//! Stage 1/8: rewriting a real GGUF unchanged vs `std::fs::copy` of the same file.
//! Target: the rewrite takes at most 1.5x the copy.

use std::path::PathBuf;

use criterion::{Criterion, Throughput};
use salt::gguf::{write_gguf, GgufFile, GgufHeader, TensorSource};
use salt::output::AtomicOutput;

fn model() -> Option<PathBuf> {
    let cache = std::env::var_os("SALT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/salt"),
        PathBuf::from,
    );
    let p = cache.join("models/gemma-3-270m-q4_k_m.gguf");
    p.exists().then_some(p)
}

pub fn rewrite_vs_copy(c: &mut Criterion) {
    let Some(src) = model() else {
        eprintln!("skipping gguf_io bench: run scripts/setup.sh to fetch the models");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let dst = dir.path().join("out.gguf");
    let len = std::fs::metadata(&src).expect("stat").len();
    let mut g = c.benchmark_group("gguf_rewrite");
    g.throughput(Throughput::Bytes(len));
    g.bench_function("std_fs_copy", |b| {
        b.iter(|| {
            std::fs::copy(&src, &dst).expect("copy");
            std::fs::remove_file(&dst).expect("rm");
        });
    });
    for sync in [false, true] {
        g.bench_function(
            if sync {
                "salt_rewrite_fsync"
            } else {
                "salt_rewrite"
            },
            |b| {
                b.iter(|| {
                    let f = GgufFile::open(&src).expect("parse");
                    let header = GgufHeader::from_file(&f);
                    let sources: Vec<_> = (0..f.tensors.len())
                        .map(|i| TensorSource::Copy(&f, i))
                        .collect();
                    let mut out = AtomicOutput::create(&dst, false, &[&src])
                        .expect("create")
                        .sync_on_commit(sync);
                    {
                        let mut w = out.writer();
                        write_gguf(&mut w, &dst, &header, &sources).expect("write");
                    }
                    out.commit().expect("commit");
                    std::fs::remove_file(&dst).expect("rm");
                });
            },
        );
    }
    g.finish();
    crate::report_ratio("gguf_rewrite", "std_fs_copy", "salt_rewrite", "<= 1.5x");
    crate::report_ratio(
        "gguf_rewrite",
        "std_fs_copy",
        "salt_rewrite_fsync",
        "none (fsync adds the disk write)",
    );
}
