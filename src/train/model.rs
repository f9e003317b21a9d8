//! The frozen body of a GGUF decoder, read from its metadata and dequantized to f32 with
//! ggml's own dequantizers: llama (SmolLM2), qwen2 (Qwen2.5: biases on Q, K, V) and
//! gemma3 (Gemma 3: scaled embeddings, norms on Q and K and after each block, GELU,
//! sliding-window layers with their own rotary base). Each rule follows llama.cpp's graph
//! for the architecture, so the forward pass scores as llama.cpp does (tests/train.rs).

use std::path::Path;

use super::ops::{Act, RopeKind, Weight};
use crate::codec::dequantize_rows;
use crate::error::{Error, TuneError};
use crate::gguf::{keys, GgufFile, Value};

/// The architectures the forward pass implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama` (SmolLM2, Llama).
    Llama,
    /// `qwen2` (Qwen2, Qwen2.5).
    Qwen2,
    /// `gemma3` (Gemma 3 text models).
    Gemma3,
}

impl Arch {
    /// The architecture named by `general.architecture`, if implemented.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "gemma3" => Some(Self::Gemma3),
            _ => None,
        }
    }
}

/// Shapes and constants of the body.
#[derive(Clone, Debug)]
pub struct Hparams {
    /// The architecture.
    pub arch: Arch,
    /// Layers.
    pub n_layer: usize,
    /// Embedding width.
    pub d: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention).
    pub n_head_kv: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// RMS norm epsilon.
    pub eps: f32,
    /// Rotary frequency base (global layers).
    pub rope_base: f32,
    /// Rotary base of sliding-window layers.
    pub rope_base_swa: f32,
    /// Sliding window (gemma3), with the layer pattern's period.
    pub swa: Option<(usize, usize)>,
    /// Scale of the attention scores.
    pub attn_scale: f32,
    /// Multiplier of the input embeddings (gemma3: sqrt(d)).
    pub embd_scale: f32,
}

impl Hparams {
    /// Whether layer `il` attends within the sliding window only.
    #[must_use]
    pub fn is_swa(&self, il: usize) -> bool {
        // llama.cpp's set_swa_pattern: every n-th layer (the last of each period) is global.
        self.swa.is_some_and(|(_, period)| il % period < period - 1)
    }

    /// The rotary pairing.
    #[must_use]
    pub fn rope_kind(&self) -> RopeKind {
        match self.arch {
            Arch::Llama => RopeKind::Normal,
            Arch::Qwen2 | Arch::Gemma3 => RopeKind::Neox,
        }
    }

    /// The gate's nonlinearity.
    #[must_use]
    pub fn act(&self) -> Act {
        match self.arch {
            Arch::Llama | Arch::Qwen2 => Act::Silu,
            Arch::Gemma3 => Act::Gelu,
        }
    }
}

/// One decoder layer's frozen weights.
pub struct Layer {
    /// Norm before attention.
    pub attn_norm: Vec<f32>,
    /// Projections, `[out x d]`.
    pub wq: Weight,
    /// Keys.
    pub wk: Weight,
    /// Values.
    pub wv: Weight,
    /// Biases (qwen2).
    pub bq: Option<Vec<f32>>,
    /// Key bias.
    pub bk: Option<Vec<f32>>,
    /// Value bias.
    pub bv: Option<Vec<f32>>,
    /// Per-head norms of queries and keys (gemma3).
    pub q_norm: Option<Vec<f32>>,
    /// Key norm.
    pub k_norm: Option<Vec<f32>>,
    /// Attention output, `[d x heads*head_dim]`.
    pub wo: Weight,
    /// Norm after attention (gemma3).
    pub attn_post_norm: Option<Vec<f32>>,
    /// Norm before the feed-forward block.
    pub ffn_norm: Vec<f32>,
    /// Gate and up projections, `[ffn x d]`.
    pub w_gate: Weight,
    /// Up.
    pub w_up: Weight,
    /// Down, `[d x ffn]`.
    pub w_down: Weight,
    /// Norm after the feed-forward block (gemma3).
    pub ffn_post_norm: Option<Vec<f32>>,
}

/// The frozen body: everything but the input and output rows.
pub struct Body {
    /// Shapes.
    pub hp: Hparams,
    /// Layers in order.
    pub layers: Vec<Layer>,
    /// The final norm.
    pub out_norm: Vec<f32>,
}

fn unsupported(path: &Path, reason: String) -> Error {
    TuneError::Unsupported {
        path: path.to_path_buf(),
        reason,
    }
    .into()
}

impl Body {
    /// Reads and dequantizes the body of `f` (opened from `path`).
    ///
    /// # Errors
    /// [`TuneError::Unsupported`] naming the architecture or key the forward pass cannot
    /// follow; a missing tensor; a codec error.
    pub fn load(f: &GgufFile, path: &Path) -> Result<Self, Error> {
        let hp = hparams(f, path)?;
        let layers = (0..hp.n_layer)
            .map(|il| layer(f, &hp, il))
            .collect::<Result<Vec<_>, Error>>()?;
        let out_norm = vector(f, "output_norm.weight")?;
        Ok(Self {
            hp,
            layers,
            out_norm,
        })
    }
}

fn hparams(f: &GgufFile, path: &Path) -> Result<Hparams, Error> {
    let name = f.get_str(keys::GENERAL_ARCHITECTURE)?.to_owned();
    let arch = Arch::from_name(&name).ok_or_else(|| {
        unsupported(
            path,
            format!(
                "architecture {name}: training through the body supports llama, qwen2 and gemma3"
            ),
        )
    })?;
    let u = |k: &str| f.get_u64(&format!("{name}.{k}")).map(|v| v as usize);
    let fl = |k: &str| f.get(&format!("{name}.{k}")).and_then(Value::as_f64);
    let d = u("embedding_length")?;
    let n_head = u("attention.head_count")?;
    let n_head_kv = f
        .opt_u64(&format!("{name}.attention.head_count_kv"))?
        .map_or(n_head, |v| v as usize);
    let head_dim = f
        .opt_u64(&format!("{name}.attention.key_length"))?
        .map_or(d / n_head.max(1), |v| v as usize);
    for key in [
        "rope.scaling.type",
        "rope.scaling.factor",
        "final_logit_softcapping",
        "logit_scale",
    ] {
        if let Some(v) = f.get(&format!("{name}.{key}")) {
            let neutral = matches!(v.as_f64(), Some(x) if x == 0.0 || (key.ends_with("factor") || key == "logit_scale") && x == 1.0)
                || v.as_bytes() == Some(b"none");
            if !neutral {
                return Err(unsupported(
                    path,
                    format!(
                        "{name}.{key} = {v:?}: the training forward pass does not implement it"
                    ),
                ));
            }
        }
    }
    if n_head == 0 || n_head_kv == 0 || n_head % n_head_kv != 0 || head_dim % 2 != 0 {
        return Err(unsupported(
            path,
            format!("{n_head} query heads, {n_head_kv} key/value heads of width {head_dim}"),
        ));
    }
    let n_layer = u("block_count")?;
    let swa = if arch == Arch::Gemma3 {
        f.opt_u64(&format!("{name}.attention.sliding_window"))?
            .filter(|&w| w > 0)
            .map(|w| (w as usize, 6))
    } else {
        None
    };
    let attn_scale = if arch == Arch::Gemma3 && n_layer == 62 {
        // llama.cpp: Gemma 3 27B scales by the embedding width per head.
        1.0 / ((d / n_head) as f32).sqrt()
    } else {
        1.0 / (head_dim as f32).sqrt()
    };
    let rope_base = fl("rope.freq_base").unwrap_or(10_000.0) as f32;
    Ok(Hparams {
        arch,
        n_layer,
        d,
        n_head,
        n_head_kv,
        head_dim,
        eps: fl("attention.layer_norm_rms_epsilon").unwrap_or(1e-6) as f32,
        rope_base,
        // llama.cpp's default for gemma3's local layers when the key is absent.
        rope_base_swa: fl("rope.freq_base_swa").unwrap_or(10_000.0) as f32,
        swa,
        attn_scale,
        embd_scale: if arch == Arch::Gemma3 {
            (d as f32).sqrt()
        } else {
            1.0
        },
    })
}

fn matrix(f: &GgufFile, name: &str) -> Result<Weight, Error> {
    let t = f.require_tensor(name)?;
    let (rows, cols) = (t.n_rows() as usize, t.row_width() as usize);
    Ok(Weight {
        w: dequantize_rows(f, t, 0, rows)?,
        rows,
        cols,
    })
}

fn vector(f: &GgufFile, name: &str) -> Result<Vec<f32>, Error> {
    let t = f.require_tensor(name)?;
    Ok(dequantize_rows(f, t, 0, t.n_rows() as usize)?)
}

fn opt_vector(f: &GgufFile, name: &str) -> Result<Option<Vec<f32>>, Error> {
    f.tensor(name).map(|_| vector(f, name)).transpose()
}

fn layer(f: &GgufFile, hp: &Hparams, il: usize) -> Result<Layer, Error> {
    let n = |s: &str| format!("blk.{il}.{s}");
    let gemma = hp.arch == Arch::Gemma3;
    let need = |s: &str| -> Result<Option<Vec<f32>>, Error> {
        if gemma {
            vector(f, &n(s)).map(Some)
        } else {
            Ok(None)
        }
    };
    Ok(Layer {
        attn_norm: vector(f, &n("attn_norm.weight"))?,
        wq: matrix(f, &n("attn_q.weight"))?,
        wk: matrix(f, &n("attn_k.weight"))?,
        wv: matrix(f, &n("attn_v.weight"))?,
        bq: opt_vector(f, &n("attn_q.bias"))?,
        bk: opt_vector(f, &n("attn_k.bias"))?,
        bv: opt_vector(f, &n("attn_v.bias"))?,
        q_norm: need("attn_q_norm.weight")?,
        k_norm: need("attn_k_norm.weight")?,
        wo: matrix(f, &n("attn_output.weight"))?,
        attn_post_norm: need("post_attention_norm.weight")?,
        ffn_norm: vector(f, &n("ffn_norm.weight"))?,
        w_gate: matrix(f, &n("ffn_gate.weight"))?,
        w_up: matrix(f, &n("ffn_up.weight"))?,
        w_down: matrix(f, &n("ffn_down.weight"))?,
        ffn_post_norm: need("post_ffw_norm.weight")?,
    })
}
