//! The integration tests, in one binary so that llama.cpp links and initialises once.
//! Real assets come from `scripts/setup.sh` (see `util::asset`).

mod alloc;
mod fixtures;
mod util;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

mod auxvec;
mod bad_inputs;
mod bpe;
mod capi;
mod codec;
mod docs;
mod eval;
mod gguf_hostile;
mod gguf_roundtrip;
mod init;
mod inspect;
mod kernels;
mod numerics;
mod perf_model;
mod readers_hostile;
mod report;
mod route;
mod split;
mod spm_bpe;
mod train;
mod transfer;
mod trim;
mod tune;
mod version;
