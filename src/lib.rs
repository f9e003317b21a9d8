//! # salt: adapt a GGUF LLM to a target language with SALT
//!
//! SALT (Lee et al., ACL 2025 Findings) replaces an LLM's vocabulary with a small
//! target-language model's (the PLM) and builds each new embedding row by a per-token
//! least-squares map from PLM space to LLM space. `../shared/SALT.md` in the project is the
//! exact contract this crate implements.
//!
//! ## The pipeline, in order
//! Each stage is a module that takes plain data and returns plain data:
//!
//! 1. [`gguf`] (in): parse the source GGUF, metadata in order, tensors memory-mapped;
//!    [`ggml`] and [`codec`] turn stored rows of any ggml type into f32 and back.
//! 2. [`vocab`]: load the target tokenizer, give every token of both vocabularies a
//!    canonical key and align them (shared, non-shared, byte, special).
//! 3. [`plm`]: the target model's embedding table.
//! 4. [`auxvec`]: auxiliary static vectors (fastText) for every target token.
//! 5. [`neighbours`]: cosine similarity to the shared anchors and exact sparsemax.
//! 6. [`regression`]: the per-token least-squares map, CPU (faer + rayon) or GPU.
//! 7. [`assemble`]: the new `token_embd` (and untied `output`) rows, quantized by ggml.
//! 8. [`gguf`] (out): the rewritten tokenizer metadata and tensors, every other byte kept,
//!    written through [`output`] (temporary file, then rename).
//! 9. [`eval`]: validation through llama.cpp: tokenizer parity, perplexity, bits per byte.
//!
//! [`pipeline::transfer`] runs stages 1 to 8 with one call per stage; [`inspect`]
//! summarises a GGUF file without touching tensor data.
//!
//! ```no_run
//! use salt::auxvec::AuxSource;
//! use salt::pipeline::{transfer, Method, TransferConfig};
//!
//! let mut cfg = TransferConfig::new(
//!     "gemma-3-270m-q4_k_m.gguf".into(),
//!     "use/".into(),
//!     AuxSource::FastTextBin("ko.bin".into()),
//!     "gemma-ko.gguf".into(),
//! );
//! cfg.method = Method::Salt;
//! cfg.trim_to = Some("korean-train.txt".into());
//! let report = transfer(&cfg, &mut |line| eprintln!("{line}"))?;
//! println!("{} tokens, {} regressed", report.n_vocab, report.regressed);
//! # Ok::<(), salt::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod assemble;
pub mod auxvec;
pub mod codec;
pub mod error;
pub mod eval;
pub mod ggml;
pub mod gguf;
pub mod inspect;
pub mod neighbours;
pub mod output;
pub mod pipeline;
pub mod plm;
pub mod regression;
pub mod text;
pub mod vocab;

pub use error::{Error, Result};
