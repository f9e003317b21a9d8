//! The `salt` command line: raw flags in, one library call per subcommand, errors printed
//! with their chain. Exit codes: 0 ok, 1 a validation failed, 2 an error.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = cli::io_hint(&e) {
                eprintln!("  hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
