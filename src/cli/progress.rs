//! The CLI's view of the library's progress events: message lines with elapsed time and
//! peak memory, and a progress bar for counted steps on a terminal. When stderr is not a
//! terminal (a log, `nohup`), counted steps print a line instead, at most every
//! [`LOG_EVERY`] seconds, so a long run is never silent.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use salt::progress::{Event, Progress, Stage};

/// Peak resident memory of this process so far (Linux; 0 elsewhere).
pub fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Seconds between two step lines when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Prints events to stderr.
pub struct Lines {
    start: Instant,
    quiet: bool,
    bar: Option<(Stage, ProgressBar)>,
    /// Not a terminal: when the last step line was printed.
    logged: Option<Instant>,
}

impl Lines {
    /// A printer (`quiet`: print nothing).
    pub fn new(quiet: bool) -> Self {
        let logged = (!std::io::stderr().is_terminal()).then(Instant::now);
        Self {
            start: Instant::now(),
            quiet,
            bar: None,
            logged,
        }
    }

    fn finish_bar(&mut self) {
        if let Some((_, b)) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.finish_bar();
    }
}

impl Progress for Lines {
    fn event(&mut self, e: &Event<'_>) {
        if self.quiet {
            return;
        }
        if e.total == 0 {
            self.finish_bar();
            eprintln!(
                "[{:6.1}s {:>5} MiB] {}",
                self.start.elapsed().as_secs_f64(),
                peak_rss_mib(),
                e.message
            );
            return;
        }
        if let Some(last) = self.logged {
            if last.elapsed() >= LOG_EVERY || e.done >= e.total {
                eprintln!(
                    "[{:6.1}s {:>5} MiB] {}: {}/{}",
                    self.start.elapsed().as_secs_f64(),
                    peak_rss_mib(),
                    e.stage.name(),
                    e.done,
                    e.total
                );
                self.logged = Some(Instant::now());
            }
            return;
        }
        if self.bar.as_ref().is_none_or(|(s, _)| *s != e.stage) {
            self.finish_bar();
            let b = ProgressBar::new(e.total);
            b.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(e.stage.name());
            self.bar = Some((e.stage, b));
        }
        if let Some((_, b)) = &self.bar {
            b.set_length(e.total);
            b.set_position(e.done);
            if e.done >= e.total {
                self.finish_bar();
            }
        }
    }
}
