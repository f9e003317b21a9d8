//! Steps 1, 4 and 5 of `salt adapt`: the text split, the scoring configuration, the
//! choice of the winner and the verdict printed about it.

use std::path::{Path, PathBuf};

use crate::error::TuneError;
use crate::eval::{EvalConfig, EvalRow, ScoreOptions, SpeedOptions};

use super::{AdaptConfig, Candidate, MIN_VAL_BYTES};

/// Splits `text` into training and validation parts by lines (the last `val_share`).
///
/// # Errors
/// [`TuneError::Text`] when the text is too short to split.
pub fn split_text(text: &str, val_share: f64, path: &Path) -> Result<(String, String), TuneError> {
    let lines: Vec<&str> = text.lines().collect();
    let n_val = ((lines.len() as f64) * val_share).ceil() as usize;
    let mut cut = lines.len().saturating_sub(n_val.max(1));
    // Grow the validation part until it holds enough bytes.
    while cut > 0 && lines[cut..].iter().map(|l| l.len() + 1).sum::<usize>() < MIN_VAL_BYTES {
        cut -= 1;
    }
    let train_bytes: usize = lines[..cut].iter().map(|l| l.len() + 1).sum();
    if cut == 0 || train_bytes < 4 * MIN_VAL_BYTES {
        return Err(TuneError::Text {
            path: path.to_path_buf(),
            reason: format!(
                "{} lines, {} bytes: too short to split into training and validation parts (validation needs {MIN_VAL_BYTES} bytes and training four times that); give a longer text",
                lines.len(),
                text.len()
            ),
        });
    }
    let join = |ls: &[&str]| {
        let mut s = ls.join("\n");
        s.push('\n');
        s
    };
    Ok((join(&lines[..cut]), join(&lines[cut..])))
}

/// Scoring and timing settings of `salt adapt`'s evaluations.
pub(super) fn eval_config(
    cfg: &AdaptConfig,
    models: Vec<PathBuf>,
    text: &Path,
    report: Option<PathBuf>,
) -> EvalConfig {
    EvalConfig {
        models,
        text: text.to_path_buf(),
        score: ScoreOptions {
            max_tokens: Some(cfg.budget.eval_tokens),
            threads: cfg.threads,
            ..ScoreOptions::default()
        },
        report,
        force: cfg.force,
        speed: Some(SpeedOptions {
            threads: cfg.threads,
            ..SpeedOptions::default()
        }),
        ..EvalConfig::default()
    }
}

/// Chooses the winner among `rows[1..]` (row 0 is the source): the index of `rows`.
/// The lowest bits per byte wins; a candidate within two combined standard errors of it,
/// or within `tolerance` (a fraction) of it, counts as level, and among the level ones the
/// cheapest wins: `cost[i]` is row i's multiply-adds per byte of text (the plan's
/// `cost_per_byte`). The cost, not the measured speed, breaks ties, so the same inputs
/// give the same winner on any machine under any load; the measured speed is reported
/// beside it.
#[must_use]
pub fn choose(rows: &[EvalRow], cost: &[f64], tolerance: f64) -> Option<usize> {
    let scored: Vec<(usize, f64, f64, f64)> = rows
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, r)| {
            let s = r.score.as_ref()?;
            // Lower cost is faster: negated so that the largest wins below.
            let speed = -cost.get(i).copied().unwrap_or(f64::INFINITY);
            Some((i, s.bits_per_byte, s.bpb_se, speed))
        })
        .collect();
    let &(_, best, best_se, _) = scored.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    scored
        .iter()
        .filter(|(_, b, se, _)| {
            let band = 2.0 * (se * se + best_se * best_se).sqrt();
            *b <= best + band || *b <= best * (1.0 + tolerance)
        })
        .max_by(|a, b| a.3.total_cmp(&b.3).then(b.1.total_cmp(&a.1)))
        .map(|c| c.0)
}

/// One line: what to ship and why, against the source.
pub(super) fn verdict(rows: &[EvalRow], w: usize, candidates: &[Candidate]) -> String {
    let (src, win) = (&rows[0], &rows[w]);
    let (Some(s), Some(v)) = (&src.score, &win.score) else {
        return format!("ship {}", candidates[w - 1].label);
    };
    let rel = 100.0 * (v.bits_per_byte / s.bits_per_byte - 1.0);
    let speed = match (&src.speed, &win.speed) {
        (Some(a), Some(b)) => format!(
            ", {:.2}x the source's generation speed in bytes/s",
            b.gen_bytes_per_s / a.gen_bytes_per_s.max(f64::MIN_POSITIVE)
        ),
        _ => String::new(),
    };
    let se = (s.bpb_se * s.bpb_se + v.bpb_se * v.bpb_se).sqrt();
    let standing = if (v.bits_per_byte - s.bits_per_byte).abs() <= 2.0 * se {
        "level with the source"
    } else if v.bits_per_byte < s.bits_per_byte {
        "better than the source"
    } else {
        "worse than the source"
    };
    format!(
        "ship {}: {:.4}±{:.3} bits/byte on the validation part against the source's {:.4}±{:.3} ({rel:+.1}%, {standing}){speed}, {:.1} MiB against {:.1}",
        candidates[w - 1].label,
        v.bits_per_byte,
        v.bpb_se,
        s.bits_per_byte,
        s.bpb_se,
        win.file_bytes as f64 / 1_048_576.0,
        src.file_bytes as f64 / 1_048_576.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, bpb: f64, se: f64) -> EvalRow {
        let mut r = crate::eval::test_row(label, 1, &[bpb, bpb]);
        if let Some(s) = r.score.as_mut() {
            s.bpb_se = se;
        }
        r
    }

    /// Quality first; level candidates (two combined standard errors, or the tolerance)
    /// go to the cheapest per byte; the source (row 0) is never chosen.
    #[test]
    fn choose_takes_the_best_then_the_cheapest_among_the_level() {
        let cost = [1.0, 0.8, 0.9, 0.3];
        let rows = [
            row("source", 1.0, 0.01),
            row("trim", 1.00, 0.01),
            row("trim+X", 0.99, 0.01),
            row("replace", 1.20, 0.01),
        ];
        // trim and trim+X are level (0.01 < 2 x 0.014): the cheaper trim wins.
        assert_eq!(choose(&rows, &cost, 0.0), Some(1));
        // A clearly better candidate wins whatever its cost.
        let rows2 = [
            row("source", 1.0, 0.01),
            row("trim", 1.00, 0.001),
            row("trim+X", 0.90, 0.001),
            row("replace", 1.20, 0.001),
        ];
        assert_eq!(choose(&rows2, &cost, 0.0), Some(2));
        // A tolerance of 25% makes trim (1.00 against 0.90) level, and it is cheaper; 40%
        // makes the replacement (1.20) level too, the cheapest.
        assert_eq!(choose(&rows2, &cost, 0.25), Some(1));
        assert_eq!(choose(&rows2, &cost, 0.4), Some(3));
        assert_eq!(choose(&rows[..1], &cost, 0.0), None);
    }
}
