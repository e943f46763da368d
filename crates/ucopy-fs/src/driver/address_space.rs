//! How many worker threads fit under an address-space limit (`ulimit -v`, `RLIMIT_AS`).
//!
//! Every worker's stack, and what it allocates while files are in flight, comes out of the same
//! limit as the driver's heap; when the limit is used up an allocation fails, and an allocation
//! failure aborts the process. Starting threads until one fails is therefore not enough: the
//! threads that did start can leave the heap too little (`--threads 8` under a 20 MB limit
//! started six and then aborted). So the driver starts only as many workers as the space left
//! holds with room to spare, and says so when that is fewer than asked.

/// Address space one worker needs: its stack (std's default for spawned threads, 2 MiB) and as
/// much again for what it allocates (job results, messages, a read/write buffer). The io_uring
/// executors size their own buffers from what is left when they start (`ucopy-uring`).
pub(super) const PER_WORKER: u64 = 4 << 20;

/// Address space kept for the driver: the plan's directories, the batches waiting, results
/// coming back, and messages.
pub(super) const DRIVER_RESERVE: u64 = 8 << 20;

/// Bytes `RLIMIT_AS` leaves above the process's current size (`None`: no limit, or the size
/// cannot be read).
pub fn address_space_left() -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As).current?;
    // First field of statm: the process's size in pages.
    let pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let used = pages * rustix::param::page_size() as u64;
    Some(limit.saturating_sub(used))
}

thread_local! {
    /// Address space this worker thread's executor may map for buffers (`None`: no limit, or
    /// not a worker thread); set by the driver when the worker starts.
    static WORKER_SHARE: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// What the calling worker thread's executor may map (buffers, ring) under `ulimit -v`: an
/// equal share, for each of the copy's workers, of what the limit left when they were started,
/// beyond the driver's reserve and the worker's own stack and allocations. `None` without a
/// limit, or outside a worker thread. Executors that size buffers from the space left take no
/// more than this, so that one worker's buffers cannot starve the others or the driver.
pub fn worker_address_space() -> Option<u64> {
    WORKER_SHARE.with(std::cell::Cell::get)
}

/// Sets [`worker_address_space`] for the calling (worker) thread.
pub(super) fn set_worker_address_space(share: Option<u64>) {
    WORKER_SHARE.with(|s| s.set(share));
}

/// Each of `threads` workers' share of `left` for its executor: see [`worker_address_space`].
pub(super) fn share_per_worker(threads: usize, left: Option<u64>) -> Option<u64> {
    let left = left?;
    let per_worker = left.saturating_sub(DRIVER_RESERVE) / threads.max(1) as u64;
    Some(per_worker.saturating_sub(PER_WORKER))
}

/// At most `threads` workers, fewer when `left` bytes of address space (`None`: unlimited)
/// cannot hold them beside the driver's reserve; never none where some were wanted (the copy
/// then runs as far as the limit lets it, and a thread that cannot start is reported by the
/// driver).
pub(super) fn workers_within(threads: usize, left: Option<u64>) -> usize {
    let Some(left) = left else {
        return threads;
    };
    let fit = left.saturating_sub(DRIVER_RESERVE) / PER_WORKER;
    threads.min(usize::try_from(fit).unwrap_or(usize::MAX).max(1))
}

/// Whether this process has an address-space limit (`ulimit -v`, `RLIMIT_AS`).
pub fn address_space_limited() -> bool {
    rustix::process::getrlimit(rustix::process::Resource::As)
        .current
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_keeps_every_worker() {
        assert_eq!(workers_within(64, None), 64);
    }

    #[test]
    fn a_generous_limit_keeps_every_worker() {
        assert_eq!(workers_within(16, Some(4 << 30)), 16);
    }

    #[test]
    fn a_small_limit_holds_fewer_workers_but_never_none() {
        // 20 MiB left: the driver's 8 MiB, then three workers of 4 MiB.
        assert_eq!(workers_within(8, Some(20 << 20)), 3);
        assert_eq!(workers_within(2, Some(20 << 20)), 2);
        assert_eq!(workers_within(8, Some(1 << 20)), 1);
        assert_eq!(workers_within(8, Some(0)), 1);
        // -l and -s start no workers, limit or not.
        assert_eq!(workers_within(0, Some(0)), 0);
    }

    #[test]
    fn each_worker_gets_an_equal_share_beyond_its_own_needs() {
        assert_eq!(share_per_worker(4, None), None);
        // 72 MiB left: 64 MiB after the driver's reserve, 16 MiB per worker, 12 MiB for buffers.
        assert_eq!(share_per_worker(4, Some(72 << 20)), Some(12 << 20));
        assert_eq!(share_per_worker(64, Some(72 << 20)), Some(0));
        set_worker_address_space(Some(5));
        assert_eq!(worker_address_space(), Some(5));
        assert_eq!(
            std::thread::spawn(worker_address_space).join().unwrap(),
            None,
            "a share is the thread's own"
        );
    }

    #[test]
    fn this_process_reports_what_its_limit_leaves() {
        // The test process normally runs without a limit; with one, what is left is below it.
        let limit = rustix::process::getrlimit(rustix::process::Resource::As).current;
        match (limit, address_space_left()) {
            (None, left) => assert_eq!(left, None),
            (Some(limit), Some(left)) => assert!(left < limit),
            (Some(_), None) => panic!("/proc/self/statm unreadable"),
        }
    }
}
