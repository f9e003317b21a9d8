//! # salt: adapt a GGUF LLM to a target language with SALT
//!
//! SALT (Lee et al., ACL 2025 Findings) replaces an LLM's vocabulary with a small
//! target-language model's (the PLM) and builds each new embedding row by a per-token
//! least-squares map from PLM space to LLM space. `docs/method.md` is the
//! exact contract this crate implements.
//!
//! ## Routes
//! A source model gets a tokenizer for the target language by one of two routes:
//! **trim** keeps its own vocabulary, cut to the pieces a text of the language uses (every
//! kept row exact, no training), and **replace** swaps in the PLM's vocabulary and makes
//! the new rows with SALT or a baseline. [`plan`] measures which route suits a model and
//! a text before anything is built; [`adapt`] builds every viable route, scores them on a
//! validation part of the text and writes the winner.
//!
//! ## The pipeline, in order
//! Each stage is a module that takes plain data and returns plain data:
//!
//! 1. [`gguf`] (in): parse the source GGUF (split files too), metadata in order, tensors
//!    memory-mapped; [`ggml`] and [`codec`] turn stored rows of any ggml type into f32 and
//!    back; [`source`] opens and checks the source model.
//! 2. [`vocab`]: load the target tokenizer (or the source's own, for the trim route), trim
//!    it to a text, give every token of both vocabularies a canonical key and align them
//!    (shared, non-shared, byte, special).
//! 3. [`plm`]: the target model's embedding table.
//! 4. [`auxvec`]: auxiliary static vectors (fastText) for every target token.
//! 5. [`neighbours`]: cosine similarity to the shared anchors and exact sparsemax.
//! 6. [`init`]: one file per initialiser gives the new tokens their rows:
//!    [`init::salt`] runs [`regression`], the per-token least-squares map, on a [`device`]
//!    (CPU: faer + rayon; CUDA); [`init::salt_centred`] is its affine variant, on the
//!    same device;
//!    [`init::fvt`], [`init::focus`], [`init::omp`], [`init::mean`] and [`init::random`]
//!    are the baselines; [`init::trim`] copies every kept row of the trim route.
//! 7. [`assemble`]: the new `token_embd` (and untied `output`) rows, quantized by ggml.
//! 8. [`output`]: the rewritten header (tokenizer metadata, tensors, the [`provenance`]
//!    keys), every other byte kept, written to temporary files and renamed when all are
//!    complete.
//! 9. [`eval`]: validation through llama.cpp: tokenizer parity, bits per byte with its
//!    spread and paired differences, speed in bytes per second.
//! 10. [`tune`]: the output rows (the head) fitted on the frozen body's hidden states.
//! 11. [`train`]: the embedding rows trained through the frozen body.
//!
//! [`pipeline::transfer`] runs stages 1 to 8; its [`pipeline::TransferConfig`] is grouped
//! by stage (target, neighbours, init, output), and each stage is handed its own part.
//! [`pipeline::transfer_methods`] writes several methods' outputs from one pass over the
//! shared stages 1-5. [`llama`] is the one seam to llama.cpp (stages 6, 9, 10, 11 and adapt
//! load models through it). [`progress`] carries structured events and cancellation to an
//! embedding application, and [`capi`] is the C API (`include/salt.h`) over transfer,
//! tune, train, eval, plan and adapt. [`inspect`] summarises a GGUF file without touching
//! tensor data.
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
//! cfg.init.method = Method::Salt;
//! cfg.target.trim_to = Some("korean-train.txt".into());
//! let report = transfer(&cfg, &mut |e: &Event<'_>| eprintln!("{}: {}", e.stage.name(), e.message))?;
//! println!("{} tokens, {} regressed", report.n_vocab, report.regressed);
//! # Ok::<(), salt::Error>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Modules in pipeline order (see above), each group its own block so that rustfmt keeps
// the order; then the routes, the front ends and the cross-cutting ones.
pub mod ggml;
pub mod gguf;

pub mod codec;
pub mod source;

pub mod vocab;

pub mod plm;

pub mod auxvec;

pub mod neighbours;

pub mod device;
pub mod init;
pub mod regression;

pub mod assemble;

pub mod output;
pub mod provenance;

pub mod eval;
pub mod llama;

pub mod tune;

pub mod train;

pub mod pipeline;

pub mod adapt;
pub mod plan;

pub mod capi;

pub mod error;
pub mod inspect;
pub mod progress;
pub mod text;
pub mod version;

pub use error::{Error, Result};
