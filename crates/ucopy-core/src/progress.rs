//! Progress callbacks, so a front end can draw a bar without the engine knowing how.

/// Receives progress as a copy runs. Called from the thread that drives the copy; cheap calls
/// only (the CLI's implementation updates atomics behind an indicatif bar).
pub trait Progress: Send + Sync {
    /// The totals became known (or grew): `files` regular files and `bytes` file bytes.
    fn add_total(&self, _files: u64, _bytes: u64) {}
    /// One regular file finished, with `bytes` bytes.
    fn file_done(&self, _bytes: u64) {}
    /// A non-file entry (dir, symlink, special, hard link) finished.
    fn entry_done(&self) {}
    /// One entry failed; the message is already in the report.
    fn failed(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
