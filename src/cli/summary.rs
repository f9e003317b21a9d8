//! The text `salt transfer` prints: what trimming kept, and a summary of each output.

use salt::pipeline::{Method, TransferReport};
use salt::vocab::{SegmentationChange, TrimReport};

/// The lines of a run's reports: the trim (shared by every method of the run, said
/// once), then each output's summary.
pub fn text(reports: &[TransferReport]) -> String {
    let mut lines = Vec::new();
    if let Some(t) = reports.first().and_then(|r| r.trim.as_ref()) {
        lines.push(trim_line(t, reports[0].segmentation.as_ref()));
    }
    for r in reports {
        lines.extend(summary(r));
    }
    lines.join("\n")
}

/// One line on what trimming kept and, with a held-out text, what it changed there.
pub fn trim_line(r: &TrimReport, seg: Option<&SegmentationChange>) -> String {
    let mut line = format!(
        "trimmed: kept {} of {} target pieces ({} used on {} lines)",
        r.kept, r.original, r.used, r.lines
    );
    if let Some(s) = seg {
        line += &format!(
            "; held-out: {} of {} lines segment differently, {} new unknown tokens",
            s.changed, s.lines, s.new_unknowns
        );
    }
    line
}

/// The text summary of one output.
fn summary(r: &TransferReport) -> Vec<String> {
    let mut lines = vec![
        format!(
            "wrote {} ({:.1} MiB{}) and {}",
            r.out,
            r.bytes as f64 / 1_048_576.0,
            match r.files {
                1 => String::new(),
                n => format!(" in {n} files: llama.cpp loads the others from it"),
            },
            r.tokenizer
        ),
        format!(
            "method {}: {} tokens = {} shared + {} special + {} chat + {} {} + {} random",
            r.method.name(),
            r.n_vocab,
            r.shared,
            r.special,
            r.chat,
            r.regressed,
            if r.method == Method::Salt {
                "regressed"
            } else {
                "initialised"
            },
            r.random
        ),
    ];
    let ks: Vec<usize> = r
        .k_histogram
        .iter()
        .flat_map(|(k, c)| std::iter::repeat_n(*k, *c))
        .collect();
    if let (Some(first), Some(last)) = (ks.first(), ks.last()) {
        lines.push(format!(
            "neighbours: {} anchors; k min {first} median {} max {last}",
            r.anchors,
            ks[ks.len() / 2]
        ));
    }
    if r.method == Method::Salt && r.regressed > 0 {
        let s = r.solves;
        lines.push(format!(
            "regression: {} refined from a float32 G, exact path: {} by Cholesky, {} by eigendecomposition",
            s.refined, s.cholesky, s.eigen
        ));
    }
    // The shared stages, and this method's own (not the other methods' of one run).
    let own = format!("initialise {}", r.method.name());
    let t: Vec<String> = r
        .seconds
        .iter()
        .filter(|(k, _)| !k.starts_with("initialise ") || **k == own)
        .map(|(k, v)| format!("{k} {v:.2}s"))
        .collect();
    lines.push(format!("time: {}", t.join(", ")));
    lines
}
