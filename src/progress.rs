//! Progress events and cancellation, for the CLI and for applications that embed the
//! library.
//!
//! A long call ([`crate::pipeline::transfer`], [`crate::eval::evaluate`]) reports what it
//! does as structured [`Event`]s (stage, done, total, message) to a [`Progress`], and asks
//! it between blocks of work whether to go on. A cancelled run stops at the next check,
//! removes its temporary files and returns [`crate::Error::Cancelled`]; nothing is left at
//! an output path.
//!
//! Checks happen on the calling thread, between blocks of a few thousand tokens (or one
//! evaluation window), so a cancel takes effect within a fraction of a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

/// The stage an event belongs to, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Reading and checking the source GGUF.
    Source,
    /// Loading, trimming and aligning the target vocabulary.
    Target,
    /// Reading the PLM's embedding table.
    Plm,
    /// Auxiliary vectors (fastText).
    AuxVectors,
    /// Similarities and sparsemax supports.
    Neighbours,
    /// New rows by an initialiser (the regression for `salt`).
    Initialise,
    /// Building the embedding tensors.
    Assemble,
    /// Writing the output files.
    Write,
    /// Evaluating a model through llama.cpp.
    Eval,
    /// Hidden states of a training text (`salt tune`).
    Hidden,
    /// Fitting the head (`salt tune`).
    Fit,
    /// Training rows through the frozen body (`salt train`).
    Train,
}

impl Stage {
    /// A short name (`neighbours`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
            Self::Plm => "plm",
            Self::AuxVectors => "aux_vectors",
            Self::Neighbours => "neighbours",
            Self::Initialise => "initialise",
            Self::Assemble => "assemble",
            Self::Write => "write",
            Self::Eval => "eval",
            Self::Hidden => "hidden",
            Self::Fit => "fit",
            Self::Train => "train",
        }
    }
}

/// One progress event. `total` is 0 for a plain message; otherwise `done` of `total`
/// units (tokens, windows) of the stage are finished.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Event<'a> {
    /// The stage.
    pub stage: Stage,
    /// Units done.
    pub done: u64,
    /// Units in the stage (0: a message without a count).
    pub total: u64,
    /// What is happening, for a person (may be empty for a pure count).
    pub message: &'a str,
}

/// Receives events and says whether to go on.
pub trait Progress {
    /// Called for every event, on the calling thread.
    fn event(&mut self, event: &Event<'_>);

    /// Asked between blocks of work: `true` stops the run with [`crate::Error::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// Discards events and never cancels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&mut self, _: &Event<'_>) {}
}

impl<F: FnMut(&Event<'_>)> Progress for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event);
    }
}

/// A cancel flag that another thread can raise; clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A lowered flag.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag: the run stops at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is raised.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A [`Progress`] from an event callback and a [`CancelFlag`].
pub struct WithCancel<F> {
    /// Called for every event.
    pub on_event: F,
    /// Checked between blocks.
    pub flag: CancelFlag,
}

impl<F: FnMut(&Event<'_>)> Progress for WithCancel<F> {
    fn event(&mut self, event: &Event<'_>) {
        (self.on_event)(event);
    }

    fn cancelled(&self) -> bool {
        self.flag.is_cancelled()
    }
}

/// The library's side of a [`Progress`]: typed helpers for stages.
pub struct Reporter<'p> {
    sink: &'p mut dyn Progress,
}

impl<'p> Reporter<'p> {
    /// Wraps a progress receiver.
    pub fn new(sink: &'p mut dyn Progress) -> Self {
        Self { sink }
    }

    /// A message line of `stage`.
    pub fn message(&mut self, stage: Stage, message: &str) {
        self.sink.event(&Event {
            stage,
            done: 0,
            total: 0,
            message,
        });
    }

    /// `done` of `total` units of `stage`, then the cancel check.
    ///
    /// # Errors
    /// [`crate::Error::Cancelled`] when the receiver asks to stop.
    pub fn step(&mut self, stage: Stage, done: usize, total: usize) -> Result<(), crate::Error> {
        self.sink.event(&Event {
            stage,
            done: done as u64,
            total: total as u64,
            message: "",
        });
        self.check()
    }

    /// The cancel check alone.
    ///
    /// # Errors
    /// [`crate::Error::Cancelled`] when the receiver asks to stop.
    pub fn check(&self) -> Result<(), crate::Error> {
        if self.sink.cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A tick for a stage's block loop: reports progress and returns `false` to stop.
    pub fn ticker(&mut self, stage: Stage) -> impl FnMut(usize, usize) -> bool + use<'_, 'p> {
        move |done, total| self.step(stage, done, total).is_ok()
    }
}
