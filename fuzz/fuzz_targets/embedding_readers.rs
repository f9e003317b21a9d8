//! The PLM embedding readers (`.npy`, safetensors) on arbitrary bytes; the first byte
//! picks the format.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let path = std::path::Path::new("fuzz");
    let _ = if pick % 2 == 0 {
        salt::plm::parse_npy(path, rest)
    } else {
        salt::plm::parse_safetensors(path, rest, None)
    };
});
