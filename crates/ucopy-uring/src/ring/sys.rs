//! System calls that are not io_uring operations but need `unsafe` all the same
//! (`cachestat(2)`, `mallopt(3)`, `unshare(2)` with `close_range(2)`). They live under the ring
//! module because it is the one module of this crate allowed `unsafe` (its
//! `#![allow(unsafe_code)]` covers this file); each block has its SAFETY comment.

use std::io;
use std::os::fd::AsRawFd;

/// `cachestat(2)`'s number: one for every architecture (new system calls share the asm-generic
/// table since Linux 5.1); the `libc` crate does not name it for glibc targets yet.
const SYS_CACHESTAT: libc::c_long = 451;

/// How many pages of the `len` bytes at `off` in `fd` are in the page cache, learned without
/// reading anything (`cachestat(2)`, Linux 6.5; ENOSYS before). Not an io_uring operation, but a
/// raw system call all the same, so it lives in the one module allowed `unsafe`.
pub(crate) fn cached_pages(fd: std::os::fd::BorrowedFd<'_>, off: u64, len: u64) -> io::Result<u64> {
    /// `struct cachestat_range` (include/uapi/linux/mman.h).
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    /// `struct cachestat` (include/uapi/linux/mman.h).
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    let range = Range { off, len };
    let mut stat = CacheStat::default();
    // SAFETY: cachestat(2) reads one `struct cachestat_range` from the second argument and writes
    // one `struct cachestat` to the third; both are live locals for the whole call, laid out as
    // the kernel's (`repr(C)`, two and five `u64`s). The descriptor is borrowed for the call, and
    // the flags must be 0. Nothing is kept by the kernel after it returns.
    let ret = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut CacheStat,
            0u32,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat.nr_cache)
}

/// Keeps every thread's allocations in the C library's one main heap (`mallopt(M_ARENA_MAX,
/// 1)`, glibc). glibc gives each new thread that allocates an arena of its own, reserving 64 MiB
/// of address space for it; under `ulimit -v` the first worker's arena can take most of what the
/// limit leaves, and the next allocation anywhere fails, which aborts the process. Not an
/// io_uring operation, but a call into C all the same, so it lives in the one module allowed
/// `unsafe`. Returns whether the C library took the setting (other C libraries have no such
/// arenas: nothing to do).
pub(crate) fn one_malloc_arena() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt(3) only sets one of the allocator's tunables, under the allocator's
        // own lock; M_ARENA_MAX takes any positive count, and nothing is pointed at.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Gives the calling thread a descriptor table of its own (`unshare(CLONE_FILES)`), then closes
/// in it every descriptor from 3 up except `keep`: the copies of other threads' descriptors that
/// the new table starts with. Not an io_uring operation, but unsafe all the same, so it lives in
/// the one module allowed `unsafe`. The closing is best effort (`close_range(2)`, Linux 5.9): once
/// the table is unshared the call succeeds, and copies left open only stay open until the thread
/// ends.
pub(crate) fn unshare_fd_table(keep: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: after this call, descriptors this thread opens live only in its own table, and
    // descriptors other threads open are not in it. The caller (ucopy-fs's worker, see
    // crates/ucopy-fs/src/driver/fd_tables.rs) calls this before it holds any descriptor of its
    // own, uses other threads' directories only through copies it fetched into its table
    // (pidfd_getfd), and never drops a descriptor another thread owns: every job it is handed
    // goes back to that thread, and the channel it goes back on outlives the worker.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FILES) }?;
    let keep = keep.as_raw_fd() as libc::c_uint;
    // Below `keep` and above it, from 3 up (an empty range is skipped; a descriptor number
    // fits in an `i32`, so `keep + 1` does not overflow).
    let ranges = [
        (3, keep.saturating_sub(1)),
        ((keep + 1).max(3), libc::c_uint::MAX),
    ];
    for (first, last) in ranges.into_iter().filter(|(first, last)| first <= last) {
        // SAFETY: the descriptors closed here are this thread's new table's copies of descriptors
        // other threads own; their owners keep their own copies (in the table this thread left)
        // and nothing on this thread refers to them (see above). `keep` is not closed.
        let _ = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    }
    Ok(())
}
