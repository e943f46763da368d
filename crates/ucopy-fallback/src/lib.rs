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

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use ucopy_core::{Batch, Executor, ExecutorFactory, FileJob, JobOutcome, Options};
use ucopy_fs::{copy_job, KernelPaths};

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
    paths: KernelPaths,
    /// The destination filesystem of the last directory seen, by fd number: one `fstat` per
    /// directory instead of per file.
    dst_dev: Option<(i32, u64)>,
}

impl StdExecutor {
    fn dst_dev(&mut self, dir: &Arc<OwnedFd>) -> u64 {
        let raw = dir.as_raw_fd();
        match self.dst_dev {
            Some((fd, dev)) if fd == raw => dev,
            _ => {
                let dev = ucopy_fs::data::device_of(dir.as_ref()).unwrap_or(0);
                self.dst_dev = Some((raw, dev));
                dev
            }
        }
    }
}

impl Executor for StdExecutor {
    fn name(&self) -> &'static str {
        "std"
    }

    fn copy_batch(&mut self, batch: Batch, options: &Options) -> Vec<(FileJob, JobOutcome)> {
        let mut out = Vec::with_capacity(batch.len());
        for job in batch {
            let outcome = if options.cancel.is_cancelled() {
                JobOutcome::Failed(ucopy_core::EntryError::new(
                    &job.dst_path,
                    ucopy_core::Op::Interrupted,
                    std::io::Error::from(std::io::ErrorKind::Interrupted),
                ))
            } else {
                let dev = self.dst_dev(&job.dst_dir);
                copy_job(&job, options, &mut self.paths, dev)
            };
            out.push((job, outcome));
        }
        out
    }
}
