//! `salt plan`.

use std::process::ExitCode;

use salt::plan::{plan, PlanConfig};
use salt::vocab::TrimKeep;

use super::args::PlanArgs;
use super::emit;
use super::progress::Lines;

/// Plans and prints the routes (text or JSON).
pub fn run(a: PlanArgs) -> anyhow::Result<ExitCode> {
    let cfg = PlanConfig {
        plm: a.plm.filter(|p| !salt::plan::is_source(p, &a.source)),
        source: a.source,
        text: a.text,
        keep: TrimKeep::default(),
    };
    let mut lines = Lines::new(a.quiet);
    let p = plan(&cfg, &mut lines)?;
    drop(lines);
    if a.json {
        emit(&serde_json::to_string_pretty(&p)?);
    } else {
        emit(salt::plan::table(&p).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
