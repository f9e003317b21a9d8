//! BERT `vocab.txt` files (WordPiece).

use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{ModelWrapper, Tokenizer};

use crate::error::VocabError;
use crate::vocab::{Role, TokKind, Token, TokenizerKind, Vocab};

use super::{load_err, roles_by_name, TargetTokenizer};

pub(super) fn load_vocab_txt(path: &Path, text: &str) -> Result<TargetTokenizer, VocabError> {
    // One piece per line, id = line number, as `WordPiece::from_file` reads it.
    let map = WordPiece::read_bytes(text.as_bytes()).map_err(|e| load_err(path, e))?;
    let wp = WordPiece::builder()
        .vocab(map)
        .build()
        .map_err(|e| load_err(path, e))?;
    let mut tk = Tokenizer::new(ModelWrapper::WordPiece(wp));
    tk.with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
        .map_err(|e| load_err(path, e))?;
    tk.with_pre_tokenizer(Some(BertPreTokenizer));
    let mut tokens: Vec<Token> = text
        .lines()
        .map(|l| Token {
            text: l.trim_end_matches('\r').as_bytes().to_vec(),
            score: 0.0,
            kind: TokKind::Normal,
        })
        .collect();
    let roles = roles_by_name(&tokens);
    for (role, &id) in &roles {
        tokens[id as usize].kind = if *role == Role::Unk {
            TokKind::Unknown
        } else {
            TokKind::Control
        };
    }
    let vocab = Vocab {
        kind: TokenizerKind::WordPiece,
        tokens,
        roles,
    };
    Ok(TargetTokenizer::new(path, vocab, tk))
}
