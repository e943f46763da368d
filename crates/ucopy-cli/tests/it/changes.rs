//! Rows 31–32: the source changes while it is copied. Racy by nature, so these tests assert
//! only invariants that hold whatever the interleaving (no hang, no crash, only prefixes of the
//! data, never outside data) and repeat the copy to make a violation likely to show. A correct
//! copier cannot fail them; a wrong one fails most runs.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::fs::FileType;

use crate::compare::{assert_trees_equal, walk, Compare, Snapshot};
use crate::harness::{run, Backend, Out};
use crate::tree::{pattern, pattern_nonzero, Rng, TestTree, KIB, MIB};

const ATTEMPTS: usize = 6;

/// Ended by itself with exit 0 or 1: no crash, no signal, no start-up failure.
#[track_caller]
fn assert_no_crash(out: &Out) {
    assert!(
        matches!(out.code(), Some(0 | 1)),
        "expected exit 0 or 1 (no crash):\n{out}"
    );
}

/// `copy` must be `data[..copy.len()]`.
#[track_caller]
fn assert_prefix(copy: &[u8], data: &[u8], what: &str) {
    assert!(
        copy.len() <= data.len(),
        "{what}: copy is {} bytes, longer than any version ({})",
        copy.len(),
        data.len()
    );
    if let Some(k) = (0..copy.len()).find(|&k| copy[k] != data[k]) {
        let zeros = copy[k..].iter().take_while(|&&c| c == 0).count();
        panic!(
            "{what}: copy ({} bytes) is not a prefix of the data: differs at {k}{}",
            copy.len(),
            if zeros > 0 {
                format!(", followed by {zeros} zero bytes (zero padding)")
            } else {
                String::new()
            }
        );
    }
}

/// Copies `src` (which holds `f`, changed by `mutate` all along, and `static*` files) several
/// times; each copy of `f` must be a prefix of `data`, the static files complete.
fn copy_while(b: Backend, data: &[u8], mutate: impl Fn(&Path, &AtomicBool) + Sync) {
    let t = TestTree::in_shm();
    t.file("src/f", data);
    for i in 0..20 {
        t.file_sized(format!("src/static{i:02}"), 100 * KIB, i);
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let f = t.p("src/f");
        let (mutate, stop_ref) = (&mutate, &stop);
        let mutator = s.spawn(move || mutate(&f, stop_ref));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for attempt in 0..ATTEMPTS {
                let dst = t.p(format!("dst{attempt}"));
                let archive = attempt % 2 == 0;
                let mut a = args![t.p("src"), &dst];
                if archive {
                    a.insert(0, "-a".into());
                }
                let mut c = b.cmd();
                c.args(a);
                let out = run(c, Duration::from_secs(60));
                assert_no_crash(&out);
                if let Ok(copy) = fs::read(dst.join("f")) {
                    assert_prefix(&copy, data, &format!("attempt {attempt}"));
                }
                for i in 0..20 {
                    let name = format!("static{i:02}");
                    assert_eq!(
                        fs::read(dst.join(&name)).ok(),
                        fs::read(t.p(format!("src/{name}"))).ok(),
                        "attempt {attempt}: {name} (unchanged) not copied intact:\n{out}"
                    );
                }
            }
        }));
        stop.store(true, Ordering::Relaxed);
        mutator.join().unwrap();
        if let Err(p) = result {
            std::panic::resume_unwind(p);
        }
    });
}

// Row 31: a file shrinking (and regrowing with the same data) during the copy: the copy is a
// prefix of the data, never padded with zeros to the size seen at the start.
backend_test!(row31_shrinking_file, |b| {
    let data = pattern_nonzero(31, 16 * MIB as usize);
    copy_while(b, &data, |f, stop| {
        let file = OpenOptions::new().write(true).open(f).unwrap();
        let mut rng = Rng::new(31);
        while !stop.load(Ordering::Relaxed) {
            let k = rng.below(data.len() as u64);
            file.set_len(k).unwrap();
            std::thread::sleep(Duration::from_micros(200));
            file.write_all_at(&data[k as usize..], k).unwrap();
        }
    });
});

// Row 31: a file growing during the copy (appended from 1 MiB to 24 MiB, again and again).
backend_test!(row31_growing_file, |b| {
    let data = pattern_nonzero(32, 24 * MIB as usize);
    copy_while(b, &data, |f, stop| {
        let file = OpenOptions::new().write(true).open(f).unwrap();
        let step = 256 * KIB as usize;
        while !stop.load(Ordering::Relaxed) {
            file.set_len(MIB).unwrap();
            let mut off = MIB as usize;
            while off < data.len() && !stop.load(Ordering::Relaxed) {
                let end = (off + step).min(data.len());
                file.write_all_at(&data[off..end], off as u64).unwrap();
                off = end;
            }
        }
    });
});

// Row 31: files vanishing during the copy: no hang or crash; whatever of them was copied is
// complete; every message is about a vanished file; the files that stay are all copied.
backend_test!(row31_vanishing_files, |b| {
    const N: usize = 3000;
    let t = TestTree::in_shm();
    for i in 0..100 {
        t.file_sized(format!("src/keep/k{i:03}"), 4 * KIB, 5000 + i as u64);
    }
    for attempt in 0..3 {
        for i in 0..N {
            t.file(format!("src/v/v{i:04}"), pattern(i as u64, 2048));
        }
        let dst = t.p(format!("dst{attempt}"));
        let mut c = b.cmd();
        c.args(args!["-a", t.p("src"), &dst]);
        let running = crate::harness::spawn(c);
        // Remove them in a random order while the copy runs.
        let mut order: Vec<usize> = (0..N).collect();
        let mut rng = Rng::new(attempt);
        for i in (1..N).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for i in order {
            fs::remove_file(t.p(format!("src/v/v{i:04}"))).unwrap();
        }
        let out = running.finish(Duration::from_secs(60));
        assert_no_crash(&out);
        for e in fs::read_dir(dst.join("v")).into_iter().flatten() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let i: u64 = name
                .strip_prefix('v')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("stray {name:?} in the copy"));
            assert_eq!(
                fs::read(e.path()).unwrap(),
                pattern(i, 2048),
                "{name} incomplete"
            );
        }
        for line in out.stderr_str().lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("/v/v") || line.contains("/v'") || line.contains("/v:"),
                "a message about something that did not vanish: {line:?}\n{out}"
            );
        }
        let cmp = Compare::archive().no_root_meta();
        assert_trees_equal(&t.p("src/keep"), &dst.join("keep"), &cmp);
    }
});

// Row 32: a source dir swapped for a symlink to outside data mid-copy: nothing from outside may
// land in the copy (walk with openat/O_NOFOLLOW from already-opened dir fds).
backend_test!(row32_parent_swapped_for_symlink, |b| {
    let t = TestTree::in_shm();
    for i in 0..200 {
        t.file(format!("src/a/f{i:03}"), format!("inside {i}"));
        t.file(format!("outside/f{i:03}"), format!("SECRET {i}"));
    }
    for i in 0..50 {
        t.file(format!("src/x/y/z/g{i:02}"), format!("inside {i}"));
        t.file(format!("outside/g{i:02}"), format!("SECRET {i}"));
    }
    t.file("outside/only_outside", "SECRET name");
    let outside_before = Snapshot::take(&t.p("outside"));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let swapper = s.spawn(|| {
            let outside = t.p("outside");
            while !stop.load(Ordering::Relaxed) {
                for (dir, moved) in [("src/a", "src/a.moved"), ("src/x/y/z", "src/x/y/z.moved")] {
                    fs::rename(t.p(dir), t.p(moved)).unwrap();
                    std::os::unix::fs::symlink(&outside, t.p(dir)).unwrap();
                    std::thread::yield_now();
                    fs::remove_file(t.p(dir)).unwrap();
                    fs::rename(t.p(moved), t.p(dir)).unwrap();
                }
            }
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for attempt in 0..ATTEMPTS {
                let dst = t.p(format!("dst{attempt}"));
                let mut c = b.cmd();
                c.args(args!["-a", t.p("src"), &dst]);
                let out = run(c, Duration::from_secs(60));
                assert_no_crash(&out);
                let mut leaked = Vec::new();
                walk(&dst, &mut |rel, parent, name, st| {
                    if name == b"only_outside" {
                        leaked.push(crate::compare::show(rel));
                    }
                    if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
                        let mut p = format!("/proc/self/fd/{}/", {
                            use std::os::fd::AsRawFd;
                            parent.as_raw_fd()
                        })
                        .into_bytes();
                        p.extend_from_slice(name);
                        let content = fs::read(crate::harness::os(&p)).unwrap_or_default();
                        if content.starts_with(b"SECRET") {
                            leaked.push(crate::compare::show(rel));
                        }
                    }
                });
                assert!(
                    leaked.is_empty(),
                    "attempt {attempt}: outside data copied through a swapped-in symlink: \
                     {leaked:?}\n{out}"
                );
            }
        }));
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        if let Err(p) = result {
            std::panic::resume_unwind(p);
        }
    });
    Snapshot::take(&t.p("outside")).assert_same(&outside_before, "the outside dir");
});
