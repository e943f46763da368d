//! The driver: carries out a [`Planner`]'s steps with worker threads, each owning an
//! [`Executor`](ucopy_core::Executor) from the chosen backend.
//!
//! The driver thread walks (the planner runs here), creates directories, symlinks, special files
//! and hard links, and applies each directory's mode and times once everything in it is written;
//! workers copy batches of regular files. A directory counts its files in flight; it is finished
//! when the planner is done with it *and* its last file came back, so times stick at every level.
//! Workers start as work comes for them: one with the copy, another each time more has been
//! handed out than the started ones can run (all of them at once under `ulimit -v`) — and none
//! for a source that is no directory, copied with plain system calls: the driver copies its
//! file itself, with the same [`StdCopier`] a std worker runs. With plain system calls the
//! first worker of a tree waits until more than a batch of files has been handed out; a
//! smaller tree is copied by the driver the same way (`held`).
//!
//! This file holds the entry point and the step loop; each idea has its own file:
//! `budget` (the fd budget), `address_space` (workers under `ulimit -v`), `fd_tables` (a
//! worker's own descriptor table), `workers` (worker threads, batch dispatch, counting file
//! outcomes), `held` (a small tree copied on the driver's thread), `dirs` (directory creation
//! and completion), `entries` (symlinks, special files, freeing a taken name), `links`
//! (hard-link coordination, `-l` / `-s`).

mod address_space;
mod budget;
mod candidates;
mod dirs;
mod entries;
mod fd_tables;
mod held;
mod leaves;
mod links;
mod workers;

pub(crate) use candidates::CandidateTask;
pub(crate) use leaves::LeafTask;

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use rustix::fs::FileType;
use ucopy_core::{
    CopiedPaths, DirNode, Entry, EntryError, ExecutorFactory, Kind, LinkMode, Op, Options,
    PlanError, Planner, Progress, Report, Step,
};

use crate::dispatch::{Dispatch, WorkItem};
use crate::meta::Xattrs;
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
    #[error("cannot start a worker thread: {}", ucopy_core::cause(.source))]
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

pub use address_space::{address_space_left, address_space_limited, worker_address_space};
pub use budget::FdBudget;
use ucopy_core::cause;
use workers::{worker, WorkerMsg};

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
    let mut plan = budget.plan_options(options);
    // Files copied with plain system calls: larger leaves, and a lone file on this thread.
    let plain_syscalls = factory.name() == "std";
    plan.leaf_files = leaves::leaf_files(options, &plan, plain_syscalls);
    plan.workers_list_leaves = plan.leaf_files > 0;
    let leaf_group_size = plan.queue_depth;
    let batch_files = plan.batch_files;
    let leaf_rules = ucopy_core::LeafRules::of(&plan);
    let planner = Planner::new(source, dest, plan)?;
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
    // A source that is no directory, copied with plain system calls, is copied on this thread:
    // a worker would cost a one-file copy more than the copy (its thread, its descriptor table,
    // the hand-over; PERF.md, "Start-up, a third time"). The other backends keep their workers,
    // so that each backend copies what it is asked to copy.
    let inline = !planner.is_tree() && plain_syscalls;
    // -l and -s copy no data: the driver makes every link itself, so no worker (nor its
    // executor's buffers and ring) is started.
    let threads = if options.link_mode == LinkMode::Copy && !inline {
        threads.min(budget.threads)
    } else {
        0
    };
    // Under `ulimit -v`, only as many workers as the address space left holds (see
    // driver/address_space.rs): a thread that starts and then leaves the heap too little ends
    // the whole copy in an allocation failure.
    let fd_threads = threads;
    let left = address_space_left();
    let threads = address_space::workers_within(fd_threads, left);
    // Workers with descriptor tables of their own fetch the driver's directories through this
    // (driver/fd_tables.rs).
    let driver_pidfd = match options.private_worker_fds {
        Some(_) if threads > 0 => fd_tables::driver_pidfd(),
        _ => None,
    };
    let driver_pidfd = driver_pidfd.as_ref().map(|fd| fd.as_fd());
    thread::scope(|scope| {
        // Workers make their executors only once every thread started together has (this
        // sender is dropped below): an executor sizes its buffers from the address space left
        // (`ucopy-uring`), which the stacks of threads not started yet would otherwise use up.
        let (start_tx, start_rx) = bounded::<()>(0);
        let share = address_space::share_per_worker(threads, left);
        let start_worker = |id: usize,
                            done_tx: Sender<WorkerMsg>,
                            start_rx: Option<Receiver<()>>|
         -> io::Result<Sender<WorkItem>> {
            // Room for every batch a worker may hold (see dispatch.rs).
            let (batch_tx, batch_rx) = bounded::<WorkItem>(budget.batches_per_worker);
            thread::Builder::new()
                .name("ucopy-worker".into())
                .spawn_scoped(scope, move || {
                    if let Some(start_rx) = start_rx {
                        // Err once the driver has started every thread: then go.
                        let _ = start_rx.recv();
                    }
                    address_space::set_worker_address_space(share);
                    worker(
                        id,
                        factory,
                        options,
                        driver_pidfd,
                        batch_rx,
                        done_tx,
                        progress,
                    )
                })?;
            Ok(batch_tx)
        };
        // Under `ulimit -v` every worker starts now (their stacks before any executor's
        // buffers); otherwise one does, and the others when there is work for them
        // (`Driver::start_more_workers`): a copy of one file, or of a tree of one batch, does
        // not pay for threads it cannot use (a second worker cost a one-file copy a third of a
        // millisecond; PERF.md).
        // With plain system calls none starts before the walk has handed out more than a
        // batch: a smaller tree is copied on this thread (driver/held.rs).
        let hold = plain_syscalls && !inline && threads > 0 && left.is_none();
        let at_once = if left.is_some() {
            threads
        } else if hold {
            0
        } else {
            threads.min(1)
        };
        let mut spawned = 0;
        let mut spawn_error = None;
        let mut senders = Vec::with_capacity(threads);
        for id in 0..at_once {
            // Under a small RLIMIT_AS or RLIMIT_NPROC a thread may not start: copy with the
            // threads that did, and fail with one line only if none did (a smaller stack only
            // moved the failure to the heap, where it aborts).
            match start_worker(id, done_tx.clone(), Some(start_rx.clone())) {
                Ok(batch_tx) => {
                    senders.push(batch_tx);
                    spawned += 1;
                }
                Err(e) => {
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        let later = (spawn_error.is_none() && spawned < threads).then(|| LaterWorkers {
            start: &start_worker,
            done_tx: done_tx.clone(),
            wanted: threads,
        });
        drop(done_tx);
        drop(start_tx);
        let mut notes = Vec::new();
        if budget.threads < threads_asked && !inline {
            notes.push(format!(
                "{} worker thread{} instead of {threads_asked}: the open-file limit \
                 (RLIMIT_NOFILE) is small",
                budget.threads,
                if budget.threads == 1 { "" } else { "s" }
            ));
        }
        if threads < fd_threads {
            notes.push(format!(
                "{threads} worker thread{} instead of {fd_threads}: the address-space limit \
                 (RLIMIT_AS) is small",
                if threads == 1 { "" } else { "s" },
            ));
        }
        if let Some(e) = spawn_error {
            if spawned == 0 {
                return Err(FatalError::Threads { source: e });
            }
            notes.push(cannot_start_more(spawned, threads, &e));
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
            in_flight: 0,
            open_dst: std::collections::VecDeque::new(),
            max_open_dst: budget.max_open_dst_dirs,
            sweep_open_dst_at: 64,
            std: StdCopier::default(),
            held: if inline {
                held::Held::Here
            } else if hold {
                held::Held::Waiting {
                    files: 0,
                    most: batch_files,
                }
            } else {
                held::Held::No
            },
            dir_xattrs: HashMap::new(),
            workers_alive: spawned,
            startup_error: None,
            done_rx: &done_rx,
            // Enough look-ahead to reach the next directory or two while one worker finishes a
            // large one — unless the fd limit is tight (the budget cut the batch size).
            // Directory affinity is off (look-ahead 0): interleaved A/B rounds on tmpfs (machine
            // shared) measured it at 0.67x and 0.96x of plain any-free-worker dispatch, and on
            // ext4 (look-ahead 32, PERF.md "The floor's lead on real trees") 2-3 % faster warm
            // with the same trees in memory 4 % slower to 3 % faster: not one direction.
            // `Dispatch::new(senders, per_worker, 4 * threads)` turns it on.
            dispatch: Dispatch::new(senders, budget.batches_per_worker, 0),
            fatal_said: Vec::new(),
            leaf_group: Vec::new(),
            leaf_group_files: 0,
            leaf_group_size,
            candidate_group: Vec::new(),
            leaf_rules,
            leaves_seen: (0, 0),
            candidates_seen: (0, 0),
            revisits: Vec::new(),
            later,
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

struct Driver<'a> {
    options: &'a Options,
    progress: &'a dyn Progress,
    backend: &'static str,
    report: Report,
    /// Regular files handed to the workers and not yet back (each job carries its own
    /// bookkeeping: its directory and hard-link group).
    in_flight: usize,
    /// Directories holding a destination fd, oldest first (released beyond the budget).
    open_dst: std::collections::VecDeque<Arc<DirNode>>,
    max_open_dst: usize,
    /// `open_dst`'s length at which finished directories are swept out of it (dirs.rs).
    sweep_open_dst_at: usize,
    /// Copies on this thread: hard-link names whose first copy failed, and what `held` says is
    /// copied here.
    std: StdCopier,
    /// Whether work waits for a first worker while the tree may be small, or is copied here (a
    /// source that is no directory, or no worker could start; driver/held.rs).
    held: held::Held,
    /// Source xattrs of directories not finished yet (only those that have any).
    dir_xattrs: HashMap<usize, Xattrs>,
    workers_alive: usize,
    startup_error: Option<io::Error>,
    /// Outlives the workers (it is the caller's): a worker whose table is its own must never
    /// drop a job, which holds descriptors of the driver's table (driver/fd_tables.rs), so what
    /// it sends after the driver stopped listening is dropped here, on the driver's thread.
    done_rx: &'a Receiver<WorkerMsg>,
    /// Which worker gets which batch (directory-affine), and the batches not sent yet.
    dispatch: Dispatch,
    /// The causes (errno) of the fatal errors already printed: each is said once.
    fatal_said: Vec<Option<i32>>,
    /// Leaf directories not handed out yet (driver/leaves.rs), with their files counted.
    leaf_group: Vec<LeafTask>,
    leaf_group_files: usize,
    /// The files a group of leaves gathers before it goes: the queue depth.
    leaf_group_size: usize,
    /// Leaf candidates not handed out yet (driver/candidates.rs).
    candidate_group: Vec<CandidateTask>,
    /// What makes a candidate a leaf, for the workers (the plan's).
    leaf_rules: ucopy_core::LeafRules,
    /// Leaves copied so far, and their files (how many candidates go together).
    leaves_seen: (u64, u64),
    /// Candidates back so far, and how many of them were given back (no leaves).
    candidates_seen: (u64, u64),
    /// Candidates that are no leaves, for the walk (`Planner::revisit`).
    revisits: Vec<ucopy_core::Candidate>,
    /// Workers not started yet, started when work waits for them (`None` once all are).
    later: Option<LaterWorkers<'a>>,
}

/// Starts a worker thread: its id, the sender of its results, and (when threads start together)
/// the receiver that holds it until all have started; gives the sender of its work.
type StartWorker<'a> =
    dyn Fn(usize, Sender<WorkerMsg>, Option<Receiver<()>>) -> io::Result<Sender<WorkItem>> + 'a;

/// The workers a copy may still start.
struct LaterWorkers<'a> {
    start: &'a StartWorker<'a>,
    /// For the workers to come (held only while any may come: the driver's results channel
    /// closes when every sender is gone).
    done_tx: Sender<WorkerMsg>,
    /// How many workers the copy may have in all.
    wanted: usize,
}

impl Driver<'_> {
    fn run(&mut self, mut planner: Planner) -> Result<(), FatalError> {
        loop {
            while let Some(step) = planner.next() {
                if self.stopping() {
                    break;
                }
                self.collect(false);
                self.step(step)?;
                for candidate in self.revisits.drain(..) {
                    planner.revisit(candidate);
                }
                if planner.options().workers_list_leaves && !self.candidates_pay() {
                    planner.stop_candidates();
                }
            }
            self.send_leaves()?;
            self.send_candidates()?;
            // No worker started: what the walk handed out is copied here, unless it is several
            // batches or leaves with many bytes (held.rs, `HELD_BYTES`).
            self.run_held_at_end();
            self.dispatch.drain();
            // Candidates given back while the rest is in flight resume the walk (unless the
            // copy is stopping: then everything in flight is waited for, as always).
            while self.in_flight > 0
                && self.workers_alive > 0
                && (self.revisits.is_empty() || self.stopping())
            {
                self.dispatch.pump();
                self.collect(true);
            }
            if self.revisits.is_empty() || self.stopping() {
                break;
            }
            for candidate in self.revisits.drain(..) {
                planner.revisit(candidate);
            }
        }
        // Closes the workers' queues: they finish and exit.
        self.dispatch = Dispatch::new(Vec::new(), 1, 0);
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

    /// Does one step of the plan.
    fn step(&mut self, step: Step) -> Result<(), FatalError> {
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
            Step::Leaf(leaf) => self.start_leaf(leaf)?,
            Step::Candidate(candidate) => self.start_candidate(candidate)?,
            // A candidate given back was entered: its parent waits for it no more.
            Step::Revisited(parent) => self.file_finished(&parent),
            Step::Error(e) => self.fail(e),
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

    /// Remembers a created non-directory when several sources may land on one name (its path is
    /// built only then).
    fn record_created(&self, paths: CopiedPaths<'_>) {
        if let Some(created) = &self.options.just_created {
            created.record(&paths.dst());
        }
    }
}

/// The note of a copy that started `started` of the `wanted` workers because the next could not
/// start (RLIMIT_NPROC, RLIMIT_AS), whether they start together or as work comes.
fn cannot_start_more(started: usize, wanted: usize, e: &io::Error) -> String {
    format!(
        "{started} worker thread{} instead of {wanted}: cannot start more ({})",
        if started == 1 { "" } else { "s" },
        cause(e)
    )
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use ucopy_core::{Batch, Executor, ExecutorFactory, FileJob, JobOutcome, NoProgress, Options};

    use super::copy_tree;
    use crate::StdCopier;

    /// Counts the executors made (one per worker started); each batch takes a while, so that
    /// the walk hands out the next before the first is back. Named as a backend is: `std`, or
    /// another name for a backend of its own.
    struct Counting(AtomicUsize, &'static str);

    struct Slow(StdCopier);

    impl Executor for Slow {
        fn name(&self) -> &'static str {
            "std"
        }

        fn copy_batch(&mut self, batch: Batch, options: &Options) -> Vec<(FileJob, JobOutcome)> {
            std::thread::sleep(Duration::from_millis(20));
            batch
                .into_iter()
                .map(|mut job| {
                    let outcome = self.0.copy(&mut job, options);
                    (job, outcome)
                })
                .collect()
        }
    }

    impl ExecutorFactory for Counting {
        fn name(&self) -> &'static str {
            self.1
        }

        fn make(&self, _options: &Options) -> std::io::Result<Box<dyn Executor>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Slow(StdCopier::default())))
        }
    }

    fn workers_started(src: &std::path::Path, files: usize, backend: &'static str) -> usize {
        let dst = tempfile::tempdir().unwrap();
        let factory = Counting(AtomicUsize::new(0), backend);
        let options = Options::default();
        let report = copy_tree(
            src,
            &dst.path().join("c"),
            &options,
            &factory,
            2,
            &NoProgress,
        )
        .expect("copy starts");
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.files, files as u64);
        factory.0.load(Ordering::SeqCst)
    }

    /// A worker starts when there is work for it: a copy of one file, or of a tree of no more
    /// than a batch, with plain system calls starts none (the driver copies it: a thread costs
    /// such a copy more than the copy), with another backend one of the two it may have for one
    /// file, and at least one for the tree; a directory of several batches starts both, and so
    /// do two directories of a few large files.
    #[test]
    fn workers_start_when_there_is_work_for_them() {
        if crate::driver::address_space_limited() {
            return; // under `ulimit -v` every worker starts at once, by design
        }
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("one"), b"data").unwrap();
        assert_eq!(workers_started(&src.path().join("one"), 1, "std"), 0);
        assert_eq!(workers_started(&src.path().join("one"), 1, "other"), 1);
        // Fewer files than a batch even where a tight open-file limit cuts the batch (to 25
        // under `ulimit -n 1024`, as the normal-user CI run has it).
        let small = src.path().join("small");
        for d in ["a", "a/b", "c"] {
            std::fs::create_dir_all(small.join(d)).unwrap();
            for i in 0..3 {
                std::fs::write(small.join(d).join(format!("f{i}")), b"x").unwrap();
            }
        }
        assert_eq!(workers_started(&small, 9, "std"), 0);
        assert!(workers_started(&small, 9, "other") >= 1);
        let tree = src.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let files = 3 * ucopy_core::DEFAULT_BATCH_FILES;
        for i in 0..files {
            std::fs::write(tree.join(format!("f{i}")), b"x").unwrap();
        }
        assert_eq!(workers_started(&tree, files, "std"), 2);
        // Few files but many bytes in two directories: both workers, each taking one.
        let large = src.path().join("large");
        for d in ["a", "c"] {
            std::fs::create_dir_all(large.join(d)).unwrap();
            for i in 0..2 {
                let f = std::fs::File::create(large.join(d).join(format!("f{i}"))).unwrap();
                f.set_len(super::held::HELD_BYTES / 2).unwrap();
            }
        }
        assert_eq!(workers_started(&large, 4, "std"), 2);
    }
}
