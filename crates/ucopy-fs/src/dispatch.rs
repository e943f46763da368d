//! Directory-affine dispatch: which worker gets which batch.
//!
//! Creating a file takes its parent directory's lock (`i_rwsem`, exclusive for `O_CREAT`). When
//! two workers create in the same directory at once, one spins or sleeps on that lock:
//! `perf record -g` of a warm copy into ext4 showed 12 % of all cycles in `rwsem_spin_on_owner`
//! (crates/ucopy-uring/PERF.md). So a destination directory belongs to one worker while any of its
//! batches is queued or running there; a batch of a directory nobody owns goes to the least busy
//! worker. Batches that cannot go anywhere yet wait here, in a short queue, and later batches (of
//! other directories) may overtake them — files are independent, and the driver's bookkeeping
//! (a directory's pending count, a hard-link group's status) does not depend on the order.
//! A worker with nothing to do still gets the oldest waiting batch, sharing its directory: in a
//! tree that is one big directory, two workers contending for its lock beat one worker alone.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use ucopy_core::{Batch, FileJob};

use crate::driver::{CandidateTask, LeafTask};

/// What a worker is handed.
#[derive(Debug)]
pub(crate) enum WorkItem {
    /// Files to copy into directories the driver made.
    Batch(Batch),
    /// Directories of files to make, fill and finish whole, one after another
    /// (`driver/leaves.rs`).
    Leaves(Vec<LeafTask>),
    /// Subdirectories to list, and to copy whole where they are leaves
    /// (`driver/candidates.rs`).
    Candidates(Vec<CandidateTask>),
}

impl WorkItem {
    /// How many parts of it two workers could copy apart once it is split: a batch is one,
    /// a group of leaves one per leaf, candidates one per candidate.
    pub(crate) fn units(&self) -> usize {
        match self {
            WorkItem::Batch(_) => 1,
            WorkItem::Leaves(tasks) => tasks.len(),
            WorkItem::Candidates(tasks) => tasks.len(),
        }
    }

    /// The jobs of a batch (a leaf's are made by the worker: none here).
    pub(crate) fn jobs(&self) -> &[FileJob] {
        match self {
            WorkItem::Batch(batch) => batch,
            WorkItem::Leaves(_) | WorkItem::Candidates(_) => &[],
        }
    }
}

impl From<Batch> for WorkItem {
    fn from(batch: Batch) -> WorkItem {
        WorkItem::Batch(batch)
    }
}

/// The directory key of a job: its destination directory's descriptor, shared by every job of
/// that directory (one `Arc` per directory node).
fn key(job: &FileJob) -> usize {
    Arc::as_ptr(&job.dst_dir) as usize
}

fn keys(jobs: &[FileJob]) -> Vec<usize> {
    let mut k: Vec<usize> = jobs.iter().map(key).collect();
    k.sort_unstable();
    k.dedup();
    k
}

/// The driver's side of the worker queues.
#[derive(Debug)]
pub(crate) struct Dispatch {
    /// One bounded queue per worker; `None` once the worker is gone.
    senders: Vec<Option<Sender<WorkItem>>>,
    /// Batches sent to each worker and not yet returned.
    held: Vec<usize>,
    /// Batches one worker may hold: one running and the rest queued behind it
    /// ([`FdBudget::batches_per_worker`](crate::FdBudget::batches_per_worker)). Its queue has
    /// room for this many, so a send to a worker holding fewer never finds the queue full (the
    /// worker may not have taken the first one out yet).
    per_worker: usize,
    /// Destination directory → the workers holding batches of it, with how many each (one
    /// worker, except when an idle worker was given a share; see [`Dispatch::pump`]).
    owner: HashMap<usize, Vec<(usize, usize)>>,
    /// Batches not sent yet, oldest first.
    waiting: VecDeque<WorkItem>,
    /// Look-ahead allowed before the driver stops planning and waits for a worker.
    max_waiting: usize,
    /// Nothing more will be pushed: idle workers take shares at once.
    draining: bool,
}

impl Dispatch {
    /// Queues for these workers, each holding up to `per_worker` batches (its queue's capacity),
    /// with up to `look_ahead` batches waiting for the right one. A waiting batch holds its
    /// directories' descriptors, so under a tight fd limit the driver passes 0: then nothing
    /// waits, and batches go wherever a worker is free.
    pub(crate) fn new(
        senders: Vec<Sender<WorkItem>>,
        per_worker: usize,
        look_ahead: usize,
    ) -> Dispatch {
        let n = senders.len();
        Dispatch {
            senders: senders.into_iter().map(Some).collect(),
            held: vec![0; n],
            per_worker,
            owner: HashMap::new(),
            waiting: VecDeque::new(),
            max_waiting: look_ahead,
            draining: false,
        }
    }

    /// Workers started so far (gone ones included: their ids stay theirs).
    pub(crate) fn workers(&self) -> usize {
        self.senders.len()
    }

    /// Work handed to the workers and not back yet, and work waiting to be handed out.
    pub(crate) fn outstanding(&self) -> usize {
        self.held.iter().sum::<usize>() + self.waiting.len()
    }

    /// A worker started after the others: its id is the next index.
    pub(crate) fn add_worker(&mut self, sender: Sender<WorkItem>) {
        self.senders.push(Some(sender));
        self.held.push(0);
    }

    /// Queues a batch and sends whatever can go now.
    pub(crate) fn push(&mut self, item: impl Into<WorkItem>) {
        self.waiting.push_back(item.into());
        self.pump();
    }

    /// True when the driver should take in results before planning more.
    pub(crate) fn full(&self) -> bool {
        self.waiting.len() > self.max_waiting
    }

    fn free(&self, w: usize) -> bool {
        self.senders[w].is_some() && self.held[w] < self.per_worker
    }

    /// True when directories are owned by workers: a look-ahead of 0 turns affinity off.
    fn affinity(&self) -> bool {
        self.max_waiting > 0
    }

    /// The directories of a batch, when directories are owned at all (without affinity nothing
    /// reads them, and the per-batch sort is saved).
    fn dirs_of(&self, jobs: &[FileJob]) -> Vec<usize> {
        if self.affinity() {
            keys(jobs)
        } else {
            Vec::new()
        }
    }

    /// The worker a batch may go to now without sharing a directory, if any.
    fn target(&self, dirs: &[usize]) -> Option<usize> {
        if !self.affinity() {
            // No look-ahead: no affinity either; any free worker, least busy first.
            return (0..self.senders.len())
                .filter(|&w| self.free(w))
                .min_by_key(|&w| self.held[w]);
        }
        let mut owned_by = None;
        for d in dirs {
            for &(w, _) in self.owner.get(d).map_or(&[][..], Vec::as_slice) {
                match owned_by {
                    None => owned_by = Some(w),
                    Some(o) if o == w => {}
                    // Its directories are held by two workers: wait until one lets go.
                    Some(_) => return None,
                }
            }
        }
        match owned_by {
            Some(w) => self.free(w).then_some(w),
            None => (0..self.senders.len())
                .filter(|&w| self.free(w))
                .min_by_key(|&w| self.held[w]),
        }
    }

    /// The planner is done: from now on idle workers take shares of busy directories at once.
    pub(crate) fn drain(&mut self) {
        self.draining = true;
        self.pump();
    }

    /// Sends every waiting batch that has a worker to go to, oldest first. Then, when the
    /// look-ahead is used up (or the plan is done), so that a worker never idles while work waits
    /// (a tree that is one big directory), each idle worker gets the oldest waiting batch even if
    /// another worker holds its directory: sharing a directory's lock beats leaving a core
    /// unused. Before that, the look-ahead gets its chance to find another directory.
    pub(crate) fn pump(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() {
            let dirs = self.dirs_of(self.waiting[i].jobs());
            match self.target(&dirs) {
                Some(w) if self.send(w, i, dirs) => {}
                _ => i += 1,
            }
        }
        let share = self.draining || self.waiting.len() >= self.max_waiting;
        for w in 0..self.senders.len() {
            if self.waiting.is_empty() || !share {
                break;
            }
            if self.senders[w].is_some() && self.held[w] == 0 {
                let dirs = self.dirs_of(self.waiting[0].jobs());
                self.send(w, 0, dirs);
            }
        }
    }

    /// Sends waiting batch `i` to worker `w`; false (the batch stays) when it cannot.
    fn send(&mut self, w: usize, i: usize, dirs: Vec<usize>) -> bool {
        let batch = self.waiting.remove(i).expect("in range");
        let sender = self.senders[w].as_ref().expect("a live worker");
        match sender.try_send(batch) {
            Ok(()) => {
                self.held[w] += 1;
                for d in dirs {
                    let owners = self.owner.entry(d).or_default();
                    match owners.iter_mut().find(|(o, _)| *o == w) {
                        Some((_, n)) => *n += 1,
                        None => owners.push((w, 1)),
                    }
                }
                true
            }
            Err(TrySendError::Disconnected(batch)) => {
                // Gone: never send there again.
                self.senders[w] = None;
                self.waiting.insert(i, batch);
                false
            }
            Err(TrySendError::Full(batch)) => {
                // Cannot happen (the queue has room for `per_worker`); try again later.
                self.waiting.insert(i, batch);
                false
            }
        }
    }

    /// A worker gave back a batch, run (`jobs` are its results' jobs) or not.
    pub(crate) fn returned<'a>(&mut self, worker: usize, jobs: impl Iterator<Item = &'a FileJob>) {
        self.held[worker] = self.held[worker].saturating_sub(1);
        if !self.affinity() {
            // Nothing was recorded when it was sent.
            return;
        }
        let mut dirs: Vec<usize> = jobs.map(key).collect();
        dirs.sort_unstable();
        dirs.dedup();
        for d in dirs {
            if let Some(owners) = self.owner.get_mut(&d) {
                if let Some(pos) = owners.iter().position(|(o, _)| *o == worker) {
                    owners[pos].1 -= 1;
                    if owners[pos].1 == 0 {
                        owners.swap_remove(pos);
                    }
                }
                if owners.is_empty() {
                    self.owner.remove(&d);
                }
            }
        }
    }

    /// A worker could not start: it is never sent anything again; what it held comes back
    /// through [`Dispatch::returned`] and [`Dispatch::requeue`].
    pub(crate) fn worker_gone(&mut self, worker: usize) {
        self.senders[worker] = None;
    }

    /// Takes every item not sent yet, oldest first (for the driver to run itself while no worker
    /// has started: `driver/held.rs`).
    pub(crate) fn take_waiting(&mut self) -> VecDeque<WorkItem> {
        std::mem::take(&mut self.waiting)
    }

    /// The items not sent yet, oldest first.
    pub(crate) fn waiting(&self) -> impl Iterator<Item = &WorkItem> {
        self.waiting.iter()
    }

    /// Puts back a batch a worker could not run (it failed to start), first in line.
    pub(crate) fn requeue(&mut self, item: WorkItem) {
        self.waiting.push_front(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_jobs::job;
    use crossbeam_channel::{bounded, Receiver};
    use std::os::fd::OwnedFd;

    fn dir() -> Arc<OwnedFd> {
        crate::test_jobs::dir("/")
    }

    fn batch(d: &Arc<OwnedFd>, n: u64) -> Batch {
        (0..n).map(|token| job(d, d, token)).collect()
    }

    fn setup(n: usize) -> (Dispatch, Vec<Receiver<WorkItem>>) {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..n).map(|_| bounded(2)).unzip();
        (Dispatch::new(tx, 2, 8), rx)
    }

    #[test]
    fn a_directory_stays_with_one_worker_while_others_wait() {
        let (mut d, rx) = setup(2);
        let (a, b) = (dir(), dir());
        for _ in 0..3 {
            d.push(batch(&a, 2));
        }
        d.push(batch(&b, 2));
        // a's first two go to worker 0 (the first, then the one holding a); b's to worker 1;
        // a's third waits for worker 0 rather than sharing a's lock with worker 1.
        assert_eq!(rx[0].len(), 2);
        assert_eq!(rx[1].len(), 1);
        assert_eq!(d.waiting.len(), 1);
        let done = rx[0].recv().unwrap();
        d.returned(0, done.jobs().iter());
        d.pump();
        assert_eq!(rx[0].len(), 2);
        assert!(d.waiting.is_empty());
    }

    #[test]
    fn an_idle_worker_shares_a_directory_once_the_look_ahead_is_used_up() {
        let (mut d, rx) = setup(2);
        let a = dir();
        for _ in 0..2 + d.max_waiting - 1 {
            d.push(batch(&a, 2));
        }
        assert_eq!(rx[0].len(), 2);
        assert_eq!(rx[1].len(), 0, "look-ahead first");
        d.push(batch(&a, 2));
        assert_eq!(
            rx[1].len(),
            1,
            "then worker 1 takes a share of a instead of idling"
        );
        d.drain();
        assert_eq!(d.waiting.len(), d.max_waiting - 1);
    }
}
