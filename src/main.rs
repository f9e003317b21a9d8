//! The `salt` command line: raw flags in, one library call per subcommand, errors printed
//! with their chain. Exit codes: 0 ok, 1 a validation failed, 2 an error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "salt",
    version,
    about = "Adapt a GGUF LLM to a target language with SALT, and validate it in llama.cpp"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarise a GGUF model: architecture, tokenizer, embedding tensors, tensor types.
    Inspect {
        /// GGUF files to summarise.
        #[arg(required = true)]
        models: Vec<PathBuf>,
        /// Print JSON (one object per file, in an array) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Align a source GGUF's vocabulary with a target tokenizer and count the classes.
    Overlap {
        /// The source GGUF model.
        #[arg(long)]
        source: PathBuf,
        /// The target tokenizer (tokenizer.json, SentencePiece .model, vocab.txt) or PLM folder.
        #[arg(long)]
        plm: PathBuf,
        /// Trim the target vocabulary to the pieces this text uses first.
        #[arg(long)]
        trim_to: Option<PathBuf>,
        /// With --trim-to: keep pieces used at least this many times.
        #[arg(long, default_value_t = 1)]
        trim_min_count: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Overlap {
            source,
            plm,
            trim_to,
            trim_min_count,
            json,
        } => {
            let f = salt::gguf::GgufFile::open(&source)?;
            let src = salt::vocab::vocab_from_gguf(&f)?;
            let mut tk = salt::vocab::load_target(&plm)?;
            let mut trim = None;
            if let Some(t) = &trim_to {
                let text = std::fs::read_to_string(t)
                    .with_context(|| format!("reading {}", t.display()))?;
                let (trimmed, _, report) =
                    salt::vocab::trim_to_text(&tk, &text, trim_min_count, false)?;
                tk = trimmed;
                trim = Some(report);
            }
            let al = salt::vocab::align(&src, &tk.vocab);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"alignment": al.stats, "trim": trim})
                );
            } else {
                if let Some(r) = &trim {
                    println!(
                        "trimmed: kept {} of {} target pieces ({} used on {} lines)",
                        r.kept, r.original, r.used, r.lines
                    );
                }
                let s = &al.stats;
                println!(
                    "source {} tokens, target {} tokens",
                    s.source_tokens, s.target_tokens
                );
                println!(
                    "shared {} (bytes {}), special {}, new {}",
                    s.shared, s.shared_bytes, s.special, s.new
                );
                println!(
                    "source key collisions {}, target duplicate keys {}",
                    s.source_collisions, s.target_duplicate_keys
                );
                for (role, (t, so)) in &s.roles {
                    println!(
                        "  role {role}: target {t} {:?} <- source {so} {:?}",
                        tk.vocab.text(*t),
                        src.text(*so)
                    );
                }
                let ex: Vec<String> = al
                    .classes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| match c {
                        salt::vocab::TargetClass::Shared(so) => {
                            Some(format!("{:?}={:?}", tk.vocab.text(i as u32), src.text(*so)))
                        }
                        _ => None,
                    })
                    .step_by((s.shared / 8).max(1))
                    .take(8)
                    .collect();
                println!("shared examples: {}", ex.join(" "));
                let ex: Vec<String> = al
                    .classes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == salt::vocab::TargetClass::New)
                    .map(|(i, _)| format!("{:?}", tk.vocab.text(i as u32)))
                    .step_by((s.new / 8).max(1))
                    .take(8)
                    .collect();
                println!("new examples: {}", ex.join(" "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { models, json } => {
            let mut all = Vec::new();
            for m in &models {
                let f = salt::gguf::GgufFile::open(m)?;
                let s = salt::inspect::inspect(&f)
                    .with_context(|| format!("inspecting {}", m.display()))?;
                if !json {
                    println!("{s}");
                }
                all.push(s);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
