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

use super::candidates::{copy_candidates, LISTING_BUFFER};
use super::leaves::copy_leaves;
use super::workers::run_batch;
use super::Driver;
use crate::dispatch::WorkItem;

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
                self.start_first_worker()
            }
        }
    }

    /// The tree is more than a small one: the first worker starts and takes what waits. If it
    /// cannot start, the driver copies everything itself (false).
    fn start_first_worker(&mut self) -> bool {
        self.held = Held::No;
        let later = self.later.as_ref().expect("no worker started yet");
        match (later.start)(0, later.done_tx.clone(), None) {
            Ok(sender) => {
                self.dispatch.add_worker(sender);
                self.workers_alive = 1;
                if later.wanted <= 1 {
                    self.later = None;
                }
                self.dispatch.pump();
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
