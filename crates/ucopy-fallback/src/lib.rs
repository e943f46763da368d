//! ucopy's portable executor: every file through plain system calls, using the fastest kernel
//! path per file (`FICLONE`, then `copy_file_range`, sparse-aware, then `read`/`write`).
//!
//! It is the backend `auto` falls back to when io_uring is unusable, and the reference the
//! io_uring executors are tested against: their trees must equal this one's.
//!
//! ```no_run
//! use ucopy_core::{NoProgress, Options};
//! use ucopy_fallback::StdFactory;
//!
//! let report = ucopy_fs::copy_tree(
//!     "src".as_ref(),
//!     "dst".as_ref(),
//!     &Options::default(),
//!     &StdFactory,
//!     2,
//!     &NoProgress,
//! )
//! .expect("copy starts");
//! assert!(report.is_success());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use ucopy_core::{Batch, Executor, ExecutorFactory, FileJob, JobOutcome, Options};
use ucopy_fs::StdCopier;

/// Makes [`StdExecutor`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFactory;

impl ExecutorFactory for StdFactory {
    fn name(&self) -> &'static str {
        "std"
    }

    fn make(&self, _options: &Options) -> std::io::Result<Box<dyn Executor>> {
        Ok(Box::new(StdExecutor::default()))
    }
}

/// Copies a batch one file after another with plain system calls; the driver runs one per
/// worker thread, so files still copy in parallel across threads.
#[derive(Debug, Default)]
pub struct StdExecutor {
    copier: StdCopier,
}

impl Executor for StdExecutor {
    fn name(&self) -> &'static str {
        "std"
    }

    fn copy_batch(&mut self, batch: Batch, options: &Options) -> Vec<(FileJob, JobOutcome)> {
        batch
            .into_iter()
            .map(|mut job| {
                let outcome = self.copier.copy(&mut job, options);
                (job, outcome)
            })
            .collect()
    }
}
