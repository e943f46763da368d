//! GNU cp's safety refusals (issue 11 §2): each case where copying would destroy data or
//! silently undo an earlier step of the same command is refused with cp's message and exit 1,
//! nothing touched; plus the cases where cp's behaviour with a named operand is the safe one
//! (a FIFO destination fed, the sticky bit kept) and the message format (no Rust suffix).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use crate::compare::Snapshot;
use crate::harness::Backend;
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
    assert!(
        out.stderr_str().contains("through just-created symlink"),
        "{out}"
    );
    assert_eq!(fs::read_link(t.p("e/l")).unwrap().as_os_str(), "one");
});

// With numbered backups nothing is lost by the second source, so cp lets it replace what the
// first just made, the first kept as `f.~1~`; simple backups would overwrite each other: refused.
backend_test!(numbered_backup_keeps_both_sources, |b| {
    let t = TestTree::new();
    t.file("a/f", "from a");
    t.file("b/f", "from b");
    t.dir("c");
    b.run(args!["--backup=numbered", t.p("a/f"), t.p("b/f"), t.p("c")])
        .assert_success();
    assert_eq!(t.read("c/f"), b"from b");
    assert_eq!(t.read("c/f.~1~"), b"from a");
    t.dir("d");
    let out = b.run(args!["--backup=simple", t.p("a/f"), t.p("b/f"), t.p("d")]);
    out.assert_code(1);
    assert!(
        out.stderr_str().contains("will not overwrite just-created"),
        "{out}"
    );
    assert_eq!(t.read("d/f"), b"from a");
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
plain_test!(missing_option_names_the_equivalent);
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
    // A symlink to the source, unlinked first, is replaced by a copy (without following it).
    reset();
    run(args!["--remove-destination", "-d", "foo", "symlink"]).assert_success();
    assert!(!fs::symlink_metadata(t.p("symlink")).unwrap().is_symlink());
    assert_eq!(t.read("symlink"), b"XYZ");
    assert_eq!(t.read("foo"), b"XYZ");
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

/// ucopy run under cp's name (a symlink called `cp` in `t`), in `t`, with `args`.
fn run_as_cp(t: &TestTree, args: Vec<std::ffi::OsString>) -> crate::harness::Out {
    if !t.p("cp").exists() {
        std::os::unix::fs::symlink(crate::harness::BIN, t.p("cp")).unwrap();
    }
    let mut c = std::process::Command::new(t.p("cp"));
    c.env("LC_ALL", "C").current_dir(t.path()).args(args);
    crate::harness::run(c, std::time::Duration::from_secs(60))
}

// Run under cp's name (a symlink called `cp`): messages say `cp:`, failures exit 1 as cp's
// do; a source named twice is copied once with cp's warning; a backup that would be the source
// itself is refused.
plain_test!(as_cp_name_status_and_duplicates);
fn as_cp_name_status_and_duplicates() {
    let t = TestTree::new();
    let cp = |args: Vec<std::ffi::OsString>| run_as_cp(&t, args);
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

// Run as cp without -r/-R/-a, a directory source is left out with cp's message and exit 1, the
// files beside it copied (`cp * dst/`); a symlink to a directory counts as one where named
// symlinks are followed, and -d copies the symlink itself. As ucopy the directory is copied.
plain_test!(as_cp_name_omits_directories_without_recursion);
fn as_cp_name_omits_directories_without_recursion() {
    let t = TestTree::new();
    let cp = |args: Vec<std::ffi::OsString>| run_as_cp(&t, args);
    t.file("f", "file");
    t.file("dir/inner", "inner");
    t.symlink("dirlink", "dir");
    t.dir("into");
    let out = cp(args!["dir", "f", "dirlink", "into"]);
    out.assert_code(1);
    assert_eq!(
        out.stderr_str(),
        "cp: -r not specified; omitting directory 'dir'\n\
         cp: -r not specified; omitting directory 'dirlink'\n"
    );
    assert_eq!(t.read("into/f"), b"file");
    assert!(!t.p("into/dir").exists() && !t.p("into/dirlink").exists());
    let out = cp(args!["--link", "dirlink", "linked"]);
    out.assert_code(1);
    assert!(!t.p("linked").exists());
    cp(args!["-d", "dirlink", "kept"]).assert_success();
    assert!(fs::symlink_metadata(t.p("kept")).unwrap().is_symlink());
    for flag in ["-r", "-R", "-a"] {
        let dst = format!("copy{flag}");
        cp(args![flag, "dir", &dst]).assert_success();
        assert_eq!(t.read(format!("{dst}/inner")), b"inner");
    }
    let mut c = crate::harness::ucopy();
    c.current_dir(t.path()).args(["dir", "as-ucopy"]);
    crate::harness::run(c, std::time::Duration::from_secs(60)).assert_success();
    assert_eq!(t.read("as-ucopy/inner"), b"inner");
}

// Run as cp, a source that cannot be read or a directory copied into itself fails alone: the
// other sources are copied, exit 1, as with cp (as ucopy both stop the command before anything
// is created, exit 2). No partial copy of the directory is made inside itself.
plain_test!(as_cp_name_copies_the_other_sources);
fn as_cp_name_copies_the_other_sources() {
    let t = TestTree::new();
    t.file("a", "a");
    t.file("b", "b");
    t.file("dir/f", "f");
    t.dir("dir/sub");
    t.dir("into");
    let out = run_as_cp(&t, args!["a", "missing", "b", "into"]);
    out.assert_code(1);
    assert_eq!(
        out.stderr_str(),
        "cp: cannot stat 'missing': No such file or directory\n"
    );
    assert_eq!(
        (t.read("into/a"), t.read("into/b")),
        (b"a".to_vec(), b"b".to_vec())
    );
    let out = run_as_cp(&t, args!["-r", "a", "dir", "dir/sub"]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("into itself"), "{out}");
    assert_eq!(t.read("dir/sub/a"), b"a");
    assert!(!t.p("dir/sub/dir").exists());
    let mut c = crate::harness::ucopy();
    c.current_dir(t.path()).args(["a", "missing", "b", "into2"]);
    crate::harness::run(c, std::time::Duration::from_secs(60)).assert_code(2);
    assert!(!t.p("into2").exists());
}

// `--json` lists the sources refused before the copy with the copy's own errors (a source that
// cannot be read by its cause, the rest by their message) and a repeated source in `warnings`,
// so a script reading only the JSON learns why the exit status is 1.
plain_test!(json_lists_sources_refused_before_the_copy);
fn json_lists_sources_refused_before_the_copy() {
    let t = TestTree::new();
    t.file("a", "a");
    t.file("b", "b");
    t.dir("dir");
    t.dir("into");
    t.symlink("to_a", "a");
    let json = |out: &crate::harness::Out| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let mut c = crate::harness::ucopy();
    c.current_dir(t.path())
        .args(["--json", "a", "a", "b", "into"]);
    let out = crate::harness::run(c, std::time::Duration::from_secs(60));
    out.assert_success();
    let j = json(&out);
    assert_eq!(j["errors"].as_array().map(Vec::len), Some(0), "{j}");
    assert_eq!(j["warnings"][0]["path"], "a", "{j}");
    assert_eq!(
        j["warnings"][0]["error"], "source file 'a' specified more than once",
        "{j}"
    );
    let mut c = crate::harness::ucopy();
    c.current_dir(t.path()).args(["--json", "to_a", "a"]);
    let out = crate::harness::run(c, std::time::Duration::from_secs(60));
    out.assert_code(1);
    let j = json(&out);
    assert_eq!(j["errors"][0]["op"], "refused", "{j}");
    assert_eq!(
        j["errors"][0]["error"], "'to_a' and 'a' are the same file",
        "{j}"
    );
    let out = run_as_cp(&t, args!["--json", "a", "missing", "dir", "b", "into"]);
    out.assert_code(1);
    let j = json(&out);
    let errors = j["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 2, "{j}");
    assert_eq!(
        (&errors[0]["path"], &errors[0]["op"], &errors[0]["error"]),
        (
            &serde_json::json!("missing"),
            &serde_json::json!("stat"),
            &serde_json::json!("No such file or directory")
        ),
        "{j}"
    );
    assert_eq!(errors[1]["path"], "dir", "{j}");
    assert_eq!(j["files"], 2, "{j}");
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

// `cp -bf foo foo`: copying a file onto itself is refused, except with --force and a backup,
// where cp copies (or with -l links) the file to its backup name and leaves it as it was.
backend_test!(force_backup_onto_itself_makes_the_backup, |b| {
    let t = TestTree::new();
    t.file("foo", "data");
    b.run(args!["-f", "--backup=numbered", t.p("foo"), t.p("foo")])
        .assert_success();
    assert_eq!(t.read("foo"), b"data");
    assert_eq!(t.read("foo.~1~"), b"data");
    b.run(args![
        "-f",
        "--backup=simple",
        "-S",
        ".b",
        t.p("foo"),
        t.p("foo")
    ])
    .assert_success();
    assert_eq!(t.read("foo.b"), b"data");
    b.run(args!["-fl", "--backup=numbered", t.p("foo"), t.p("foo")])
        .assert_success();
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| fs::metadata(t.p(p)).unwrap().ino();
    assert_eq!(ino("foo.~2~"), ino("foo"));
    // Without --force it stays a refusal, nothing made.
    let out = b.run(args!["--backup=numbered", t.p("foo"), t.p("foo")]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("are the same file"), "{out}");
    assert!(!t.p("foo.~3~").exists());
});

// -v reports what is made, `'src' -> 'dst'`, as cp's does: a directory merged into is not
// reported, and run as cp nothing of ucopy's own (backend, summary) is printed.
backend_test!(verbose_reports_only_what_is_made, |b| {
    let t = TestTree::new();
    t.file("src/new/f", "f");
    t.dir("dst/new");
    let out = b.run(args![
        "-v",
        crate::harness::suffixed(&t.p("src"), "/."),
        t.p("dst")
    ]);
    out.assert_success();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("/f'"), "{out}");
    assert_eq!(stdout.lines().count(), 1, "only the file is new:\n{out}");
    let link = t.p("cp");
    std::os::unix::fs::symlink(crate::harness::BIN, &link).unwrap();
    t.dir("empty");
    let mut c = std::process::Command::new(&link);
    c.env("LC_ALL", "C")
        .current_dir(t.p("dst"))
        .args(b.args())
        .args(args!["--verbose", "-ab", "../empty/.", "."]);
    let out = crate::harness::run(c, std::time::Duration::from_secs(60));
    out.assert_success();
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out}");
});

// -t naming a symlink into a directory the user may not search: the reason is the one stat
// gave (Permission denied), as cp says, not "not a directory"; nothing is copied.
backend_test!(target_directory_unreachable_names_the_cause, |b| {
    let t = TestTree::new();
    t.file("f", "data");
    t.dir("locked/inside");
    t.symlink("link", t.p("locked/inside"));
    t.give_to_nobody();
    t.chmod("locked", 0o000);
    let out = b.run_unprivileged(args!["-t", t.p("link"), t.p("f")]);
    t.chmod("locked", 0o755);
    out.assert_failed();
    let err = out.stderr_str();
    assert!(
        err.contains("target directory") && err.contains("Permission denied"),
        "{out}"
    );
    assert!(!t.p("locked/inside/f").exists());
});

// One source named twice (`a` and `./a`: the same file by the same name in the same directory)
// is copied once with a warning, exit 0; two hard links are two sources. A directory named
// twice likewise. Messages come in operand order: `d ./d/..`-style repeats after an "into
// itself" refusal of the first still warn. With numbered backups the second copy backs up the
// first instead.
backend_test!(repeated_sources_copied_once, |b| {
    let t = TestTree::new();
    t.file("a", "a");
    t.hardlink("a", "link");
    t.dir("d");
    let out = b.run(args![t.p("a"), t.p("./a"), t.p("d")]);
    out.assert_success();
    assert!(
        out.stderr_str().contains("warning: source file '")
            && out.stderr_str().contains("specified more than once"),
        "{out}"
    );
    assert_eq!(t.read("d/a"), b"a");
    let out = b.run(args![t.p("a"), t.p("link"), t.p("d")]);
    out.assert_success();
    assert!(!out.stderr_str().contains("more than once"), "{out}");
    assert_eq!(t.read("d/link"), b"a");

    t.file("tree/x", "x");
    t.dir("into");
    let out = b.run(args!["-a", t.p("./tree"), t.p("tree"), t.p("into")]);
    out.assert_success();
    assert!(
        out.stderr_str().contains("warning: source directory '"),
        "{out}"
    );
    assert_eq!(t.read("into/tree/x"), b"x");

    let out = b.run(args!["-a", t.p("./tree"), t.p("tree"), t.p("tree")]);
    out.assert_failed();
    let err = out.stderr_str();
    let itself = err.find("into itself").expect("into-itself refusal");
    let repeat = err
        .find("specified more than once")
        .expect("repeat warning");
    assert!(itself < repeat, "operand order:\n{out}");

    t.dir("numbered");
    b.run(args![
        "--backup=numbered",
        t.p("a"),
        t.p("a"),
        t.p("numbered")
    ])
    .assert_success();
    assert_eq!(t.read("numbered/a"), b"a");
    assert_eq!(t.read("numbered/a.~1~"), b"a");
});
