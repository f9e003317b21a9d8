//! Aligning the target vocabulary to the source (docs/method.md section 1).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::keys::{canonical_key, gpt2_byte_decoder};
use super::{Role, TokKind, Vocab};

/// What SALT does with one target token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetClass {
    /// Same canonical key as source token `src`: its row is copied.
    Shared(u32),
    /// A special token matched to source token `src`, by its exact text (`None`) or by
    /// role: its row is copied.
    Special(u32, Option<Role>),
    /// A source control token appended for the chat template (docs/method.md section 7).
    Chat(u32),
    /// No source counterpart: regressed (or random when it has no auxiliary vector).
    New,
}

impl TargetClass {
    /// The source id whose row is copied, if any.
    #[must_use]
    pub fn source(self) -> Option<u32> {
        match self {
            Self::Shared(s) | Self::Special(s, _) | Self::Chat(s) => Some(s),
            Self::New => None,
        }
    }
}

/// Counts reported by `salt overlap` and `salt transfer`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AlignmentStats {
    /// Target tokens.
    pub target_tokens: usize,
    /// Source tokens.
    pub source_tokens: usize,
    /// Target tokens shared by key (byte tokens included).
    pub shared: usize,
    /// Of `shared`, byte tokens.
    pub shared_bytes: usize,
    /// Target special tokens matched by role.
    pub special: usize,
    /// Source chat-template control tokens appended to the target vocabulary.
    pub chat: usize,
    /// Target tokens with no counterpart.
    pub new: usize,
    /// Tokens matched by their exact text (specials, counted in `special`; pieces of two
    /// vocabularies of the same spelling, counted in `shared`).
    pub exact_text: usize,
    /// Source tokens that lost a key collision (a lower id has the same key).
    pub source_collisions: usize,
    /// Target tokens whose key another target token already has (both keep their class).
    pub target_duplicate_keys: usize,
    /// Special roles matched: role -> (target id, source id).
    pub roles: BTreeMap<String, (u32, u32)>,
}

/// The alignment of a target vocabulary to a source vocabulary.
#[derive(Clone, Debug)]
pub struct Alignment {
    /// One class per target token, by target id.
    pub classes: Vec<TargetClass>,
    /// Counts.
    pub stats: AlignmentStats,
}

/// Target roles, with BERT's `[CLS]` playing bos and `[SEP]` eos when the target has none.
fn effective_roles(v: &Vocab) -> BTreeMap<Role, u32> {
    let mut r = v.roles.clone();
    if let std::collections::btree_map::Entry::Vacant(e) = r.entry(Role::Bos) {
        if let Some(&c) = v.roles.get(&Role::Cls) {
            e.insert(c);
        }
    }
    if let std::collections::btree_map::Entry::Vacant(e) = r.entry(Role::Eos) {
        if let Some(&s) = v.roles.get(&Role::Sep) {
            e.insert(s);
        }
    }
    r
}

/// Appends to `target` the source control tokens that `template` (a chat template)
/// mentions, in source id order; returns (target id, source id) of each.
pub fn append_chat_tokens(source: &Vocab, target: &mut Vocab, template: &str) -> Vec<(u32, u32)> {
    let existing: std::collections::HashSet<Vec<u8>> =
        target.tokens.iter().map(|t| t.text.clone()).collect();
    let mut added = Vec::new();
    for (id, tok) in source.tokens.iter().enumerate() {
        if tok.kind != TokKind::Control || tok.text.is_empty() || existing.contains(&tok.text) {
            continue;
        }
        if std::str::from_utf8(&tok.text).is_ok_and(|t| template.contains(t)) {
            added.push((target.tokens.len() as u32, id as u32));
            target.tokens.push(tok.clone());
        }
    }
    added
}

/// Which tokens match by their exact stored text (see [`match_exact`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ExactClass {
    /// Control, unknown and unused tokens: across any two vocabularies.
    Special,
    /// Byte tokens and normal pieces: only between vocabularies of one spelling.
    Spelled(bool),
}

fn exact_class(t: &super::Token) -> ExactClass {
    match t.kind {
        TokKind::Control | TokKind::Unknown | TokKind::Unused => ExactClass::Special,
        TokKind::Byte => ExactClass::Spelled(true),
        TokKind::Normal | TokKind::UserDefined => ExactClass::Spelled(false),
    }
}

/// Exact text first (docs/method.md section 1): a special token matches a special token of the
/// other vocabulary with the same text; and when both vocabularies spell pieces the same
/// way (same tokenizer kind), a byte or normal piece matches the source piece of the same
/// text and type class (lowest id). Key matching then never overrides these, so a
/// transfer to the source's own vocabulary copies every row: without this, key collisions
/// (several source pieces with one key), byte tokens that a normal piece blocks, and
/// unused or control tokens became new rows.
fn match_exact(
    source: &Vocab,
    target: &Vocab,
    classes: &mut [TargetClass],
    stats: &mut AlignmentStats,
) {
    let same_spelling = source.kind == target.kind;
    let mut by_text: HashMap<(ExactClass, &[u8]), u32> = HashMap::new();
    for (id, t) in source.tokens.iter().enumerate().rev() {
        let c = exact_class(t);
        if (c == ExactClass::Special || same_spelling) && !t.text.is_empty() {
            by_text.insert((c, t.text.as_slice()), id as u32);
        }
    }
    for (id, t) in target.tokens.iter().enumerate() {
        if classes[id] != TargetClass::New {
            continue;
        }
        let c = exact_class(t);
        if let Some(&s) = by_text.get(&(c, t.text.as_slice())) {
            classes[id] = if c == ExactClass::Special {
                TargetClass::Special(s, None)
            } else {
                TargetClass::Shared(s)
            };
            if t.kind == TokKind::Byte {
                stats.shared_bytes += 1;
            }
            stats.exact_text += 1;
        }
    }
}

/// Aligns `target` to `source`.
///
/// Keys are compared as raw bytes. Normal (and user-defined) tokens match normal tokens.
/// A byte token `<0xNN>` has the key `[NN]` but matches only a byte token of the other
/// vocabulary, and only when neither vocabulary has a normal token with that key (docs/method.md:
/// "only match when no normal token of the other vocabulary has that key"). Special tokens
/// match by exact text first, then by role. When several source tokens share a key, the
/// lowest id wins (after exact-text matches, see [`match_exact`]).
#[must_use]
///
/// `chat` lists (target id, source id) of appended chat-template tokens (see
/// [`append_chat_tokens`]); they are copied from their source rows.
pub fn align(source: &Vocab, target: &Vocab, chat: &[(u32, u32)]) -> Alignment {
    let gpt2 = gpt2_byte_decoder();
    let mut src_normal: HashMap<Vec<u8>, u32> = HashMap::with_capacity(source.len());
    let mut src_bytes: HashMap<u8, u32> = HashMap::new();
    let mut stats = AlignmentStats {
        target_tokens: target.len(),
        source_tokens: source.len(),
        ..Default::default()
    };
    for (id, tok) in source.tokens.iter().enumerate() {
        let Some(key) = canonical_key(source.kind, tok, &gpt2) else {
            continue;
        };
        if tok.kind == TokKind::Byte {
            src_bytes.entry(key[0]).or_insert(id as u32);
        } else if let std::collections::hash_map::Entry::Vacant(e) = src_normal.entry(key) {
            e.insert(id as u32);
        } else {
            stats.source_collisions += 1;
        }
    }
    let tgt_keys: Vec<Option<Vec<u8>>> = target
        .tokens
        .iter()
        .map(|t| canonical_key(target.kind, t, &gpt2))
        .collect();
    let mut tgt_normal_keys: HashMap<&[u8], u32> = HashMap::new();
    for (id, (tok, key)) in target.tokens.iter().zip(&tgt_keys).enumerate() {
        if let (Some(k), false) = (key, tok.kind == TokKind::Byte) {
            if tgt_normal_keys.insert(k.as_slice(), id as u32).is_some() {
                stats.target_duplicate_keys += 1;
            }
        }
    }

    let mut classes = vec![TargetClass::New; target.len()];
    for &(t, s) in chat {
        classes[t as usize] = TargetClass::Chat(s);
    }
    match_exact(source, target, &mut classes, &mut stats);
    let tgt_roles = effective_roles(target);
    for (role, &t) in &tgt_roles {
        let Some(&s) = source.roles.get(role) else {
            continue;
        };
        if (t as usize) < classes.len() && classes[t as usize] == TargetClass::New {
            classes[t as usize] = TargetClass::Special(s, Some(*role));
            stats.roles.insert(role.name().to_owned(), (t, s));
        }
    }
    for (id, (tok, key)) in target.tokens.iter().zip(&tgt_keys).enumerate() {
        if classes[id] != TargetClass::New {
            continue;
        }
        let Some(key) = key else { continue };
        if tok.kind == TokKind::Byte {
            let b = key[0];
            let blocked = src_normal.contains_key(key.as_slice())
                || tgt_normal_keys.contains_key(key.as_slice());
            if let (false, Some(&s)) = (blocked, src_bytes.get(&b)) {
                classes[id] = TargetClass::Shared(s);
                stats.shared_bytes += 1;
            }
        } else if let Some(&s) = src_normal.get(key) {
            classes[id] = TargetClass::Shared(s);
        }
    }
    count_classes(&classes, &mut stats);
    Alignment { classes, stats }
}

/// The alignment of a trimmed copy of the source's own vocabulary: target token `i` is
/// source token `old_ids[i]` (special tokens by their role where they have one), and the
/// appended `chat` tokens are copied. No key is compared, so no row can be lost to a key
/// collision or a byte token that a normal piece blocks.
#[must_use]
pub fn align_identity(
    source: &Vocab,
    target: &Vocab,
    old_ids: &[u32],
    chat: &[(u32, u32)],
) -> Alignment {
    let role_of: HashMap<u32, Role> = source.roles.iter().map(|(r, &id)| (id, *r)).collect();
    let mut stats = AlignmentStats {
        target_tokens: target.len(),
        source_tokens: source.len(),
        ..Default::default()
    };
    let mut classes = vec![TargetClass::New; target.len()];
    for (t, &s) in old_ids.iter().enumerate() {
        let tok = &source.tokens[s as usize];
        classes[t] = match tok.kind {
            TokKind::Control | TokKind::Unknown | TokKind::Unused => {
                let role = role_of.get(&s).copied();
                if let Some(r) = role {
                    stats.roles.insert(r.name().to_owned(), (t as u32, s));
                }
                TargetClass::Special(s, role)
            }
            kind => {
                stats.shared_bytes += usize::from(kind == TokKind::Byte);
                TargetClass::Shared(s)
            }
        };
        stats.exact_text += 1;
    }
    for &(t, s) in chat {
        classes[t as usize] = TargetClass::Chat(s);
    }
    count_classes(&classes, &mut stats);
    Alignment { classes, stats }
}

/// Adds each class's count to `stats`.
fn count_classes(classes: &[TargetClass], stats: &mut AlignmentStats) {
    for c in classes {
        match c {
            TargetClass::Shared(_) => stats.shared += 1,
            TargetClass::Special(..) => stats.special += 1,
            TargetClass::Chat(_) => stats.chat += 1,
            TargetClass::New => stats.new += 1,
        }
    }
}
