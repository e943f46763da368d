//! GNU cp's options (issue 11 §1), one behaviour test per option family, once per backend:
//! the options that change *what* is copied are applied by the shared planner and `ucopy-fs`,
//! so every backend must give the same result.
//!
//! Longer than the usual module on purpose: it is one list of cases, one short test per option
//! family, with nothing shared between them but the harness.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::harness::{suffixed, Backend};
use crate::tree::TestTree;

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn mtime(p: &Path) -> (i64, i64) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.mtime(), m.mtime_nsec())
}

fn ino(p: &Path) -> u64 {
    fs::symlink_metadata(p).unwrap().ino()
}

fn is_symlink(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

// -p keeps mode and times (not hard links); --preserve=links keeps links; -a
// --no-preserve=mode gives new entries the default mode less the umask.
backend_test!(preserve_lists, |b| {
    let t = TestTree::new();
    t.file("s/f", "f");
    t.hardlink("s/f", "s/g");
    t.chmod("s/f", 0o751);
    t.mtime("s/f", 1_000_000_000, 123_456_789);
    b.run_sh("umask 077", args!["-p", t.p("s"), t.p("p")])
        .assert_success();
    assert_eq!(
        mode(&t.p("p/f")),
        0o751,
        "-p keeps the mode whatever the umask"
    );
    assert_eq!(mtime(&t.p("p/f")), (1_000_000_000, 123_456_789));
    assert_ne!(ino(&t.p("p/f")), ino(&t.p("p/g")), "-p does not keep links");
    b.run(args!["-r", "--preserve=links", t.p("s"), t.p("l")])
        .assert_success();
    assert_eq!(ino(&t.p("l/f")), ino(&t.p("l/g")), "--preserve=links");
    b.run_sh(
        "umask 022",
        args!["-a", "--no-preserve=mode", t.p("s/f"), t.p("nm")],
    )
    .assert_success();
    assert_eq!(
        mode(&t.p("nm")),
        0o644,
        "--no-preserve=mode: 0666 less the umask"
    );
    assert_eq!(
        mtime(&t.p("nm")),
        (1_000_000_000, 123_456_789),
        "times still kept"
    );
    let out = b.run(args!["--preserve=colour", t.p("s/f"), t.p("bad")]);
    out.assert_code(2);
    assert!(
        out.stderr_str().contains("invalid argument 'colour'"),
        "{out}"
    );
});

// Symlinks: without -r a command-line symlink is followed; with -r/-a it is copied as a symlink;
// -L follows every symlink in the tree (files and directories); -H only the named ones.
backend_test!(dereference_modes, |b| {
    let t = TestTree::new();
    t.file("real/f", "real data");
    t.file("tree/plain", "p");
    t.symlink("tree/lf", t.p("real/f"));
    t.symlink("tree/ld", t.p("real"));
    t.symlink("top", t.p("real/f"));
    t.symlink("toptree", t.p("tree"));
    b.run(args![t.p("top"), t.p("c1")]).assert_success();
    assert!(
        !is_symlink(&t.p("c1")),
        "no -r: the named symlink is followed"
    );
    assert_eq!(t.read("c1"), b"real data");
    b.run(args!["-r", t.p("top"), t.p("c2")]).assert_success();
    assert!(is_symlink(&t.p("c2")), "-r: copied as a symlink");
    b.run(args!["-rL", t.p("tree"), t.p("c3")]).assert_success();
    assert!(!is_symlink(&t.p("c3/lf")));
    assert_eq!(t.read("c3/lf"), b"real data");
    assert_eq!(t.read("c3/ld/f"), b"real data", "-L walks a symlinked dir");
    b.run(args!["-rH", t.p("toptree"), t.p("c4")])
        .assert_success();
    assert!(!is_symlink(&t.p("c4")), "-H follows the named symlink");
    assert!(is_symlink(&t.p("c4/lf")), "-H leaves symlinks inside alone");
    b.run(args!["-P", t.p("top"), t.p("c5")]).assert_success();
    assert!(
        is_symlink(&t.p("c5")),
        "-P: copied as a symlink even without -r"
    );
});

// -L on a symlink loop back up the tree: refused for that directory, no runaway recursion.
backend_test!(dereference_loop_is_refused, |b| {
    let t = TestTree::new();
    t.file("tree/sub/f", "f");
    t.symlink("tree/sub/up", "..");
    let out = b.run(args!["-rL", t.p("tree"), t.p("c")]);
    out.assert_code(1);
    assert_eq!(t.read("c/sub/f"), b"f");
    assert!(!t.p("c/sub/up/sub/up").exists());
});

// -u: only older destinations are replaced; --update=none keeps everything; --update=all is
// the default. Re-running -a -u on an equal tree rewrites nothing (same inode, same ctime).
backend_test!(update_when, |b| {
    let t = TestTree::new();
    t.file("s/old_in_dst", "new content");
    t.file("s/new_in_dst", "stale content");
    t.file("s/absent", "fresh");
    t.mtime("s/old_in_dst", 2_000_000_000, 0);
    t.mtime("s/new_in_dst", 1_000_000_000, 0);
    t.file("d/old_in_dst", "old");
    t.file("d/new_in_dst", "newer");
    t.mtime("d/old_in_dst", 1_500_000_000, 0);
    t.mtime("d/new_in_dst", 1_500_000_000, 0);
    let src = suffixed(&t.p("s"), "/.");
    b.run(args!["-r", "--update=none", &src, t.p("d")])
        .assert_success();
    assert_eq!(t.read("d/old_in_dst"), b"old");
    assert_eq!(
        t.read("d/absent"),
        b"fresh",
        "--update=none still copies what is missing"
    );
    b.run(args!["-r", "-u", &src, t.p("d")]).assert_success();
    assert_eq!(
        t.read("d/old_in_dst"),
        b"new content",
        "older destination replaced"
    );
    assert_eq!(t.read("d/new_in_dst"), b"newer", "newer destination kept");

    // Resync: nothing rewritten.
    t.file("a/x/1", "one");
    t.file("a/2", "two");
    b.run(args!["-a", t.p("a"), t.p("mirror")]).assert_success();
    let before: Vec<_> = ["mirror/x/1", "mirror/2"]
        .iter()
        .map(|p| {
            let m = fs::metadata(t.p(p)).unwrap();
            (m.ino(), m.ctime(), m.ctime_nsec())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    b.run(args!["-a", "-u", suffixed(&t.p("a"), "/."), t.p("mirror")])
        .assert_success();
    let after: Vec<_> = ["mirror/x/1", "mirror/2"]
        .iter()
        .map(|p| {
            let m = fs::metadata(t.p(p)).unwrap();
            (m.ino(), m.ctime(), m.ctime_nsec())
        })
        .collect();
    assert_eq!(
        before, after,
        "-a -u on an equal tree must not touch a file"
    );
    // One file changed: only that one is rewritten.
    fs::write(t.p("a/2"), "two, changed").unwrap();
    t.mtime("a/2", 2_100_000_000, 0);
    b.run(args!["-a", "-u", suffixed(&t.p("a"), "/."), t.p("mirror")])
        .assert_success();
    assert_eq!(t.read("mirror/2"), b"two, changed");
    let m = fs::metadata(t.p("mirror/x/1")).unwrap();
    assert_eq!((m.ino(), m.ctime(), m.ctime_nsec()), before[0]);
});

// -b / --backup=CONTROL / -S: simple, numbered and existing backups of replaced files.
backend_test!(backups, |b| {
    let t = TestTree::new();
    t.file("src", "v2");
    t.file("simple", "v1");
    b.run(args!["-b", "-S", ".bak", t.p("src"), t.p("simple")])
        .assert_success();
    assert_eq!(t.read("simple"), b"v2");
    assert_eq!(t.read("simple.bak"), b"v1");
    t.file("num", "v1");
    b.run(args!["--backup=numbered", t.p("src"), t.p("num")])
        .assert_success();
    fs::write(t.p("num"), "v1b").unwrap();
    b.run(args!["--backup=t", t.p("src"), t.p("num")])
        .assert_success();
    assert_eq!(t.read("num.~1~"), b"v1");
    assert_eq!(t.read("num.~2~"), b"v1b");
    t.file("ex", "v1");
    b.run(args!["--backup=existing", t.p("src"), t.p("ex")])
        .assert_success();
    assert_eq!(
        t.read("ex~"),
        b"v1",
        "existing: simple when no numbered ones exist"
    );
    t.file("nothing_there_yet", "v1");
    let out = b.run(args!["-n", "-b", t.p("src"), t.p("nothing_there_yet")]);
    out.assert_code(2);
});

// --remove-destination unlinks first: another hard link to the old file keeps its data; -f
// replaces a destination that cannot be opened for writing (as an unprivileged copier).
backend_test!(remove_destination_and_force, |b| {
    let t = TestTree::new();
    t.file("src", "new");
    t.file("dst", "old");
    t.hardlink("dst", "other_name");
    b.run(args!["--remove-destination", t.p("src"), t.p("dst")])
        .assert_success();
    assert_eq!(t.read("dst"), b"new");
    assert_eq!(t.read("other_name"), b"old");
    t.file("ro", "read-only");
    t.chmod("ro", 0o444);
    t.give_to_nobody();
    let out = b.run_unprivileged(args![t.p("src"), t.p("ro")]);
    out.assert_code(1);
    assert_eq!(t.read("ro"), b"read-only");
    b.run_unprivileged(args!["-f", t.p("src"), t.p("ro")])
        .assert_success();
    assert_eq!(t.read("ro"), b"new");
});

// --attributes-only: files are made (existing ones kept as they are) with the source's
// attributes, no data.
backend_test!(attributes_only, |b| {
    let t = TestTree::new();
    t.file_sized("s/big", 300_000, 3);
    t.file("s/small", "small");
    t.chmod("s/small", 0o640);
    t.mtime("s/small", 1_234_567_890, 5);
    t.file("d/big", "existing data stays");
    b.run(args![
        "-a",
        "--attributes-only",
        suffixed(&t.p("s"), "/."),
        t.p("d")
    ])
    .assert_success();
    assert_eq!(t.read("d/small"), b"");
    assert_eq!(mode(&t.p("d/small")), 0o640);
    assert_eq!(mtime(&t.p("d/small")), (1_234_567_890, 5));
    assert_eq!(t.read("d/big"), b"existing data stays");
    // A symlink onto an existing file: no data is written, so the file is not removed to make
    // room (exit 1, data kept) unless -f or --remove-destination say so.
    t.file("sym_target", "target");
    t.symlink("sym", "sym_target");
    t.file("file", "kept");
    let out = b.run(args!["-a", "--attributes-only", t.p("sym"), t.p("file")]);
    out.assert_code(1);
    assert!(
        out.stderr_str().contains("cannot create symbolic link"),
        "{out}"
    );
    assert_eq!(t.read("file"), b"kept");
    for replace in ["--remove-destination", "-f"] {
        let _ = fs::remove_file(t.p("file"));
        t.file("file", "kept");
        b.run(args![
            "-a",
            "--attributes-only",
            replace,
            t.p("sym"),
            t.p("file")
        ])
        .assert_success();
        assert!(is_symlink(&t.p("file")), "{replace}");
        assert_eq!(t.read("file"), b"target");
    }
});

// --reflink=always clones or fails for that file (no partial copy); never/auto copy the data.
backend_test!(reflink_when, |b| {
    let t = TestTree::new();
    t.file_sized("f", 200_000, 9);
    for when in ["--reflink=never", "--reflink=auto", "--reflink"] {
        let dst = t.p(format!("c{}", when.len()));
        let out = b.run(args![when, t.p("f"), &dst]);
        if when == "--reflink" {
            // Bare --reflink means always: fine where the filesystem clones, else refused.
            if out.code() == Some(1) {
                assert!(out.stderr_str().contains("failed to clone"), "{out}");
                assert!(!dst.exists(), "no partial file after a failed clone");
                continue;
            }
        }
        out.assert_success();
        assert_eq!(fs::read(&dst).unwrap(), t.read("f"));
    }
});

// --sparse=always makes holes from zero runs; --sparse=never writes every byte.
backend_test!(sparse_when, |b| {
    let t = TestTree::new();
    let mut data = vec![0u8; 1 << 20];
    data[0] = 1;
    data[(1 << 20) - 1] = 2;
    fs::write(t.p("zeros"), &data).unwrap();
    t.sparse("holey", 1 << 20, &[(0, b"a"), ((1 << 20) - 1, b"z")]);
    b.run(args!["--sparse=always", t.p("zeros"), t.p("made_sparse")])
        .assert_success();
    assert_eq!(fs::read(t.p("made_sparse")).unwrap(), data);
    let blocks = fs::metadata(t.p("made_sparse")).unwrap().blocks();
    assert!(
        blocks * 512 < (1 << 20) / 2,
        "zeros became holes: {blocks} blocks"
    );
    b.run(args!["--sparse=never", t.p("holey"), t.p("dense")])
        .assert_success();
    assert_eq!(fs::read(t.p("dense")).unwrap(), t.read("holey"));
    let blocks = fs::metadata(t.p("dense")).unwrap().blocks();
    assert!(
        blocks * 512 >= 1 << 20,
        "every byte written: {blocks} blocks"
    );
});

// -l: hard links to the sources (directories still made); -s: symbolic links to absolute
// sources; a relative source with a destination elsewhere is refused, as cp does.
backend_test!(link_instead_of_copy, |b| {
    let t = TestTree::new();
    t.file("s/f", "f");
    t.file("s/sub/g", "g");
    t.symlink("s/l", "f");
    b.run(args!["-rl", t.p("s"), t.p("hard")]).assert_success();
    assert_eq!(ino(&t.p("hard/f")), ino(&t.p("s/f")));
    assert_eq!(ino(&t.p("hard/sub/g")), ino(&t.p("s/sub/g")));
    assert!(fs::symlink_metadata(t.p("hard/sub")).unwrap().is_dir());
    assert_eq!(
        ino(&t.p("hard/l")),
        ino(&t.p("s/l")),
        "the symlink itself is linked"
    );
    b.run(args!["-rs", t.p("s"), t.p("soft")]).assert_success();
    assert_eq!(fs::read_link(t.p("soft/sub/g")).unwrap(), t.p("s/sub/g"));
    assert_eq!(t.read("soft/f"), b"f");
    let out = b.run_sh(
        &format!("cd '{}'", t.path().display()),
        args!["-s", "s/f", "soft/rel"],
    );
    out.assert_code(1);
    assert!(
        out.stderr_str().contains("relative symbolic links"),
        "{out}"
    );
    b.run_sh(
        &format!("cd '{}'", t.path().display()),
        args!["-s", "s/f", "rel_here"],
    )
    .assert_success();
    assert_eq!(t.read("rel_here"), b"f");
});

// --parents, -t, -T and --strip-trailing-slashes: where the copies land.
backend_test!(operand_forms, |b| {
    let t = TestTree::new();
    t.file("a/b/f", "f");
    t.chmod("a/b", 0o750);
    t.dir("out");
    b.run_sh(
        &format!("cd '{}'", t.path().display()),
        args!["--parents", "-p", "a/b/f", "out"],
    )
    .assert_success();
    assert_eq!(t.read("out/a/b/f"), b"f");
    assert_eq!(
        mode(&t.p("out/a/b")),
        0o750,
        "--parents -p keeps the directories' modes"
    );
    let out = b.run(args!["--parents", t.p("a/b/f"), t.p("a/b/f")]);
    out.assert_code(2);
    t.file("x", "x");
    t.file("y", "y");
    t.dir("tdir");
    b.run(args!["-t", t.p("tdir"), t.p("x"), t.p("y")])
        .assert_success();
    assert_eq!(t.read("tdir/x"), b"x");
    assert_eq!(t.read("tdir/y"), b"y");
    t.file("src/inner", "i");
    t.dir("merged");
    b.run(args!["-rT", t.p("src"), t.p("merged")])
        .assert_success();
    assert_eq!(
        t.read("merged/inner"),
        b"i",
        "-T copies onto DEST, not into it"
    );
    t.dir("strip");
    b.run(args![
        "-r",
        "--strip-trailing-slashes",
        suffixed(&t.p("src"), "/"),
        t.p("strip")
    ])
    .assert_success();
    assert_eq!(t.read("strip/src/inner"), b"i");
});

// -x: a directory on another filesystem is created (the mount point) but not walked.
backend_test!(one_file_system, |b| {
    require_root!();
    let t = TestTree::new();
    t.file("s/f", "f");
    let mp = t.dir("s/mnt");
    let mount = crate::mounts::find_tool("mount").unwrap_or_else(|| "mount".into());
    let ok = std::process::Command::new(mount)
        .args(["-t", "ramfs", "ramfs"])
        .arg(&mp)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip!("cannot mount a ramfs");
    }
    fs::write(mp.join("inside"), "other fs").unwrap();
    let out = b.run(args!["-rx", t.p("s"), t.p("c")]);
    let out_all = b.run(args!["-r", t.p("s"), t.p("all")]);
    let umount = crate::mounts::find_tool("umount").unwrap_or_else(|| "umount".into());
    let _ = std::process::Command::new(umount).arg(&mp).status();
    out.assert_success();
    out_all.assert_success();
    assert_eq!(t.read("c/f"), b"f");
    assert!(t.p("c/mnt").is_dir(), "the mount point is created");
    assert!(
        !t.p("c/mnt/inside").exists(),
        "-x does not walk another filesystem"
    );
    assert_eq!(t.read("all/mnt/inside"), b"other fs");
});

// --exclude (gitignore syntax) and --exclude-from: matched entries are not copied, and an
// excluded directory is never walked (an unreadable one gives no error).
backend_test!(exclude_globs, |b| {
    let t = TestTree::new();
    t.file("s/a.o", "o");
    t.file("s/deep/b.o", "o");
    t.file("s/deep/keep.c", "c");
    t.file("s/build/out", "x");
    t.file("s/deep/build/out", "x");
    t.file("s/top", "anchored");
    t.file("s/deep/top", "not anchored");
    t.file("s/secret/x", "x");
    t.file("patterns", "# comment\nsecret/\n");
    t.give_to_nobody();
    t.chmod("s/secret", 0o000);
    let out = b.run_unprivileged(args![
        "-r",
        "--exclude",
        "*.o",
        "--exclude=build/",
        "--exclude",
        "/top",
        "--exclude-from",
        t.p("patterns"),
        t.p("s"),
        t.p("c")
    ]);
    t.chmod("s/secret", 0o755);
    out.assert_success();
    assert!(!t.p("c/a.o").exists() && !t.p("c/deep/b.o").exists());
    assert_eq!(t.read("c/deep/keep.c"), b"c");
    assert!(!t.p("c/build").exists() && !t.p("c/deep/build").exists());
    assert!(!t.p("c/top").exists());
    assert_eq!(t.read("c/deep/top"), b"not anchored");
    assert!(!t.p("c/secret").exists());
});

// -i asks on stdin before each overwrite (y replaces, anything else keeps); -n after -i wins.
backend_test!(interactive, |b| {
    let t = TestTree::new();
    t.file("s/a", "new a");
    t.file("s/b", "new b");
    t.file("d/a", "old a");
    t.file("d/b", "old b");
    t.file("answers", "y\nn\n");
    let out = b.run_sh(
        &format!("exec < '{}'", t.p("answers").display()),
        args![
            "-r",
            "-i",
            "--order=none",
            suffixed(&t.p("s"), "/."),
            t.p("d")
        ],
    );
    out.assert_success();
    let err = out.stderr_str();
    assert_eq!(err.matches("overwrite '").count(), 2, "{out}");
    let replaced = [t.read("d/a") == b"new a", t.read("d/b") == b"new b"];
    assert_eq!(
        replaced.iter().filter(|r| **r).count(),
        1,
        "one yes, one no: {replaced:?}"
    );
    t.file("d/c", "old c");
    t.file("s/c", "new c");
    b.run(args!["-i", "-n", t.p("s/c"), t.p("d/c")])
        .assert_success();
    assert_eq!(t.read("d/c"), b"old c");
});

// -i asks before anything else is decided, as cp: a directory in the way of a file is only an
// error once the user said yes; "n" keeps it, exit 0. A destination the user cannot write is
// named with its mode in the question (cp's words, with -f: "replace ..., overriding mode").
backend_test!(interactive_asks_first, |b| {
    let t = TestTree::new();
    t.file("a/c", "file");
    t.dir("b/a/c");
    t.file("no", "n\n");
    t.chmod("", 0o755);
    let stdin = format!("exec < '{}'", t.p("no").display());
    let out = b.run_sh(&stdin, args!["-i", "-r", t.p("a"), t.p("b")]);
    out.assert_success();
    assert!(out.stderr_str().contains("overwrite '"), "{out}");
    assert!(t.p("b/a/c").is_dir());
    t.file("e", "new");
    t.file("f", "old");
    t.chmod("f", 0o000);
    t.give_to_nobody();
    // As nobody (root may write anything, so root is never asked about the mode).
    let ask = |extra: &str| {
        let mut c = crate::harness::unprivileged(Path::new("sh"));
        c.arg("-c")
            .arg(format!("{stdin}\nexec \"$@\""))
            .arg("sh")
            .arg(crate::harness::bin_for_nobody())
            .args(b.args())
            .args(args!["-i", extra, t.p("e"), t.p("f")]);
        crate::harness::run(c, crate::harness::DEFAULT_TIMEOUT)
    };
    let out = ask("-f");
    out.assert_success();
    assert!(
        out.stderr_str().contains("replace '")
            && out
                .stderr_str()
                .contains("', overriding mode 0000 (---------)? "),
        "{out}"
    );
    let out = ask("-v");
    out.assert_success();
    assert!(
        out.stderr_str().contains("unwritable '")
            && out
                .stderr_str()
                .contains("' (mode 0000, ---------); try anyway? "),
        "{out}"
    );
    t.chmod("f", 0o600);
    assert_eq!(t.read("f"), b"old");
});

// --copy-contents reads a FIFO in the tree into a regular file; --keep-directory-symlink merges
// into a destination symlink to a directory (without it that entry is refused).
backend_test!(contents_and_directory_symlinks, |b| {
    let t = TestTree::new();
    t.file("s/f", "f");
    let fifo = t.fifo("s/pipe");
    let writer = std::thread::spawn(move || fs::write(&fifo, "fed\n").unwrap());
    b.run(args!["-r", "--copy-contents", t.p("s"), t.p("c")])
        .assert_success();
    writer.join().unwrap();
    assert_eq!(t.read("c/pipe"), b"fed\n");
    assert!(fs::symlink_metadata(t.p("c/pipe")).unwrap().is_file());

    t.file("m/sub/g", "g");
    t.dir("real");
    t.dir("d");
    t.symlink("d/sub", t.p("real"));
    let out = b.run(args!["-r", suffixed(&t.p("m"), "/."), t.p("d")]);
    out.assert_code(1);
    assert!(!t.p("real/g").exists());
    b.run(args![
        "-r",
        "--keep-directory-symlink",
        suffixed(&t.p("m"), "/."),
        t.p("d")
    ])
    .assert_success();
    assert_eq!(t.read("real/g"), b"g");
    assert!(is_symlink(&t.p("d/sub")));
});

// -Z without SELinux: a warning, the copy goes on; --preserve=context: cp's refusal.
plain_test!(context_without_selinux);
fn context_without_selinux() {
    if Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("SELinux is enabled here");
    }
    let t = TestTree::new();
    t.file("f", "f");
    let out = Backend::Std.run(args!["-Z", t.p("f"), t.p("g")]);
    out.assert_success();
    assert!(out.stderr_str().contains("ignoring --context"), "{out}");
    let out = Backend::Std.run(args!["--preserve=context", t.p("f"), t.p("h")]);
    out.assert_code(1);
    assert!(out.stderr_str().contains("SELinux"), "{out}");
}

// -l follows symlinks named on the command line even with -R (unlike a plain -R copy), as cp
// does: the link is to the file the symlink points to, and a dangling one cannot be stat'ed.
// -P (or -a) links the symlink itself.
backend_test!(link_follows_named_symlinks_even_with_r, |b| {
    let t = TestTree::new();
    t.file("file", "data");
    t.symlink("filelink", "file");
    t.symlink("danglink", "nowhere");
    b.run(args!["-lR", t.p("filelink"), t.p("l1")])
        .assert_success();
    let meta = fs::symlink_metadata(t.p("l1")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.ino(), fs::metadata(t.p("file")).unwrap().ino());
    let out = b.run(args!["-lR", t.p("danglink"), t.p("l2")]);
    out.assert_failed();
    assert!(out.stderr_str().contains("cannot stat"), "{out}");
    b.run(args!["-lRP", t.p("filelink"), t.p("l3")])
        .assert_success();
    assert!(fs::symlink_metadata(t.p("l3")).unwrap().is_symlink());
});

// Sources named on the command line that are one file stay one file in the copy when links are
// preserved (-d, -a, --preserve=links), also through a followed symlink (-H); without it they
// are two copies.
backend_test!(named_hard_links_stay_one_inode, |b| {
    let t = TestTree::new();
    t.file("a", "data");
    t.hardlink("a", "b");
    t.symlink("s", "a");
    let ino = |p: &str| fs::symlink_metadata(t.p(p)).unwrap().ino();
    t.dir("c");
    b.run(args!["-d", t.p("a"), t.p("b"), t.p("c")])
        .assert_success();
    assert_eq!(ino("c/a"), ino("c/b"));
    assert_ne!(ino("c/a"), ino("a"));
    t.dir("h");
    b.run(args![
        "--preserve=links",
        "-R",
        "-H",
        t.p("a"),
        t.p("s"),
        t.p("h")
    ])
    .assert_success();
    assert_eq!(ino("h/a"), ino("h/s"));
    t.dir("plain");
    b.run(args![t.p("a"), t.p("b"), t.p("plain")])
        .assert_success();
    assert_ne!(ino("plain/a"), ino("plain/b"));
    assert_eq!(t.read("plain/b"), b"data");
});

// --preserve and --no-preserve apply in command-line order (cp's): the later one wins for the
// attributes both name.
backend_test!(preserve_lists_apply_in_order, |b| {
    let t = TestTree::new();
    t.file("a", "a");
    t.chmod("a", 0o600);
    b.run(args![
        "--no-preserve=mode",
        "--preserve=all",
        t.p("a"),
        t.p("kept")
    ])
    .assert_success();
    assert_eq!(fs::metadata(t.p("kept")).unwrap().mode() & 0o777, 0o600);
    b.run_sh(
        "umask 022",
        args![
            "--preserve=all",
            "--no-preserve=mode",
            t.p("a"),
            t.p("dropped")
        ],
    )
    .assert_success();
    assert_eq!(fs::metadata(t.p("dropped")).unwrap().mode() & 0o777, 0o644);
});

// A dangling symlink as the destination of a symlink copied as a symlink (-P) is simply
// replaced (nothing is written through it); with POSIXLY_CORRECT a file is written through it,
// creating what it points to, as cp does.
backend_test!(dangling_destination_symlink_cases, |b| {
    let t = TestTree::new();
    t.file("f", "data");
    t.symlink("c", "no-such-file");
    t.symlink("d", "other-missing");
    b.run(args!["--no-dereference", t.p("c"), t.p("d")])
        .assert_success();
    assert_eq!(fs::read_link(t.p("d")).unwrap().as_os_str(), "no-such-file");
    t.symlink("dangle", "created");
    b.run_sh("export POSIXLY_CORRECT=1", args![t.p("f"), t.p("dangle")])
        .assert_success();
    assert_eq!(t.read("created"), b"data");
    assert!(fs::symlink_metadata(t.p("dangle")).unwrap().is_symlink());
});
