//! 1. Rewrite a GGUF file unchanged through the container code: `rewrite IN.gguf OUT.gguf`.
//!
//! The output is byte-identical to the input; this is the skeleton every adaptation uses
//! (parse, edit the header, choose a source per tensor, write atomically).

use salt::gguf::{write_gguf, GgufFile, GgufHeader, TensorSource};
use salt::output::AtomicOutput;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, src, dst] = args.as_slice() else {
        return Err("usage: rewrite IN.gguf OUT.gguf".into());
    };
    let (src, dst) = (std::path::Path::new(src), std::path::Path::new(dst));
    let f = GgufFile::open(src)?;
    let header = GgufHeader::from_file(&f);
    let sources: Vec<_> = (0..f.tensors.len())
        .map(|i| TensorSource::Copy(&f, i))
        .collect();
    let mut out = AtomicOutput::create(dst, false, &[src])?;
    write_gguf(&mut out.writer(), dst, &header, &sources)?;
    out.commit()?;
    Ok(())
}
