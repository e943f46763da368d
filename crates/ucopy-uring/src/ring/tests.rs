//! The in-flight table's reading of the kernel's CQE rules (`Chain::record`, `Table::complete`).

#![deny(unsafe_code)] // the tests need none; all `unsafe` stays in the ring proper
use super::*;

fn chain(ops: &[(Expect, bool)]) -> Chain {
    Chain {
        tag: 7,
        ops: ops
            .iter()
            .map(|&(expect, skip)| ChainOp {
                keep: Keep::Nothing,
                expect,
                skip,
                res: None,
                fd: None,
            })
            .collect(),
        propagating: false,
    }
}

fn kinds(c: &Completion) -> Vec<String> {
    c.results
        .iter()
        .map(|r| match r {
            OpResult::Done(n) => format!("done {n}"),
            OpResult::Fd(_) => "fd".into(),
            OpResult::Failed(e) => format!("failed {}", e.raw_os_error()),
            OpResult::Cancelled => "cancelled".into(),
        })
        .collect()
}

#[test]
fn all_skipped_but_last() {
    // four linked ops, all but the last skip-flagged: one CQE
    let mut c = chain(&[
        (Expect::Exact(10), true),
        (Expect::Exact(0), true),
        (Expect::Exact(10), true),
        (Expect::Exact(0), false),
    ]);
    assert!(c.record(3, 0));
    let done = c.finish(3);
    assert_eq!(kinds(&done), ["done 10", "done 0", "done 10", "done 0"]);
}

#[test]
fn skip_op_failure_silences_the_rest() {
    let mut c = chain(&[
        (Expect::Exact(10), true),
        (Expect::Exact(0), true),
        (Expect::Exact(10), true),
        (Expect::Exact(0), false),
    ]);
    // A short read posts its (positive) result and ends the chain.
    assert!(c.record(0, 4));
    let done = c.finish(0);
    assert_eq!(
        kinds(&done),
        ["done 4", "cancelled", "cancelled", "cancelled"]
    );
}

#[test]
fn non_skip_failure_waits_for_the_cancellations() {
    let mut c = chain(&[
        (Expect::Exact(10), false),
        (Expect::Exact(0), true),
        (Expect::Exact(0), false),
    ]);
    assert!(!c.record(0, -libc::EIO));
    assert!(!c.record(1, -libc::ECANCELED));
    assert!(c.record(2, -libc::ECANCELED));
    let done = c.finish(2);
    assert_eq!(
        kinds(&done),
        [
            format!("failed {}", libc::EIO),
            "cancelled".into(),
            "cancelled".into()
        ]
    );
}

#[test]
fn middle_success_that_posts_keeps_waiting() {
    let mut c = chain(&[
        (Expect::Exact(3), true),
        (Expect::NewFd, false),
        (Expect::Exact(0), false),
    ]);
    use std::os::fd::IntoRawFd;
    let fd = std::fs::File::open("/dev/null").expect("open /dev/null");
    assert!(!c.record(1, fd.into_raw_fd()));
    assert!(c.record(2, 0));
    let done = c.finish(2);
    assert_eq!(kinds(&done), ["done 3", "fd", "done 0"]);
}

#[test]
fn table_ignores_stale_generations() {
    let mut t = Table::default();
    let (i, g) = t.insert(chain(&[(Expect::Exact(0), false)]));
    let mut out = Vec::new();
    t.complete(
        Table::user_data(i, g.wrapping_sub(1) & GEN_MASK, 0),
        0,
        &mut out,
    );
    assert!(out.is_empty());
    t.complete(Table::user_data(i, g, 0), 0, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(t.live, 0);
    assert_eq!(t.live_ops, 0);
}

#[test]
fn table_ignores_bulk_closes_and_generations_stay_below_their_bit() {
    let mut t = Table::default();
    let (i, g) = t.insert(chain(&[(Expect::Exact(0), false)]));
    let mut out = Vec::new();
    t.complete(BULK_CLOSE | Table::user_data(i, g, 0), 0, &mut out);
    assert!(out.is_empty(), "a bulk close was read as a chain's op");
    assert_eq!(Table::user_data(u32::MAX, GEN_MASK, 255) & BULK_CLOSE, 0);
}

/// A ring of eight entries (sixteen completions), without buffers.
fn small_ring() -> Ring {
    let spec = RingSpec {
        entries: 8,
        single_issuer: false,
        defer_taskrun: false,
        coop_taskrun: false,
        buffers: None,
        iowq_max_workers: None,
        skip_success: false,
    };
    Ring::new(&spec).expect("an io_uring (the CI machine has one)")
}

#[test]
fn close_all_closes_more_descriptors_than_the_ring_holds_in_order() {
    // In a thread with a table of its own: no other test can take a number closed here.
    std::thread::spawn(close_all_in_this_thread).join().unwrap();
}

fn close_all_in_this_thread() {
    use std::os::fd::AsFd;
    unshare_fd_table(io::stderr().as_fd()).unwrap();
    let mut ring = small_ring();
    let files: Vec<OwnedFd> = (0..40)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect();
    let numbers: Vec<i32> = files.iter().map(AsRawFd::as_raw_fd).collect();
    let results = ring.close_all(files).unwrap();
    assert_eq!(results.len(), 40);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for n in numbers {
        assert!(!open_here(n), "descriptor {n} is still open");
    }
    // The ring is left empty: chains run on it as before.
    assert_eq!(ring.table.live, 0);
    assert!(ring.run().unwrap().is_empty());
    assert!(ring.close_all(Vec::new()).unwrap().is_empty());
}

/// Whether descriptor `fd` is open in the calling thread's table.
fn open_here(fd: i32) -> bool {
    std::fs::symlink_metadata(format!("/proc/thread-self/fd/{fd}")).is_ok()
}

#[test]
fn a_private_table_holds_only_the_standard_descriptors_and_keep() {
    use std::os::fd::{AsFd, AsRawFd};
    let shared = std::fs::File::open("/").unwrap();
    let keep = std::fs::File::open("/").unwrap();
    let (shared_fd, keep_fd) = (shared.as_raw_fd(), keep.as_raw_fd());
    std::thread::scope(|s| {
        s.spawn(|| {
            unshare_fd_table(keep.as_fd()).unwrap();
            assert!(
                !open_here(shared_fd),
                "another thread's descriptor was kept"
            );
            assert!(open_here(keep_fd), "`keep` was closed");
            assert!(open_here(2), "stderr was closed");
        })
        .join()
        .unwrap()
    });
    assert!(
        open_here(shared_fd) && open_here(keep_fd),
        "the process's table lost a descriptor"
    );
}
