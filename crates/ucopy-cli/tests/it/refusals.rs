//! GNU cp's safety refusals (issue 11 §2): each case where copying would destroy data or
//! silently undo an earlier step of the same command is refused with cp's message and exit 1,
//! nothing touched; plus the cases where cp's behaviour with a named operand is the safe one
//! (a FIFO destination fed, the sticky bit kept) and the message format (no Rust suffix).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use crate::compare::Snapshot;
use crate::tree::TestTree;

// `ucopy symlink foo` where symlink -> foo: as a symlink (-P, -a) the copy would replace foo by a
// link to itself; followed (no -r) it is foo onto foo. Both: "are the same file", exit 1.
backend_test!(symlink_onto_its_own_target, |b| {
    let t = TestTree::new();
    t.file("foo", "precious");
    t.symlink("symlink", "foo");
    for extra in [&["-a"][..], &["-P"][..], &["-d"][..], &[][..], &["-L"][..]] {
        let before = Snapshot::take(t.path());
        let mut a = args![];
        a.extend(extra.iter().map(std::ffi::OsString::from));
        a.extend(args![t.p("symlink"), t.p("foo")]);
        let out = b.run(&a);
        out.assert_code(1);
        assert!(
            out.stderr_str().contains("are the same file"),
            "{extra:?}: expected cp's same-file refusal:\n{out}"
        );
        assert!(!out.stderr_str().contains("os error"), "{out}");
        Snapshot::take(t.path()).assert_same(&before, &format!("the tree after {extra:?}"));
        assert_eq!(t.read("foo"), b"precious");
    }
});

// Inside a tree: `s/a` is an absolute symlink to `d/a`; merging s into d would turn d/a into a
// link to itself. Refused for that entry, exit 1, d/a keeps its data; the rest is copied.
backend_test!(tree_symlink_onto_its_own_target, |b| {
    let t = TestTree::new();
    t.file("d/a", "precious");
    t.symlink("s/a", t.p("d/a"));
    t.file("s/other", "other");
    let out = b.run(args![
        "-a",
        crate::harness::suffixed(&t.p("s"), "/."),
        t.p("d")
    ]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("are the same file"), "{out}");
    assert_eq!(t.read("d/a"), b"precious");
    assert!(!fs::symlink_metadata(t.p("d/a")).unwrap().is_symlink());
    assert_eq!(t.read("d/other"), b"other");
});

// `ucopy -r a/f b/f c/`: the second source would overwrite what the first just made.
backend_test!(will_not_overwrite_just_created, |b| {
    let t = TestTree::new();
    t.file("a/f", "from a");
    t.file("b/f", "from b");
    t.file("a/d/x", "ax");
    t.file("b/d/x", "bx");
    t.file("b/d/y", "by");
    t.dir("c");
    let out = b.run(args!["-r", t.p("a/f"), t.p("b/f"), t.p("c")]);
    out.assert_code(1);
    let err = out.stderr_str();
    assert!(
        err.contains("will not overwrite just-created") && err.contains("c/f"),
        "{out}"
    );
    assert_eq!(t.read("c/f"), b"from a");
    // Directories merge; a file inside them is just-created too.
    let out = b.run(args!["-r", t.p("a/d"), t.p("b/d"), t.p("c")]);
    out.assert_code(1);
    assert!(
        out.stderr_str().contains("will not overwrite just-created"),
        "{out}"
    );
    assert_eq!(t.read("c/d/x"), b"ax");
    assert_eq!(t.read("c/d/y"), b"by");
    // Symlinks as well.
    t.symlink("a/l", "one");
    t.symlink("b/l", "two");
    t.dir("e");
    let out = b.run(args!["-a", t.p("a/l"), t.p("b/l"), t.p("e")]);
    out.assert_code(1);
    assert_eq!(fs::read_link(t.p("e/l")).unwrap().as_os_str(), "one");
});

// A destination operand that is a symlink ucopy cannot stat (it points into a directory the
// copier may not search): "cannot stat", exit 1, the symlink left alone.
backend_test!(unstattable_destination_symlink, |b| {
    let t = TestTree::new();
    t.file("f", "data");
    t.file("locked/x", "behind");
    t.symlink("dst", t.p("locked/x"));
    t.give_to_nobody();
    t.chmod("locked", 0o000);
    let out = b.run_unprivileged(args![t.p("f"), t.p("dst")]);
    t.chmod("locked", 0o755);
    if crate::harness::is_root() || !out.stderr_str().is_empty() {
        out.assert_code(1);
        assert!(out.stderr_str().contains("cannot stat"), "{out}");
        assert!(fs::symlink_metadata(t.p("dst")).unwrap().is_symlink());
        assert_eq!(t.read("locked/x"), b"behind");
    }
});

// A FIFO named as the destination is written into (a reader gets the data), as cp does.
backend_test!(fifo_operand_is_fed, |b| {
    let t = TestTree::new();
    t.file("f", "through the pipe\n");
    let fifo = t.fifo("pipe");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        fs::File::open(&fifo)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    });
    b.run(args![t.p("f"), t.p("pipe")]).assert_success();
    assert_eq!(reader.join().unwrap(), "through the pipe\n");
    assert!(fs::symlink_metadata(t.p("pipe"))
        .unwrap()
        .file_type()
        .is_fifo_like());
});

// cp -r keeps the sticky bit of a directory (less the umask): 1777 -> 1755 under umask 022.
backend_test!(sticky_bit_without_archive, |b| {
    let t = TestTree::new();
    t.file("tmpdir/f", "x");
    t.chmod("tmpdir", 0o1777);
    b.run_sh("umask 022", args!["-r", t.p("tmpdir"), t.p("copy")])
        .assert_success();
    let mode = fs::metadata(t.p("copy")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o1755, "got {mode:o}");
});

// Errors name the path and the cause only: no Rust "(os error N)" suffix, on any message path
// (start-up, per entry, destination side).
backend_test!(messages_without_os_error_suffix, |b| {
    let t = TestTree::new();
    t.file("src/ok", "ok");
    t.file("src/secret", "s");
    t.give_to_nobody();
    t.chmod("src/secret", 0o000);
    let cases = [
        b.run(args![t.p("missing"), t.p("dst")]),
        b.run(args![t.p("src/ok"), t.p("missing/dst")]),
        b.run_unprivileged(args!["-r", t.p("src"), t.p("dst2")]),
    ];
    for out in cases {
        assert!(!out.stderr.is_empty() || out.code() == Some(0), "{out}");
        assert!(!out.stderr_str().contains("os error"), "{out}");
    }
});

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}

// An option ucopy lacks: cp's "unrecognized option" and the equivalent, exit 2.
#[test]
fn missing_option_names_the_equivalent() {
    let t = TestTree::new();
    t.file("a", "a");
    let out = Backend::Std.run(args!["--delete", t.p("a"), t.p("b")]);
    out.assert_code(2);
    let err = out.stderr_str();
    assert!(err.contains("unrecognized option '--delete'"), "{out}");
    assert!(
        err.contains("hint:") && err.contains("rsync --delete"),
        "{out}"
    );
    assert!(!err.contains("-- --delete"), "no clap tip:\n{out}");
}

// cp's exceptions to "same file", where the data survives: the destination is unlinked first
// (--remove-destination) or moved aside (-b); a hard link onto the file it already is, is
// nothing to do; -l and -s leave an existing destination alone unless -f.
backend_test!(same_file_exceptions, |b| {
    let t = TestTree::new();
    let dir = t.path().display().to_string();
    let run = |args: Vec<std::ffi::OsString>| b.run_sh(&format!("cd '{dir}'"), args);
    let reset = || {
        for n in [
            "foo",
            "hardlink",
            "symlink",
            "other",
            "foo.~1~",
            "symlink.~1~",
            "hardlink~",
        ] {
            let _ = fs::remove_file(t.p(n));
        }
        t.file("foo", "XYZ");
        t.hardlink("foo", "hardlink");
        t.symlink("symlink", "foo");
        t.file("other", "other");
    };
    reset();
    run(args!["--remove-destination", "foo", "hardlink"]).assert_success();
    assert_eq!(t.read("hardlink"), b"XYZ");
    assert_eq!(t.read("foo"), b"XYZ");
    reset();
    run(args!["--backup=numbered", "foo", "symlink"]).assert_success();
    assert!(fs::symlink_metadata(t.p("symlink.~1~"))
        .unwrap()
        .is_symlink());
    assert!(!fs::symlink_metadata(t.p("symlink")).unwrap().is_symlink());
    reset();
    run(args!["-l", "foo", "hardlink"]).assert_success();
    run(args!["-l", "symlink", "foo"]).assert_success();
    assert_eq!(t.read("foo"), b"XYZ");
    let out = run(args!["-l", "foo", "other"]);
    out.assert_code(1);
    assert!(
        out.stderr_str().contains("cannot create hard link"),
        "{out}"
    );
    assert_eq!(t.read("other"), b"other");
    run(args!["-fl", "foo", "other"]).assert_success();
    assert_eq!(t.read("other"), b"XYZ");
    reset();
    run(args!["--backup=numbered", "-d", "symlink", "foo"]).assert_success();
    assert_eq!(
        t.read("foo.~1~"),
        b"XYZ",
        "the data was moved aside, not lost"
    );
    for a in [
        args!["--remove-destination", "foo", "foo"],
        args!["-sf", "foo", "hardlink"],
        args!["-b", "symlink", "foo"],
    ] {
        reset();
        let out = run(a.clone());
        out.assert_code(1);
        assert!(
            out.stderr_str().contains("are the same file"),
            "{a:?}: {out}"
        );
        assert_eq!(t.read("foo"), b"XYZ");
    }
});

// Run under cp's name (a symlink called `cp`): messages say `cp:`, failures exit 1 as cp's
// do; a source named twice is copied once with cp's warning; a backup that would be the source
// itself is refused.
#[test]
fn as_cp_name_status_and_duplicates() {
    let t = TestTree::new();
    std::os::unix::fs::symlink(crate::harness::BIN, t.p("cp")).unwrap();
    let cp = |args: Vec<std::ffi::OsString>| {
        let mut c = std::process::Command::new(t.p("cp"));
        c.env("LC_ALL", "C").current_dir(t.path()).args(args);
        crate::harness::run(c, std::time::Duration::from_secs(60))
    };
    let out = cp(args!["missing", "x"]);
    out.assert_code(1);
    assert!(
        out.stderr_str().starts_with("cp: cannot stat 'missing'"),
        "{out}"
    );
    let out = cp(args!["--no-such-option", "a", "b"]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("Try 'cp --help'"), "{out}");
    t.file("a", "a");
    t.dir("d");
    let out = cp(args!["a", "a", "d"]);
    out.assert_success();
    assert!(
        out.stderr_str().contains("specified more than once"),
        "{out}"
    );
    assert_eq!(t.read("d/a"), b"a");
    t.file("b~", "source");
    t.file("b", "dest");
    let out = cp(args!["--b=simple", "b~", "b"]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("might destroy source"), "{out}");
    assert_eq!(t.read("b~"), b"source");
    assert_eq!(t.read("b"), b"dest");
}

// A dangling symlink named as the destination: not written through (exit 1, left as it is);
// --remove-destination replaces it; a symlink loop is replaced like any symlink in the way.
backend_test!(dangling_destination_operand, |b| {
    let t = TestTree::new();
    t.file("f", "data");
    t.symlink("dangle", t.p("no-such"));
    t.symlink("loop", t.p("loop"));
    let out = b.run(args![t.p("f"), t.p("dangle")]);
    out.assert_code(1);
    assert!(
        out.stderr_str()
            .contains("not writing through dangling symlink"),
        "{out}"
    );
    assert!(fs::symlink_metadata(t.p("dangle")).unwrap().is_symlink());
    assert!(
        !t.p("no-such").exists(),
        "nothing created through the symlink"
    );
    b.run(args!["--remove-destination", t.p("f"), t.p("dangle")])
        .assert_success();
    assert_eq!(t.read("dangle"), b"data");
    b.run(args!["-f", t.p("f"), t.p("loop")]).assert_success();
    assert_eq!(t.read("loop"), b"data");
});
