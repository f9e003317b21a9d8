//! The GGUF reader on arbitrary bytes: a typed error or a parse, never a panic; a parse
//! then serves every tensor's data range without going out of bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = salt::gguf::GgufFile::from_bytes("fuzz.gguf", data.to_vec()) {
        for t in &f.tensors {
            let _ = f.tensor_data(t).len();
        }
        let _ = salt::vocab::vocab_from_gguf(&f);
    }
});
