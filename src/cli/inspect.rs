//! `salt inspect`.

use std::process::ExitCode;

use anyhow::Context;

use super::args::InspectArgs;
use super::emit;

/// Summarises each file, as text or one JSON array.
pub fn run(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for m in &a.models {
        let f = salt::gguf::GgufFile::open(m)?;
        let s =
            salt::inspect::inspect(&f).with_context(|| format!("inspecting {}", m.display()))?;
        if !a.json {
            emit(&s.to_string());
        }
        all.push(s);
    }
    if a.json {
        emit(&serde_json::to_string_pretty(&all)?);
    }
    Ok(ExitCode::SUCCESS)
}
