//! Tokenizer parity: llama.cpp (vocab-only load of the GGUF) against the reference
//! tokenizer, line by line, ids compared exactly. Both sides tokenize without special
//! tokens (no BOS/EOS), so the comparison is about segmentation alone.

use std::path::Path;

use serde::Serialize;

use crate::error::EvalError;
use crate::llama::load_vocab_only;
use crate::vocab::TargetTokenizer;

/// How many mismatches are kept for the report.
const MAX_MISMATCHES: usize = 5;

/// One line tokenized differently.
#[derive(Clone, Debug, Serialize)]
pub struct ParityMismatch {
    /// Line number (1-based).
    pub line: usize,
    /// The text.
    pub text: String,
    /// llama.cpp's ids.
    pub llama: Vec<u32>,
    /// The reference's ids.
    pub reference: Vec<u32>,
    /// llama.cpp's pieces.
    pub llama_pieces: Vec<String>,
    /// The reference's pieces.
    pub reference_pieces: Vec<String>,
}

/// The result of a parity check.
#[derive(Clone, Debug, Serialize)]
pub struct ParityReport {
    /// Lines compared.
    pub lines: usize,
    /// Lines with identical ids.
    pub identical: usize,
    /// Tokens compared (reference side).
    pub tokens: usize,
    /// The first mismatches.
    pub mismatches: Vec<ParityMismatch>,
}

impl ParityReport {
    /// True when every line matched.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.identical == self.lines
    }
}

/// Tokenizes every line of `lines` with llama.cpp (from `model_path`) and with `reference`.
///
/// # Errors
/// [`EvalError`] when the model cannot be loaded or the reference fails.
pub fn parity(
    model_path: &Path,
    reference: &TargetTokenizer,
    lines: &[&str],
) -> Result<ParityReport, EvalError> {
    let model = load_vocab_only(model_path)?;
    let vocab = model.vocab();
    let n_vocab = vocab.n_tokens();
    let mut report = ParityReport {
        lines: lines.len(),
        identical: 0,
        tokens: 0,
        mismatches: Vec::new(),
    };
    let piece = |id: u32| -> String {
        if (id as usize) < reference.vocab.len() {
            reference.vocab.text(id)
        } else {
            format!("<{id}?>")
        }
    };
    for (i, line) in lines.iter().enumerate() {
        let ours: Vec<u32> = vocab
            .tokenize(line.as_bytes(), false, false)
            .iter()
            .map(|t| t.0 as u32)
            .collect();
        let want = reference
            .encode(line)
            .map_err(|e| EvalError::Reference(e.to_string()))?;
        report.tokens += want.len();
        if ours == want {
            report.identical += 1;
        } else if report.mismatches.len() < MAX_MISMATCHES {
            report.mismatches.push(ParityMismatch {
                line: i + 1,
                text: (*line).to_owned(),
                llama_pieces: ours
                    .iter()
                    .map(|&t| {
                        if (t as i32) < n_vocab {
                            piece(t)
                        } else {
                            "?".into()
                        }
                    })
                    .collect(),
                reference_pieces: want.iter().map(|&t| piece(t)).collect(),
                llama: ours,
                reference: want,
            });
        }
    }
    Ok(report)
}
