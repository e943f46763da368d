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

use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use ucopy_core::{Batch, FileJob};

/// Batches one worker may hold: one running and one queued behind it. Its queue has room for
/// this many, so a send to a worker holding fewer never finds the queue full (the worker may not
/// have taken the first one out yet).
pub(crate) const PER_WORKER: usize = 2;

/// The directory key of a job: its destination directory's descriptor, shared by every job of
/// that directory (one `Arc` per directory node).
fn key(job: &FileJob) -> usize {
    Arc::as_ptr(&job.dst_dir) as *const OwnedFd as usize
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
    senders: Vec<Option<Sender<Batch>>>,
    /// Batches sent to each worker and not yet returned.
    held: Vec<usize>,
    /// Destination directory → (worker, batches of it that worker holds).
    owner: HashMap<usize, (usize, usize)>,
    /// Batches not sent yet, oldest first.
    waiting: VecDeque<Batch>,
    /// Look-ahead allowed before the driver stops planning and waits for a worker.
    max_waiting: usize,
}

impl Dispatch {
    pub(crate) fn new(senders: Vec<Sender<Batch>>) -> Dispatch {
        let n = senders.len();
        Dispatch {
            senders: senders.into_iter().map(Some).collect(),
            held: vec![0; n],
            owner: HashMap::new(),
            waiting: VecDeque::new(),
            // Enough to reach the next directory or two while one worker finishes a large one.
            max_waiting: 4 * n.max(1),
        }
    }

    /// Queues a batch and sends whatever can go now.
    pub(crate) fn push(&mut self, batch: Batch) {
        self.waiting.push_back(batch);
        self.pump();
    }

    /// True when the driver should take in results before planning more.
    pub(crate) fn full(&self) -> bool {
        self.waiting.len() > self.max_waiting
    }

    /// The worker a batch may go to now, if any.
    fn target(&self, dirs: &[usize]) -> Option<usize> {
        let mut owned_by = None;
        for d in dirs {
            if let Some(&(w, _)) = self.owner.get(d) {
                match owned_by {
                    None => owned_by = Some(w),
                    Some(o) if o == w => {}
                    // Its directories belong to two workers: wait until one lets go.
                    Some(_) => return None,
                }
            }
        }
        let free = |w: usize| self.senders[w].is_some() && self.held[w] < PER_WORKER;
        match owned_by {
            Some(w) => free(w).then_some(w),
            None => (0..self.senders.len())
                .filter(|&w| free(w))
                .min_by_key(|&w| self.held[w]),
        }
    }

    /// Sends every waiting batch that has a worker to go to, oldest first.
    pub(crate) fn pump(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() {
            let dirs = keys(&self.waiting[i]);
            let Some(w) = self.target(&dirs) else {
                i += 1;
                continue;
            };
            let batch = self.waiting.remove(i).expect("in range");
            let sender = self.senders[w].as_ref().expect("a live worker");
            match sender.try_send(batch) {
                Ok(()) => {
                    self.held[w] += 1;
                    for d in dirs {
                        self.owner.entry(d).or_insert((w, 0)).1 += 1;
                    }
                }
                Err(TrySendError::Disconnected(batch)) => {
                    // Gone: never send there again.
                    self.senders[w] = None;
                    self.waiting.insert(i, batch);
                }
                Err(TrySendError::Full(batch)) => {
                    // Cannot happen (the queue has room for PER_WORKER); try again later.
                    self.waiting.insert(i, batch);
                    i += 1;
                }
            }
        }
    }

    /// A worker gave back a batch, run (`jobs` are its results' jobs) or not.
    pub(crate) fn returned<'a>(&mut self, worker: usize, jobs: impl Iterator<Item = &'a FileJob>) {
        self.held[worker] = self.held[worker].saturating_sub(1);
        let mut dirs: Vec<usize> = jobs.map(key).collect();
        dirs.sort_unstable();
        dirs.dedup();
        for d in dirs {
            if let Some(entry) = self.owner.get_mut(&d) {
                entry.1 -= 1;
                if entry.1 == 0 {
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

    /// Puts back a batch a worker could not run (it failed to start), first in line.
    pub(crate) fn requeue(&mut self, batch: Batch) {
        self.waiting.push_front(batch);
    }
}
