//! The target tokenizer loaders on arbitrary bytes; the first byte picks the format
//! (SentencePiece `.model`, `tokenizer.json`, BERT `vocab.txt`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = ["fuzz.model", "tokenizer.json", "vocab.txt"][usize::from(pick % 3)];
    if let Ok(tk) = salt::vocab::parse_target(std::path::Path::new(name), rest) {
        let _ = tk.encode("fuzz 한국어 text");
    }
});
