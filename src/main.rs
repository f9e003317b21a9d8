//! The `salt` command line: raw flags in, one library call per subcommand, errors printed
//! with their chain. Exit codes: 0 ok, 1 a validation failed, 2 an error.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // `--version` names the llama.cpp this build validates with and whether CUDA is in.
    // clap prints the version after its own "salt " prefix: drop ours.
    let info = salt::version::build_info().to_string();
    // Leaked once per process: clap wants a 'static str without its "string" feature.
    let version: &'static str = Box::leak(
        info.strip_prefix("salt ")
            .unwrap_or(&info)
            .to_owned()
            .into_boxed_str(),
    );
    let matches = cli::args::Args::command().version(version).get_matches();
    let args = match cli::args::Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
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
