//! Byte-level BPE pre-tokenizers: which `tokenizer.ggml.pre` value llama.cpp needs to
//! split text like a `tokenizers` pre-tokenizer, and the reverse.
//!
//! llama.cpp does not read a regex from the GGUF: it knows a fixed list of pre-tokenizer
//! names, each with its own split regexes (and a few flags, `ignore_merges` among them).
//! A byte-level BPE target can therefore only be written when its pre-tokenizer is one
//! llama.cpp already knows. The table below holds, for the names we support, the
//! pre-tokenizer as a Hugging Face `tokenizer.json` spells it (the model's own patterns,
//! which llama.cpp's versions were written to reproduce); matching is on those patterns
//! and the `ignore_merges` flag, exactly, and a mismatch is refused with the closest
//! names. Each entry is checked against llama.cpp itself on its `ggml-vocab-*` test files
//! (tests/bpe.rs).

use serde_json::Value as Json;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// GPT-2's split regex: what `ByteLevel` with `use_regex: true` applies.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Llama-3's split regex (also DBRX and Smaug, without `ignore_merges`).
const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's: Llama-3's with single digits.
const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen3.5's: Qwen2's with combining marks kept inside words.
const QWEN35: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Single digits (the `Digits` pre-tokenizer with `individual_digits`).
const DIGIT: &str = r"\p{N}";

/// A pre-tokenizer llama.cpp knows by name.
#[derive(Debug)]
pub struct KnownPre {
    /// The `tokenizer.ggml.pre` value written for it.
    pub name: &'static str,
    /// Other names llama.cpp gives the same splitting (accepted when reading a GGUF).
    pub aliases: &'static [&'static str],
    /// The split regexes, applied in order, each isolating its matches.
    pub patterns: &'static [&'static str],
    /// Whether a pre-tokenized word found whole in the vocabulary skips the merges.
    pub ignore_merges: bool,
}

/// The pre-tokenizers supported for byte-level BPE targets.
pub const KNOWN: &[KnownPre] = &[
    KnownPre {
        name: "gpt-2",
        aliases: &[
            "mpt",
            "olmo",
            "phi-2",
            "jais",
            "trillion",
            "granite-docling",
        ],
        patterns: &[GPT2],
        ignore_merges: false,
    },
    KnownPre {
        name: "starcoder",
        aliases: &[
            "refact",
            "smollm",
            "command-r",
            "codeshell",
            "exaone",
            "minerva-7b",
        ],
        patterns: &[DIGIT, GPT2],
        ignore_merges: false,
    },
    KnownPre {
        name: "llama-bpe",
        aliases: &["llama3", "llama-v3", "falcon3", "pixtral"],
        patterns: &[LLAMA3],
        ignore_merges: true,
    },
    KnownPre {
        name: "dbrx",
        aliases: &["smaug-bpe"],
        patterns: &[LLAMA3],
        ignore_merges: false,
    },
    KnownPre {
        name: "qwen2",
        aliases: &["stablelm2", "deepseek-r1-qwen"],
        patterns: &[QWEN2],
        ignore_merges: false,
    },
    KnownPre {
        name: "qwen35",
        aliases: &[],
        patterns: &[QWEN35],
        ignore_merges: false,
    },
];

/// The table entry llama.cpp uses for a `tokenizer.ggml.pre` value.
#[must_use]
pub fn by_gguf_name(name: &str) -> Option<&'static KnownPre> {
    KNOWN
        .iter()
        .find(|k| k.name == name || k.aliases.contains(&name))
}

/// True when the tokenizer maps bytes to GPT-2's alphabet (a `ByteLevel` pre-tokenizer or
/// decoder), i.e. it is a byte-level BPE rather than a SentencePiece-style one.
#[must_use]
pub fn is_byte_level(tk: &Tokenizer) -> bool {
    let has = |v: Option<Json>| v.is_some_and(|j| j.to_string().contains("\"ByteLevel\""));
    has(tk
        .get_pre_tokenizer()
        .and_then(|p| serde_json::to_value(p).ok()))
        || has(tk.get_decoder().and_then(|d| serde_json::to_value(d).ok()))
}

/// The split regexes of a byte-level pre-tokenizer, in order, as `tokenizer.json` spells
/// them (`Digits` as `\p{N}` or `\p{N}+`, `ByteLevel`'s own regex as GPT-2's).
///
/// # Errors
/// A sentence saying which part llama.cpp cannot reproduce.
pub fn split_patterns(tk: &Tokenizer) -> Result<Vec<String>, String> {
    let Some(pre) = tk.get_pre_tokenizer() else {
        return Err("it has no pre-tokenizer".into());
    };
    let json = serde_json::to_value(pre).map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    flatten(&json, &mut items);
    let mut out = Vec::new();
    let mut byte_level = false;
    for (i, item) in items.iter().enumerate() {
        let field = |k: &str| item.get(k).cloned().unwrap_or(Json::Null);
        match item.get("type").and_then(Json::as_str).unwrap_or("?") {
            "ByteLevel" => {
                if i + 1 != items.len() {
                    return Err("its ByteLevel step is not the last one".into());
                }
                if field("add_prefix_space") == Json::Bool(true) {
                    return Err("its ByteLevel step adds a prefix space, which llama.cpp's gpt2 tokenizer never does".into());
                }
                if field("use_regex") != Json::Bool(false) {
                    out.push(GPT2.to_owned());
                }
                byte_level = true;
            }
            "Split" => {
                let pattern = field("pattern");
                let Some(re) = pattern.get("Regex").and_then(Json::as_str) else {
                    return Err(format!(
                        "it splits on a literal string ({pattern}), not a regex"
                    ));
                };
                if field("behavior") != "Isolated" || field("invert") == Json::Bool(true) {
                    return Err(format!(
                        "its Split on {re:?} has behavior {} invert {} (llama.cpp isolates matches)",
                        field("behavior"),
                        field("invert")
                    ));
                }
                out.push(re.to_owned());
            }
            "Digits" => out.push(if field("individual_digits") == Json::Bool(true) {
                DIGIT.to_owned()
            } else {
                r"\p{N}+".to_owned()
            }),
            other => return Err(format!("it has a {other} pre-tokenizer step")),
        }
    }
    if !byte_level {
        return Err("it has no ByteLevel step".into());
    }
    Ok(out)
}

fn flatten(j: &Json, out: &mut Vec<Json>) {
    match j.get("pretokenizers").and_then(Json::as_array) {
        Some(list) => list.iter().for_each(|x| flatten(x, out)),
        None => out.push(j.clone()),
    }
}

/// The `ignore_merges` flag of a BPE model (false for other models).
#[must_use]
pub fn ignore_merges(tk: &Tokenizer) -> bool {
    matches!(tk.get_model(), tokenizers::ModelWrapper::BPE(b) if b.ignore_merges)
}

/// The merges of a BPE tokenizer by rank, as piece pairs (read through its serialised
/// form: `tokenizers` keeps the merge table private).
///
/// # Errors
/// A sentence naming the malformed merge, or a tokenizer that is not BPE.
pub fn merges(tk: &Tokenizer) -> Result<Vec<(String, String)>, String> {
    let tokenizers::ModelWrapper::BPE(bpe) = tk.get_model() else {
        return Err("not a BPE model".into());
    };
    let json = serde_json::to_value(bpe).map_err(|e| e.to_string())?;
    let list = json["merges"].as_array().cloned().unwrap_or_default();
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let pair = match m {
                Json::Array(a) => match (a.first(), a.get(1)) {
                    (Some(Json::String(l)), Some(Json::String(r))) => Some((l.clone(), r.clone())),
                    _ => None,
                },
                Json::String(s) => s.split_once(' ').map(|(l, r)| (l.to_owned(), r.to_owned())),
                _ => None,
            };
            pair.ok_or_else(|| format!("merge {i} ({m}) is not a pair of pieces"))
        })
        .collect()
}

/// llama.cpp's `gpt2` tokenizer does not normalise text. NFC is let through (Qwen's and
/// others' tokenizer.json carry it; text already in NFC, which is nearly all text,
/// tokenizes identically); any other normaliser is refused.
fn check_normalizer(tk: &Tokenizer) -> Result<(), String> {
    let Some(n) = tk.get_normalizer() else {
        return Ok(());
    };
    let json = serde_json::to_value(n).map_err(|e| e.to_string())?;
    let mut steps = Vec::new();
    match json.get("normalizers").and_then(Json::as_array) {
        Some(list) => steps.extend(list.iter().cloned()),
        None => steps.push(json),
    }
    for step in &steps {
        let t = step.get("type").and_then(Json::as_str).unwrap_or("?");
        if t != "NFC" {
            return Err(format!(
                "its normalizer ({t}) changes the text before splitting, which llama.cpp's gpt2 tokenizer does not do; tokenization would differ"
            ));
        }
    }
    Ok(())
}

/// The known pre-tokenizer that splits like `tk`, or an error naming the closest ones.
///
/// # Errors
/// A sentence with the tokenizer's patterns and the three closest known names.
pub fn match_known(tk: &Tokenizer) -> Result<&'static KnownPre, String> {
    check_normalizer(tk)?;
    let patterns = split_patterns(tk)
        .map_err(|why| format!("its pre-tokenizer has no llama.cpp equivalent: {why}"))?;
    let im = ignore_merges(tk);
    if let Some(k) = KNOWN
        .iter()
        .find(|k| k.ignore_merges == im && k.patterns.iter().eq(patterns.iter()))
    {
        return Ok(k);
    }
    let joined = patterns.join("\n");
    let mut near: Vec<(usize, &KnownPre)> = KNOWN
        .iter()
        .map(|k| {
            let d = strsim::levenshtein(&joined, &k.patterns.join("\n"));
            (d + usize::from(k.ignore_merges != im), k)
        })
        .collect();
    near.sort_by_key(|(d, k)| (*d, k.name));
    let names: Vec<String> = near
        .iter()
        .take(3)
        .map(|(d, k)| format!("{} ({d} edit{})", k.name, if *d == 1 { "" } else { "s" }))
        .collect();
    Err(format!(
        "its pre-tokenizer (split regexes {patterns:?}, ignore_merges {im}) matches none of the splittings llama.cpp knows; closest: {}",
        names.join(", ")
    ))
}

/// A `tokenizers` pre-tokenizer and decoder that split and join like `k` in llama.cpp.
///
/// # Errors
/// When a pattern does not compile (a table bug; tested).
pub fn build(k: &KnownPre) -> Result<(PreTokenizerWrapper, ByteLevel), String> {
    let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
    let (last, init) = k.patterns.split_last().ok_or("empty pattern list")?;
    for p in init {
        let s = Split::new(
            SplitPattern::Regex((*p).to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        steps.push(s.into());
    }
    if *last == GPT2 {
        steps.push(ByteLevel::new(false, true, true).into());
    } else {
        let s = Split::new(
            SplitPattern::Regex((*last).to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        steps.push(s.into());
        steps.push(ByteLevel::new(false, true, false).into());
    }
    Ok((Sequence::new(steps).into(), ByteLevel::default()))
}
