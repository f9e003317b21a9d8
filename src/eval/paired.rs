//! Paired comparisons: models that tokenize the text the same way (every init of one
//! transfer) are scored on the same windows, so the difference of two models' bits per
//! byte has the spread of the per-window differences, usually far smaller than either
//! model's own spread. A ranking is stated only from these.

use serde::Serialize;

use super::{EvalRow, ModelScore};

/// One model against the reference row, or else the first earlier model scored on the same
/// tokens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Paired {
    /// The row compared.
    pub label: String,
    /// The row it is compared with.
    pub against: String,
    /// Its bits per byte minus the other's (negative: better).
    pub diff: f64,
    /// The standard error of `diff`: the std of per-window differences / sqrt(windows).
    pub se: f64,
    /// Windows paired.
    pub windows: usize,
}

/// The paired differences of the scored rows, in table order.
///
/// With `reference` (a row label; the first row of that label), every other row scored on
/// the reference's windows is compared with it: the user names the model a change is
/// measured from (`salt eval --pair-with`). Every other row is compared with the first
/// earlier row of its tokenization, as without a reference.
#[must_use]
pub fn paired(rows: &[EvalRow], reference: Option<&str>) -> Vec<Paired> {
    let rows: Vec<(&str, &ModelScore)> = rows
        .iter()
        .filter_map(|r| r.score.as_ref().map(|s| (r.label.as_str(), s)))
        .collect();
    let reference = reference.and_then(|l| rows.iter().position(|(label, _)| *label == l));
    let mut out = Vec::new();
    for (i, (label, s)) in rows.iter().enumerate() {
        // The reference is the other side of its pairs, never a row of its own.
        if reference == Some(i) {
            continue;
        }
        let against = match reference {
            Some(r) if same_windows(rows[r].1, s) => Some(&rows[r]),
            _ => rows[..i].iter().find(|(_, a)| same_windows(a, s)),
        };
        let Some((against, a)) = against else {
            continue;
        };
        let d: Vec<f64> = s
            .window_bpb
            .iter()
            .zip(&a.window_bpb)
            .map(|(x, y)| x - y)
            .collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        out.push(Paired {
            label: (*label).to_owned(),
            against: (*against).to_owned(),
            diff: s.bits_per_byte - a.bits_per_byte,
            se: (var / n).sqrt(),
            windows: d.len(),
        });
    }
    out
}

/// Whether two scores cover the same windows of the same tokens.
fn same_windows(a: &ModelScore, b: &ModelScore) -> bool {
    a.token_digest == b.token_digest
        && a.windows == b.windows
        && a.ctx == b.ctx
        && a.window_bpb.len() == b.window_bpb.len()
        && a.window_bpb.len() > 1
}

/// A scored row for unit tests: `windows` are its per-window bits per byte.
#[cfg(test)]
pub(crate) fn test_row(label: &str, digest: u64, windows: &[f64]) -> EvalRow {
    let mean = windows.iter().sum::<f64>() / windows.len() as f64;
    EvalRow {
        label: label.to_owned(),
        file_bytes: 0,
        parity: None,
        continuations: Vec::new(),
        speed: None,
        score: Some(ModelScore {
            model: label.to_owned(),
            n_vocab: 10,
            text_bytes: 100,
            text_tokens: 50,
            token_digest: digest,
            tokens_per_kb: 500.0,
            add_bos: true,
            ctx: 8,
            windows: windows.len(),
            scored_tokens: 40,
            scored_bytes: 100,
            bytes_from: "text",
            unknown_tokens: 0,
            unknown_share: 0.0,
            by_class: Vec::new(),
            nll_nats: 0.0,
            perplexity: 1.0,
            bits_per_byte: mean,
            bpb_window_std: 0.0,
            bpb_se: 0.0,
            window_bpb: windows.to_vec(),
            seconds: 0.0,
        }),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, digest: u64, windows: &[f64]) -> EvalRow {
        test_row(label, digest, windows)
    }

    #[test]
    fn pairs_only_models_on_the_same_windows() {
        let rows = [
            row("source", 1, &[1.0, 1.2, 0.9]),
            row("focus", 2, &[2.0, 2.4, 1.8]),
            row("salt", 2, &[2.1, 2.3, 2.1]),
            row("fvt", 2, &[1.9, 2.3, 1.7]),
        ];
        let p = paired(&rows, None);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            (p[0].label.as_str(), p[0].against.as_str()),
            ("salt", "focus")
        );
        // Differences 0.1, -0.1, 0.3: mean 0.1, sample std 0.2, se 0.2 / sqrt(3).
        assert!((p[0].diff - 0.1).abs() < 1e-12);
        assert!((p[0].se - 0.2 / 3f64.sqrt()).abs() < 1e-12, "{}", p[0].se);
        // A constant difference has no spread.
        assert!((p[1].diff + 0.1).abs() < 1e-12 && p[1].se < 1e-12);
    }

    #[test]
    fn a_named_reference_is_the_other_side_of_every_pair_on_its_windows() {
        let rows = [
            row("source", 1, &[1.0, 1.2, 0.9]),
            row("salt", 2, &[2.1, 2.3, 2.1]),
            row("focus", 2, &[2.0, 2.4, 1.8]),
            row("fvt", 2, &[1.9, 2.3, 1.7]),
        ];
        let p = paired(&rows, Some("fvt"));
        let pairs: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.label.as_str(), p.against.as_str()))
            .collect();
        // The reference itself is compared with nothing; the source has other windows.
        assert_eq!(pairs, [("salt", "fvt"), ("focus", "fvt")], "{p:?}");
        // salt - fvt: 0.2, 0.0, 0.4.
        assert!((p[0].diff - 0.2).abs() < 1e-12, "{}", p[0].diff);
        // A reference on other windows leaves the default pairs.
        assert_eq!(paired(&rows, Some("source")), paired(&rows, None));
    }
}
