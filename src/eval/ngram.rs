//! Count-based reference rows, with no LLM: a unigram (add-one) and a bigram
//! (interpolated: 0.7 x the bigram's relative frequency + 0.3 x the unigram, the unigram
//! alone after an unseen token or at a window's start) counted on a training text, over
//! the tokens of a model's tokenizer. They are scored on the same windows, tokens and
//! bytes as that model, so that an adapted model can be compared with counting, paired.

use std::collections::HashMap;
use std::path::Path;

use super::perplexity::scored_windows;
use super::tally::{Frame, ScoreFacts, Tally};
use super::{ModelScore, ScoreOptions};
use crate::llama::load_model;

/// The bigram's weight in the interpolation.
const BIGRAM_WEIGHT: f64 = 0.7;

/// (unigram, bigram) scores of `text`, counted on `train`, over `model`'s tokens.
///
/// # Errors
/// llama.cpp cannot load the model's vocabulary; the text is shorter than one window.
pub fn ngram_scores(
    model_path: &Path,
    train: &str,
    text_path: &Path,
    text: &str,
    opts: &ScoreOptions,
) -> Result<[ModelScore; 2], crate::Error> {
    let start = std::time::Instant::now();
    let model = load_model(model_path)?;
    let vocab = model.vocab();
    let n_vocab = vocab.n_tokens() as usize;
    let train_tokens: Vec<usize> = vocab
        .tokenize(train.as_bytes(), false, false)
        .iter()
        .map(|t| usize::try_from(t.0).unwrap_or(0))
        .collect();
    let (mut uni, mut ctx_count) = (vec![0u64; n_vocab], vec![0u64; n_vocab]);
    let mut bi: HashMap<(usize, usize), u64> = HashMap::new();
    for w in train_tokens.windows(2) {
        *bi.entry((w[0], w[1])).or_default() += 1;
        ctx_count[w[0]] += 1;
    }
    for &t in &train_tokens {
        uni[t] += 1;
    }
    let n = train_tokens.len() as f64;
    let p_uni = |t: usize| (uni[t] as f64 + 1.0) / (n + n_vocab as f64);
    let add_bos = vocab.should_add_bos();
    let bos = add_bos.then(|| vocab.bos());
    let mut frame = Frame::new(&model, model_path, text, opts.reference.as_deref())?;
    let ctx = opts.ctx.max(2);
    let wins = scored_windows(
        &frame.tokens,
        bos,
        ctx,
        opts.max_tokens,
        text_path,
        model_path,
    )?;
    let body = if bos.is_some() { ctx - 1 } else { ctx };
    let (mut t_uni, mut t_bi) = (Tally::default(), Tally::default());
    for (w, (input, first)) in wins.iter().enumerate() {
        for p in *first..input.len() {
            let t = usize::try_from(input[p].0).unwrap_or(0);
            let b = frame.bytes(w * body + p - usize::from(bos.is_some()), input[p]);
            let c = frame.class(t);
            let pu = p_uni(t);
            // The bigram sees what the model sees: nothing before the window (a BOS is
            // not counted as a context).
            let prev =
                (bos.is_none() || p > 1).then(|| usize::try_from(input[p - 1].0).unwrap_or(0));
            let pb = match prev.filter(|&q| ctx_count[q] > 0) {
                Some(q) => {
                    let c2 = bi.get(&(q, t)).copied().unwrap_or(0) as f64;
                    BIGRAM_WEIGHT * c2 / ctx_count[q] as f64 + (1.0 - BIGRAM_WEIGHT) * pu
                }
                None => pu,
            };
            t_uni.add(-pu.ln(), b, c);
            t_bi.add(-pb.ln(), b, c);
        }
        t_uni.end_window();
        t_bi.end_window();
    }
    let facts = |name: &str| ScoreFacts {
        model: format!("{name} over {}", model_path.display()),
        n_vocab,
        text_bytes: text.len(),
        add_bos,
        ctx,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok([
        t_uni.finish(facts("unigram"), &frame),
        t_bi.finish(facts("bigram"), &frame),
    ])
}
