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
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
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
