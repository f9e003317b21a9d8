//! The `salt` command line: raw flags in, one library call per subcommand, errors printed
//! with their chain. Exit codes: 0 ok, 1 a validation failed, 2 an error.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use salt::auxvec::{AuxSource, TrainOptions};
use salt::pipeline::{transfer, Method, TransferConfig};

/// Peak resident memory of this process so far (Linux; 0 elsewhere).
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Prints to stdout; a closed pipe (`salt ... | head`) ends quietly instead of panicking.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MethodArg {
    Salt,
    Focus,
    Mean,
    Random,
}

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
        /// With --trim-to: also keep every single-character piece of the text's characters.
        #[arg(long, requires = "trim_to")]
        keep_single_chars: bool,
        /// With --trim-to: count held-out lines of this text that the trim segments
        /// differently.
        #[arg(long, requires = "trim_to")]
        heldout: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Adapt a GGUF model to the target tokenizer and write a new GGUF.
    Transfer(TransferArgs),
    /// Evaluate GGUF models through llama.cpp: fertility, perplexity, bits per byte,
    /// tokenizer parity.
    Eval(EvalArgs),
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// GGUF models to evaluate (repeat the flag); the first is the baseline of the table.
    #[arg(long = "model", required = true)]
    models: Vec<PathBuf>,
    /// Held-out text (never used for training).
    #[arg(long)]
    text: PathBuf,
    /// Reference tokenizer for the parity check of every model. Without it, a model
    /// OUT.gguf is checked against OUT.tokenizer.json when that file exists.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Only check tokenizer parity (no perplexity); exit code 1 when a line differs.
    #[arg(long)]
    parity: bool,
    /// Positions per window (stride = window; BOS included when the model adds one).
    #[arg(long, default_value_t = 512)]
    ctx: usize,
    /// Stop after about this many scored tokens per model.
    #[arg(long)]
    max_tokens: Option<usize>,
    /// llama.cpp threads.
    #[arg(long)]
    threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// Write an HTML report (table and charts, self-contained) here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// With --report: a transfer's --plan file, for the neighbour and token-class charts.
    #[arg(long, requires = "report")]
    plan: Option<PathBuf>,
    /// Replace an existing --report file.
    #[arg(long)]
    force: bool,
}

use salt::eval::EvalRow;

fn run_eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let content = salt::pipeline::read_text(&a.text)?;
    // Report inputs are checked, and the report's temporary file made, before the long part.
    let plan = a.plan.as_deref().map(salt::eval::read_plan).transpose()?;
    let report_out = match &a.report {
        Some(path) => {
            let inputs: Vec<&std::path::Path> = a
                .models
                .iter()
                .map(PathBuf::as_path)
                .chain([a.text.as_path()])
                .collect();
            Some(salt::output::AtomicOutput::create(path, a.force, &inputs)?)
        }
        None => None,
    };
    let lines: Vec<&str> = content.lines().collect();
    let mut rows = Vec::new();
    let mut all_parity = true;
    for m in &a.models {
        let f = salt::gguf::GgufFile::open(m)?;
        let label = f
            .opt_str("salt.method")?
            .map_or_else(|| "source".to_owned(), str::to_owned);
        let reference = a.reference.clone().or_else(|| {
            let (json, _) = salt::pipeline::tokenizer_paths(m);
            json.is_file().then_some(json)
        });
        let parity = match &reference {
            Some(r) => {
                let tk = salt::vocab::load_target(r)?;
                let p = salt::eval::parity(m, &tk, &lines)?;
                all_parity &= p.ok();
                Some(p)
            }
            None => None,
        };
        let score = if a.parity {
            None
        } else {
            let opts = salt::eval::ScoreOptions {
                ctx: a.ctx,
                max_tokens: a.max_tokens,
                threads: a.threads,
            };
            let quiet = a.quiet;
            let name = m.display().to_string();
            let mut progress = |i: usize, n: usize| {
                if !quiet && (i % 10 == 0 || i == n) {
                    eprint!("\r{name}: window {i}/{n}   ");
                    if i == n {
                        eprintln!();
                    }
                }
            };
            Some(salt::eval::score(
                m,
                &a.text,
                &content,
                &opts,
                &mut progress,
            )?)
        };
        rows.push(EvalRow {
            label,
            file_bytes: std::fs::metadata(m)?.len(),
            parity,
            score,
        });
    }
    if let (Some(path), Some(mut out)) = (&a.report, report_out) {
        let title = format!(
            "salt eval: {}",
            a.text
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        let html = salt::eval::render_report(&title, &rows, plan.as_ref());
        out.writer()
            .write_all(html.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        out.commit()?;
        if !a.json {
            emit(&format!("report: {}", path.display()));
        }
    }
    if a.json {
        emit(&serde_json::to_string_pretty(&rows)?);
    } else {
        emit(&format!(
            "{:<8} {:>7} {:>9} {:>10} {:>14} {:>10} {:>16} {:>9}",
            "method", "vocab", "MiB", "tok/1kB", "bits/byte", "ppl", "parity", "tokens"
        ));
        for r in &rows {
            let parity = r.parity.as_ref().map_or_else(
                || "-".to_owned(),
                |p| format!("{}/{}", p.identical, p.lines),
            );
            match &r.score {
                Some(s) => emit(&format!(
                    "{:<8} {:>7} {:>9.1} {:>10.1} {:>8.4}±{:.3} {:>10.2} {:>16} {:>9}",
                    r.label,
                    s.n_vocab,
                    r.file_bytes as f64 / 1048576.0,
                    s.tokens_per_kb,
                    s.bits_per_byte,
                    s.bpb_window_std,
                    s.perplexity,
                    parity,
                    s.scored_tokens
                )),
                None => emit(&format!(
                    "{:<8} {:>7} {:>9.1} {:>10} {:>14} {:>10} {:>16} {:>9}",
                    r.label,
                    "-",
                    r.file_bytes as f64 / 1048576.0,
                    "-",
                    "-",
                    "-",
                    parity,
                    "-"
                )),
            }
            if let Some(p) = &r.parity {
                for mm in &p.mismatches {
                    emit(&format!(
                        "  mismatch line {}: {:?}\n    llama.cpp {:?}\n    reference {:?}",
                        mm.line, mm.text, mm.llama_pieces, mm.reference_pieces
                    ));
                }
            }
        }
    }
    Ok(if all_parity {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(clap::Args, Debug)]
struct TransferArgs {
    /// The source GGUF model.
    #[arg(long)]
    source: PathBuf,
    /// The target PLM: a folder (tokenizer + embeddings) or a tokenizer file.
    #[arg(long)]
    plm: PathBuf,
    /// The PLM's embedding table, FILE[:TENSOR] (.safetensors, .npy, .gguf).
    #[arg(long)]
    plm_embeddings: Option<String>,
    /// Auxiliary vectors: a fastText .bin or .vec file, or `plm` (PLM space; not the paper's).
    #[arg(long, conflicts_with = "aux_train")]
    aux: Option<String>,
    /// Train skipgram fastText vectors on this whitespace-tokenized target text.
    #[arg(long)]
    aux_train: Option<PathBuf>,
    /// With --aux-train: save the trained fastText .bin here.
    #[arg(long, requires = "aux_train")]
    aux_save: Option<PathBuf>,
    /// With --aux-train: vector width.
    #[arg(long, default_value_t = 50)]
    aux_dim: i32,
    /// With --aux-train: epochs.
    #[arg(long, default_value_t = 5)]
    aux_epoch: i32,
    /// The output GGUF.
    #[arg(long)]
    out: PathBuf,
    /// How new rows are initialised.
    #[arg(long, value_enum, default_value_t = MethodArg::Salt)]
    method: MethodArg,
    /// Seed for random rows (and fastText training).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Singular values of A below rcond * max are dropped.
    #[arg(long, default_value_t = 1e-6)]
    rcond: f64,
    /// Keep at most K neighbours per token.
    #[arg(long)]
    max_k: Option<usize>,
    /// Output type of the embedding tensors: same, f32, f16, bf16, q8_0, ...
    #[arg(long, default_value = "same")]
    embd_type: String,
    /// Restrict the target vocabulary to the pieces this text uses.
    #[arg(long)]
    trim_to: Option<PathBuf>,
    /// With --trim-to: keep pieces used at least N times.
    #[arg(long, default_value_t = 1)]
    trim_min_count: usize,
    /// With --trim-to: also keep every single-character piece whose character occurs in
    /// the text.
    #[arg(long, requires = "trim_to")]
    keep_single_chars: bool,
    /// With --trim-to: report held-out lines of this text that the trim segments
    /// differently, and new unknown tokens.
    #[arg(long, requires = "trim_to")]
    heldout: Option<PathBuf>,
    /// Do not append the source's chat-template control tokens.
    #[arg(long)]
    no_chat_tokens: bool,
    /// Write the per-token plan (class, neighbours, weights) as JSON lines.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl TransferArgs {
    /// Checks and resolves the raw flags.
    fn resolve(self) -> anyhow::Result<TransferConfig> {
        let aux = match (self.aux.as_deref(), &self.aux_train) {
            (Some("plm"), None) => AuxSource::Plm,
            (Some(p), None) => {
                let path = PathBuf::from(p);
                match path.extension().and_then(|e| e.to_str()) {
                    Some("vec" | "txt") => AuxSource::VecText(path),
                    _ => AuxSource::FastTextBin(path),
                }
            }
            (None, Some(text)) => AuxSource::Train(TrainOptions {
                save: self.aux_save.clone(),
                dim: self.aux_dim,
                epoch: self.aux_epoch,
                seed: i32::try_from(self.seed % (1 << 31)).unwrap_or(0),
                ..TrainOptions::new(text.clone())
            }),
            (None, None) if matches!(self.method, MethodArg::Mean | MethodArg::Random) => {
                AuxSource::Plm
            }
            _ => bail!("give auxiliary vectors: --aux FILE.bin|FILE.vec|plm, or --aux-train TEXT"),
        };
        let embd_type = match self.embd_type.as_str() {
            "same" => None,
            name => Some(salt::ggml::GgmlType::from_name(name).with_context(|| {
                format!("--embd-type {name}: not a ggml type (try q8_0, f16, f32)")
            })?),
        };
        let mut cfg = TransferConfig::new(self.source, self.plm, aux, self.out);
        cfg.plm_embeddings = self.plm_embeddings;
        cfg.method = match self.method {
            MethodArg::Salt => Method::Salt,
            MethodArg::Focus => Method::Focus,
            MethodArg::Mean => Method::Mean,
            MethodArg::Random => Method::Random,
        };
        cfg.seed = self.seed;
        cfg.rcond = self.rcond;
        cfg.max_k = self.max_k;
        cfg.embd_type = embd_type;
        cfg.trim_to = self.trim_to;
        cfg.trim_min_count = self.trim_min_count;
        cfg.trim_keep_chars = self.keep_single_chars;
        cfg.trim_heldout = self.heldout;
        cfg.keep_chat_tokens = if self.no_chat_tokens {
            Some(false)
        } else {
            None
        };
        cfg.force = self.force;
        cfg.plan = self.plan;
        Ok(cfg)
    }
}

/// One line on what trimming kept and, with a held-out text, what it changed there.
fn trim_line(r: &salt::vocab::TrimReport, seg: Option<&salt::vocab::SegmentationChange>) -> String {
    let mut line = format!(
        "trimmed: kept {} of {} target pieces ({} used on {} lines)",
        r.kept, r.original, r.used, r.lines
    );
    if let Some(s) = seg {
        line += &format!(
            "; held-out: {} of {} lines segment differently, {} new unknown tokens",
            s.changed, s.lines, s.new_unknowns
        );
    }
    line
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Transfer(t) => {
            let (threads, quiet, json) = (t.threads, t.quiet, t.json);
            let cfg = t.resolve()?;
            if let Some(n) = threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build_global()
                    .context("setting --threads")?;
            }
            let start = std::time::Instant::now();
            let mut log = |m: &str| {
                if !quiet {
                    eprintln!(
                        "[{:6.1}s {:>5} MiB] {m}",
                        start.elapsed().as_secs_f64(),
                        peak_rss_mib()
                    );
                }
            };
            let r = transfer(&cfg, &mut log)?;
            if json {
                emit(&serde_json::to_string_pretty(&r)?);
            } else {
                emit(&format!(
                    "wrote {} ({:.1} MiB) and {}",
                    r.out,
                    r.bytes as f64 / 1048576.0,
                    r.tokenizer
                ));
                emit(&format!(
                    "method {}: {} tokens = {} shared + {} special + {} chat + {} {} + {} random",
                    r.method.name(),
                    r.n_vocab,
                    r.shared,
                    r.special,
                    r.chat,
                    r.regressed,
                    if r.method == Method::Salt {
                        "regressed"
                    } else {
                        "initialised"
                    },
                    r.random
                ));
                if let Some(t) = &r.trim {
                    emit(&trim_line(t, r.segmentation.as_ref()));
                }
                if !r.k_histogram.is_empty() {
                    let ks: Vec<usize> = r
                        .k_histogram
                        .iter()
                        .flat_map(|(k, c)| std::iter::repeat_n(*k, *c))
                        .collect();
                    emit(&format!(
                        "neighbours: {} anchors; k min {} median {} max {}",
                        r.anchors,
                        ks[0],
                        ks[ks.len() / 2],
                        ks[ks.len() - 1]
                    ));
                }
                if r.method == Method::Salt && r.regressed > 0 {
                    let s = r.solves;
                    emit(&format!(
                        "regression: {} refined from a float32 G, exact path: {} by Cholesky, {} by eigendecomposition",
                        s.refined,
                        s.cholesky,
                        s.eigen
                    ));
                }
                let t: Vec<String> = r
                    .seconds
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.2}s"))
                    .collect();
                emit(&format!("time: {}", t.join(", ")));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(a) => run_eval(a),
        Command::Overlap {
            source,
            plm,
            trim_to,
            trim_min_count,
            keep_single_chars,
            heldout,
            json,
        } => {
            let f = salt::gguf::GgufFile::open(&source)?;
            let src = salt::vocab::vocab_from_gguf(&f)?;
            let spec = trim_to.as_deref().map(|text| salt::pipeline::TrimSpec {
                text,
                min_count: trim_min_count,
                keep_chars: keep_single_chars,
                heldout: heldout.as_deref(),
            });
            let salt::pipeline::TargetSelection {
                tokenizer: tk,
                trim,
                segmentation,
                ..
            } = salt::pipeline::select_target(
                salt::vocab::load_target(&plm)?,
                spec.as_ref(),
                &mut |_| {},
            )?;
            let al = salt::vocab::align(&src, &tk.vocab, &[]);
            if json {
                emit(&format!(
                    "{}",
                    serde_json::json!({"alignment": al.stats, "trim": trim, "segmentation": segmentation})
                ));
            } else {
                if let Some(r) = &trim {
                    emit(&trim_line(r, segmentation.as_ref()));
                }
                let s = &al.stats;
                emit(&format!(
                    "source {} tokens, target {} tokens",
                    s.source_tokens, s.target_tokens
                ));
                emit(&format!(
                    "shared {} (bytes {}), special {}, new {}",
                    s.shared, s.shared_bytes, s.special, s.new
                ));
                emit(&format!(
                    "source key collisions {}, target duplicate keys {}",
                    s.source_collisions, s.target_duplicate_keys
                ));
                for (role, (t, so)) in &s.roles {
                    emit(&format!(
                        "  role {role}: target {t} {:?} <- source {so} {:?}",
                        tk.vocab.text(*t),
                        src.text(*so)
                    ));
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
                emit(&format!("shared examples: {}", ex.join(" ")));
                let ex: Vec<String> = al
                    .classes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == salt::vocab::TargetClass::New)
                    .map(|(i, _)| format!("{:?}", tk.vocab.text(i as u32)))
                    .step_by((s.new / 8).max(1))
                    .take(8)
                    .collect();
                emit(&format!("new examples: {}", ex.join(" ")));
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
                    emit(&s.to_string());
                }
                all.push(s);
            }
            if json {
                emit(&serde_json::to_string_pretty(&all)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What to do about an operating-system error somewhere in the chain, when the error
/// itself (a bare `File too large`, `Permission denied`) does not say.
fn io_hint(e: &anyhow::Error) -> Option<&'static str> {
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

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = io_hint(&e) {
                eprintln!("  hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
