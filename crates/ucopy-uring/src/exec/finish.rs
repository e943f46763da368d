//! Phase 3: every file of the group gets its outcome. Written files get their metadata, then all
//! descriptors are closed in one submission and each destination's close is checked; files that
//! ended early are removed (by `NewFile`), and fallbacks are copied by the std path.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::io::Errno;
use ucopy_core::{EntryError, FileJob, JobOutcome, Options};
use ucopy_fs::data::{changed_since, copy_again_through_buffer};
use ucopy_fs::file::{data_error, failed, interrupted};
use ucopy_fs::{Closing, NewFile};

use super::data::stops_run;
use super::{Phase, Task, UringExecutor};
use crate::Mode;

/// A written file waiting for its close.
struct Closed {
    job: FileJob,
    closing: Closing,
    meta: Result<(), EntryError>,
    bytes: u64,
}

impl UringExecutor {
    pub(super) fn finish_group(
        &mut self,
        tasks: Vec<Task>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) {
        // Sized for the group up front: grown by doubling they were reallocated (and every
        // `Closed` moved) a few times per group, ~4 % of the workers' user time (PERF.md).
        let mut closing: Vec<Closed> = Vec::with_capacity(tasks.len());
        let mut sources: Vec<OwnedFd> = Vec::with_capacity(tasks.len());
        for (index, mut t) in tasks.into_iter().enumerate() {
            // Bytes spliced in and not out: the pipe is not empty, and no later file may see them.
            if self.mode == Mode::Splice && t.pend > 0 {
                if let Some(ring) = self.ring.as_mut() {
                    ring.reset_pipe(index);
                }
            }
            if t.in_progress() {
                // Neither written nor over: the ring stopped before it was done (cannot happen
                // without an error, which ended it already); never leave it looking complete.
                t.fail_write(Errno::IO);
            }
            if matches!(t.phase, Phase::Written) {
                // The job goes back with the opened file's metadata, which the driver checks the
                // copied length against (a file planned without a stat had none).
                t.job.stat = t.stat;
                let src = t.src.take().expect("a written file has a source");
                let mut dst = t.dst.take().expect("a written file has a destination");
                let checked = self.recheck_spliced(&mut t, &src, &dst, options);
                let meta =
                    checked.map(|()| dst.finish_metadata(&t.job, src.as_fd(), &t.stat, options));
                sources.extend(Arc::try_unwrap(src).ok());
                match meta {
                    Ok(meta) => closing.push(Closed {
                        closing: dst.into_closing(),
                        job: t.job,
                        meta,
                        bytes: t.off,
                    }),
                    Err(e) => {
                        dst.discard(&t.job, options); // incomplete: removed
                        out.push((t.job, failed(e, options)));
                    }
                }
                continue;
            }
            let src = t.src.take();
            // Whatever was made at the destination is removed.
            if let Some(dst) = t.dst.take() {
                dst.discard(&t.job, options);
            }
            let outcome = match std::mem::replace(&mut t.phase, Phase::Open) {
                Phase::Fallback => {
                    drop(src);
                    self.std.copy(&mut t.job, options)
                }
                Phase::Over(outcome) => {
                    sources.extend(src.and_then(|s| Arc::try_unwrap(s).ok()));
                    self.over(&t.job, outcome, options)
                }
                _ => unreachable!("in-progress files were failed above; written ones went on"),
            };
            out.push((t.job, outcome));
        }
        self.close_all(closing, sources, options, out);
    }

    /// The reported outcome of a file that ended early.
    fn over(&mut self, job: &FileJob, outcome: JobOutcome, options: &Options) -> JobOutcome {
        match outcome {
            // Files of the same wave hit ENOSPC together: the first is the error, the others
            // were stopped by it (one line, as the std path gives).
            JobOutcome::Failed(e) if stops_run(&e) && self.fatal_seen => interrupted(job),
            // ENOSPC and the like stop the whole run (the shared cancel flag).
            JobOutcome::Failed(e) => {
                self.fatal_seen |= stops_run(&e);
                failed(e, options)
            }
            o => o,
        }
    }

    /// `splice` only: the pipe held references to page-cache pages, not copies, so a truncation
    /// while they sat there zeroes the cut folio in place and the copy could carry those zeros.
    /// A source whose size or mtime moved during the copy is copied again through a buffer, and
    /// its metadata taken anew.
    fn recheck_spliced(
        &mut self,
        t: &mut Task,
        src: &Arc<OwnedFd>,
        dst: &NewFile,
        options: &Options,
    ) -> Result<(), EntryError> {
        if self.mode != Mode::Splice {
            return Ok(());
        }
        let Some(now) = changed_since(src.as_fd(), &t.stat) else {
            return Ok(());
        };
        t.off = copy_again_through_buffer(src.as_fd(), dst.fd(), &options.cancel)
            .map_err(|e| data_error(&t.job, e))?;
        t.stat = now;
        Ok(())
    }

    /// Closes every descriptor of the group in one submission (`Ring::close_all`; regular files
    /// have no `->flush` on local filesystems, so `IORING_OP_CLOSE` completes inline), then
    /// reports each written file: a failed close removes it (NFS, CIFS and FUSE report deferred
    /// write errors there).
    fn close_all(
        &mut self,
        mut files: Vec<Closed>,
        sources: Vec<OwnedFd>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) {
        let Some(ring) = self.ring.as_mut() else {
            // No ring (it failed): plain close(2), checked all the same.
            drop(sources);
            for f in files {
                let outcome = match f.closing.close(&f.job, options) {
                    Ok(()) => copied(f.meta, f.bytes, options),
                    Err(e) => failed(e, options),
                };
                out.push((f.job, outcome));
            }
            return;
        };
        // Destinations first, so that the first results are theirs; the sources' closes
        // cannot fail in a way that matters (nothing was written through them).
        let mut fds: Vec<OwnedFd> = Vec::with_capacity(files.len() + sources.len());
        fds.extend(files.iter_mut().map(|f| f.closing.take_fd()));
        fds.extend(sources);
        let results = match ring.close_all(fds) {
            Ok(mut results) => {
                results.truncate(files.len());
                results
            }
            // The ring failed: a close it did not report is unknown, so it counts as failed.
            Err(_) => {
                self.ring = None;
                vec![Err(Errno::IO); files.len()]
            }
        };
        for (f, result) in files.into_iter().zip(results) {
            let outcome = match f.closing.closed(&f.job, result, options) {
                Ok(()) => copied(f.meta, f.bytes, options),
                Err(e) => failed(e, options),
            };
            out.push((f.job, outcome));
        }
    }
}

/// The outcome of a written file whose close succeeded: copied, or (metadata failed) an error
/// reported with the file kept — its data is complete, as cp does.
fn copied(meta: Result<(), EntryError>, bytes: u64, options: &Options) -> JobOutcome {
    match meta {
        Ok(()) => JobOutcome::Copied { bytes },
        Err(e) => failed(e, options),
    }
}
