//! The fastText `.bin` reader (bounded walk, then the `fasttext` crate) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ft) = salt::auxvec::parse_fasttext(std::path::Path::new("fuzz.bin"), data) {
        let _ = ft.get_word_vector("fuzz");
    }
});
