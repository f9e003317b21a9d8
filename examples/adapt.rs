//! 2. Adapt a GGUF model in-process with the library (what an app embedding llama.cpp does):
//!    `adapt SOURCE.gguf PLM_DIR FASTTEXT.bin TRIM_TEXT OUT.gguf`.

use salt::auxvec::AuxSource;
use salt::pipeline::{transfer, Method, TransferConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, source, plm, aux, trim, out] = args.as_slice() else {
        return Err("usage: adapt SOURCE.gguf PLM_DIR FASTTEXT.bin TRIM_TEXT OUT.gguf".into());
    };
    let mut cfg = TransferConfig::new(
        source.into(),
        plm.into(),
        AuxSource::FastTextBin(aux.into()),
        out.into(),
    );
    cfg.method = Method::Salt;
    cfg.trim_to = Some(trim.into());
    let report = transfer(&cfg, &mut |line| eprintln!("{line}"))?;
    println!(
        "{}: {} tokens ({} shared, {} regressed, {} random)",
        report.out, report.n_vocab, report.shared, report.regressed, report.random
    );
    Ok(())
}
