//! The driver: carries out a [`Planner`]'s steps with worker threads, each owning an
//! [`Executor`](ucopy_core::Executor) from the chosen backend.
//!
//! The driver thread walks (the planner runs here), creates directories, symlinks, special files
//! and hard links, and applies each directory's mode and times once everything in it is written;
//! workers copy batches of regular files. A directory counts its files in flight; it is finished
//! when the planner is done with it *and* its last file came back, so times stick at every level.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode};
use rustix::io::Errno;
use ucopy_core::{
    file_id, Batch, DirNode, Entry, EntryError, ExecutorFactory, FileJob, JobOutcome, Kind,
    LinkGroup, LinkMode, LinkStatus, Op, Options, PlanError, PlanOptions, PlannedFile, Planner,
    Progress, Report, Step, DIR_FLAGS,
};

use crate::dest::{
    clear_unfinished, is_left_unfinished, make_room, mark_unfinished, Room, PRIVATE_DIR_MODE,
};
use crate::dispatch::Dispatch;
use crate::existing::Incoming;
use crate::meta::{finish_at, mode_and_times_fd, own_fd, read_xattrs, write_xattrs, Xattrs};
use crate::StdCopier;

/// Why a copy could not start at all (exit 2 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum FatalError {
    /// The source could not be planned (missing, unreadable).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The destination's parent directory could not be opened.
    #[error("cannot create '{}': {}", .path.display(), ucopy_core::cause(.source))]
    DestParent {
        /// The destination the user named.
        path: std::path::PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not one worker thread could be started (RLIMIT_AS, RLIMIT_NPROC).
    #[error("cannot start a worker thread: {}", cause(.source))]
    Threads {
        /// Why.
        source: io::Error,
    },
    /// No executor could be made (e.g. io_uring setup failed on every worker).
    #[error("cannot start the {backend} backend: {}", ucopy_core::cause(.source))]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// How many descriptors the copy may hold, derived from `RLIMIT_NOFILE` so that `ulimit -n 16`
/// still copies (slowly, with one worker and one file in flight) instead of failing with EMFILE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// Worker threads (at most the number asked for).
    pub threads: usize,
    /// Files per batch.
    pub queue_depth: usize,
    /// Source directory fds the walk may hold.
    pub max_open_src_dirs: usize,
    /// Destination directory fds the driver may hold.
    pub max_open_dst_dirs: usize,
}

impl FdBudget {
    /// Fds reserved for stdio, rings, eventfds, the operands' directories and the like (at most
    /// half of a small limit).
    const RESERVED: usize = 24;
    /// Worst case per file in flight: source, destination, and a splice pipe's two ends; plus a
    /// share of its directories'.
    const PER_JOB: usize = 5;

    /// The budget for `threads` workers (each with one batch running and one queued) under the
    /// fd limit `limit`, wanting `queue_depth` files per batch.
    pub fn new(limit: usize, threads: usize, queue_depth: usize) -> FdBudget {
        FdBudget::with_per_worker(limit, threads, queue_depth, 0)
    }

    /// Like [`FdBudget::new`] for a backend whose every worker holds `per_worker` descriptors
    /// besides its files (a ring, splice pipes: [`ExecutorFactory::fds_per_worker`]).
    pub fn with_per_worker(
        limit: usize,
        threads: usize,
        queue_depth: usize,
        per_worker: usize,
    ) -> FdBudget {
        let avail = limit
            .saturating_sub(Self::RESERVED.min(limit * 5 / 8))
            .max(4);
        // Each worker needs room for at least one file in flight in each of its two batches.
        let threads = threads.clamp(1, (avail / (4 * Self::PER_JOB + per_worker)).max(1));
        let avail = avail.saturating_sub(threads * per_worker).max(4);
        let batches_in_flight = 2 * threads;
        let per_batch = avail / 2 / batches_in_flight;
        FdBudget {
            threads,
            queue_depth: queue_depth.min(per_batch / Self::PER_JOB).max(1),
            max_open_src_dirs: (avail / 4).max(1),
            max_open_dst_dirs: (avail / 4).max(1),
        }
    }

    /// The budget under this process's current soft limit, raised to the hard limit first.
    pub fn from_rlimit(threads: usize, queue_depth: usize) -> FdBudget {
        FdBudget::from_rlimit_per_worker(threads, queue_depth, 0)
    }

    /// [`FdBudget::from_rlimit`] for workers that each hold `per_worker` descriptors of their own.
    pub fn from_rlimit_per_worker(
        threads: usize,
        queue_depth: usize,
        per_worker: usize,
    ) -> FdBudget {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut lim = getrlimit(Resource::Nofile);
        if lim.current < lim.maximum {
            lim.current = lim.maximum;
            // Best effort: a container may forbid it; then the current limit stands.
            let _ = setrlimit(Resource::Nofile, lim);
            lim = getrlimit(Resource::Nofile);
        }
        let limit = lim.current.map_or(1 << 20, |c| c.min(1 << 20) as usize);
        FdBudget::with_per_worker(limit, threads, queue_depth, per_worker)
    }

    /// What the planner is given under this budget: the plan a copy with `options` follows
    /// (also what `--dry-run` prints).
    pub fn plan_options(&self, options: &Options) -> PlanOptions {
        PlanOptions {
            queue_depth: self.queue_depth,
            max_open_dirs: self.max_open_src_dirs,
            max_dirs_per_batch: self.queue_depth,
            ..PlanOptions::from_options(options)
        }
    }
}

/// Copies one top-level `source` to exactly `dest` (already resolved: `dest` is the path the
/// copy of `source` gets) with executors from `factory` on `threads` worker threads.
pub fn copy_tree(
    source: &Path,
    dest: &Path,
    options: &Options,
    factory: &dyn ExecutorFactory,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Report, FatalError> {
    let threads_asked = threads.max(1);
    let threads = threads_asked;
    let budget =
        FdBudget::from_rlimit_per_worker(threads, options.queue_depth, factory.fds_per_worker());
    let planner = Planner::new(source, dest, budget.plan_options(options))?;
    let anchor = Arc::clone(planner.anchor());
    let anchor_fd = ucopy_core::open_operand_dir(anchor.dst_path()).map_err(|source| {
        FatalError::DestParent {
            path: dest.to_path_buf(),
            source,
        }
    })?;
    anchor
        .set_dst(anchor_fd, false)
        .map_err(|source| FatalError::DestParent {
            path: dest.to_path_buf(),
            source,
        })?;

    let (done_tx, done_rx) = unbounded::<WorkerMsg>();
    let threads = threads.min(budget.threads);
    thread::scope(|scope| {
        let mut spawned = 0;
        let mut spawn_error = None;
        let mut senders = Vec::with_capacity(threads);
        for id in 0..threads {
            // Room for every batch a worker may hold (see dispatch.rs).
            let (batch_tx, batch_rx) = bounded::<Batch>(crate::dispatch::PER_WORKER);
            let done_tx = done_tx.clone();
            // Under a small RLIMIT_AS or RLIMIT_NPROC a thread may not start: copy with the
            // threads that did, and fail with one line only if none did (a smaller stack only
            // moved the failure to the heap, where it aborts).
            let started = thread::Builder::new()
                .name("ucopy-worker".into())
                .spawn_scoped(scope, move || {
                    worker(id, factory, options, batch_rx, done_tx)
                });
            match started {
                Ok(_) => {
                    senders.push(batch_tx);
                    spawned += 1;
                }
                Err(e) => {
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        drop(done_tx);
        let mut notes = Vec::new();
        if budget.threads < threads_asked {
            notes.push(format!(
                "{} worker thread{} instead of {threads_asked}: the open-file limit \
                 (RLIMIT_NOFILE) is small",
                budget.threads,
                if budget.threads == 1 { "" } else { "s" }
            ));
        }
        if let Some(e) = spawn_error {
            if spawned == 0 {
                return Err(FatalError::Threads { source: e });
            }
            notes.push(format!(
                "{spawned} worker thread{} instead of {threads}: cannot start more ({})",
                if spawned == 1 { "" } else { "s" },
                cause(&e)
            ));
        }
        for n in &notes {
            progress.noted(n);
        }
        let mut driver = Driver {
            options,
            progress,
            backend: factory.name(),
            report: Report {
                notes,
                ..Report::default()
            },
            in_flight: HashMap::new(),
            next_token: 0,
            waiting_dirs: HashMap::new(),
            open_dst: std::collections::VecDeque::new(),
            max_open_dst: budget.max_open_dst_dirs,
            std: StdCopier::default(),
            dir_xattrs: HashMap::new(),
            workers_alive: spawned,
            startup_error: None,
            done_rx,
            // Enough look-ahead to reach the next directory or two while one worker finishes a
            // large one — unless the fd limit is tight (the budget cut the batch size).
            // Directory affinity is off (look-ahead 0): interleaved A/B rounds on tmpfs (machine
            // shared) measured it at 0.67x and 0.96x of plain any-free-worker dispatch, and its
            // ext4 gain is unconfirmed; PERF.md. `Dispatch::new(senders, 4 * threads)` turns it on.
            dispatch: Dispatch::new(senders, 0),
            fatal_said: Vec::new(),
        };
        let result = driver.run(planner);
        result.map(|()| driver.report)
    })
    .map(|mut report| {
        // Every worker has ended (the scope joined them): nothing records any more.
        report.incomplete.extend(options.leftovers.take());
        report
    })
}

enum WorkerMsg {
    /// Worker `.0` copied a batch.
    Done(usize, Vec<(FileJob, JobOutcome)>),
    /// Worker `.0`'s executor could not be made.
    StartFailed(usize, io::Error),
    /// A batch worker `.0` was sent but could not run (its executor failed to start).
    NotRun(usize, Batch),
    /// The executor could not be made within this machine's limits; the worker copies with
    /// plain system calls.
    Degraded(String),
}

fn worker(
    id: usize,
    factory: &dyn ExecutorFactory,
    options: &Options,
    batches: Receiver<Batch>,
    done: Sender<WorkerMsg>,
) {
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
            for batch in batches {
                if done.send(WorkerMsg::NotRun(id, batch)).is_err() {
                    return;
                }
            }
            return;
        }
    };
    let mut std = StdCopier::default();
    for batch in batches {
        let results = match executor.as_mut() {
            Some(executor) => executor.copy_batch(batch, options),
            None => batch
                .into_iter()
                .map(|mut job| {
                    let outcome = std.copy(&mut job, options);
                    (job, outcome)
                })
                .collect(),
        };
        if done.send(WorkerMsg::Done(id, results)).is_err() {
            return;
        }
    }
}

/// An error's text without Rust's " (os error N)" suffix, as cp prints causes.
fn cause(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
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

/// What the driver remembers about a file in flight.
struct InFlight {
    dir: Arc<DirNode>,
    link: Option<Arc<LinkGroup>>,
}

struct Driver<'a> {
    options: &'a Options,
    progress: &'a dyn Progress,
    backend: &'static str,
    report: Report,
    in_flight: HashMap<u64, InFlight>,
    next_token: u64,
    /// Directories the planner finished whose files are still in flight, by address.
    waiting_dirs: HashMap<usize, Arc<DirNode>>,
    /// Directories holding a destination fd, oldest first (released beyond the budget).
    open_dst: std::collections::VecDeque<Arc<DirNode>>,
    max_open_dst: usize,
    /// Copies hard-link names whose first copy failed, on this thread.
    std: StdCopier,
    /// Source xattrs of directories not finished yet (only those that have any).
    dir_xattrs: HashMap<usize, Xattrs>,
    workers_alive: usize,
    startup_error: Option<io::Error>,
    done_rx: Receiver<WorkerMsg>,
    /// Which worker gets which batch (directory-affine), and the batches not sent yet.
    dispatch: Dispatch,
    /// The causes (errno) of the fatal errors already printed: each is said once.
    fatal_said: Vec<Option<i32>>,
}

impl Driver<'_> {
    fn run(&mut self, planner: Planner) -> Result<(), FatalError> {
        for step in planner {
            if self.stopping() {
                break;
            }
            self.collect(false);
            let linking = self.options.link_mode != LinkMode::Copy;
            match step {
                Step::Dir(node) => self.make_dir(&node),
                Step::Files(files) if linking => {
                    for file in files {
                        self.link_entry(&file.entry, Kind::File);
                        self.file_finished(&file.entry.dir);
                    }
                }
                Step::Symlink(entry, _) | Step::HardLink(entry, _) if linking => {
                    let kind = if entry.stat.kind() == Kind::Symlink {
                        Kind::Symlink
                    } else {
                        Kind::File
                    };
                    self.link_entry(&entry, kind)
                }
                Step::Special(entry) if linking => self.link_entry(&entry, Kind::Special),
                Step::Files(files) => self.dispatch(files)?,
                Step::Symlink(entry, target) => self.make_symlink(&entry, &target),
                Step::Special(entry) if self.options.copy_contents && is_content(&entry) => {
                    self.copy_contents(&entry)
                }
                Step::Special(entry) => self.make_special(&entry),
                Step::HardLink(entry, group) => self.make_hard_link(&entry, &group),
                Step::DirDone(node) => self.dir_done(node),
                Step::Error(e) => self.fail(e),
            }
        }
        self.dispatch.drain();
        while !self.in_flight.is_empty() && self.workers_alive > 0 {
            self.dispatch.pump();
            self.collect(true);
        }
        // Closes the workers' queues: they finish and exit.
        self.dispatch = Dispatch::new(Vec::new(), 0);
        if let Some(e) = self.startup_error.take() {
            if self.report.files == 0 && self.workers_alive == 0 {
                return Err(FatalError::Backend {
                    backend: self.backend,
                    source: e,
                });
            }
        }
        if self.options.cancel.is_cancelled() {
            self.report.stopped = true;
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.options.cancel.is_cancelled()
    }

    fn fail(&mut self, error: EntryError) {
        if error.op == Op::Interrupted {
            // One "interrupted" is said by the front end; per-file echoes of it are noise.
            self.report.stopped = true;
            return;
        }
        if error.is_fatal() {
            // The destination is full or read-only: stop promptly, one line is enough.
            self.options.cancel.cancel();
            self.report.stopped = true;
            // Every file in flight on that filesystem fails the same way (a write, a create, a
            // chown): those are echoes of the first line, kept for `--json` but not printed.
            let code = error.error.raw_os_error();
            if self.fatal_said.contains(&code) {
                self.report.errors.push(error);
                return;
            }
            self.fatal_said.push(code);
        }
        self.progress.failed(&error);
        self.report.errors.push(error);
    }

    /// Hands a batch to the workers, taking in results while too many batches wait.
    fn dispatch(&mut self, files: Vec<PlannedFile>) -> Result<(), FatalError> {
        let mut batch = Vec::with_capacity(files.len());
        for file in files {
            let dir = Arc::clone(&file.entry.dir);
            let dst_dir = if dir.dst_failed() {
                None
            } else {
                match dir.dst_fd() {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        self.fail(EntryError::new(file.entry.dst_path(), Op::Open, e));
                        None
                    }
                }
            };
            let Some(dst_dir) = dst_dir else {
                // Never handed out: the file is finished now. The other names of its inode must
                // learn that it was not copied (they are copied instead), or they would wait
                // for a completion that never comes.
                if let Some(group) = &file.link {
                    group.set_status(LinkStatus::Failed);
                }
                self.file_finished(&dir);
                continue;
            };
            let token = self.next_token;
            self.next_token += 1;
            self.in_flight.insert(
                token,
                InFlight {
                    dir,
                    link: file.link,
                },
            );
            let (path, dst_path) = (file.entry.path(), file.entry.dst_path());
            let src_name = match file.entry.resolved {
                Some((_, name)) => name,
                None => file.entry.src_name,
            };
            batch.push(FileJob {
                path,
                dst_path,
                src_dir: file.src_dir,
                src_name,
                dst_dir,
                dst_name: file.entry.dst_name,
                token,
                stat: file.entry.stat,
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.dispatch.push(batch);
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

    /// Takes in finished batches: all that are ready, or (with `block`) at least one.
    fn collect(&mut self, block: bool) {
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

    fn handle(&mut self, msg: WorkerMsg) {
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
            WorkerMsg::NotRun(id, batch) => {
                self.dispatch.returned(id, batch.iter());
                if self.workers_alive == 0 {
                    // Nobody can run it: the run ends with the start-up error.
                    return;
                }
                self.dispatch.requeue(batch);
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
    fn copied_file(&mut self, job: &FileJob, bytes: u64) {
        self.record_created(&job.dst_path);
        self.report.files += 1;
        self.report.bytes += bytes;
        self.progress
            .copied(Kind::File, &job.path, &job.dst_path, bytes);
        // A sparse copy counts only its data; the sparse path ends the file at the source's
        // length itself.
        if bytes < job.stat.size && !job.stat.maybe_sparse() && !self.options.attributes_only {
            let w = EntryError::new(
                &job.path,
                Op::Changed,
                io::Error::other(format!(
                    "ended early: copied {bytes} of the {} bytes it had when the copy started",
                    job.stat.size
                )),
            );
            self.progress.warned(&w);
            self.report.warnings.push(w);
        }
    }

    fn finished(&mut self, job: FileJob, outcome: JobOutcome) {
        let Some(InFlight { dir, link }) = self.in_flight.remove(&job.token) else {
            return;
        };
        let status = self.count_file(&job, outcome);
        if let Some(group) = link {
            group.set_status(status);
        }
        self.file_finished(&dir);
    }

    /// Counts one regular file's outcome, from a worker or from this thread: the one place the
    /// report and the progress hear about files.
    fn count_file(&mut self, job: &FileJob, outcome: JobOutcome) -> LinkStatus {
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

    /// One file of `dir` is no longer in flight; finish the directory if it was the last.
    fn file_finished(&mut self, dir: &Arc<DirNode>) {
        let left = {
            let mut pending = dir.pending();
            *pending -= 1;
            *pending
        };
        if left == 0 {
            if let Some(node) = self.waiting_dirs.remove(&(Arc::as_ptr(dir) as usize)) {
                self.finish_dir(&node);
            }
        }
    }

    fn dir_done(&mut self, node: Arc<DirNode>) {
        if *node.pending() == 0 {
            self.finish_dir(&node);
        } else {
            self.waiting_dirs.insert(Arc::as_ptr(&node) as usize, node);
        }
    }

    /// Creates (or merges into) a destination directory, private while it fills: mode 0700 and
    /// the unfinished mark (`dest::mark_unfinished`).
    fn make_dir(&mut self, node: &Arc<DirNode>) {
        if node.parent().is_some_and(|p| p.dst_failed()) {
            node.mark_dst_failed();
            return;
        }
        match self.create_dir(node) {
            Ok(()) => {
                self.report.dirs += 1;
                // As cp -v: a directory is reported when it is made, not when merged into.
                if node.dst_created() {
                    self.progress
                        .copied(Kind::Dir, node.path(), node.dst_path(), 0);
                }
            }
            Err(e) => {
                node.mark_dst_failed();
                self.fail(e);
            }
        }
    }

    fn create_dir(&mut self, node: &Arc<DirNode>) -> Result<(), EntryError> {
        let dst_err = |op, e: io::Error| EntryError::new(node.dst_path(), op, e);
        let parent = node
            .parent()
            .expect("a directory below the anchor")
            .dst_fd();
        let parent = parent.map_err(|e| dst_err(Op::Open, e))?;
        let name = node.dst_name();
        let mut flags = DIR_FLAGS;
        let created =
            match rfs::mkdirat(parent.as_fd(), name, Mode::from_raw_mode(PRIVATE_DIR_MODE)) {
                Ok(()) => true,
                Err(Errno::EXIST) => {
                    let st = rfs::statat(parent.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| dst_err(Op::Stat, e.into()))?;
                    match FileType::from_raw_mode(st.st_mode) {
                        // Left unfinished by an interrupted run (checked once opened): it gets its
                        // final mode as if created now (see `dest`'s "Resuming an interrupted copy").
                        FileType::Directory => false,
                        // --keep-directory-symlink: the user asked to merge into a symlinked dir.
                        FileType::Symlink
                            if self.options.keep_directory_symlink
                                && rfs::statat(parent.as_fd(), name, AtFlags::empty())
                                    .is_ok_and(|t| {
                                        FileType::from_raw_mode(t.st_mode) == FileType::Directory
                                    }) =>
                        {
                            flags = DIR_FLAGS.difference(rustix::fs::OFlags::NOFOLLOW);
                            false
                        }
                        // A symlink inside the destination must never redirect writes (row 4);
                        // anything else is a type conflict (row 3). Both leave it untouched.
                        FileType::Symlink => {
                            return Err(dst_err(
                                Op::Conflict,
                                io::Error::other(
                                    "destination is a symlink; not writing through it",
                                ),
                            ))
                        }
                        _ => {
                            return Err(dst_err(
                                Op::Conflict,
                                io::Error::other("a non-directory is in the way of a directory"),
                            ))
                        }
                    }
                }
                Err(e) => return Err(dst_err(Op::Mkdir, e.into())),
            };
        let fd = rfs::openat(parent.as_fd(), name, flags, Mode::empty())
            .map_err(|e| dst_err(Op::Open, e.into()))?;
        let created = if created {
            mark_unfinished(fd.as_fd());
            true
        } else {
            flags == DIR_FLAGS && is_left_unfinished(fd.as_fd())
        };
        let stat = node.stat().expect("not the anchor");
        // Owner now; xattrs are read now (the source fd is open) but written when the directory
        // is finished: a default ACL written now would be inherited by every child made later.
        own_fd(fd.as_fd(), None, stat, self.options).map_err(|e| dst_err(e.op, e.error))?;
        let keep = self.options.preserved();
        if keep.xattr || keep.mode {
            let src = node
                .src_fd()
                .map_err(|e| EntryError::new(node.path(), Op::Open, e))?;
            // -p without xattrs still copies the ACLs: they are part of the mode for cp.
            let xattrs = if keep.xattr {
                read_xattrs(src.as_fd()).map_err(|e| EntryError::new(node.path(), Op::Xattr, e))?
            } else {
                crate::meta::read_acls(src.as_fd())
                    .map_err(|e| EntryError::new(node.path(), e.op, e.error))?
            };
            if !xattrs.is_empty() {
                self.dir_xattrs.insert(Arc::as_ptr(node) as usize, xattrs);
            }
        }
        node.set_dst(fd, created)
            .map_err(|e| dst_err(Op::Stat, e))?;
        self.open_dst.push_back(Arc::clone(node));
        while self.open_dst.len() > self.max_open_dst {
            if let Some(old) = self.open_dst.pop_front() {
                old.release_dst();
            }
        }
        Ok(())
    }

    /// Applies a directory's final mode and times, now that everything in it is written.
    fn finish_dir(&mut self, node: &Arc<DirNode>) {
        if node.is_anchor() || node.dst_failed() || self.stopping() {
            self.dir_xattrs.remove(&(Arc::as_ptr(node) as usize));
            node.release_dst_upward();
            return;
        }
        let stat = *node.stat().expect("not the anchor");
        let xattrs = self.dir_xattrs.remove(&(Arc::as_ptr(node) as usize));
        let result = node
            .dst_fd()
            .map_err(|e| EntryError::new(node.dst_path(), Op::Open, e))
            .and_then(|fd| {
                if let Some(xattrs) = &xattrs {
                    write_xattrs(fd.as_fd(), xattrs)
                        .map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
                }
                if node.dst_created() {
                    clear_unfinished(fd.as_fd())
                        .map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
                }
                mode_and_times_fd(fd.as_fd(), &stat, self.options, node.dst_created())
                    .map_err(|e| EntryError::new(node.dst_path(), e.op, e.error))
            });
        node.release_dst_upward();
        if let Err(e) = result {
            self.fail(e);
        }
    }

    /// Runs `create` for a non-directory entry, freeing the name first if something is there.
    /// `resolves_to` is what the new object will refer to (a symlink's target, a hard link's
    /// source): replacing that very object is refused as "the same file".
    fn create_entry(
        &mut self,
        entry: &Entry,
        op: Op,
        wanted: Option<(u64, u64)>,
        resolves_to: impl Fn() -> Option<(u64, u64)>,
        create: impl Fn(&OwnedFd, &CStr) -> rustix::io::Result<()>,
    ) -> Result<Room, EntryError> {
        let dst_path = entry.dst_path();
        let src_path = entry.path();
        let dir = entry
            .dir
            .dst_fd()
            .map_err(|e| EntryError::new(&dst_path, Op::Open, e))?;
        for _ in 0..2 {
            match create(&dir, &entry.dst_name) {
                Ok(()) => return Ok(Room::Free),
                Err(Errno::EXIST) => {
                    let incoming = Incoming {
                        path: &src_path,
                        stat: &entry.stat,
                        resolves_to: resolves_to(),
                    };
                    match make_room(
                        dir.as_fd(),
                        &entry.dst_name,
                        &dst_path,
                        self.options,
                        wanted,
                        incoming,
                    )? {
                        Room::Free => continue,
                        other => return Ok(other),
                    }
                }
                Err(e) => return Err(EntryError::new(&dst_path, op, e)),
            }
        }
        Err(EntryError::new(
            &dst_path,
            op,
            io::Error::from(Errno::EXIST),
        ))
    }

    fn finish_entry(
        &mut self,
        entry: &Entry,
        created: bool,
        is_symlink: bool,
    ) -> Result<(), EntryError> {
        let dst = entry
            .dir
            .dst_fd()
            .map_err(|e| EntryError::new(entry.dst_path(), Op::Open, e))?;
        let src = entry
            .dir
            .src_fd()
            .map_err(|e| EntryError::new(entry.path(), Op::Open, e))?;
        finish_at(
            dst.as_fd(),
            &entry.dst_name,
            src.as_fd(),
            &entry.src_name,
            &entry.stat,
            self.options,
            created,
            is_symlink,
        )
        .map_err(|e| EntryError::new(entry.dst_path(), e.op, e.error))
    }

    fn entry_result(
        &mut self,
        entry: &Entry,
        kind: Kind,
        result: Result<Room, EntryError>,
        is_symlink: bool,
    ) {
        let result = result.and_then(|room| match room {
            Room::Free => self.finish_entry(entry, true, is_symlink).map(|()| true),
            Room::Keep | Room::Same => Ok(false),
        });
        match result {
            Ok(true) => {
                self.record_created(&entry.dst_path());
                match kind {
                    Kind::Symlink => self.report.symlinks += 1,
                    _ => self.report.specials += 1,
                }
                self.progress
                    .copied(kind, &entry.path(), &entry.dst_path(), 0);
            }
            Ok(false) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    fn make_symlink(&mut self, entry: &Entry, target: &std::ffi::OsStr) {
        if entry.dir.dst_failed() {
            return;
        }
        let src_dir = entry.dir.src_fd().ok();
        let resolves_to = || {
            let dir = src_dir.as_ref()?;
            let st = rfs::statat(dir.as_fd(), &entry.src_name, AtFlags::empty()).ok()?;
            Some(file_id(&st))
        };
        let result = self.create_entry(entry, Op::Symlink, None, resolves_to, |dir, name| {
            rfs::symlinkat(target, dir, name)
        });
        self.entry_result(entry, Kind::Symlink, result, true);
    }

    fn make_special(&mut self, entry: &Entry) {
        if entry.dir.dst_failed() {
            return;
        }
        let stat = entry.stat;
        let kind = FileType::from_raw_mode(stat.mode);
        // Private while it is being made; finish_at gives the final mode.
        let mode = crate::dest::create_mode(&stat, self.options);
        let result = self.create_entry(
            entry,
            Op::Mknod,
            None,
            || None,
            |dir, name| rfs::mknodat(dir, name, kind, mode, stat.rdev),
        );
        self.entry_result(entry, Kind::Special, result, false);
    }

    /// Links another name of an inode to its first copy, waiting for that copy if it is still in
    /// flight; if the first copy failed, this name is copied instead and becomes the first.
    fn make_hard_link(&mut self, entry: &Entry, group: &Arc<LinkGroup>) {
        if entry.dir.dst_failed() {
            return;
        }
        let (status, first_dir, first_name) = loop {
            let (status, dir, name) = group.first();
            // Waiting is only useful while something is in flight: a first name that is not
            // (never dispatched, or lost) is treated as failed, and this name is copied.
            if status != LinkStatus::Planned
                || self.workers_alive == 0
                || self.in_flight.is_empty()
                || self.stopping()
            {
                break (status, dir, name);
            }
            self.collect(true);
        };
        if self.stopping() {
            return;
        }
        if status != LinkStatus::Copied {
            self.copy_here(entry, group);
            return;
        }
        let wanted = first_dir.dst_fd().and_then(|fd| {
            let st = rfs::statat(fd.as_fd(), &first_name, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok((fd, file_id(&st)))
        });
        let (first_fd, wanted) = match wanted {
            Ok(w) => w,
            // The first copy cannot be reached any more (its directory was moved or replaced
            // meanwhile): this name is copied instead and becomes the first, so that it ends
            // copied or reported under its own name, never silently missing.
            Err(_) => {
                self.copy_here(entry, group);
                return;
            }
        };
        let result = self.create_entry(
            entry,
            Op::Link,
            Some(wanted),
            || None,
            |dir, name| rfs::linkat(first_fd.as_fd(), &first_name, dir, name, AtFlags::empty()),
        );
        match result {
            Ok(Room::Free | Room::Same) => {
                self.record_created(&entry.dst_path());
                self.report.hardlinks += 1;
                self.progress
                    .copied(Kind::File, &entry.path(), &entry.dst_path(), 0);
            }
            Ok(Room::Keep) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    /// `-l` / `-s`: makes `entry`'s destination a hard or symbolic link to its source.
    fn link_entry(&mut self, entry: &Entry, kind: Kind) {
        if entry.dir.dst_failed() {
            return;
        }
        let src_dir = match entry.dir.src_fd() {
            Ok(fd) => fd,
            Err(e) => return self.fail(EntryError::new(entry.path(), Op::Open, e)),
        };
        let (src_dir, src_name) = entry.src_at(&src_dir);
        let src_id = (entry.stat.dev, entry.stat.ino);
        let symbolic = self.options.link_mode == LinkMode::Symbolic;
        let target = entry.path();
        if symbolic && target.is_relative() {
            // cp's rule: a relative source only makes a valid link from the current directory.
            let dst = entry.dst_path();
            if dst
                .parent()
                .is_some_and(|p| !p.as_os_str().is_empty() && p != Path::new("."))
            {
                return self.fail(EntryError::new(
                    &dst,
                    Op::Refused,
                    io::Error::other(format!(
                        "'{}': can make relative symbolic links only in current directory",
                        dst.display()
                    )),
                ));
            }
        }
        let wanted = (!symbolic).then_some(src_id);
        // cp -l / -s leave an existing destination alone (EEXIST) unless told to replace it
        // (-f, --remove-destination, -b) or to skip it (-n, -u).
        let replace = self.options.remove_destination
            || self.options.backup != ucopy_core::Backup::Off
            || self.options.keeps_existing()
            || self.options.update != ucopy_core::Update::All;
        if !replace {
            let dir = match entry.dir.dst_fd() {
                Ok(fd) => fd,
                Err(e) => return self.fail(EntryError::new(entry.dst_path(), Op::Open, e)),
            };
            let exists = rfs::statat(dir.as_fd(), &entry.dst_name, AtFlags::SYMLINK_NOFOLLOW);
            if let Ok(st) = exists {
                if symbolic || file_id(&st) != src_id {
                    let what = if symbolic { "symlink" } else { "hard link" };
                    return self.fail(EntryError::new(
                        entry.dst_path(),
                        Op::Refused,
                        io::Error::other(format!(
                            "cannot create {what} '{}' to '{}': File exists",
                            entry.dst_path().display(),
                            entry.path().display()
                        )),
                    ));
                }
            }
        }
        let result = if symbolic {
            self.create_entry(
                entry,
                Op::Symlink,
                None,
                || None,
                |dir, name| rfs::symlinkat(&target, dir, name),
            )
        } else {
            self.create_entry(
                entry,
                Op::Link,
                wanted,
                || None,
                |dir, name| rfs::linkat(src_dir, src_name, dir, name, AtFlags::empty()),
            )
        };
        match result {
            Ok(Room::Free | Room::Same) => {
                self.record_created(&entry.dst_path());
                if symbolic {
                    self.report.symlinks += 1;
                } else {
                    self.report.hardlinks += 1;
                }
                self.progress
                    .copied(kind, &entry.path(), &entry.dst_path(), 0);
            }
            Ok(Room::Keep) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    /// `--copy-contents`: a FIFO or device inside the tree is read into a regular file.
    fn copy_contents(&mut self, entry: &Entry) {
        if entry.dir.dst_failed() {
            return;
        }
        let Some(job) = self.job_here(entry) else {
            return;
        };
        let outcome = crate::file::copy_stream(&job, self.options);
        self.count_file(&job, outcome);
    }

    /// A job for `entry` to run on this thread, or `None` after reporting why not.
    fn job_here(&mut self, entry: &Entry) -> Option<FileJob> {
        let (src_dir, dst_dir) = match (entry.dir.src_fd(), entry.dir.dst_fd()) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => {
                self.fail(EntryError::new(entry.path(), Op::Open, e));
                return None;
            }
        };
        let (src_dir, src_name) = match &entry.resolved {
            Some((fd, name)) => (Arc::clone(fd), name.clone()),
            None => (src_dir, entry.src_name.clone()),
        };
        Some(FileJob {
            src_dir,
            src_name,
            dst_dir,
            dst_name: entry.dst_name.clone(),
            path: entry.path(),
            dst_path: entry.dst_path(),
            token: u64::MAX,
            stat: entry.stat,
        })
    }

    /// Remembers a created non-directory when several sources may land on one name.
    fn record_created(&self, dst_path: &Path) {
        if let Some(created) = &self.options.just_created {
            created.record(dst_path);
        }
    }

    /// Copies a hard-link name whose first copy failed, on this thread with plain calls.
    fn copy_here(&mut self, entry: &Entry, group: &Arc<LinkGroup>) {
        let Some(mut job) = self.job_here(entry) else {
            return;
        };
        let outcome = self.std.copy(&mut job, self.options);
        let copied = self.count_file(&job, outcome) == LinkStatus::Copied;
        if copied {
            group.set_first(Arc::clone(&entry.dir), entry.dst_name.clone());
        }
    }
}

/// FIFOs and devices: what `--copy-contents` reads (sockets cannot be read).
fn is_content(entry: &Entry) -> bool {
    matches!(
        FileType::from_raw_mode(entry.stat.mode),
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice
    )
}

#[cfg(test)]
mod tests {
    use super::FdBudget;

    #[test]
    fn budget_keeps_default_depth_under_a_generous_limit() {
        let b = FdBudget::new(20_000, 2, 64);
        assert_eq!(b.queue_depth, 64);
    }

    #[test]
    fn budget_shrinks_under_ulimit_64() {
        let b = FdBudget::new(64, 2, 64);
        assert!(b.queue_depth >= 1);
        // batches in flight × depth × fds per job, plus directories, stay under the limit.
        let worst =
            4 * b.queue_depth * FdBudget::PER_JOB + b.max_open_src_dirs + b.max_open_dst_dirs;
        assert!(worst + FdBudget::RESERVED <= 64 + 8, "{b:?} uses {worst}");
    }
}
