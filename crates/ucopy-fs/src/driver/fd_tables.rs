//! Worker threads with descriptor tables of their own.
//!
//! Threads of one process share one descriptor table: every `openat` and `close` takes its lock,
//! and every system call on a descriptor counts a reference on the open file while another
//! thread might close it. Two threads that only open and close files take 0.79× as long with
//! tables of their own (`cargo xtask fd-tables`); in a whole copy of small files it is 1–2 % of
//! the CPU on two cores, and more with every core, since the lock is process-wide (PERF.md, "the
//! fifth run"). cpz's threads do the same. So when the caller supplies a [`PrivateFdTable`]
//! function (the `ucopy` facade does), each worker gets a table of its own before it opens
//! anything.
//!
//! The driver still opens every directory, in the process's table. A worker fetches a copy of
//! each directory it is handed with `pidfd_getfd(2)` through a pidfd of the driver thread, runs
//! the batch on the copies, and puts the driver's descriptors back into the jobs before they go
//! back. Two rules keep descriptor numbers from meaning the wrong file:
//! - a worker never drops a descriptor the driver owns: the originals are held by the jobs and
//!   go back with them (the results channel outlives the workers: `driver.rs`), and the cache
//!   here holds only [`Weak`] references, whose drop never closes anything;
//! - a cached copy is found by the address of the driver's `Arc`, which cannot be reused while
//!   the cache's `Weak` keeps the allocation, and is dropped once the driver has closed its
//!   original (no strong reference left).
//!
//! Without a pidfd of the driver thread (Linux before 5.6, or a seccomp filter that forbids
//! `pidfd_getfd`), workers share the process's table as before.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Weak};

use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};
use ucopy_core::{Batch, EntryError, FileJob, JobOutcome, Op, PrivateFdTable};

/// `PIDFD_THREAD` (Linux 6.9): a pidfd of one thread rather than of the process's leader.
const PIDFD_THREAD: u32 = 0o200;

/// A pidfd of the calling (driver) thread, whose table holds the directories the workers will
/// be handed: of this thread itself where the kernel can (6.9), else of the process's leader
/// when this thread is the leader.
pub(super) fn driver_pidfd() -> Option<OwnedFd> {
    let tid = rustix::thread::gettid();
    if let Ok(fd) = pidfd_open(tid, PidfdFlags::from_bits_retain(PIDFD_THREAD)) {
        return Some(fd);
    }
    let pid = rustix::process::getpid();
    if Pid::as_raw(Some(tid)) == Pid::as_raw(Some(pid)) {
        return pidfd_open(pid, PidfdFlags::empty()).ok();
    }
    None
}

/// A job's directories, by the addresses of the driver's `Arc`s: (source, destination).
type DirKeys = (usize, usize);

/// One worker's copies of the driver's directories.
pub(super) struct LocalDirs<'a> {
    driver: BorrowedFd<'a>,
    /// By the address of the driver's `Arc<OwnedFd>`.
    cache: HashMap<usize, Cached>,
}

/// Copies kept between batches, at most (a directory whose files come in many batches is
/// fetched once).
const MAX_CACHED: usize = 64;

struct Cached {
    driver: Weak<OwnedFd>,
    local: Arc<OwnedFd>,
}

/// The driver's descriptors taken out of a batch's jobs, grouped by the address of the copy put
/// in their place: every one taken out is kept and goes back by a move, so that a worker never
/// touches the reference count of a descriptor the driver shares (a cache line that would
/// bounce between the threads twice per file).
pub(super) struct Originals(Vec<(usize, Vec<Arc<OwnedFd>>)>);

impl Originals {
    fn keep(&mut self, key: usize, original: Arc<OwnedFd>) {
        // A batch's jobs mostly share one or two directories: the newest group first.
        match self.0.iter_mut().rev().find(|(k, _)| *k == key) {
            Some((_, kept)) => kept.push(original),
            None => self.0.push((key, vec![original])),
        }
    }

    fn take(&mut self, key: usize) -> Option<Arc<OwnedFd>> {
        self.0
            .iter_mut()
            .rev()
            .find(|(k, _)| *k == key)
            .and_then(|(_, kept)| kept.pop())
    }
}

impl Drop for Originals {
    /// Unwinding from a panic in the middle of a batch: the driver's descriptors are leaked
    /// rather than dropped here, where closing them would close whatever this table holds
    /// under the same numbers.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (_, kept) in self.0.drain(..) {
                kept.into_iter().for_each(std::mem::forget);
            }
        }
    }
}

impl<'a> LocalDirs<'a> {
    /// Called first thing in a worker: gives this thread a table of its own, if copies of the
    /// driver's descriptors can be fetched into it. `None`: the thread keeps sharing.
    pub(super) fn enter(driver: BorrowedFd<'a>, private: PrivateFdTable) -> Option<LocalDirs<'a>> {
        // Fetching must work before the table is unshared: after, it is the only way in.
        pidfd_getfd(driver, driver.as_raw_fd(), PidfdGetfdFlags::empty()).ok()?;
        private(driver).ok()?;
        Some(LocalDirs {
            driver,
            cache: HashMap::new(),
        })
    }

    /// Puts this worker's copies of the directories into the jobs. Jobs whose directory could
    /// not be fetched (out of descriptors) come back failed, not run. The jobs stay where they
    /// are, and a job with the same directories as the one before it (most jobs of a batch)
    /// takes the same copies without a lookup.
    pub(super) fn localize(
        &mut self,
        mut batch: Batch,
    ) -> (Batch, Vec<(FileJob, JobOutcome)>, Originals) {
        self.trim();
        let mut originals = Originals(Vec::new());
        let mut unfetched = Vec::new();
        // The driver's (source, destination) descriptors of the job before, and their copies.
        let mut last: Option<(DirKeys, [Arc<OwnedFd>; 2])> = None;
        for (index, job) in batch.iter_mut().enumerate() {
            let keys = (
                Arc::as_ptr(&job.src_dir) as usize,
                Arc::as_ptr(&job.dst_dir) as usize,
            );
            let locals = match &last {
                Some((k, locals)) if *k == keys => locals.clone(),
                _ => {
                    let fetched = self
                        .local(&job.src_dir)
                        .and_then(|src| Ok([src, self.local(&job.dst_dir)?]));
                    match fetched {
                        Ok(locals) => {
                            last = Some((keys, locals.clone()));
                            locals
                        }
                        Err(e) => {
                            unfetched.push((index, e));
                            continue;
                        }
                    }
                }
            };
            let [src, dst] = locals;
            for (slot, local) in [(&mut job.src_dir, src), (&mut job.dst_dir, dst)] {
                let key = Arc::as_ptr(&local) as usize;
                originals.keep(key, std::mem::replace(slot, local));
            }
        }
        // Rare (a descriptor limit reached): taken out from the back, so indices stay right.
        let mut failed = Vec::with_capacity(unfetched.len());
        for (index, e) in unfetched.into_iter().rev() {
            let job = batch.remove(index);
            let error = EntryError::new(job.path(), Op::Open, e);
            failed.push((job, JobOutcome::Failed(error)));
        }
        failed.reverse();
        (batch, failed, originals)
    }

    /// Puts the driver's descriptors back into the jobs of a batch's results, so that the jobs
    /// go back to the driver as it made them.
    pub(super) fn restore(results: &mut [(FileJob, JobOutcome)], mut originals: Originals) {
        for (job, _) in results.iter_mut() {
            for slot in [&mut job.src_dir, &mut job.dst_dir] {
                let key = Arc::as_ptr(slot) as usize;
                if let Some(original) = originals.take(key) {
                    *slot = original;
                }
            }
        }
        // Every job came back (the executor's contract), so every original is back in one.
        debug_assert!(originals.0.iter().all(|(_, kept)| kept.is_empty()));
    }

    /// This worker's copy of the driver's directory `dir`, kept for the next leaf directory
    /// (`leaves.rs`) in it: copies of directories the driver has closed are let go first, as
    /// before a batch.
    pub(super) fn copy_of(&mut self, dir: &Arc<OwnedFd>) -> io::Result<Arc<OwnedFd>> {
        self.trim();
        self.local(dir)
    }

    /// A copy of the driver's directory `dir` that is not kept (a leaf's own directory, used
    /// once): this table never holds more of them than the leaves it is copying.
    pub(super) fn fetch(&self, dir: &Arc<OwnedFd>) -> io::Result<Arc<OwnedFd>> {
        let fd = pidfd_getfd(self.driver, dir.as_raw_fd(), PidfdGetfdFlags::empty())?;
        Ok(Arc::new(fd))
    }

    /// This worker's copy of the driver's directory `dir`.
    fn local(&mut self, dir: &Arc<OwnedFd>) -> io::Result<Arc<OwnedFd>> {
        let key = Arc::as_ptr(dir) as usize;
        if let Some(cached) = self.cache.get(&key) {
            return Ok(Arc::clone(&cached.local));
        }
        let local = match pidfd_getfd(self.driver, dir.as_raw_fd(), PidfdGetfdFlags::empty()) {
            Ok(fd) => fd,
            Err(e) if e == rustix::io::Errno::MFILE && !self.cache.is_empty() => {
                // Room first: the cached copies not used by this batch go (those that are stay
                // alive through the jobs holding them).
                self.cache.clear();
                pidfd_getfd(self.driver, dir.as_raw_fd(), PidfdGetfdFlags::empty())?
            }
            Err(e) => return Err(e.into()),
        };
        let local = Arc::new(local);
        self.cache.insert(
            key,
            Cached {
                driver: Arc::downgrade(dir),
                local: Arc::clone(&local),
            },
        );
        Ok(local)
    }

    /// Drops the copies of directories the driver has closed, so that this table never holds
    /// more directories than the driver's does (the fd budget, `budget.rs`, counts those once),
    /// and all of them past [`MAX_CACHED`].
    fn trim(&mut self) {
        self.cache.retain(|_, c| c.driver.strong_count() > 0);
        if self.cache.len() > MAX_CACHED {
            self.cache.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_jobs::dir;
    use std::os::fd::AsFd;

    /// Stands in for the facade's function: the table stays shared (this crate cannot unshare
    /// one), which is enough to check the bookkeeping — every copy is still a new descriptor.
    fn stay_shared(_keep: BorrowedFd<'_>) -> io::Result<()> {
        Ok(())
    }

    fn job(src: &Arc<OwnedFd>, dst: &Arc<OwnedFd>) -> FileJob {
        crate::test_jobs::job(src, dst, 1)
    }

    fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
        let (a, b) = (rustix::fs::fstat(a).unwrap(), rustix::fs::fstat(b).unwrap());
        (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    }

    #[test]
    fn jobs_run_on_copies_and_go_back_with_the_originals() {
        let pidfd = driver_pidfd().expect("a pidfd of this thread");
        let mut local = LocalDirs::enter(pidfd.as_fd(), stay_shared).expect("pidfd_getfd works");
        let (src, dst) = (dir("/"), dir("/tmp"));
        let batch = vec![job(&src, &dst), job(&src, &dst)];
        let (run, failed, originals) = local.localize(batch);
        assert!(failed.is_empty());
        for j in &run {
            assert!(!Arc::ptr_eq(&j.src_dir, &src) && !Arc::ptr_eq(&j.dst_dir, &dst));
            assert_ne!(
                j.src_dir.as_raw_fd(),
                src.as_raw_fd(),
                "a copy is a new descriptor"
            );
            assert!(same_file(&j.src_dir, &src) && same_file(&j.dst_dir, &dst));
        }
        // One copy per directory, shared by the jobs of the batch.
        assert!(Arc::ptr_eq(&run[0].src_dir, &run[1].src_dir));
        let mut results: Vec<_> = run
            .into_iter()
            .rev()
            .map(|j| (j, JobOutcome::Skipped))
            .collect();
        LocalDirs::restore(&mut results, originals);
        for (j, _) in &results {
            assert!(Arc::ptr_eq(&j.src_dir, &src) && Arc::ptr_eq(&j.dst_dir, &dst));
        }
        // The only other strong references are the jobs': the worker kept none.
        drop(results);
        assert_eq!(Arc::strong_count(&src), 1);
        assert_eq!(Arc::strong_count(&dst), 1);
    }

    #[test]
    fn jobs_of_alternating_directories_each_get_copies_of_their_own() {
        let pidfd = driver_pidfd().expect("a pidfd of this thread");
        let mut local = LocalDirs::enter(pidfd.as_fd(), stay_shared).expect("pidfd_getfd works");
        let (a, b, c) = (dir("/"), dir("/tmp"), dir("/proc"));
        let pairs = [(&a, &b), (&a, &b), (&b, &c), (&a, &b), (&a, &c), (&a, &c)];
        let batch = pairs.iter().map(|(s, d)| job(s, d)).collect();
        let (run, failed, originals) = local.localize(batch);
        assert!(failed.is_empty());
        assert_eq!(run.len(), pairs.len(), "every job runs, in its place");
        for (j, (s, d)) in run.iter().zip(pairs) {
            assert!(same_file(&j.src_dir, s) && same_file(&j.dst_dir, d));
            assert!(!Arc::ptr_eq(&j.src_dir, s) && !Arc::ptr_eq(&j.dst_dir, d));
        }
        // One copy per directory, whichever job fetched it first.
        assert!(Arc::ptr_eq(&run[0].src_dir, &run[4].src_dir));
        assert!(Arc::ptr_eq(&run[1].dst_dir, &run[2].src_dir));
        assert!(Arc::ptr_eq(&run[2].dst_dir, &run[5].dst_dir));
        let mut results: Vec<_> = run.into_iter().map(|j| (j, JobOutcome::Skipped)).collect();
        LocalDirs::restore(&mut results, originals);
        for ((j, _), (s, d)) in results.iter().zip(pairs) {
            assert!(Arc::ptr_eq(&j.src_dir, s) && Arc::ptr_eq(&j.dst_dir, d));
        }
        drop(results);
        for original in [&a, &b, &c] {
            assert_eq!(
                Arc::strong_count(original),
                1,
                "the worker kept a reference"
            );
        }
    }

    #[test]
    fn a_copy_is_reused_while_the_driver_holds_the_directory_and_dropped_after() {
        let pidfd = driver_pidfd().expect("a pidfd of this thread");
        let mut local = LocalDirs::enter(pidfd.as_fd(), stay_shared).expect("pidfd_getfd works");
        let (src, dst) = (dir("/"), dir("/tmp"));
        let (first, _, o1) = local.localize(vec![job(&src, &dst)]);
        let (second, _, o2) = local.localize(vec![job(&src, &dst)]);
        assert!(
            Arc::ptr_eq(&first[0].src_dir, &second[0].src_dir),
            "fetched twice"
        );
        let copy = Arc::downgrade(&first[0].src_dir);
        for (run, originals) in [(first, o1), (second, o2)] {
            let mut results: Vec<_> = run.into_iter().map(|j| (j, JobOutcome::Skipped)).collect();
            LocalDirs::restore(&mut results, originals);
        }
        // The driver closes its directories; the next batch drops the copies of them.
        drop((src, dst));
        let (other_src, other_dst) = (dir("/"), dir("/tmp"));
        let (run, _, originals) = local.localize(vec![job(&other_src, &other_dst)]);
        assert_eq!(
            copy.strong_count(),
            0,
            "the copy of a closed directory was kept"
        );
        let mut results: Vec<_> = run.into_iter().map(|j| (j, JobOutcome::Skipped)).collect();
        LocalDirs::restore(&mut results, originals);
    }

    /// Must not be called: a worker that cannot fetch the driver's descriptors keeps sharing.
    fn must_not_unshare(_keep: BorrowedFd<'_>) -> io::Result<()> {
        panic!("the table was unshared although fetching descriptors does not work")
    }

    #[test]
    fn without_fetching_a_worker_keeps_the_shared_table() {
        // A pidfd of a child process, which has no descriptor with the pidfd's number (it is
        // close-on-exec here, so the child never had it): the check `enter` makes before
        // unsharing fails, as it would under a seccomp filter that refuses `pidfd_getfd`.
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
        let pidfd = pidfd_open(pid, PidfdFlags::empty()).unwrap();
        let entered = LocalDirs::enter(pidfd.as_fd(), must_not_unshare);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(entered.is_none());
    }
}
