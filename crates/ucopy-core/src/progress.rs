//! Progress callbacks, so a front end can draw a bar, print `-v` lines and report errors as they
//! happen, without the engine knowing how.

use std::path::Path;

use crate::{EntryError, Kind};

/// Receives events as a copy runs, from the thread that drives it. Keep calls cheap.
pub trait Progress: Send + Sync {
    /// An entry was copied: `bytes` of data for a regular file, 0 otherwise. `kind` is what was
    /// made (`File` also for a hard link).
    fn copied(&self, _kind: Kind, _src: &Path, _dst: &Path, _bytes: u64) {}
    /// An entry failed; the error is also kept in the report.
    fn failed(&self, _error: &EntryError) {}
    /// A warning (a source entry vanished during the copy); also kept in the report.
    fn warned(&self, _warning: &EntryError) {}
    /// The run adapted to a limit of this machine (fewer threads, a backend that fell back to
    /// plain system calls); also kept in the report's `notes`.
    fn noted(&self, _note: &str) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
