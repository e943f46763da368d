//! Rows 22–24: hard links, symlinks, and special files.

use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use rustix::fs::FileType;

use crate::compare::{assert_trees_equal, Compare};
use crate::harness::{os, suffixed};
use crate::tree::{many_empty_files, TestTree};

// Row 22: hard links inside the tree stay hard links: same dir, sibling dirs, far apart, groups
// of 3 and 5. A link whose other name is outside the source becomes a plain file.
backend_test!(row22_hard_links_kept, |b| {
    let t = TestTree::new();
    t.file("src/a/x", "same dir pair");
    t.hardlink("src/a/x", "src/a/y");
    t.file("src/a/s1", "siblings");
    t.hardlink("src/a/s1", "src/b/s2");
    t.file_sized("src/a/b/c/d/e/far1", 100_000, 22);
    t.hardlink("src/a/b/c/d/e/far1", "src/z/far2");
    t.file("src/g3_1", "group of three");
    t.hardlink("src/g3_1", "src/a/g3_2");
    t.hardlink("src/g3_1", "src/a/b/g3_3");
    t.file("src/g5/1", "group of five");
    for i in 2..=5 {
        t.hardlink("src/g5/1", format!("src/g5/{i}"));
    }
    t.file("outside/o", "other name outside the source");
    t.hardlink("outside/o", "src/o_in");
    t.file("src/plain", "not linked");
    t.stamp_times("src", 22);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
    let nlink = |rel: &str| t.lstat(rel).unwrap().st_nlink;
    assert_eq!(
        nlink("dst/o_in"),
        1,
        "outside link must become a plain file"
    );
    assert_eq!(nlink("dst/a/x"), 2);
    assert_eq!(nlink("dst/g3_1"), 3);
    assert_eq!(nlink("dst/g5/3"), 5);
    assert_eq!(
        nlink("outside/o"),
        2,
        "the source's outside link must be untouched"
    );
});

// Row 22: 5,000 names of one inode among 50,000 files copy as one inode, quickly.
backend_test!(row22_many_names_one_inode, |b| {
    let t = TestTree::in_shm();
    for d in 0..45 {
        many_empty_files(&t.p(format!("src/plain{d:02}")), "e", 1000);
    }
    t.file("src/links00/l0000", "one inode, 5000 names");
    for i in 1..5000 {
        t.hardlink(
            "src/links00/l0000",
            format!("src/links{:02}/l{i:04}", i / 100),
        );
    }
    let started = Instant::now();
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    let took = started.elapsed();
    assert_eq!(t.lstat("dst/links49/l4999").unwrap().st_nlink, 5000);
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
    // Generous (debug build, 2 cores): a per-link scan of all names would take far longer.
    assert!(took < Duration::from_secs(60), "took {took:?}");
});

/// Symlinks that a copier must not follow, resolve, or recurse into.
fn symlink_zoo(t: &TestTree) {
    t.file("src/x", "x");
    t.file("src/dir/y", "y");
    t.symlink("src/dir/rel", "../x");
    t.symlink("src/abs", "/etc/passwd");
    t.symlink("src/abs_dir", "/");
    t.symlink("src/dangling", "nowhere/nothing");
    t.symlink("src/loop", "loop");
    t.symlink("src/loop_a", "loop_b");
    t.symlink("src/loop_b", "loop_a");
    t.symlink("src/self", ".");
    t.symlink("src/up", "..");
    t.symlink("src/dir/to_parent", "..");
    let long: String = "ab/".repeat(1365); // 4095 bytes: the longest target Linux stores
    assert_eq!(long.len(), 4095);
    t.symlink("src/long", &long);
    t.symlink("src/bytes", os(b"\xff\xfe/odd \n target"));
    t.symlink("src/spaces", " lead/trail ");
}

// Row 23: symlinks copied verbatim, never followed, no recursion (with -a and without).
backend_test!(row23_symlinks_verbatim, |b| {
    let t = TestTree::new();
    symlink_zoo(&t);
    t.stamp_times("src", 23);
    b.run(args!["-a", t.p("src"), t.p("dst_a")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst_a"), &Compare::archive());
    b.run(args![t.p("src"), t.p("dst_r")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst_r"), &Compare::plain());
});

// Row 23: a top-level symlink source is copied as a symlink under -a; `SRC/` dereferences.
backend_test!(row23_top_level_symlink_source, |b| {
    let t = TestTree::new();
    t.file("realdir/f", "f");
    t.file("realdir/sub/g", "g");
    t.file("realfile", "real file");
    t.stamp_times("realdir", 23);
    t.symlink("ldir", "realdir");
    t.symlink("lfile", "realfile");
    b.run(args!["-a", t.p("ldir"), t.p("dst1")])
        .assert_success();
    assert_trees_equal(&t.p("ldir"), &t.p("dst1"), &Compare::archive());
    b.run(args!["-a", t.p("lfile"), t.p("dst2")])
        .assert_success();
    assert_trees_equal(&t.p("lfile"), &t.p("dst2"), &Compare::archive());
    b.run(args!["-a", suffixed(&t.p("ldir"), "/"), t.p("dst3")])
        .assert_success();
    let kind = FileType::from_raw_mode(t.lstat("dst3").unwrap().st_mode);
    assert_eq!(kind, FileType::Directory, "`ldir/` must dereference");
    assert_trees_equal(&t.p("realdir"), &t.p("dst3"), &Compare::archive());
});

// Row 24: FIFOs, sockets and (as root) char/block devices are recreated with mode, rdev, owner
// and times, never opened (opening the FIFO would block: the run's timeout catches it).
backend_test!(row24_special_files, |b| {
    let t = TestTree::new();
    t.fifo("src/fifo");
    t.socket("src/sock");
    t.chmod("src/fifo", 0o640);
    t.chmod("src/sock", 0o700);
    t.file("src/regular", "regular");
    if crate::harness::is_root() {
        t.device("src/dev/null_like", false, 1, 3);
        t.device("src/dev/block", true, 7, 200);
        t.device("src/dev/big_numbers", false, 4000, 1_000_000);
        t.chmod("src/dev/block", 0o600);
        t.chown("src/dev/null_like", 1234, 5678);
        t.chown("src/fifo", 4321, 8765);
    } else {
        eprintln!("not root: devices left out");
    }
    t.stamp_times("src", 24);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
    // Without -a (cp -r also recreates special files rather than reading them).
    b.run(args![t.p("src"), t.p("dst_r")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst_r"), &Compare::plain());
});

// Row 24: as non-root a device fails with a clear EPERM for that entry; the rest copies.
backend_test!(row24_device_as_non_root, |b| {
    require_root!(); // root makes the device; the copy runs as nobody
    let t = TestTree::new();
    t.fifo("src/fifo");
    t.file("src/a_file", "a");
    t.file("src/z_file", "z");
    t.device("src/chardev", false, 1, 3);
    t.device("src/sub/blockdev", true, 7, 200);
    t.file("src/sub/after", "after");
    t.stamp_times("src", 24);
    std::os::unix::fs::chown(t.path(), Some(crate::harness::NOBODY), None).unwrap();
    let out = b.run_unprivileged(args!["-a", t.p("src"), t.p("dst")]);
    out.assert_code(1);
    for dev in [&b"chardev"[..], b"blockdev"] {
        out.assert_one_error_naming(dev);
        let line = &out.errors_naming(dev)[0];
        assert!(
            line.windows(23).any(|w| w == b"Operation not permitted"),
            "expected EPERM for {}:\n{out}",
            std::ffi::OsStr::from_bytes(dev).to_string_lossy()
        );
    }
    assert_eq!(out.error_lines().len(), 2, "{out}");
    let cmp = Compare::archive()
        .no_owner()
        .ignore("chardev")
        .ignore("sub/blockdev");
    assert_trees_equal(&t.p("src"), &t.p("dst"), &cmp);
});
