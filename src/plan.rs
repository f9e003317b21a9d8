//! Before any transfer: which route suits a source, a language and a text.
//!
//! Input: a source GGUF, optionally a PLM, and the user's training text (never a held-out
//! text). Output: a [`Plan`]: for the source itself and each route (the source's own
//! vocabulary trimmed to the text, the same with every piece of the text's script, and a
//! PLM's vocabulary trimmed to the text), the vocabulary and file size, the tokens per kB
//! of the text, the share of its bytes that tokens shared with the source cover, the share
//! that falls to byte or unknown pieces, and the output layer's cost per token against the
//! body's; then a recommended route and initialiser with the reason, by the rule of
//! [`recommend`]. It reads tokenizers and tensor shapes only: seconds, no rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, VocabError};
use crate::gguf::keys;
use crate::init::Method;
use crate::progress::{Progress, Reporter, Stage};
use crate::source::SourceModel;
use crate::vocab::{self, Script, TargetClass, TargetTokenizer, TokKind, TrimKeep, SCRIPTS};

/// What to plan for.
#[derive(Clone, Debug)]
pub struct PlanConfig {
    /// The source GGUF.
    pub source: PathBuf,
    /// A PLM whose tokenizer could replace the source's (`None`: trim routes only).
    pub plm: Option<PathBuf>,
    /// The user's text of the target language.
    pub text: PathBuf,
    /// What the trim routes keep besides the pieces the text uses.
    pub keep: TrimKeep,
}

/// One route's figures on the text.
#[derive(Clone, Debug, Serialize)]
pub struct RouteFigures {
    /// `source`, `trim`, `trim+SCRIPT` or `replace`.
    pub route: String,
    /// Tokens of its vocabulary.
    pub n_vocab: usize,
    /// The output GGUF's size in bytes (estimated from the tensors' row sizes).
    pub file_bytes: u64,
    /// Tokens per 1,000 bytes of the text.
    pub tokens_per_kb: f64,
    /// Share of the text's bytes covered by tokens whose rows are the source's.
    pub shared_byte_share: f64,
    /// Share of the text's bytes that fall to byte pieces or unknown tokens.
    pub fallback_byte_share: f64,
    /// Output layer multiply-adds per token, over the body's.
    pub head_cost: f64,
    /// Multiply-adds per byte of text, over the source's.
    pub cost_per_byte: f64,
}

/// A plan: every route's figures and the recommendation.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The source as it is, then each route.
    pub routes: Vec<RouteFigures>,
    /// The recommended route's name (one of `routes`).
    pub recommended: String,
    /// The initialiser of the recommended route (`trim` for the trim routes).
    pub method: Method,
    /// Why, in one line.
    pub reason: String,
    /// The text's dominant script, when one holds most of its letters.
    pub script: Option<String>,
    /// Lines of the text.
    pub lines: usize,
}

/// Replacement is recommended when the PLM needs at most this share of the source's
/// tokens for the text (the source's tokenizer falls back to bytes: SmolLM2 on Korean
/// needs 3.4x the tokens, and its replacement with a head beats it; Gemma on Korean and
/// Qwen on German need about as many as the PLM, and trimming keeps their quality).
pub const REPLACE_TOKEN_RATIO: f64 = 0.5;

/// Below this share of the text's bytes under shared tokens, the new rows are most of the
/// model and subword composition (fvt) is the best measured initialiser (SmolLM2 <- USE,
/// 2.7% shared); above it, salt-centred (Gemma and Qwen, 70-89%).
pub const FVT_SHARED_SHARE: f64 = 0.5;

/// A route is not viable when more than this share of the text's bytes are unknown to its
/// tokenizer or (for the replacement) fall to bytes: the text is mostly outside its
/// vocabulary.
pub const MAX_OUTSIDE_SHARE: f64 = 0.5;

/// Plans the routes for `cfg`.
///
/// # Errors
/// [`Error`] naming the file that cannot be read or tokenized, and [`Error::Route`] when
/// the text is mostly outside every route's vocabulary.
pub fn plan(cfg: &PlanConfig, progress: &mut dyn Progress) -> Result<Plan, Error> {
    let mut rep = Reporter::new(progress);
    let text = crate::text::read_text(&cfg.text)?;
    let source = SourceModel::open(&cfg.source)?;
    let shape = Shape::of(&source);
    rep.message(
        Stage::Target,
        "tokenizing the text with the source's tokenizer",
    );
    let own = vocab::target_from_gguf(&source.file)?;
    let sample = sample_lines(&text, SAMPLE_BYTES);
    let all_source: Vec<TargetClass> = (0..own.vocab.len() as u32)
        .map(TargetClass::Shared)
        .collect();
    let src_stats = text_stats(&own, &all_source, &sample)?;
    let src_per_kb = src_stats.tokens_per_kb();
    let mut routes = vec![shape.figures("source", own.vocab.len(), &src_stats, src_per_kb)];
    let script = dominant_script(&text);
    let named = vocab::own_specials(&source.file, &source.vocab, None)?;
    let mut variants = vec![("trim".to_owned(), cfg.keep.clone())];
    if let Some(s) = script {
        let mut keep = cfg.keep.clone();
        keep.scripts.push(s);
        variants.push((format!("trim+{}", s.name), keep));
    }
    for (name, keep) in variants {
        rep.message(
            Stage::Target,
            &format!("trimming the source's vocabulary ({name})"),
        );
        let (t, _, _) = vocab::trim_own(&own, &text, 1, &keep, &named)?;
        // On the text it trims to, a trimmed vocabulary segments as the source does.
        routes.push(shape.figures(&name, t.vocab.len(), &src_stats, src_per_kb));
    }
    if let Some(plm) = &cfg.plm {
        rep.message(Stage::Target, "trimming the PLM's vocabulary to the text");
        let full = vocab::load_target(plm)?;
        let (t, _, _) = vocab::trim_to_text(&full, &text, 1, &cfg.keep)?;
        let al = vocab::align(&source.vocab, &t.vocab, &[]);
        let stats = text_stats(&t, &al.classes, &sample)?;
        routes.push(shape.figures("replace", t.vocab.len(), &stats, src_per_kb));
    }
    let (recommended, method, reason) = recommend(&routes)?;
    Ok(Plan {
        routes,
        recommended,
        method,
        reason,
        script: script.map(|s| s.name.to_owned()),
        lines: text.lines().count(),
    })
}

/// The rule, from the measurements in the docs (results): replace when the PLM needs at
/// most [`REPLACE_TOKEN_RATIO`] of the source's tokens and is viable, initialised by fvt
/// below [`FVT_SHARED_SHARE`] of shared bytes and salt-centred above; else trim (the
/// corpus variant: the smallest that segments the text as the source does).
///
/// # Errors
/// [`Error::Route`] when no route is viable.
pub fn recommend(routes: &[RouteFigures]) -> Result<(String, Method, String), Error> {
    let source = &routes[0];
    let trim = routes.iter().find(|r| r.route == "trim");
    let replace = routes.iter().find(|r| r.route == "replace");
    if let Some(r) = replace {
        let ratio = r.tokens_per_kb / source.tokens_per_kb.max(f64::MIN_POSITIVE);
        let viable = r.fallback_byte_share <= MAX_OUTSIDE_SHARE;
        if viable && ratio <= REPLACE_TOKEN_RATIO {
            let (m, why) = if r.shared_byte_share < FVT_SHARED_SHARE {
                (Method::Fvt, "few shared tokens, so subword composition")
            } else {
                (
                    Method::SaltCentred,
                    "most bytes under shared tokens, so salt-centred",
                )
            };
            return Ok((
                "replace".to_owned(),
                m,
                format!(
                    "the PLM needs {:.0}% of the source's tokens for this text ({:.0}% of its bytes fall to byte pieces under the source); {why}",
                    100.0 * ratio,
                    100.0 * source.fallback_byte_share
                ),
            ));
        }
    }
    match trim {
        Some(t) if source.fallback_byte_share <= MAX_OUTSIDE_SHARE || replace.is_none() => Ok((
            "trim".to_owned(),
            Method::Trim,
            format!(
                "the source's tokenizer already serves this text ({:.0} tokens/kB{}); trimming keeps every row and cuts the vocabulary to {} tokens",
                source.tokens_per_kb,
                replace.map_or_else(String::new, |r| format!(
                    " against the PLM's {:.0}",
                    r.tokens_per_kb
                )),
                t.n_vocab
            ),
        )),
        Some(t) => Ok((
            "trim".to_owned(),
            Method::Trim,
            format!(
                "the PLM does not serve this text ({:.0}% of its bytes are unknown to it); trimming the source keeps its quality at {} tokens",
                100.0 * replace.map_or(0.0, |r| r.fallback_byte_share),
                t.n_vocab
            ),
        )),
        None => Err(Error::Route {
            reason: "no route can be planned".into(),
            fix: "give a text of the target language",
        }),
    }
}

/// The tensors' shapes that decide size and cost.
struct Shape {
    /// The source file's bytes (all parts).
    file_bytes: u64,
    /// Bytes of one `token_embd` row, and of one `output` row when stored.
    embd_row: u64,
    output_row: Option<u64>,
    /// Width of the rows.
    width: u64,
    /// Multiply-adds per token of every weight but the embedding and output tensors.
    body: u64,
    /// Source vocabulary.
    n_vocab: u64,
}

impl Shape {
    fn of(source: &SourceModel) -> Self {
        let f = &source.file;
        let file_bytes = f
            .part_paths()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let skip = [keys::TOKEN_EMBD.as_bytes(), keys::OUTPUT.as_bytes()];
        // Matrices only: norms and biases are a rounding error of the cost.
        let body = (0..f.n_parts())
            .flat_map(|i| &f.part(i).tensors)
            .filter(|t| t.dims.len() >= 2 && !skip.contains(&t.name.as_slice()))
            .map(crate::gguf::TensorInfo::n_elements)
            .sum();
        Self {
            file_bytes,
            embd_row: source.embd.row_bytes(),
            output_row: source
                .output
                .as_ref()
                .map(crate::gguf::TensorInfo::row_bytes),
            width: source.embd.row_width(),
            body,
            n_vocab: source.vocab.len() as u64,
        }
    }

    /// A route's figures from its vocabulary size and its text statistics.
    /// `src_per_kb` is the source's tokens per kB of the text.
    fn figures(
        &self,
        route: &str,
        n_vocab: usize,
        stats: &TextStats,
        src_per_kb: f64,
    ) -> RouteFigures {
        let rows_removed = i128::from(self.n_vocab as i64) - n_vocab as i128;
        let per_row =
            i128::from(self.embd_row as i64) + i128::from(self.output_row.unwrap_or(0) as i64);
        let file_bytes =
            (i128::from(self.file_bytes as i64) - rows_removed * per_row).max(0) as u64;
        let head = n_vocab as f64 * self.width as f64;
        let per_token = self.body as f64 + head;
        let src_per_token = self.body as f64 + self.n_vocab as f64 * self.width as f64;
        let per_kb = stats.tokens_per_kb();
        RouteFigures {
            route: route.to_owned(),
            n_vocab,
            file_bytes,
            tokens_per_kb: per_kb,
            shared_byte_share: stats.share(stats.shared_bytes),
            fallback_byte_share: stats.share(stats.fallback_bytes),
            head_cost: head / (self.body as f64).max(1.0),
            cost_per_byte: per_token * per_kb / (src_per_token * src_per_kb.max(f64::MIN_POSITIVE)),
        }
    }
}

/// Counts of a tokenizer on the text.
#[derive(Clone, Debug, Default)]
struct TextStats {
    tokens: usize,
    bytes: usize,
    shared_bytes: usize,
    fallback_bytes: usize,
}

impl TextStats {
    fn tokens_per_kb(&self) -> f64 {
        1000.0 * self.tokens as f64 / (self.bytes as f64).max(1.0)
    }

    fn share(&self, part: usize) -> f64 {
        part as f64 / (self.bytes as f64).max(1.0)
    }
}

/// At most this many bytes of evenly spaced lines are tokenized for the figures.
const SAMPLE_BYTES: usize = 1 << 20;

/// Evenly spaced lines of `text` holding about `max_bytes`.
fn sample_lines(text: &str, max_bytes: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let step = text.len().div_ceil(max_bytes.max(1)).max(1);
    lines.into_iter().step_by(step).collect()
}

/// Tokens, bytes, bytes under shared tokens (`classes` other than new) and bytes under
/// byte or unknown pieces of `tk` on `lines`.
fn text_stats(
    tk: &TargetTokenizer,
    classes: &[TargetClass],
    lines: &[&str],
) -> Result<TextStats, Error> {
    let gpt2 = vocab::gpt2_byte_decoder();
    let fallback: Vec<bool> = tk
        .vocab
        .tokens
        .iter()
        .map(|t| match t.kind {
            TokKind::Byte | TokKind::Unknown => true,
            // A byte-level piece that is not whole characters (Korean under SmolLM2).
            _ if tk.vocab.kind == vocab::TokenizerKind::ByteLevelBpe => {
                let bytes: Option<Vec<u8>> = String::from_utf8_lossy(&t.text)
                    .chars()
                    .map(|c| gpt2.get(&c).copied())
                    .collect();
                bytes.is_some_and(|b| std::str::from_utf8(&b).is_err())
            }
            _ => false,
        })
        .collect();
    let per_line = lines
        .par_iter()
        .map(|l| {
            let enc = tk
                .reference
                .encode(*l, false)
                .map_err(|e| VocabError::Tokenize(e.to_string()))?;
            let mut s = TextStats {
                bytes: l.len(),
                tokens: enc.get_ids().len(),
                ..TextStats::default()
            };
            // Byte-level pieces of one character all span that character: each byte
            // counts once, for the first token that covers it.
            let mut covered = 0usize;
            for (&id, &(a, b)) in enc.get_ids().iter().zip(enc.get_offsets()) {
                let n = b.saturating_sub(a.max(covered));
                covered = covered.max(b);
                let id = id as usize;
                if classes.get(id).is_some_and(|c| *c != TargetClass::New) {
                    s.shared_bytes += n;
                }
                if fallback.get(id).copied().unwrap_or(false) {
                    s.fallback_bytes += n;
                }
            }
            Ok::<_, VocabError>(s)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total = per_line.into_iter().fold(TextStats::default(), |mut a, s| {
        a.tokens += s.tokens;
        a.bytes += s.bytes;
        a.shared_bytes += s.shared_bytes;
        a.fallback_bytes += s.fallback_bytes;
        a
    });
    Ok(total)
}

/// The script of most of the text's letters (more than half of the letters outside the
/// basic set), if any.
#[must_use]
pub fn dominant_script(text: &str) -> Option<Script> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut letters = 0usize;
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if let Some(s) = SCRIPTS.iter().find(|s| s.contains(c)) {
            *counts.entry(s.name).or_default() += 1;
        }
    }
    let (name, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (2 * n > letters).then(|| Script::from_name(name)).flatten()
}

/// The plan as text: one row per route, then the recommendation.
#[must_use]
pub fn table(p: &Plan) -> String {
    use std::fmt::Write as _;
    let mut t = format!(
        "{:<14} {:>8} {:>9} {:>9} {:>9} {:>10} {:>10} {:>11}\n",
        "route", "vocab", "MiB", "tok/kB", "shared%", "fallback%", "head/body", "cost/byte"
    );
    for r in &p.routes {
        let _ = writeln!(
            t,
            "{:<14} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>10.3} {:>11.3}",
            r.route,
            r.n_vocab,
            r.file_bytes as f64 / 1_048_576.0,
            r.tokens_per_kb,
            100.0 * r.shared_byte_share,
            100.0 * r.fallback_byte_share,
            r.head_cost,
            r.cost_per_byte
        );
    }
    let _ = writeln!(
        t,
        "recommended: {} (method {}): {}",
        p.recommended,
        p.method.name(),
        p.reason
    );
    t
}

/// Whether a path is given and is the same file as `source` (so a `--plm` naming the source
/// means the trim route).
#[must_use]
pub fn is_source(plm: &Path, source: &Path) -> bool {
    match (plm.canonicalize(), source.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => plm == source,
    }
}
