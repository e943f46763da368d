//! Plain `-r` copies of directories that hold only regular files: each is one worker's job whole
//! (made, filled and finished by it: ucopy-fs `driver/leaves.rs`). The rules the driver keeps for
//! any directory hold there too: a read-only directory is filled before it is made read-only, a
//! name taken at the destination fails that directory alone, and the parent's times and mode come
//! after its leaves.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::compare::{assert_trees_equal, Compare};
use crate::tree::TestTree;

/// Makes `src/<read_only>` mode 555 and copies `src` with `-r` as an unprivileged user (who
/// cannot write into a 555 directory): the copy is complete, and the copy of `read_only` ends at
/// its own mode less the umask, never writable.
fn copy_with_read_only_dir(b: crate::harness::Backend, t: &TestTree, read_only: &str) {
    t.give_to_nobody();
    t.chmod(format!("src/{read_only}"), 0o555);
    b.run_unprivileged(args!["-r", t.p("src"), t.p("dst")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::plain());
    let made = fs::symlink_metadata(t.p(format!("dst/{read_only}")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!((made & 0o222, made & 0o500), (0, 0o500), "mode {made:o}");
}

// Row 16 for `-r`: a 555 directory of files (a leaf).
backend_test!(leaf_read_only_directory_is_filled_then_closed, |b| {
    let t = TestTree::new();
    for i in 0..5 {
        t.file(format!("src/ro/f{i}"), format!("file {i}"));
    }
    t.file("src/top", "top");
    copy_with_read_only_dir(b, &t, "ro");
});

// Row 3 for a leaf: a regular file where a directory of files is to go fails that directory
// (named, exit 1), leaves the file untouched, and every other directory is still copied.
backend_test!(leaf_blocked_by_a_file_fails_alone, |b| {
    let t = TestTree::new();
    for d in ["a", "b", "c"] {
        t.file(format!("src/{d}/f"), d);
    }
    t.file("dst/b", "in the way");
    let out = b.run(args!["-r", t.p("src/."), t.p("dst")]);
    out.assert_code(1);
    assert!(
        out.stderr_str()
            .contains("/b': a non-directory is in the way of a directory"),
        "the blocked directory is named:\n{out}"
    );
    assert_eq!(t.read("dst/b"), b"in the way");
    assert_eq!(t.read("dst/a/f"), b"a");
    assert_eq!(t.read("dst/c/f"), b"c");
});

// A parent's mode comes after its leaves are made: a 555 parent of directories of files.
backend_test!(leaves_of_a_read_only_parent, |b| {
    let t = TestTree::new();
    for d in 0..4 {
        for f in 0..3 {
            t.file(format!("src/p/d{d}/f{f}"), format!("{d}{f}"));
        }
    }
    copy_with_read_only_dir(b, &t, "p");
});

// A plain copy names each subdirectory to a worker, which copies it if it is a leaf and gives
// it back to the walk if not (ucopy-fs `driver/candidates.rs`): a tree where most directories
// hold a symlink or a subdirectory (the walk stops naming candidates after a sample) and a tree
// of leaves below directories that are none (given back, walked, their leaves named again)
// both come out whole, times and modes included where `-r` keeps them.
backend_test!(directories_given_back_by_workers_are_walked_whole, |b| {
    let t = TestTree::new();
    for d in 0..48 {
        t.file(format!("src/many/d{d:02}/f"), format!("{d}"));
        t.file(format!("src/many/d{d:02}/sub/g"), format!("sub {d}"));
        t.symlink(format!("src/many/d{d:02}/link"), "f");
    }
    for d in 0..6 {
        for f in 0..3 {
            t.file(format!("src/deep/a/b{d}/c/leaf/f{f}"), format!("{d}{f}"));
        }
        t.file(format!("src/deep/a/b{d}/c/beside"), "beside");
    }
    t.chmod("src/deep/a", 0o750);
    b.run(args!["-r", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::plain());
});

// Under -a the workers stat a candidate's files themselves: a fan-out of directories of files
// comes out with owners, modes and times, a directory holding a file with another name stays
// the walk's (both names linked at the destination), and a read-only leaf is filled first.
backend_test!(archive_candidates_keep_metadata_and_hard_links, |b| {
    let t = TestTree::new();
    for d in 0..20 {
        t.file(format!("src/d{d:02}/f"), format!("{d}"));
        t.file(format!("src/d{d:02}/g"), format!("g{d}"));
    }
    t.hardlink("src/d05/f", "src/d06/other-name");
    t.chmod("src/d07/f", 0o640);
    t.chmod("src/d08", 0o555);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| fs::metadata(t.p(p)).unwrap().ino();
    assert_eq!(
        ino("dst/d05/f"),
        ino("dst/d06/other-name"),
        "hard link kept"
    );
    t.chmod("src/d08", 0o755);
    t.chmod("dst/d08", 0o755);
});

/// A fan-out of small packages, as in a `node_modules`: each holds files beside a few nested
/// directories (one empty), so a worker copies each whole as a candidate's subtree (ucopy-fs
/// `driver/candidates.rs`); `big` has more directories than a subtree may, and `linked` a
/// symlink deep down, so both go back to the walk.
fn packages(t: &TestTree) {
    for p in 0..20 {
        t.file(
            format!("src/p{p:02}/package.json"),
            format!("{{\"p\": {p}}}"),
        );
        t.file(format!("src/p{p:02}/lib/index.js"), format!("lib {p}"));
        t.file(format!("src/p{p:02}/lib/util/deep.js"), format!("deep {p}"));
        t.file(format!("src/p{p:02}/dist/bundle.js"), format!("dist {p}"));
        t.dir(format!("src/p{p:02}/empty"));
    }
    // Far more directories than a subtree may have (ucopy-core's `SUBTREE_DIRS`).
    for d in 0..40 {
        t.file(format!("src/big/d{d:02}/f"), format!("big {d}"));
    }
    t.file("src/linked/lib/a/f", "a");
    t.symlink("src/linked/lib/a/to-f", "f");
}

// Row 16 for `-r` below a candidate: a read-only directory two levels down in a package is
// filled before it is made read-only, and the whole fan-out comes out the same.
backend_test!(small_subtrees_of_a_fan_out_are_copied_whole, |b| {
    let t = TestTree::new();
    packages(&t);
    copy_with_read_only_dir(b, &t, "p04/lib/util");
});

// Under -a a package's nested directories get their modes and times after their files, the
// package's own after them.
backend_test!(archive_subtrees_keep_directory_modes_and_times, |b| {
    let t = TestTree::new();
    packages(&t);
    t.chmod("src/p03/lib", 0o750);
    t.chmod("src/p05/lib/util", 0o700);
    t.stamp_times("src", 3);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 3 below a candidate: a file where a package's nested directory is to go fails that
// directory alone (named, exit 1, the file untouched); the rest of the package and every other
// package are copied.
backend_test!(subtree_directory_blocked_by_a_file_fails_alone, |b| {
    let t = TestTree::new();
    packages(&t);
    t.file("dst/p07/lib", "in the way");
    let out = b.run(args!["-r", t.p("src/."), t.p("dst")]);
    out.assert_code(1);
    assert!(
        out.stderr_str()
            .contains("/p07/lib': a non-directory is in the way of a directory"),
        "the blocked directory is named:\n{out}"
    );
    assert_eq!(t.read("dst/p07/lib"), b"in the way");
    assert_eq!(t.read("dst/p07/dist/bundle.js"), b"dist 7");
    assert_eq!(t.read("dst/p07/package.json"), b"{\"p\": 7}");
    assert_eq!(t.read("dst/p08/lib/util/deep.js"), b"deep 8");
    assert_eq!(t.read("dst/big/d37/f"), b"big 37");
    assert_eq!(t.read("dst/linked/lib/a/f"), b"a");
});
