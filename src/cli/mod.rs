//! The command line: [`args`] (raw clap flags) -> [`config`] (resolved library
//! configurations) -> one small function per subcommand.

mod adapt;
pub mod args;
mod config;
mod eval;
mod inspect;
mod overlap;
mod plan;
mod progress;
mod summary;
mod train;
mod transfer;
mod tune;

use std::io::Write;
use std::process::ExitCode;

use args::{Args, Command};

/// Prints to stdout; a closed pipe (`salt ... | head`) ends quietly instead of panicking.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Runs one subcommand.
///
/// # Errors
/// Whatever the subcommand met, with context for the person reading it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Transfer(t) => transfer::run(t.resolve()?),
        Command::Eval(a) => eval::run(a.resolve()),
        Command::Overlap(a) => overlap::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Adapt(a) => adapt::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Tune(a) => tune::run(a.resolve()?),
        Command::Train(a) => train::run(a.resolve()?),
    }
}

/// What to do about an operating-system error somewhere in the chain, when the error
/// itself (a bare `File too large`, `Permission denied`) does not say.
pub fn io_hint(e: &anyhow::Error) -> Option<&'static str> {
    let io = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>())?;
    match io.raw_os_error()? {
        // ENOSPC, EFBIG, EDQUOT
        28 | 27 | 122 => Some(
            "the output device is full or a file-size limit was reached; free space or choose \
             another --out folder (nothing was written to the target path)",
        ),
        // EACCES, EPERM, EROFS
        13 | 1 | 30 => Some(
            "the folder is not writable (permissions or a read-only file system); choose \
             another --out folder",
        ),
        _ => None,
    }
}
