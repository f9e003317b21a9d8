//! The integration tests, in one binary so that llama.cpp links and initialises once.
//! Real assets come from `scripts/setup.sh` (see `util::asset`).

mod fixtures;
mod util;

mod auxvec;
mod codec;
mod eval;
mod gguf_hostile;
mod gguf_roundtrip;
mod inspect;
mod numerics;
mod transfer;
