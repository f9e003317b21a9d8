//! `salt overlap`.

use std::process::ExitCode;

use salt::vocab::{TargetClass, TargetSelection};

use super::args::OverlapArgs;
use super::emit;
use super::summary::trim_line;

/// Up to eight examples of `items`, evenly spaced.
fn examples(items: impl Iterator<Item = String>, n: usize) -> String {
    items
        .step_by((n / 8).max(1))
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Aligns and prints the class counts (text or JSON).
pub fn run(a: OverlapArgs) -> anyhow::Result<ExitCode> {
    let f = salt::gguf::GgufFile::open(&a.source)?;
    let src = salt::vocab::vocab_from_gguf(&f)?;
    let TargetSelection {
        tokenizer: tk,
        trim,
        segmentation,
        ..
    } = salt::vocab::select_target(
        salt::vocab::load_target(&a.plm)?,
        a.trim.spec()?.as_ref(),
        &mut |_| {},
    )?;
    let al = salt::vocab::align(&src, &tk.vocab, &[]);
    if a.json {
        emit(&format!(
            "{}",
            serde_json::json!({"alignment": al.stats, "trim": trim, "segmentation": segmentation})
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(r) = &trim {
        emit(&trim_line(r, segmentation.as_ref()));
    }
    let s = &al.stats;
    emit(&format!(
        "source {} tokens, target {} tokens",
        s.source_tokens, s.target_tokens
    ));
    emit(&format!(
        "shared {} (bytes {}), special {}, new {}",
        s.shared, s.shared_bytes, s.special, s.new
    ));
    emit(&format!(
        "source key collisions {}, target duplicate keys {}",
        s.source_collisions, s.target_duplicate_keys
    ));
    for (role, (t, so)) in &s.roles {
        emit(&format!(
            "  role {role}: target {t} {:?} <- source {so} {:?}",
            tk.vocab.text(*t),
            src.text(*so)
        ));
    }
    let classes = || al.classes.iter().enumerate();
    let shared = classes().filter_map(|(i, c)| match c {
        TargetClass::Shared(so) => {
            Some(format!("{:?}={:?}", tk.vocab.text(i as u32), src.text(*so)))
        }
        _ => None,
    });
    emit(&format!("shared examples: {}", examples(shared, s.shared)));
    let new = classes()
        .filter(|(_, c)| **c == TargetClass::New)
        .map(|(i, _)| format!("{:?}", tk.vocab.text(i as u32)));
    emit(&format!("new examples: {}", examples(new, s.new)));
    Ok(ExitCode::SUCCESS)
}
