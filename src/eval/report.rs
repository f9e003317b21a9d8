//! Stage 9 (report): one self-contained HTML file with the comparison table and inline SVG
//! charts (bits per byte with its spread over windows, fertility, and from a transfer's
//! `--plan` the neighbour-count histogram and the token classes), the loss by class, the
//! greedy continuations, and the command and inputs (with sha256) it came from. No scripts,
//! no fonts, no network: it opens the same anywhere.
//!
//! The charts are a few dozen lines of SVG rather than a plotting crate: four bar charts do
//! not justify `plotters`' dependency tree, and plain SVG is easy to check in a test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{ModelScore, ParityReport};
use crate::error::EvalError;

/// One model's row of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// `source`, or the method recorded in the GGUF (`salt.method`).
    pub label: String,
    /// The GGUF's size in bytes.
    pub file_bytes: u64,
    /// Tokenizer parity against the reference, when one was found.
    pub parity: Option<ParityReport>,
    /// Fertility, perplexity, bits per byte (absent with `--parity` only).
    pub score: Option<ModelScore>,
    /// Greedy continuations of a few prompts from the text.
    pub continuations: Vec<super::Continuation>,
    /// Prompt-processing and generation speed, when measured.
    pub speed: Option<super::Speed>,
}

/// What a transfer's `--plan` file says about the new vocabulary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanSummary {
    /// Tokens per class (`shared`, `special`, `regressed`, `random`).
    pub classes: BTreeMap<String, usize>,
    /// Sparsemax support size k -> tokens.
    pub k_histogram: BTreeMap<usize, usize>,
}

/// Reads a `--plan` JSON-lines file.
///
/// # Errors
/// [`EvalError::Text`] naming the file and line when it is not a plan.
pub fn read_plan(path: &Path) -> Result<PlanSummary, EvalError> {
    let bad = |reason: String| EvalError::Text {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut s = PlanSummary::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            bad(format!(
                "line {}: {e}; expected a transfer --plan file",
                i + 1
            ))
        })?;
        let class = v["class"].as_str().ok_or_else(|| {
            bad(format!(
                "line {}: no \"class\"; expected a transfer --plan file",
                i + 1
            ))
        })?;
        *s.classes.entry(class.to_owned()).or_default() += 1;
        if let Some(n) = v["neighbours"].as_array() {
            *s.k_histogram.entry(n.len()).or_default() += 1;
        }
    }
    if s.classes.is_empty() {
        return Err(bad("no tokens; expected a transfer --plan file".into()));
    }
    Ok(s)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a report says about how it was made: the command and every input file's sha256,
/// so that a reader can tell which files gave these numbers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportAbout {
    /// The command line that made it (the CLI passes its own; a library caller may).
    pub command: Option<String>,
    /// (role, file name, sha256 hex) of each input.
    pub inputs: Vec<(String, String, String)>,
}

/// How a chart writes the value above each bar.
#[derive(Clone, Copy, Debug)]
enum Values {
    /// Measurements: three decimals (none from 100 up).
    Measured,
    /// Counts: integers.
    Counts,
}

impl Values {
    fn show(self, v: f64) -> String {
        match self {
            Self::Counts => format!("{v:.0}"),
            Self::Measured if v >= 100.0 => format!("{v:.0}"),
            Self::Measured => format!("{v:.3}"),
        }
    }
}

/// A vertical bar chart; each bar carries its value in `data-value` (tests check that
/// heights are proportional). `err` draws a ± whisker.
fn bar_chart(
    title: &str,
    unit: &str,
    values: Values,
    bars: &[(String, f64, Option<f64>)],
) -> String {
    const W: f64 = 560.0;
    const H: f64 = 220.0;
    const TOP: f64 = 30.0;
    const BASE: f64 = 190.0;
    let max = bars
        .iter()
        .map(|(_, v, e)| v + e.unwrap_or(0.0))
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let scale = (BASE - TOP) / max;
    let slot = (W - 60.0) / bars.len().max(1) as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}">
<text x="10" y="18" font-size="14" font-family="sans-serif">{t} ({u})</text>
<line x1="50" y1="{BASE}" x2="{x2}" y2="{BASE}" stroke="#444"/>
"##,
        t = esc(title),
        u = esc(unit),
        x2 = W - 10.0
    );
    for (i, (label, v, err)) in bars.iter().enumerate() {
        let h = v * scale;
        let x = 50.0 + i as f64 * slot + slot * 0.15;
        let w = slot * 0.7;
        let _ = writeln!(
            svg,
            r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.3}" data-value="{v}" fill="#4a78b5"/>
<text x="{cx:.1}" y="{ly:.1}" font-size="11" text-anchor="middle" font-family="sans-serif">{val}</text>
<text x="{cx:.1}" y="{by:.1}" font-size="11" text-anchor="middle" font-family="sans-serif">{l}</text>"##,
            y = BASE - h,
            cx = x + w / 2.0,
            ly = BASE - h - err.map_or(0.0, |e| e * scale) - 4.0,
            val = values.show(*v),
            by = BASE + 14.0,
            l = esc(label),
        );
        if let Some(e) = err {
            let _ = writeln!(
                svg,
                r##"<line x1="{cx:.1}" y1="{y0:.1}" x2="{cx:.1}" y2="{y1:.1}" stroke="#222"/>"##,
                cx = x + w / 2.0,
                y0 = BASE - (v - e).max(0.0) * scale,
                y1 = BASE - (v + e) * scale,
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The loss split by the class of the predicted token, one row per model and class.
fn class_table(rows: &[EvalRow]) -> String {
    let mut h = String::from("<h2>Where the loss is: by class of the predicted token</h2>\n<table>\n<tr><th>model</th><th>class</th><th>share of bytes</th><th>tokens</th><th>bits / byte</th><th>mean NLL (nats)</th></tr>\n");
    for r in rows {
        for c in r.score.iter().flat_map(|s| &s.by_class) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{:.4}</td><td>{:.3}</td></tr>",
                esc(&r.label), esc(&c.class), 100.0 * c.byte_share, c.tokens, c.bits_per_byte, c.mean_nll
            );
        }
    }
    h.push_str("</table>\n");
    h
}

/// Each prompt with every model's greedy continuation.
fn continuation_table(rows: &[EvalRow]) -> String {
    let Some(first) = rows.iter().find(|r| !r.continuations.is_empty()) else {
        return String::new();
    };
    let mut h = String::from("<h2>Greedy continuations</h2>\n");
    for (i, c) in first.continuations.iter().enumerate() {
        let _ = writeln!(
            h,
            "<h3>{}…</h3>\n<table>\n<tr><th>model</th><th>continuation</th></tr>",
            esc(&c.prompt)
        );
        for r in rows {
            if let Some(c) = r.continuations.get(i) {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                    esc(&r.label),
                    esc(&c.text)
                );
            }
        }
        h.push_str("</table>\n");
    }
    h
}

/// The command and the inputs with their sha256.
fn about_table(about: &ReportAbout) -> String {
    let mut h = String::new();
    if let Some(c) = &about.command {
        let _ = writeln!(h, "<p>Command: <code>{}</code></p>", esc(c));
    }
    if !about.inputs.is_empty() {
        h.push_str("<table>\n<tr><th>input</th><th>file</th><th>sha256</th></tr>\n");
        for (role, name, sha) in &about.inputs {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(role),
                esc(name),
                esc(sha)
            );
        }
        h.push_str("</table>\n");
    }
    h
}

/// The report: title, the command and inputs, the table, bits per byte and fertility
/// charts, the loss by class, the continuations and the plan's charts.
#[must_use]
pub fn render_report(
    title: &str,
    rows: &[EvalRow],
    plan: Option<&PlanSummary>,
    about: &ReportAbout,
) -> String {
    let mut h = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>
</head><body>
<h1>{t}</h1>
{a}<table>
<tr><th>model</th><th>vocab</th><th>MiB</th><th>tokens / 1,000 bytes</th><th>bits / byte</th><th>± (windows)</th><th>perplexity</th><th>parity</th><th>scored tokens</th></tr>
"#,
        t = esc(title),
        a = about_table(about)
    );
    for r in rows {
        let parity = r.parity.as_ref().map_or_else(
            || "-".to_owned(),
            |p| format!("{}/{}", p.identical, p.lines),
        );
        let mib = r.file_bytes as f64 / 1_048_576.0;
        match &r.score {
            Some(s) => {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{mib:.1}</td><td>{:.1}</td><td>{:.4}</td><td>{:.3}</td><td>{:.2}</td><td>{parity}</td><td>{}</td></tr>",
                    esc(&r.label), s.n_vocab, s.tokens_per_kb, s.bits_per_byte, s.bpb_window_std, s.perplexity, s.scored_tokens
                );
            }
            None => {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>-</td><td>{mib:.1}</td><td>-</td><td>-</td><td>-</td><td>-</td><td>{parity}</td><td>-</td></tr>",
                    esc(&r.label)
                );
            }
        }
    }
    h.push_str("</table>\n");
    h.push_str(&speed_table(rows));
    let scored: Vec<(&EvalRow, &ModelScore)> = rows
        .iter()
        .filter_map(|r| r.score.as_ref().map(|s| (r, s)))
        .collect();
    if !scored.is_empty() {
        let bpb: Vec<_> = scored
            .iter()
            .map(|(r, s)| (r.label.clone(), s.bits_per_byte, Some(s.bpb_window_std)))
            .collect();
        let fert: Vec<_> = scored
            .iter()
            .map(|(r, s)| (r.label.clone(), s.tokens_per_kb, None))
            .collect();
        h.push_str("<h2>Bits per byte (lower is better; whiskers: ±1 standard deviation over windows)</h2>\n");
        h.push_str(&bar_chart(
            "bits per byte",
            "bits/byte",
            Values::Measured,
            &bpb,
        ));
        h.push_str("<h2>Fertility (tokens per 1,000 bytes of text)</h2>\n");
        h.push_str(&bar_chart(
            "fertility",
            "tokens/kB",
            Values::Measured,
            &fert,
        ));
    }
    h.push_str(&class_table(rows));
    h.push_str(&continuation_table(rows));
    if let Some(p) = plan {
        let total: usize = p.classes.values().sum();
        let classes: Vec<_> = p
            .classes
            .iter()
            .map(|(c, n)| {
                let pct = 100.0 * *n as f64 / total.max(1) as f64;
                (format!("{c} ({pct:.1}%)"), *n as f64, None)
            })
            .collect();
        h.push_str("<h2>Target tokens by class (the new vocabulary)</h2>\n");
        h.push_str(&bar_chart(
            "token classes",
            "tokens",
            Values::Counts,
            &classes,
        ));
        if !p.k_histogram.is_empty() {
            // Ten equal-width bins of k keep the chart readable for any spread.
            let (lo, hi) = (
                *p.k_histogram.keys().next().unwrap_or(&0),
                *p.k_histogram.keys().next_back().unwrap_or(&0),
            );
            let width = ((hi - lo) / 10 + 1).max(1);
            let mut bins: BTreeMap<usize, usize> = BTreeMap::new();
            for (k, n) in &p.k_histogram {
                *bins.entry((k - lo) / width).or_default() += n;
            }
            let bars: Vec<_> = bins
                .iter()
                .map(|(b, n)| {
                    let a = lo + b * width;
                    (format!("{a}-{}", a + width - 1), *n as f64, None)
                })
                .collect();
            h.push_str(
                "<h2>Neighbour counts k (sparsemax support size per regressed token)</h2>\n",
            );
            h.push_str(&bar_chart(
                "neighbours per token",
                "tokens",
                Values::Counts,
                &bars,
            ));
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// The speed table (empty when no row was timed).
fn speed_table(rows: &[EvalRow]) -> String {
    let timed: Vec<(&EvalRow, &super::Speed)> = rows
        .iter()
        .filter_map(|r| r.speed.as_ref().map(|s| (r, s)))
        .collect();
    let Some((_, first)) = timed.first() else {
        return String::new();
    };
    let mut h = format!(
        "<h2>Speed ({} threads; prompt batches of {} tokens, {} generated tokens, {} times each)</h2>\n<table>\n<tr><th>model</th><th>prompt tokens/s</th><th>prompt bytes/s</th><th>generation tokens/s</th><th>generation bytes/s</th><th>bytes/token</th></tr>\n",
        first.threads, first.prompt_tokens, first.gen_tokens, first.reps
    );
    for (r, s) in timed {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.0}</td><td>{:.1}</td><td>{:.0}</td><td>{:.2}</td></tr>",
            esc(&r.label),
            s.prompt_tok_per_s,
            s.prompt_bytes_per_s,
            s.gen_tok_per_s,
            s.gen_bytes_per_s,
            s.bytes_per_token
        );
    }
    h.push_str("</table>\n");
    h
}
