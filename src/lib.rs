//! # salt: adapt a GGUF LLM to a target language with SALT
//!
//! SALT (Lee et al., ACL 2025 Findings) replaces an LLM's vocabulary with a small
//! target-language model's (the PLM) and builds each new embedding row by a per-token
//! least-squares map from PLM space to LLM space. `docs/method.md` is the
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
//! 6. [`init`]: one initialiser per method gives the new tokens their rows: [`init::salt`]
//!    runs [`regression`], the per-token least-squares map, on a [`device`] (CPU: faer +
//!    rayon; CUDA); [`init::focus`], [`init::mean`], [`init::random`] are the baselines.
//! 7. [`assemble`]: the new `token_embd` (and untied `output`) rows, quantized by ggml.
//! 8. [`output`]: the rewritten header (tokenizer metadata, tensors, provenance), every
//!    other byte kept, written to temporary files and renamed when all are complete.
//! 9. [`eval`]: validation through llama.cpp: tokenizer parity, perplexity, bits per byte.
//!
//! [`source`] opens and checks the source model (stage 1). [`pipeline::transfer`] runs
//! stages 1 to 8 with one call per stage; [`pipeline::transfer_methods`] writes several
//! methods' outputs from one pass over the shared stages. [`progress`] carries structured
//! events and cancellation to an embedding application. [`inspect`] summarises a GGUF file
//! without touching tensor data.
//!
//! Adding an initialiser takes one file in `src/init/`, one [`init::Method`] variant (its
//! name and two match arms) and its tests; the pipeline computes what its `NEEDS` asks for.
//!
//! ```no_run
//! use salt::auxvec::AuxSource;
//! use salt::pipeline::{transfer, Method, TransferConfig};
//! use salt::progress::Event;
//!
//! let mut cfg = TransferConfig::new(
//!     "gemma-3-270m-q4_k_m.gguf".into(),
//!     "use/".into(),
//!     AuxSource::FastTextBin("ko.bin".into()),
//!     "gemma-ko.gguf".into(),
//! );
//! cfg.method = Method::Salt;
//! cfg.trim_to = Some("korean-train.txt".into());
//! let report = transfer(&cfg, &mut |e: &Event<'_>| eprintln!("{}: {}", e.stage.name(), e.message))?;
//! println!("{} tokens, {} regressed", report.n_vocab, report.regressed);
//! # Ok::<(), salt::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Modules in pipeline order (see above), then the cross-cutting ones.
pub mod adapt;
pub mod assemble;
pub mod auxvec;
pub mod capi;
pub mod codec;
pub mod device;
pub mod error;
pub mod eval;
pub mod ggml;
pub mod gguf;
pub mod init;
pub mod inspect;
pub mod llama;
pub mod neighbours;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod plm;
pub mod progress;
pub mod provenance;
pub mod regression;
pub mod source;
pub mod text;
pub mod train;
pub mod tune;
pub mod version;
pub mod vocab;

pub use error::{Error, Result};
