//! Keeping links with cp's options (issue 11): what is one file in the source stays one file
//! in the copy when links are kept — reached through symlinks under `-L`, named more than once
//! on the command line onto names that already exist, and under `-u` even where a destination
//! name is newer. Once per backend: the planner and `ucopy-fs` decide, not the executors.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::tree::TestTree;

fn ino(t: &TestTree, rel: &str) -> u64 {
    fs::symlink_metadata(t.p(rel)).unwrap().ino()
}

// -L with links kept: a file and the symlinks that lead to it (in its directory, below it,
// through a chain) are copied once and linked; a file with one name is no exception. Without
// links kept each name is a copy of its own.
backend_test!(followed_symlinks_to_one_file_become_links, |b| {
    let t = TestTree::new();
    t.file("d/target", "one file");
    t.symlink("d/near", "target");
    t.symlink("d/sub/far", "../target");
    t.symlink("d/chain", "near");
    t.file("d/other", "a second file");
    b.run(args!["-R", "-L", "--preserve=links", t.p("d"), t.p("kept")])
        .assert_success();
    let first = ino(&t, "kept/target");
    for name in ["kept/near", "kept/sub/far", "kept/chain"] {
        assert!(fs::symlink_metadata(t.p(name)).unwrap().is_file(), "{name}");
        assert_eq!(ino(&t, name), first, "{name} is a link of kept/target");
    }
    assert_eq!(t.read("kept/chain"), b"one file");
    assert_ne!(ino(&t, "kept/other"), first);
    assert_eq!(fs::metadata(t.p("kept/target")).unwrap().nlink(), 4);

    b.run(args!["-R", "-L", t.p("d"), t.p("copies")])
        .assert_success();
    assert_ne!(ino(&t, "copies/near"), ino(&t, "copies/target"));
    assert_eq!(t.read("copies/near"), b"one file");
});

// Several names of one file given as sources, with links kept: the later names become links to
// the first one's copy even where the destination directory already has files by those names;
// -n keeps those files; a name that cannot be replaced fails alone (exit 1) and the next
// name is still linked.
backend_test!(named_links_replace_existing_names, |b| {
    let t = TestTree::new();
    t.file("a", "new data");
    t.hardlink("a", "b");
    t.hardlink("a", "c");
    for n in ["a", "b", "c"] {
        t.file(format!("dst/{n}"), "old");
    }
    b.run(args![
        "--preserve=links",
        t.p("a"),
        t.p("b"),
        t.p("c"),
        t.p("dst")
    ])
    .assert_success();
    assert_eq!(ino(&t, "dst/a"), ino(&t, "dst/b"));
    assert_eq!(ino(&t, "dst/a"), ino(&t, "dst/c"));
    assert_ne!(ino(&t, "dst/a"), ino(&t, "a"));
    assert_eq!(t.read("dst/c"), b"new data");

    for n in ["a", "b", "c"] {
        t.file(format!("keep/{n}"), "old");
    }
    b.run(args![
        "-n",
        "--preserve=links",
        t.p("a"),
        t.p("b"),
        t.p("c"),
        t.p("keep")
    ])
    .assert_success();
    for n in ["a", "b", "c"] {
        assert_eq!(t.read(format!("keep/{n}")), b"old", "-n keeps keep/{n}");
    }

    // `b` lands on a directory: that name fails, `c` is linked all the same.
    t.dir("mixed/b/inner");
    let out = b.run(args!["-d", t.p("a"), t.p("b"), t.p("c"), t.p("mixed")]);
    out.assert_code(1);
    assert!(fs::symlink_metadata(t.p("mixed/b")).unwrap().is_dir());
    assert_eq!(ino(&t, "mixed/a"), ino(&t, "mixed/c"));
});

// -u with links kept: a destination name newer than the source is kept as it is — unless it is
// another name of a source file already copied or kept, which it must be linked to so the names
// stay one file (cp: "a separate newer file in dest will be overwritten"). A file with one
// name is still kept when newer.
backend_test!(update_still_links_names_of_one_file, |b| {
    let t = TestTree::new();
    t.file("s/f", "source");
    t.hardlink("s/f", "s/newer");
    t.hardlink("s/f", "s/older");
    t.hardlink("s/f", "s/missing");
    t.file("s/single", "source single");
    t.mtime("s/f", 1_000_000_000, 0);
    t.mtime("s/single", 1_000_000_000, 0);
    t.file("t/s/f", "dest f");
    t.file("t/s/newer", "dest newer");
    t.file("t/s/older", "dest older");
    t.file("t/s/single", "dest single");
    t.mtime("t/s/f", 1_500_000_000, 0);
    t.mtime("t/s/newer", 1_500_000_000, 0);
    t.mtime("t/s/older", 900_000_000, 0);
    t.mtime("t/s/single", 1_500_000_000, 0);
    b.run(args!["-a", "-u", t.p("s"), t.p("t")])
        .assert_success();
    let one = ino(&t, "t/s/f");
    for name in ["t/s/newer", "t/s/older", "t/s/missing"] {
        assert_eq!(ino(&t, name), one, "{name} is a link of t/s/f");
    }
    assert_eq!(
        t.read("t/s/single"),
        b"dest single",
        "-u keeps a newer file"
    );
});
