//! Rows 1–8: where the copy lands, merging, conflicts, and destinations that try to redirect or
//! block the copy.

use std::fs;

use crate::compare::{assert_trees_equal, Compare, Snapshot};
use crate::fixtures::small_tree;
use std::time::Duration;

use crate::harness::{run, suffixed, Backend};
use crate::tree::{lstat, TestTree};

/// Names in a dir, sorted (for "nothing else landed here").
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn is_symlink(p: &std::path::Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

// Row 1: DST absent -> DST becomes the copy (with -a and without).
backend_test!(row01_dst_absent, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    b.run(args!["-a", src, t.p("dst_a")]).assert_success();
    assert_trees_equal(&src, &t.p("dst_a"), &Compare::archive());
    b.run(args![src, t.p("dst_r")]).assert_success();
    assert_trees_equal(&src, &t.p("dst_r"), &Compare::plain());
});

// Row 1: DST an existing dir -> DST/basename(SRC), nothing else created.
backend_test!(row01_into_existing_dir, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.dir("dst");
    b.run(args!["-a", src, t.p("dst")]).assert_success();
    assert_eq!(names(&t.p("dst")), ["src"]);
    assert_trees_equal(&src, &t.p("dst/src"), &Compare::archive());
});

// Row 1: `SRC/` into an existing dir still lands at DST/basename(SRC); no merge.
backend_test!(row01_trailing_slash_does_not_merge, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.dir("dst");
    b.run(args!["-a", suffixed(&src, "/"), t.p("dst")])
        .assert_success();
    assert_eq!(
        names(&t.p("dst")),
        ["src"],
        "`src/` must not merge into dst"
    );
    assert_trees_equal(&src, &t.p("dst/src"), &Compare::archive());
});

// Row 1: `SRC/.` merges the contents into DST (DST's own entries stay; with -a DST takes SRC's
// mode and times, as cp -a does).
backend_test!(row01_dot_merges, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.file("dst/already_there", "keep me");
    b.run(args!["-a", suffixed(&src, "/."), t.p("dst")])
        .assert_success();
    assert!(!t.p("dst/src").exists(), "`src/.` must merge, not nest");
    assert_eq!(t.read("dst/already_there"), b"keep me");
    assert_trees_equal(&src, &t.p("dst"), &Compare::archive().allow_extra());
});

// Row 1: several sources go into an existing dir.
backend_test!(row01_several_sources, |b| {
    let t = TestTree::new();
    let s1 = small_tree(&t, "s1");
    let s2 = small_tree(&t, "s2");
    let f = t.file("lone_file", "lone");
    t.dir("dst");
    b.run(args!["-a", s1, s2, f, t.p("dst")]).assert_success();
    assert_eq!(names(&t.p("dst")), ["lone_file", "s1", "s2"]);
    assert_trees_equal(&s1, &t.p("dst/s1"), &Compare::archive());
    assert_trees_equal(&s2, &t.p("dst/s2"), &Compare::archive());
    assert_trees_equal(&f, &t.p("dst/lone_file"), &Compare::archive());
});

// Row 1 + contract: several sources and DST missing or not a dir: start-up error (exit 2),
// nothing created, the file untouched.
backend_test!(row01_several_sources_need_dir, |b| {
    let t = TestTree::new();
    let s1 = small_tree(&t, "s1");
    let s2 = t.file("s2", "two");
    let target = t.file("target_file", "must stay");
    let before = Snapshot::take(t.path());
    let out = b.run(args!["-a", s1, s2, t.p("missing")]);
    out.assert_code(2);
    assert!(!out.stderr.is_empty(), "no error message:\n{out}");
    let out = b.run(args!["-a", s1, s2, target]);
    out.assert_code(2);
    assert!(!out.stderr.is_empty(), "no error message:\n{out}");
    Snapshot::take(t.path()).assert_same(&before, "the tree");
});

// Row 1: a file source: DST absent -> DST is the file; DST a dir -> DST/name.
backend_test!(row01_file_source, |b| {
    let t = TestTree::new();
    let f = t.file_sized("f.bin", 70_001, 3);
    t.chmod("f.bin", 0o640);
    t.mtime("f.bin", 1_234_567_890, 987_654_321);
    t.dir("dir");
    b.run(args!["-a", f, t.p("copy.bin")]).assert_success();
    assert_trees_equal(&f, &t.p("copy.bin"), &Compare::archive());
    b.run(args!["-a", f, t.p("dir")]).assert_success();
    assert_trees_equal(&f, &t.p("dir/f.bin"), &Compare::archive());
});

/// Source and a pre-existing destination copy that differs: old content, an extra file, a
/// dir with another mode and time.
fn merge_setup(t: &TestTree) {
    t.file("src/a", "new a");
    t.file("src/sub/b", "new b, longer than the old one");
    t.file("src/sub/c", "c is new");
    t.chmod("src/sub", 0o755);
    t.stamp_times("src", 3);
    t.file("dst/src/a", "old a, much longer than the new one");
    t.file("dst/src/sub/b", "old b");
    t.file("dst/src/sub/extra", "extra stays");
    t.file("dst/src/extra_top", "extra top stays");
    t.chmod("dst/src/sub", 0o700);
    t.mtime("dst/src/sub", 1_000_000_000, 5);
}

// Row 2: merge: extra files stay, same-named files are overwritten; with -a an existing dir's
// mode and times become the source's.
backend_test!(row02_merge_overwrites_and_keeps_extras, |b| {
    let t = TestTree::new();
    merge_setup(&t);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_eq!(t.read("dst/src/sub/extra"), b"extra stays");
    assert_eq!(t.read("dst/src/extra_top"), b"extra top stays");
    assert_trees_equal(
        &t.p("src"),
        &t.p("dst/src"),
        &Compare::archive().allow_extra(),
    );
});

// Row 2: -n keeps existing files, still copies the new ones.
backend_test!(row02_no_clobber_keeps_existing, |b| {
    let t = TestTree::new();
    merge_setup(&t);
    b.run(args!["-a", "-n", t.p("src"), t.p("dst")])
        .assert_code(0);
    assert_eq!(t.read("dst/src/a"), b"old a, much longer than the new one");
    assert_eq!(t.read("dst/src/sub/b"), b"old b");
    assert_eq!(t.read("dst/src/sub/c"), b"c is new");
    assert_eq!(t.read("dst/src/sub/extra"), b"extra stays");
    let t2 = TestTree::new();
    merge_setup(&t2);
    b.run(args!["--no-clobber", t2.p("src"), t2.p("dst")])
        .assert_code(0);
    assert_eq!(t2.read("dst/src/a"), b"old a, much longer than the new one");
    assert_eq!(t2.read("dst/src/sub/c"), b"c is new");
});

// Row 2: the same copy twice succeeds both times and gives equal trees, hard links grouped.
// (`ucopy src dst` twice would nest the second copy in dst/src, as cp does; the repeatable
// forms are "into an existing dir" and `src/.`.)
backend_test!(row02_twice_is_idempotent, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.hardlink("src/exec", "src/sub/deeper/exec2");
    t.hardlink("src/exec", "src/exec3");
    t.stamp_times("src", 9);
    t.dir("into");
    for round in 1..=2 {
        b.run(args!["-a", src, t.p("into")]).assert_success();
        assert_trees_equal(&src, &t.p("into/src"), &Compare::archive());
        assert_eq!(names(&t.p("into")), ["src"], "round {round}");
    }
    for round in 1..=2 {
        b.run(args!["-a", suffixed(&src, "/."), t.p("merged")])
            .assert_success();
        assert_trees_equal(&src, &t.p("merged"), &Compare::archive());
        assert!(!t.p("merged/src").exists(), "round {round}: nested");
    }
});

/// Row 3 body: `src/x` of one type meets `dst/src/x` of another: one error naming x, exit 1, the
/// destination object untouched, the siblings still copied.
fn conflict(b: Backend, make_src_x: impl Fn(&TestTree), make_dst_x: impl Fn(&TestTree)) {
    let t = TestTree::new();
    t.file("src/a_before", "before");
    t.file("src/z_after", "after");
    t.file_sized("src/m/inner", 10_000, 4);
    make_src_x(&t);
    t.stamp_times("src", 4);
    t.dir("dst/src");
    make_dst_x(&t);
    let dst_x_before = Snapshot::take(&t.p("dst/src/x"));
    let out = b.run(args!["-a", t.p("src"), t.p("dst")]);
    out.assert_code(1).assert_one_error_naming(b"x");
    assert_eq!(out.error_lines().len(), 1, "only x fails:\n{out}");
    Snapshot::take(&t.p("dst/src/x")).assert_same(&dst_x_before, "the conflicting dst/src/x");
    let cmp = Compare::archive().ignore("x").no_root_meta();
    assert_trees_equal(&t.p("src"), &t.p("dst/src"), &cmp);
}

// Row 3: dir over file.
backend_test!(row03_dir_over_file, |b| {
    conflict(
        b,
        |t| {
            t.file("src/x/inner", "inner");
        },
        |t| {
            t.file("dst/src/x", "precious file");
        },
    );
});

// Row 3: file over dir.
backend_test!(row03_file_over_dir, |b| {
    conflict(
        b,
        |t| {
            t.file("src/x", "a file");
        },
        |t| {
            t.file("dst/src/x/keep", "keep");
        },
    );
});

// Row 3: symlink over dir.
backend_test!(row03_symlink_over_dir, |b| {
    conflict(
        b,
        |t| {
            t.symlink("src/x", "a_before");
        },
        |t| {
            t.file("dst/src/x/keep", "keep");
        },
    );
});

// Row 4: a symlink inside the destination that points to a dir outside never redirects writes:
// that entry is refused (exit 1, an error naming it), the outside stays as it was.
backend_test!(row04_dst_symlink_to_dir_not_followed, |b| {
    for archive in [true, false] {
        let t = TestTree::new();
        t.file("src/sub/f1", "f1");
        t.file("src/sub/deeper/f2", "f2");
        t.file("src/nest/inner/f3", "f3");
        t.file("src/sibling", "sibling");
        t.file("outside/existing", "existing");
        t.dir("dst/src/nest");
        t.symlink("dst/src/sub", t.p("outside"));
        t.symlink("dst/src/nest/inner", t.p("outside"));
        let before = Snapshot::take(&t.p("outside"));
        let mut a = args![t.p("src"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        let out = b.run(a);
        Snapshot::take(&t.p("outside")).assert_same(&before, "the dir outside the destination");
        out.assert_code(1);
        assert!(
            !out.errors_naming(b"sub").is_empty() && !out.errors_naming(b"inner").is_empty(),
            "each refused entry needs an error line:\n{out}"
        );
        assert_eq!(t.read("dst/src/sibling"), b"sibling");
    }
});

// Row 5 (stricter): a destination symlink where the source has a regular file is replaced,
// never written through (cp -a writes through it).
backend_test!(row05_dst_symlink_replaced_not_written_through, |b| {
    for archive in [true, false] {
        let t = TestTree::new();
        t.file("src/f", "new content");
        t.file("src/g", "g");
        t.file("victim", "victim data");
        t.mtime("victim", 1_111_111_111, 1);
        t.symlink("dst/src/f", t.p("victim"));
        t.symlink("dst/src/g", "../../victim");
        let before = Snapshot::take(&t.p("victim"));
        let mut a = args![t.p("src"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        b.run(a).assert_success();
        Snapshot::take(&t.p("victim")).assert_same(&before, "the symlink's target");
        for name in ["f", "g"] {
            assert!(
                !is_symlink(&t.p(format!("dst/src/{name}"))),
                "{name} still a symlink"
            );
        }
        assert_eq!(t.read("dst/src/f"), b"new content");
        assert_eq!(t.read("dst/src/g"), b"g");
    }
});

// Row 5 (stricter): a FIFO at a destination path is replaced or refused, never opened for
// writing (which would block forever: nobody reads it).
backend_test!(row05_dst_fifo_not_opened, |b| {
    for archive in [true, false] {
        let t = TestTree::new();
        t.file("src/f", "data for f");
        t.file("src/later", "later");
        t.fifo("dst/src/f");
        let mut a = args![t.p("src"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        // A blocked open(O_WRONLY) on the FIFO shows as a hang, reported after 20 s.
        let mut c = b.cmd();
        c.args(a);
        let out = run(c, Duration::from_secs(20));
        let replaced = lstat(&t.p("dst/src/f"))
            .is_some_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode).is_file());
        if replaced {
            out.assert_success();
            assert_eq!(t.read("dst/src/f"), b"data for f");
        } else {
            out.assert_code(1).assert_one_error_naming(b"f");
        }
        assert_eq!(t.read("dst/src/later"), b"later");
    }
});

// Row 6: under -a a destination file with other hard links is unlinked first: the other name
// keeps its old data.
backend_test!(row06_hardlinked_dst_unlinked_first, |b| {
    let t = TestTree::new();
    t.file("src/f", "new data");
    t.stamp_times("src", 6);
    t.file("dst/src/f", "old data that the other name must keep");
    t.hardlink("dst/src/f", "dst/other_name");
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_eq!(
        t.read("dst/other_name"),
        b"old data that the other name must keep"
    );
    assert_trees_equal(&t.p("src"), &t.p("dst/src"), &Compare::archive());
});

// Row 7 (stricter): a dir into itself or below itself: exit 2, nothing created anywhere.
backend_test!(row07_into_itself_creates_nothing, |b| {
    let t = TestTree::new();
    t.file("d/f", "f");
    t.file("d/sub/x/g", "g");
    t.symlink("l", t.p("d/sub"));
    t.stamp_times("d", 7);
    let d = t.p("d");
    let cases = [
        args!["-a", d, d],
        args!["-a", d, t.p("d/sub")],
        args!["-a", suffixed(&d, "/"), t.p("d/sub/x")],
        args!["-a", suffixed(&d, "/."), t.p("d/sub")],
        args![d, t.p("d/sub/x/new")],
        args!["-a", d, t.p("l")],
        args!["-a", d, suffixed(&t.p("l"), "/")],
    ];
    for case in cases {
        let before = Snapshot::take(t.path());
        let out = b.run(&case);
        out.assert_code(2);
        assert!(!out.stderr.is_empty(), "no error message for {case:?}");
        Snapshot::take(t.path()).assert_same(&before, &format!("the tree after {case:?}"));
    }
});

// Row 7: the same file by another spelling: a "same file" error (exit 1, as cp), the source
// intact.
backend_test!(row07_same_file, |b| {
    let t = TestTree::new();
    t.file("d/f", "precious");
    t.hardlink("d/f", "d/h");
    t.symlink("d/s", "f");
    let d = t.p("d");
    let cases = [
        args!["-a", t.p("d/f"), t.p("d/./f")],
        args![t.p("d/f"), t.p("d/./f")],
        args!["-a", t.p("d/f"), t.p("d/h")],
        args![t.p("d/f"), t.p("d/h")],
        args!["-a", t.p("d/f"), t.p("d/s")],
        args!["-a", t.p("d/f"), suffixed(&d, "/../d/f")],
    ];
    for case in cases {
        let before = Snapshot::take(t.path());
        let out = b.run(&case);
        out.assert_code(1);
        assert!(
            out.stderr_str().contains("same file"),
            "expected a \"same file\" error for {case:?}:\n{out}"
        );
        Snapshot::take(t.path()).assert_same(&before, &format!("the tree after {case:?}"));
    }
});

// Row 8: an operator-named `DST/` that is a symlink to a dir is followed (like cp).
backend_test!(row08_dst_slash_symlink_followed, |b| {
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.dir("real");
    t.symlink("link", "real");
    b.run(args!["-a", src, suffixed(&t.p("link"), "/")])
        .assert_success();
    assert!(is_symlink(&t.p("link")), "the symlink itself must stay");
    assert_trees_equal(&src, &t.p("real/src"), &Compare::archive());
});
