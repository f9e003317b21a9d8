//! Stage 10a: the frozen body's final hidden states (the input of the output layer) on a
//! training text, from llama.cpp itself: a context with embeddings on and no pooling gives
//! each position's `t_embd`, which every architecture we support (gemma3, llama, qwen2)
//! sets to the output norm's result, right before the LM head. Cached on disk, because
//! the forward pass is the slow part and the fit is often re-run.
//!
//! Under a token cap the windows are spread evenly over the whole text, not taken from
//! its start: a text is rarely uniform (a Bible's first 32,768 tokens are Genesis alone),
//! and the head should see what the whole text holds for the same forward-pass cost.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use llama_cpp_2::context::params::LlamaPoolingType;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::error::{EvalError, TuneError};
use crate::gguf::{keys, GgufFile};
use crate::llama::{backend, context_params, load_model, windows};
use crate::progress::{Progress, Reporter, Stage};

/// Hidden states and the tokens they predict.
#[derive(Clone, Debug, PartialEq)]
pub struct Hidden {
    /// Width of a hidden state (the model's embedding length).
    pub d: usize,
    /// `[targets.len() x d]`, row-major: the state after which `targets[i]` comes.
    pub h: Vec<f32>,
    /// The next token at each position.
    pub targets: Vec<u32>,
    /// Windows the positions came from (a window never straddles the split).
    pub windows: usize,
}

impl Hidden {
    /// Positions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Positions `[from, to)` as a new set.
    #[must_use]
    pub fn slice(&self, from: usize, to: usize) -> Self {
        Self {
            d: self.d,
            h: self.h[from * self.d..to * self.d].to_vec(),
            targets: self.targets[from..to].to_vec(),
            windows: 0,
        }
    }
}

/// How to compute them.
#[derive(Clone, Debug)]
pub struct HiddenOptions {
    /// Positions per window (as `salt eval --ctx`).
    pub ctx: usize,
    /// At most about this many positions, in windows spread evenly over the text.
    pub max_tokens: Option<usize>,
    /// llama.cpp threads (`None`: all cores).
    pub threads: Option<usize>,
    /// Folder of the cache (`None`: no cache).
    pub cache: Option<PathBuf>,
}

impl HiddenOptions {
    /// Positions per window unless told otherwise (as `salt eval`'s).
    pub const DEFAULT_CTX: usize = 512;
    /// Positions at most unless told otherwise: about four minutes of llama.cpp on 2 cores
    /// for Gemma, and most of the gain of 51k (README).
    pub const DEFAULT_MAX_TOKENS: usize = 32_768;
}

impl Default for HiddenOptions {
    /// The measured defaults (README), all cores, no cache.
    fn default() -> Self {
        Self {
            ctx: Self::DEFAULT_CTX,
            max_tokens: Some(Self::DEFAULT_MAX_TOKENS),
            threads: None,
            cache: None,
        }
    }
}

/// The hidden states of `text` under `model` (from the cache when the same body, tokens
/// and window were seen before).
///
/// # Errors
/// [`EvalError`] from llama.cpp, [`TuneError::Text`] for a text too short,
/// [`TuneError::Cache`] when the cache cannot be written; [`crate::Error::Cancelled`].
pub fn hidden_states(
    model: &Path,
    text_path: &Path,
    text: &str,
    opts: &HiddenOptions,
    progress: &mut dyn Progress,
) -> Result<Hidden, crate::Error> {
    let mut rep = Reporter::new(progress);
    let lmodel = load_model(model)?;
    let vocab = lmodel.vocab();
    let bos = vocab.should_add_bos().then(|| vocab.bos());
    let tokens = vocab.tokenize(text.as_bytes(), false, false);
    let ctx = opts.ctx.max(2);
    let wins = windows(&tokens, bos, ctx);
    let n_win = opts
        .max_tokens
        .map_or(wins.len(), |m| wins.len().min(m.div_ceil(ctx - 1).max(1)));
    if n_win < 2 {
        return Err(TuneError::Text {
            path: text_path.to_path_buf(),
            reason: format!(
                "{} tokens under {} make {} window(s) of {ctx}; the fit needs at least two \
                 (one is kept for validation): give a longer text or a smaller --ctx",
                tokens.len(),
                model.display(),
                wins.len()
            ),
        }
        .into());
    }
    let picked = spread(wins.len(), n_win);
    let key = cache_key(model, &tokens, ctx, &picked)?;
    let cache_file = opts
        .cache
        .as_ref()
        .map(|dir| dir.join(format!("hidden-{key:016x}.bin")));
    if let Some(c) = cache_file.as_deref().filter(|c| c.is_file()) {
        if let Ok(h) = read_cache(c) {
            rep.message(
                Stage::Hidden,
                &format!("hidden states from {}", c.display()),
            );
            return Ok(h);
        }
    }
    let d = lmodel.n_embd() as usize;
    let params = context_params(ctx as u32, opts.threads)
        .with_n_batch(ctx as u32)
        .with_n_ubatch(ctx as u32)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::None);
    let mut lctx = lmodel
        .new_context(backend()?, params)
        .map_err(|e| EvalError::Load {
            path: model.to_path_buf(),
            reason: format!("creating an embeddings context of {ctx}: {e}"),
        })?;
    let mut out = Hidden {
        d,
        h: Vec::new(),
        targets: Vec::new(),
        windows: n_win,
    };
    let mut batch = LlamaBatch::new(ctx, 1);
    for (w, (input, first)) in picked.iter().map(|&i| &wins[i]).enumerate() {
        rep.step(Stage::Hidden, w, n_win)?;
        lctx.clear_kv_cache();
        batch.clear();
        for (p, t) in input.iter().enumerate() {
            batch
                .add(*t, p as i32, &[0], true)
                .map_err(|e| EvalError::Compute(e.to_string()))?;
        }
        lctx.decode(&mut batch)
            .map_err(|e| EvalError::Compute(format!("decode: {e}")))?;
        // As in eval: the state at p - 1 predicts the token at p.
        for (p, target) in input.iter().enumerate().skip(*first) {
            let e = lctx
                .embeddings_ith((p - 1) as i32)
                .map_err(|e| EvalError::Compute(format!("embeddings of position {p}: {e}")))?;
            out.h.extend_from_slice(&e[..d]);
            out.targets.push(u32::try_from(target.0).unwrap_or(0));
        }
    }
    rep.step(Stage::Hidden, n_win, n_win)?;
    if let Some(c) = &cache_file {
        write_cache(c, &out)?;
    }
    Ok(out)
}

/// `n` of `len` window indices, ascending and evenly spaced from the first (all of them
/// when `n >= len`), so that the kept windows stand for the whole text and the last ones,
/// kept for validation, come from its end.
#[must_use]
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    let n = n.min(len);
    // i * len / n is strictly increasing for n <= len; u128 cannot overflow.
    (0..n)
        .map(|i| (i as u128 * len as u128 / n as u128) as usize)
        .collect()
}

/// FNV-1a over the body (every tensor but `output.weight`, whose rows the fit replaces),
/// the token ids, the window and the windows picked: the hidden states depend on nothing
/// else.
fn cache_key(
    model: &Path,
    tokens: &[LlamaToken],
    ctx: usize,
    picked: &[usize],
) -> Result<u64, crate::Error> {
    let f = GgufFile::open(model)?;
    let mut h = Fnv::default();
    for t in &f.tensors {
        if t.name != keys::OUTPUT.as_bytes() {
            h.bytes(&t.name);
            h.bytes(f.tensor_data(t));
        }
    }
    for t in tokens {
        h.bytes(&t.0.to_le_bytes());
    }
    h.bytes(&(ctx as u64).to_le_bytes());
    for &w in picked {
        h.bytes(&(w as u64).to_le_bytes());
    }
    Ok(h.0)
}

/// 64-bit FNV-1a, eight bytes at a time where it can (a cache key, not a checksum).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0 ^ w).wrapping_mul(0x0100_0000_01b3);
        }
        for &x in chunks.remainder() {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

// SALTHID1 files held the text's first windows; their keys differ from today's anyway
// (the picked windows are hashed), the new magic only makes that explicit.
const MAGIC: &[u8; 8] = b"SALTHID2";

fn write_cache(path: &Path, h: &Hidden) -> Result<(), crate::Error> {
    let err = |source| TuneError::Cache {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // Written beside and renamed: a cache file is complete or absent.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut w = BufWriter::new(std::fs::File::create(&tmp).map_err(err)?);
    w.write_all(MAGIC).map_err(err)?;
    for x in [h.d, h.targets.len(), h.windows] {
        w.write_all(&(x as u64).to_le_bytes()).map_err(err)?;
    }
    for t in &h.targets {
        w.write_all(&t.to_le_bytes()).map_err(err)?;
    }
    for x in &h.h {
        w.write_all(&x.to_le_bytes()).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| err(e.into_error()))?
        .sync_all()
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}

fn read_cache(path: &Path) -> std::io::Result<Hidden> {
    let mut r = BufReader::new(std::fs::File::open(path)?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(std::io::Error::other("not a hidden-state cache"));
    }
    let mut u = || -> std::io::Result<usize> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)?;
        usize::try_from(u64::from_le_bytes(b)).map_err(std::io::Error::other)
    };
    let (d, n, windows) = (u()?, u()?, u()?);
    let mut buf = vec![0u8; n * 4];
    r.read_exact(&mut buf)?;
    let targets = buf
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let mut buf = vec![0u8; n * d * 4];
    r.read_exact(&mut buf)?;
    let h = buf
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok(Hidden {
        d,
        h,
        targets,
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::spread;

    /// Evenly spaced, ascending, from the first window, within bounds; everything when
    /// the cap exceeds the windows.
    #[test]
    fn spread_picks_evenly_from_the_whole_text() {
        assert_eq!(spread(10, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(spread(7, 7), (0..7).collect::<Vec<_>>());
        assert_eq!(spread(3, 9), vec![0, 1, 2]);
        assert!(spread(0, 4).is_empty());
        let p = spread(1_901, 64);
        assert_eq!(p.len(), 64);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert!(*p.last().unwrap() >= 1_901 - 1_901 / 64 - 1 && p[63] < 1_901);
    }
}
