//! Worker dispatch: the worker threads that copy batches of regular files with a backend's
//! executor (and leaf directories whole, `leaves.rs`, `candidates.rs`), and the driver side that
//! hands batches out and takes outcomes in (with `leaves.rs`, the one place the report and the
//! progress hear about regular files).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use rustix::io::Errno;
use ucopy_core::{
    cause, Batch, CopiedPaths, DirNode, EntryError, Executor, ExecutorFactory, FileJob, JobOrigin,
    JobOutcome, Kind, LinkStatus, Op, Options, PlannedFile, Progress,
};

use super::candidates::{copy_candidates, NotCopied, LISTING_BUFFER};
use super::fd_tables::LocalDirs;
use super::leaves::{copy_leaves, LeafDone};
use super::{Driver, FatalError};
use crate::dispatch::WorkItem;
use crate::StdCopier;

pub(super) enum WorkerMsg {
    /// Worker `.0` copied a batch.
    Done(usize, Vec<(FileJob, JobOutcome)>),
    /// Worker `.0`'s executor could not be made.
    StartFailed(usize, io::Error),
    /// Worker `.0` made, filled and finished these leaf directories.
    Leaves(usize, Vec<LeafDone>),
    /// Candidates of a group a worker is on that it will not copy (no leaves, or vanished),
    /// sent as soon as the group is listed; the group itself ends with `CandidateLeaves`.
    NotCopied(Vec<NotCopied>),
    /// Worker `.0` copied the leaves among a group of candidates.
    CandidateLeaves(usize, Vec<LeafDone>),
    /// Work worker `.0` was sent but could not run (its executor failed to start).
    NotRun(usize, WorkItem),
    /// The executor could not be made within this machine's limits; the worker copies with
    /// plain system calls.
    Degraded(String),
}

pub(super) fn worker(
    id: usize,
    factory: &dyn ExecutorFactory,
    options: &Options,
    driver_pidfd: Option<BorrowedFd<'_>>,
    items: Receiver<WorkItem>,
    done: Sender<WorkerMsg>,
    progress: &dyn Progress,
) {
    // A table of its own first, before the executor opens anything (fd_tables.rs).
    let mut local_dirs = driver_pidfd
        .zip(options.private_worker_fds)
        .and_then(|(pidfd, private)| LocalDirs::enter(pidfd, private));
    let mut executor = match factory.make(options) {
        Ok(e) => Some(e),
        // Out of locked memory, descriptors or memory (a ring, registered buffers): this worker
        // copies with plain system calls instead, and says so once.
        Err(e) if is_resource_limit(&e) => {
            let note = format!(
                "a {} worker could not start ({}): it copies with plain system calls (std)",
                factory.name(),
                cause(&e)
            );
            if done.send(WorkerMsg::Degraded(note)).is_err() {
                return;
            }
            None
        }
        Err(e) => {
            let _ = done.send(WorkerMsg::StartFailed(id, e));
            // Hand back whatever was queued here until the driver stops sending.
            for item in items {
                if done.send(WorkerMsg::NotRun(id, item)).is_err() {
                    return;
                }
            }
            return;
        }
    };
    let mut std = StdCopier::default();
    let mut listing = Vec::new();
    for item in items {
        let batch = match item {
            WorkItem::Batch(batch) => batch,
            WorkItem::Leaves(tasks) => {
                let mut run = |batch| run_batch(&mut executor, &mut std, batch, options);
                let tasks = tasks.into_iter().map(|t| (t, None, Vec::new())).collect();
                let leaves = copy_leaves(tasks, &mut run, local_dirs.as_mut(), options, progress);
                if done.send(WorkerMsg::Leaves(id, leaves)).is_err() {
                    return;
                }
                continue;
            }
            WorkItem::Candidates(tasks) => {
                if listing.is_empty() {
                    listing = vec![MaybeUninit::uninit(); LISTING_BUFFER];
                }
                let mut run = |batch| run_batch(&mut executor, &mut std, batch, options);
                let local = local_dirs.as_mut();
                let mut give_back = |not_copied| {
                    let _ = done.send(WorkerMsg::NotCopied(not_copied));
                };
                let leaves = copy_candidates(
                    tasks,
                    &mut run,
                    local,
                    &mut listing,
                    &mut give_back,
                    options,
                    progress,
                );
                if done.send(WorkerMsg::CandidateLeaves(id, leaves)).is_err() {
                    return;
                }
                continue;
            }
        };
        let (batch, failed, originals) = match local_dirs.as_mut() {
            Some(local) => {
                let (run, failed, originals) = local.localize(batch);
                (run, failed, Some(originals))
            }
            None => (batch, Vec::new(), None),
        };
        let mut results = run_batch(&mut executor, &mut std, batch, options);
        results.extend(failed);
        if let Some(originals) = originals {
            LocalDirs::restore(&mut results, originals);
        }
        if done.send(WorkerMsg::Done(id, results)).is_err() {
            return;
        }
    }
}

/// Copies a batch with the worker's executor, or with plain system calls where it has none
/// (also the driver's own copy of a small tree, `held.rs`).
pub(super) fn run_batch(
    executor: &mut Option<Box<dyn Executor>>,
    std: &mut StdCopier,
    batch: Batch,
    options: &Options,
) -> Vec<(FileJob, JobOutcome)> {
    match executor.as_mut() {
        _ if batch.is_empty() => Vec::new(),
        Some(executor) => executor.copy_batch(batch, options),
        None => batch
            .into_iter()
            .map(|mut job| {
                let outcome = std.copy(&mut job, options);
                (job, outcome)
            })
            .collect(),
    }
}

/// Errors that mean "this machine's limits", not "this backend cannot work here".
/// (The errno may sit below a backend's own error type.)
fn is_resource_limit(e: &io::Error) -> bool {
    let limits = [Errno::NOMEM, Errno::MFILE, Errno::NFILE, Errno::AGAIN].map(Errno::raw_os_error);
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(code) = err
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return limits.contains(&code);
        }
        cur = match err.downcast_ref::<io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

impl Driver<'_> {
    /// Hands a batch to the workers, taking in results while too many batches wait.
    pub(super) fn dispatch(&mut self, files: Vec<PlannedFile>) -> Result<(), FatalError> {
        let mut batch = Vec::with_capacity(files.len());
        // The destination descriptor of the directory of the file before: a batch's files come
        // directory by directory, and each look-up takes the node's locks.
        let mut last: Option<(Arc<DirNode>, Arc<OwnedFd>)> = None;
        for file in files {
            // The file's fields move into its job: a clone and a drop of the directory's node
            // per file would be two atomic operations on a count the workers' jobs share.
            let PlannedFile {
                entry,
                src_dir,
                link,
            } = file;
            let known = last
                .as_ref()
                .filter(|(d, _)| Arc::ptr_eq(d, &entry.dir))
                .map(|(_, fd)| Arc::clone(fd));
            let dst_dir = if known.is_some() {
                known
            } else if entry.dir.dst_failed() {
                None
            } else {
                match entry.dir.dst_fd() {
                    Ok(fd) => {
                        last = Some((Arc::clone(&entry.dir), Arc::clone(&fd)));
                        Some(fd)
                    }
                    Err(e) => {
                        self.fail(EntryError::new(entry.dst_path(), Op::Open, e));
                        None
                    }
                }
            };
            let Some(dst_dir) = dst_dir else {
                // Never handed out: the file is finished now. The other names of its inode must
                // learn that it was not copied (they are copied instead), or they would wait
                // for a completion that never comes.
                if let Some(group) = &link {
                    group.set_status(LinkStatus::Failed);
                }
                self.file_finished(&entry.dir);
                continue;
            };
            self.in_flight += 1;
            // The entry's own name is kept only when the job reads another one (a followed
            // symlink): messages name what the user sees.
            let (src_name, own_name) = match entry.resolved {
                Some((_, name)) => (name, Some(entry.src_name)),
                None => (entry.src_name, None),
            };
            batch.push(FileJob {
                src_dir,
                src_name,
                dst_dir,
                dst_name: entry.dst_name,
                origin: JobOrigin::Planned {
                    dir: entry.dir,
                    name: own_name,
                    link,
                },
                stat: entry.stat,
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        let files = batch.len();
        self.dispatch.push(batch);
        if !self.hold_or_hand_out(files, false) {
            return Ok(());
        }
        self.wait_for_room()
    }

    /// Takes in results while too much waits to be handed out (after starting another worker,
    /// if the copy may have more and every one started is busy).
    pub(super) fn wait_for_room(&mut self) -> Result<(), FatalError> {
        self.start_more_workers();
        while self.dispatch.full() {
            if self.workers_alive == 0 {
                let e = self
                    .startup_error
                    .take()
                    .unwrap_or_else(|| io::Error::other("no worker"));
                return Err(FatalError::Backend {
                    backend: self.backend,
                    source: e,
                });
            }
            self.collect(true);
        }
        Ok(())
    }

    /// Starts one more worker when more work has been handed out than there are workers to run
    /// it (one running and at least one queued), until the copy has as many as it may. A worker
    /// that cannot start ends the starting, with a note; the copy goes on with those it has.
    pub(super) fn start_more_workers(&mut self) {
        let Some(later) = &self.later else {
            return;
        };
        let started = self.dispatch.workers();
        if self.dispatch.outstanding() <= started || self.workers_alive == 0 {
            return;
        }
        match (later.start)(started, later.done_tx.clone(), None) {
            Ok(sender) => {
                self.dispatch.add_worker(sender);
                self.workers_alive += 1;
                if started + 1 >= later.wanted {
                    self.later = None;
                }
            }
            Err(e) => {
                let note = super::cannot_start_more(started, later.wanted, &e);
                self.progress.noted(&note);
                self.report.notes.push(note);
                self.later = None;
            }
        }
        self.dispatch.pump();
    }

    /// Takes in finished batches: all that are ready, or (with `block`) at least one.
    pub(super) fn collect(&mut self, block: bool) {
        if block {
            match self.done_rx.recv() {
                Ok(msg) => self.handle(msg),
                Err(_) => {
                    self.workers_alive = 0;
                    return;
                }
            }
        }
        while let Ok(msg) = self.done_rx.try_recv() {
            self.handle(msg);
        }
    }

    pub(super) fn handle(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::StartFailed(id, e) => {
                self.workers_alive -= 1;
                self.startup_error = Some(e);
                self.dispatch.worker_gone(id);
            }
            WorkerMsg::Degraded(note) => {
                if !self.report.notes.contains(&note) {
                    self.progress.noted(&note);
                    self.report.notes.push(note);
                }
            }
            WorkerMsg::NotRun(id, item) => {
                self.dispatch.returned(id, item.jobs().iter());
                if self.workers_alive == 0 {
                    // Nobody can run it: the run ends with the start-up error (a leaf's task,
                    // with the driver's descriptors, is dropped here).
                    return;
                }
                self.dispatch.requeue(item);
            }
            WorkerMsg::Leaves(id, leaves) => {
                self.dispatch.returned(id, std::iter::empty());
                for leaf in leaves {
                    self.leaf_done(leaf);
                }
            }
            WorkerMsg::NotCopied(not_copied) => self.candidates_not_copied(not_copied),
            WorkerMsg::CandidateLeaves(id, leaves) => {
                self.dispatch.returned(id, std::iter::empty());
                self.candidate_leaves_done(leaves);
            }
            WorkerMsg::Done(id, results) => {
                self.dispatch
                    .returned(id, results.iter().map(|(job, _)| job));
                for (job, outcome) in results {
                    self.finished(job, outcome);
                }
            }
        }
        self.dispatch.pump();
    }

    /// Counts a copied file. One that ended before the size it had when the copy started is
    /// kept (it is all the source has now, as cp keeps it) but said: a file that shrank, or a
    /// filesystem that cut it short, must not pass for a complete copy in silence.
    pub(super) fn copied_file(&mut self, job: &FileJob, bytes: u64) {
        self.report.files += 1;
        self.report.bytes += bytes;
        if let Some(w) = say_copied(job, bytes, self.options, self.progress) {
            self.progress.warned(&w);
            self.report.warnings.push(w);
        }
    }

    pub(super) fn finished(&mut self, job: FileJob, outcome: JobOutcome) {
        self.in_flight -= 1;
        let status = self.count_file(&job, outcome);
        if let JobOrigin::Planned { dir, link, .. } = &job.origin {
            if let Some(group) = link {
                group.set_status(status);
            }
            self.file_finished(dir);
        }
    }

    /// Counts one regular file's outcome, from a worker or from this thread: the one place the
    /// report and the progress hear about files.
    pub(super) fn count_file(&mut self, job: &FileJob, outcome: JobOutcome) -> LinkStatus {
        match outcome {
            JobOutcome::Copied { bytes } => {
                self.copied_file(job, bytes);
                LinkStatus::Copied
            }
            JobOutcome::Skipped => {
                self.report.skipped += 1;
                LinkStatus::Copied
            }
            JobOutcome::Vanished(w) => {
                self.progress.warned(&w);
                self.report.warnings.push(w);
                LinkStatus::Failed
            }
            JobOutcome::Failed(e) => {
                self.fail(e);
                LinkStatus::Failed
            }
        }
    }
}

/// What is said of a copied file wherever it is counted (the driver, or a worker copying a leaf
/// directory): it is remembered as just created (several sources onto one name) and reported
/// as copied; returned, the warning for a file copied shorter than the size it had when the
/// copy started. A sparse copy counts only its data; the sparse path ends the file at the
/// source's length itself.
pub(super) fn say_copied(
    job: &FileJob,
    bytes: u64,
    options: &Options,
    progress: &dyn Progress,
) -> Option<EntryError> {
    if let Some(created) = &options.just_created {
        created.record(&CopiedPaths::job(job).dst());
    }
    progress.copied(Kind::File, CopiedPaths::job(job), bytes);
    (bytes < job.stat.size && !job.stat.maybe_sparse() && !options.attributes_only).then(|| {
        EntryError::new(
            job.path(),
            Op::Changed,
            io::Error::other(format!(
                "ended early: copied {bytes} of the {} bytes it had when the copy started",
                job.stat.size
            )),
        )
    })
}
