//! A small tree copied on the driver's thread: with plain system calls (`std`), the first worker
//! starts only once the walk has handed out more than a batch's worth of files; a tree that
//! ends before that is copied by the driver itself, with the same [`StdCopier`](crate::StdCopier)
//! and the same leaf code a std worker runs, so nothing about what is copied changes.
//!
//! Why: a worker costs a small copy more than the copy — its thread, its own descriptor table,
//! the fetch of the driver's directories into it, the hand-overs (PERF.md, "Start-up, a third
//! time", for one file; "A small tree on the driver's thread" for a directory). And a batch goes
//! to one worker whole, so a tree of one batch gains no parallelism from it.
//!
//! While no worker has started, what the walk hands out waits in the dispatch queue
//! (`Dispatch::take_waiting`). It is run here when the walk ends, or when the driver would
//! otherwise wait for it (a hard link's first name among it, `links.rs`). Once more than a
//! batch's files wait, or a group of candidates (a directory of many subdirectories: no small
//! tree), the first worker starts and takes the queue as it would have; should it fail to start
//! (RLIMIT_NPROC), the driver copies everything itself and says so. A source that is no
//! directory is copied here from the start (`Held::Here`): it never wants a worker.
//!
//! A small tree in files may be a large one in bytes: two directories of 50 large files (698 MB)
//! were copied on this one thread in 474 ms where cpz's two threads took 360 (PERF.md, "The run
//! of `bench/runs/2026-12-02j/`", `held-bytes.txt` there). So when the walk ends with more than one batch or leaf
//! waiting, the sizes of a few of their files are looked up, and if the files they stand for
//! would come to more than [`HELD_BYTES`], the workers start and take them as in a larger tree.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{statat, AtFlags};

use super::candidates::{copy_candidates, LISTING_BUFFER};
use super::leaves::{copy_leaves, LeafSource};
use super::workers::run_batch;
use super::Driver;
use crate::dispatch::WorkItem;

/// The most bytes a tree's held items may hold, by the sample's estimate, to be copied on the
/// driver's thread when they are more than one: about 10 ms of copying in memory, where a
/// worker's start costs a few tenths of a millisecond.
pub(super) const HELD_BYTES: u64 = 32 << 20;

/// Files whose sizes are looked up for that estimate, at most (their first files, item by item).
const SIZE_SAMPLES: usize = 8;

/// Whether the driver holds work back from workers, or copies it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// Workers copy (started, or started as work comes).
    No,
    /// No worker has started: work waits in the queue, up to `most` files.
    Waiting { files: usize, most: usize },
    /// No worker runs: the driver copies everything as it is handed out — a source that is no
    /// directory, copied with plain system calls (a worker would cost such a copy more than the
    /// copy), or a tree whose first worker could not start.
    Here,
}

impl Driver<'_> {
    /// Called after work was queued: keeps holding it while the tree may still be small, runs it
    /// here if no worker runs; true when workers take it as usual.
    pub(super) fn hold_or_hand_out(&mut self, files: usize, candidates: bool) -> bool {
        match self.held {
            Held::No => true,
            Held::Here => {
                self.run_held_here();
                false
            }
            Held::Waiting {
                files: so_far,
                most,
            } => {
                let files = so_far + files;
                if files <= most && !candidates {
                    self.held = Held::Waiting { files, most };
                    return false;
                }
                self.start_first_worker(true)
            }
        }
    }

    /// The tree is more than a small one: the first worker starts and, with `pump`, takes what
    /// waits. If it cannot start, the driver copies everything itself (false).
    fn start_first_worker(&mut self, pump: bool) -> bool {
        self.held = Held::No;
        let later = self.later.as_ref().expect("no worker started yet");
        match (later.start)(0, later.done_tx.clone(), None) {
            Ok(sender) => {
                self.dispatch.add_worker(sender);
                self.workers_alive = 1;
                if later.wanted <= 1 {
                    self.later = None;
                }
                if pump {
                    self.dispatch.pump();
                }
                true
            }
            Err(e) => {
                let note = format!(
                    "no worker thread could start ({}): the files are copied on the main thread",
                    ucopy_core::cause(&e)
                );
                self.progress.noted(&note);
                self.report.notes.push(note);
                self.later = None;
                self.held = Held::Here;
                self.run_held_here();
                false
            }
        }
    }

    /// Work waits for a first worker that has not started.
    pub(super) fn holds_work(&self) -> bool {
        matches!(self.held, Held::Waiting { .. }) && self.dispatch.outstanding() > 0
    }

    /// Runs what waits for a worker on this thread, if no worker has started (the walk ended,
    /// or the driver is about to wait for some of it).
    pub(super) fn run_held_if_any(&mut self) {
        if matches!(self.held, Held::Waiting { .. } | Held::Here) {
            self.run_held_here();
        }
    }

    /// The walk has ended: what waits for a first worker is copied here — unless it is more
    /// than one batch or leaf and its files, by a sample of their sizes, hold more than
    /// [`HELD_BYTES`]: then the workers start and take it, two items and more in parallel.
    pub(super) fn run_held_at_end(&mut self) {
        if let Held::Waiting { files, .. } = self.held {
            let units: usize = self.dispatch.waiting().map(WorkItem::units).sum();
            if units > 1 && self.held_bytes(files) > HELD_BYTES {
                // A group of leaves goes to one worker whole: each leaf becomes an item, so
                // that two workers can take two of them.
                for item in self.dispatch.take_waiting() {
                    match item {
                        WorkItem::Leaves(tasks) => {
                            for task in tasks {
                                self.dispatch.push(WorkItem::Leaves(vec![task]));
                            }
                        }
                        other => self.dispatch.push(other),
                    }
                }
                // Both workers first, then the items: pumped to the first worker alone, the
                // second would find nothing left to take.
                if self.start_first_worker(false) {
                    self.start_more_workers();
                    self.dispatch.pump();
                }
                return;
            }
        }
        self.run_held_if_any();
    }

    /// An estimate of the bytes of the `files` files waiting: the mean size of up to
    /// [`SIZE_SAMPLES`] of them (looked up by name; one that cannot be counts as empty) times
    /// their number.
    fn held_bytes(&self, files: usize) -> u64 {
        // The first file of each batch and of each leaf, until there are enough.
        let mut samples: Vec<(BorrowedFd<'_>, &CStr)> = Vec::with_capacity(SIZE_SAMPLES);
        for item in self.dispatch.waiting() {
            match item {
                WorkItem::Batch(batch) => {
                    samples.extend(batch.first().map(|j| (j.src_dir.as_fd(), &*j.src_name)));
                }
                WorkItem::Leaves(tasks) => {
                    samples.extend(tasks.iter().filter_map(|t| {
                        match (&t.src_dir, t.files.first()) {
                            (LeafSource::Opened(dir), Some((name, _))) => {
                                Some((dir.as_fd(), &**name))
                            }
                            _ => None,
                        }
                    }));
                }
                WorkItem::Candidates(_) => {}
            }
            if samples.len() >= SIZE_SAMPLES {
                break;
            }
        }
        samples.truncate(SIZE_SAMPLES);
        if samples.is_empty() {
            return 0;
        }
        let bytes: u64 = samples
            .iter()
            .map(|&(dir, name)| {
                statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(0, |st| st.st_size.max(0) as u64)
            })
            .sum();
        bytes / samples.len() as u64 * files as u64
    }

    /// Copies every item waiting in the queue as a std worker would, and takes in the outcomes
    /// as the driver takes a worker's.
    fn run_held_here(&mut self) {
        if let Held::Waiting { most, .. } = self.held {
            self.held = Held::Waiting { files: 0, most };
        }
        for item in self.dispatch.take_waiting() {
            match item {
                WorkItem::Batch(batch) => {
                    for (job, outcome) in run_batch(&mut None, &mut self.std, batch, self.options) {
                        self.finished(job, outcome);
                    }
                }
                WorkItem::Leaves(tasks) => {
                    let (std, options) = (&mut self.std, self.options);
                    let mut run = |batch| run_batch(&mut None, std, batch, options);
                    let tasks = tasks.into_iter().map(|t| (t, None, Vec::new())).collect();
                    let leaves = copy_leaves(tasks, &mut run, None, options, self.progress);
                    for leaf in leaves {
                        self.leaf_done(leaf);
                    }
                }
                WorkItem::Candidates(tasks) => {
                    let (std, options) = (&mut self.std, self.options);
                    let mut run = |batch| run_batch(&mut None, std, batch, options);
                    let mut listing = vec![std::mem::MaybeUninit::uninit(); LISTING_BUFFER];
                    let mut not_copied = Vec::new();
                    let mut give_back = |mut some: Vec<_>| not_copied.append(&mut some);
                    let leaves = copy_candidates(
                        tasks,
                        &mut run,
                        None,
                        &mut listing,
                        &mut give_back,
                        options,
                        self.progress,
                    );
                    self.candidates_not_copied(not_copied);
                    self.candidate_leaves_done(leaves);
                }
            }
        }
    }
}
