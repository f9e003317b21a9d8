//! Canonical token keys (docs/method.md section 1): the bytes a token stands for, so that tokens
//! of differently spelled vocabularies can be compared as raw bytes.

use super::{TokKind, Token, TokenizerKind};

/// SentencePiece's whitespace marker `▁` (U+2581).
const SPM_SPACE: char = '\u{2581}';

/// GPT-2's bytes-to-unicode table, inverted: char -> byte. Printable Latin-1 bytes map to
/// themselves; the other 68 bytes map to U+0100 onwards in byte order.
#[must_use]
pub fn gpt2_byte_decoder() -> std::collections::HashMap<char, u8> {
    let mut printable: Vec<u8> = (b'!'..=b'~').collect();
    printable.extend(0xA1u8..=0xAC);
    printable.extend(0xAEu8..=0xFF);
    let mut map = std::collections::HashMap::with_capacity(256);
    let mut extra = 0u32;
    for b in 0u8..=255 {
        let c = if printable.contains(&b) {
            char::from(b)
        } else {
            extra += 1;
            char::from_u32(255 + extra).expect("U+0100..U+0143 are chars")
        };
        map.insert(c, b);
    }
    map
}

/// Whether `text` is a byte-fallback piece `<0xNN>`; returns the byte.
#[must_use]
pub fn byte_piece(text: &[u8]) -> Option<u8> {
    if text.len() == 6 && text.starts_with(b"<0x") && text[5] == b'>' {
        u8::from_str_radix(std::str::from_utf8(&text[3..5]).ok()?, 16).ok()
    } else {
        None
    }
}

/// The canonical key of a token, or `None` for tokens that never match by text
/// (control, unknown, unused). Byte tokens get their one byte (the caller treats them
/// separately, see `align`).
#[must_use]
pub fn canonical_key(
    kind: TokenizerKind,
    tok: &Token,
    gpt2: &std::collections::HashMap<char, u8>,
) -> Option<Vec<u8>> {
    match tok.kind {
        TokKind::Control | TokKind::Unknown | TokKind::Unused => return None,
        TokKind::Byte => return byte_piece(&tok.text).map(|b| vec![b]),
        TokKind::Normal | TokKind::UserDefined => {}
    }
    Some(match kind {
        TokenizerKind::SentencePieceBpe | TokenizerKind::Unigram => {
            if let Some(b) = byte_piece(&tok.text) {
                return Some(vec![b]);
            }
            let s = String::from_utf8_lossy(&tok.text);
            s.replace(SPM_SPACE, " ").into_bytes()
        }
        TokenizerKind::ByteLevelBpe => {
            let s = std::str::from_utf8(&tok.text).ok()?;
            // Characters outside the alphabet (added tokens) stand for their own UTF-8.
            let mut out = Vec::with_capacity(s.len());
            for c in s.chars() {
                match gpt2.get(&c) {
                    Some(b) => out.push(*b),
                    None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            out
        }
        TokenizerKind::WordPiece => match tok.text.strip_prefix(b"##") {
            Some(rest) if !rest.is_empty() => rest.to_vec(),
            _ => {
                let mut k = Vec::with_capacity(tok.text.len() + 1);
                k.push(b' ');
                k.extend_from_slice(&tok.text);
                k
            }
        },
    })
}
