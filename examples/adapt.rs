//! 2. Adapt a GGUF model in-process with the library (what an app embedding llama.cpp does):
//!    `adapt SOURCE.gguf PLM_DIR FASTTEXT.bin TRIM_TEXT OUT.gguf [CANCEL_AFTER_MS]`.
//!
//! Progress arrives as structured events (stage, done, total, message); the run can be
//! cancelled from another thread through a [`CancelFlag`]. With `CANCEL_AFTER_MS`, a
//! watchdog thread raises the flag after that many milliseconds: the call then returns
//! `Error::Cancelled` and nothing is left at `OUT.gguf`.

use std::time::Duration;

use salt::auxvec::AuxSource;
use salt::pipeline::{transfer, Method, TransferConfig};
use salt::progress::{CancelFlag, Event, WithCancel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (source, plm, aux, trim, out, cancel_ms) = match args.as_slice() {
        [_, s, p, a, t, o] => (s, p, a, t, o, None),
        [_, s, p, a, t, o, ms] => (s, p, a, t, o, Some(ms.parse::<u64>()?)),
        _ => return Err(
            "usage: adapt SOURCE.gguf PLM_DIR FASTTEXT.bin TRIM_TEXT OUT.gguf [CANCEL_AFTER_MS]"
                .into(),
        ),
    };
    let mut cfg = TransferConfig::new(
        source.into(),
        plm.into(),
        AuxSource::FastTextBin(aux.into()),
        out.into(),
    );
    cfg.init.method = Method::Salt;
    cfg.target.trim_to = Some(trim.into());

    let flag = CancelFlag::new();
    if let Some(ms) = cancel_ms {
        let f = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            f.cancel();
        });
    }
    let mut progress = WithCancel {
        on_event: |e: &Event<'_>| {
            if e.total == 0 {
                eprintln!("[{}] {}", e.stage.name(), e.message);
            } else {
                eprintln!("[{}] {}/{}", e.stage.name(), e.done, e.total);
            }
        },
        flag,
    };
    match transfer(&cfg, &mut progress) {
        Ok(report) => {
            println!(
                "{}: {} tokens ({} shared, {} regressed, {} random)",
                report.out, report.n_vocab, report.shared, report.regressed, report.random
            );
            Ok(())
        }
        Err(salt::Error::Cancelled) => {
            println!("cancelled; {} was not written", cfg.output.out.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
