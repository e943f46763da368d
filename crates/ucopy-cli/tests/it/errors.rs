//! Rows 25–30: bad input, unreadable entries, failing writes, few fds, exit codes, Ctrl-C.

use std::time::{Duration, Instant};

use crate::compare::{
    assert_complete_or_named, assert_only_complete_files, assert_trees_equal, Compare, Snapshot,
};
use crate::fixtures::small_tree;
use crate::harness::{sh, spawn, BIN};
use crate::mounts::{find_tool, Mount};
use crate::tree::{many_empty_files, write_at, TestTree, KIB, MIB};

// Row 25: a missing source: a clear error naming it, exit 2, nothing created.
backend_test!(row25_missing_source, |b| {
    let t = TestTree::new();
    t.file("present/f", "f");
    for archive in [true, false] {
        let before = Snapshot::take(t.path());
        let mut a = args![t.p("no_such_source"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        let out = b.run(a);
        out.assert_code(2);
        assert!(
            out.stderr_str().contains("no_such_source"),
            "the error must name the missing source:\n{out}"
        );
        Snapshot::take(t.path()).assert_same(&before, "the tree");
    }
});

// Row 25: a missing destination parent: a clear error, exit 2, nothing created.
backend_test!(row25_missing_destination_parent, |b| {
    let t = TestTree::new();
    small_tree(&t, "src");
    let before = Snapshot::take(t.path());
    let out = b.run(args!["-a", t.p("src"), t.p("missing_parent/dst")]);
    out.assert_code(2);
    assert!(
        out.stderr_str().contains("missing_parent"),
        "the error must name the destination:\n{out}"
    );
    Snapshot::take(t.path()).assert_same(&before, "the tree");
});

/// Unreadable entries among readable ones, owned by `nobody` (root reads everything, so the
/// copy runs as nobody).
fn unreadable_tree(t: &TestTree) {
    t.file("src/ok1", "ok1");
    t.file("src/secret", "secret");
    t.file("src/closed/inner", "inner");
    t.file("src/sub/ok2", "ok2");
    t.file("src/sub/secret2", "secret2");
    t.give_to_nobody();
    t.chmod("src/secret", 0o000);
    t.chmod("src/sub/secret2", 0o200);
    t.chmod("src/closed", 0o000);
}

// Row 26: one error line naming each unreadable path, everything else copied, exit 1, the
// unreadable file absent from DST (no empty or partial stand-in).
backend_test!(row26_unreadable_entries, |b| {
    for archive in [true, false] {
        let t = TestTree::new();
        unreadable_tree(&t);
        let mut a = args![t.p("src"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        let out = b.run_unprivileged(a);
        out.assert_code(1).assert_error_format();
        for name in [&b"secret"[..], b"secret2", b"closed"] {
            out.assert_one_error_naming(name);
        }
        assert_eq!(out.error_lines().len(), 3, "one line per failure:\n{out}");
        assert!(
            t.lstat("dst/secret").is_none(),
            "stand-in for an unreadable file"
        );
        assert!(
            t.lstat("dst/sub/secret2").is_none(),
            "stand-in for an unreadable file"
        );
        let cmp = if archive {
            Compare::archive()
        } else {
            Compare::plain()
        };
        let cmp = cmp
            .no_owner()
            .ignore("secret")
            .ignore("closed")
            .ignore("sub/secret2");
        assert_trees_equal(&t.p("src"), &t.p("dst"), &cmp);
    }
});

// Row 27: a write failing mid-file with EFBIG (RLIMIT_FSIZE 1 MiB, SIGXFSZ ignored so the write
// returns the error): the partial file is removed, exit non-zero, the other files copied.
backend_test!(row27_efbig_partial_file_removed, |b| {
    let Some(prlimit) = find_tool("prlimit") else {
        skip!("prlimit (util-linux) not installed");
    };
    let t = TestTree::new();
    t.file_sized("src/a_small", 10 * KIB, 1);
    t.file_sized("src/big", 4 * MIB, 2);
    t.file_sized("src/sub/big2", 3 * MIB, 3);
    t.file_sized("src/z_small", 10 * KIB, 4);
    let mut c = sh(
        "trap '' XFSZ",
        args![
            prlimit,
            "--fsize=1048576",
            "--",
            BIN,
            b.args()[0],
            b.args()[1]
        ],
    );
    c.args(args!["-a", t.p("src"), t.p("dst")]);
    let out = crate::harness::run(c, Duration::from_secs(120));
    out.assert_failed();
    out.assert_one_error_naming(b"big");
    out.assert_one_error_naming(b"big2");
    assert!(t.lstat("dst/big").is_none(), "partial dst/big left behind");
    assert!(
        t.lstat("dst/sub/big2").is_none(),
        "partial dst/sub/big2 left behind"
    );
    assert_eq!(t.read("dst/a_small"), t.read("src/a_small"));
    assert_eq!(t.read("dst/z_small"), t.read("src/z_small"));
    assert_only_complete_files(&t.p("src"), &t.p("dst"));
});

// Row 27: ENOSPC on a small loop ext4: exit non-zero, no partial file, and the copy stops
// promptly (a few error lines, not one per remaining file).
backend_test!(row27_enospc_stops_promptly, |b| {
    let m = match Mount::new_loop("ext4", 16) {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let t = TestTree::in_shm();
    for i in 0..8 {
        t.file_sized(format!("src/a{i}"), MIB, i);
    }
    t.file_sized("src/big", 20 * MIB, 99);
    for i in 0..500 {
        t.file_sized(format!("src/z/z{i:03}"), 64 * KIB, 1000 + i);
    }
    let dst = m.path().join("dst");
    let out = b.run(args!["-a", t.p("src"), &dst]);
    out.assert_failed();
    let n = out.error_lines().len();
    assert!(n >= 1, "ENOSPC must be reported:\n{out}");
    assert!(
        n < 10,
        "{n} error lines: the copy did not stop on ENOSPC:\n{out}"
    );
    assert!(
        out.stderr_str().contains("No space left on device"),
        "the cause must be ENOSPC:\n{out}"
    );
    assert_only_complete_files(&t.p("src"), &dst);
});

// Row 27: the destination turns read-only mid-copy (ext4 with `errors=remount-ro` after an
// error; the kernel's own `trigger_fs_error` hook makes one at once). Like ENOSPC the copy stops
// promptly with one line for the cause, exits non-zero, and since partial files cannot be
// removed from a read-only filesystem, it names every one it leaves: each file in DST is a
// complete copy or is named on stderr.
backend_test!(row27_erofs_mid_copy_names_partial_files, |b| {
    let m = match Mount::new_loop_opts("ext4", 256, "errors=remount-ro") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let trigger = match m.ext4_sysfs() {
        Ok(dir) => dir.join("trigger_fs_error"),
        Err(why) => skip!("no ext4 sysfs directory for the loop mount: {why}"),
    };
    if !trigger.exists() {
        skip!("this kernel's ext4 has no {}", trigger.display());
    }
    let t = TestTree::in_shm();
    for i in 0..8 {
        t.file_sized(format!("src/a{i}"), 2 * MIB, i);
    }
    t.file_sized("src/big", 32 * MIB, 99);
    for i in 0..1500 {
        t.file_sized(format!("src/z/z{i:04}"), 64 * KIB, 1000 + i);
    }
    let dst = m.path().join("dst");
    let mut c = b.cmd();
    c.args(args!["-a", "--json", t.p("src"), &dst]);
    let mut running = spawn(c);
    // Mid-copy: once a hundred files of the big directory are there, 1,400 are still to come.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(dst.join("z")).map_or(0, Iterator::count) < 100 {
        assert!(Instant::now() < deadline, "the copy did not get going");
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("the copy ended ({status}) before the filesystem was made read-only");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::write(&trigger, "1").expect("trigger_fs_error");
    let Some(out) = running.wait_timeout(Duration::from_secs(30)) else {
        panic!("still running 30 s after the filesystem went read-only");
    };
    eprintln!("{out}");
    out.assert_failed();
    let err = out.stderr_str();
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        err.contains("Read-only file system"),
        "the cause must be EROFS:\n{out}"
    );
    // The cause, and at most one line naming the partial files it could not remove.
    assert!(
        (1..=3).contains(&lines.len()),
        "{} stderr lines: the copy did not stop at the first EROFS:\n{out}",
        lines.len()
    );
    let partial_lines: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(" partial file"))
        .collect();
    assert!(partial_lines.len() <= 1, "{out}");
    let named = |p: &std::path::Path| {
        let quoted = format!("'{}'", p.display());
        partial_lines.iter().any(|l| l.contains(&quoted))
    };
    let (complete, partial) = assert_complete_or_named(&t.p("src"), &dst, named);
    eprintln!("{complete} complete files, {partial} named partial files");
    // `--json` lists the same files, as paths.
    let j = out.json();
    let listed: Vec<String> = j["incomplete"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(listed.len() >= partial, "{j}");
    for p in &listed {
        assert!(
            named(std::path::Path::new(p)),
            "{p} in --json, not on stderr:\n{out}"
        );
    }
    assert!(
        complete < 1509,
        "the copy cannot have completed after the fs went read-only"
    );
});

// A destination read-only from the start (`mount -o ro`): one line, however many files the
// copy was about to write, whether it creates a directory there, merges into one (`-T`), or
// copies many operands into one.
backend_test!(row27_read_only_destination_one_line, |b| {
    let m = match Mount::new_loop_opts("ext4", 16, "ro") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let t = TestTree::in_shm();
    // Enough files that several batches are in flight on every worker when the first fails.
    for i in 0..2000 {
        t.file_sized(format!("src/f{i:04}"), 4 * KIB, i);
    }
    t.file("src/sub/g", "g");
    let operands: Vec<std::ffi::OsString> = (0..50)
        .map(|i| t.p(format!("src/f{i:04}")).into_os_string())
        .collect();
    let mut many = operands.clone();
    many.push(m.path().join("lost+found").into_os_string());
    let cases = [
        args!["-a", t.p("src"), m.path().join("dst")],
        args!["-a", "-T", t.p("src"), m.path()],
        // Without -a nothing is done to the existing directory first: its files are the first
        // writes.
        args!["-r", "-T", t.p("src"), m.path()],
        many,
    ];
    for case in cases {
        let out = b.run(&case);
        out.assert_failed().assert_error_format();
        assert_eq!(out.error_lines().len(), 1, "{out}");
        assert_eq!(out.stderr_str().lines().count(), 1, "{out}");
        assert!(out.stderr_str().contains("Read-only file system"), "{out}");
    }
});

// Row 28: with `ulimit -n 64` a 2,000-deep tree and a 55,000-entry dir still copy.
backend_test!(row28_few_file_descriptors, |b| {
    let _one_at_a_time = crate::harness::bulky_tree_lock();
    let t = TestTree::in_shm();
    t.dir("src/deep");
    let names: Vec<&[u8]> = vec![b"d"; 2000];
    t.chain("src/deep", &names, |level, dir| {
        if level % 100 == 0 {
            write_at(dir, b"f", format!("level {level}").as_bytes());
        }
    });
    many_empty_files(&t.p("src/wide"), "w", 55_000);
    t.file("src/wide/nonempty", "content among the empties");
    b.run_sh("ulimit -n 64", args!["-a", t.p("src"), t.p("dst")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 29: usage errors exit 2 and create nothing.
backend_test!(row29_usage_errors_exit_2, |b| {
    let t = TestTree::new();
    t.file("src/f", "f");
    let before = Snapshot::take(t.path());
    let cases = [
        args![],
        args![t.p("src")],
        args!["--no-such-option", t.p("src"), t.p("dst")],
        args!["--queue-depth", "not-a-number", t.p("src"), t.p("dst")],
        args!["--order", "sideways", t.p("src"), t.p("dst")],
        args!["--threads", "-3", t.p("src"), t.p("dst")],
    ];
    for case in cases {
        let out = b.run(&case);
        out.assert_code(2);
        assert!(
            !out.stderr.is_empty(),
            "usage error without a message: {case:?}"
        );
    }
    // An unknown backend name (not via b.run: that already names one).
    let mut c = crate::harness::ucopy();
    c.args(args!["--backend", "warp-drive", t.p("src"), t.p("dst")]);
    crate::harness::run(c, Duration::from_secs(30)).assert_code(2);
    Snapshot::take(t.path()).assert_same(&before, "the tree");
});

// Row 29: exit 0 with nothing on stderr when all went well; with one failure exit 1, one stderr
// line in the contract's form, and the same failure in `--json`'s "errors". `--json` also
// proves that the forced backend is the one that ran.
backend_test!(row29_exit_codes_and_error_lines, |b| {
    let t = TestTree::new();
    small_tree(&t, "src");
    let out = b.run(args!["-a", "--json", t.p("src"), t.p("dst_ok")]);
    out.assert_success();
    assert!(out.stderr.is_empty(), "stderr on success:\n{out}");
    let j = out.json();
    assert_eq!(
        j["backend"],
        b.name(),
        "--backend {b} did not run that backend: {j}"
    );
    assert_eq!(j["errors"].as_array().map(Vec::len), Some(0), "{j}");
    assert_eq!(j["stopped"], false, "{j}");

    let t2 = TestTree::new();
    t2.file("src/ok", "ok");
    t2.file("src/secret", "s");
    t2.give_to_nobody();
    t2.chmod("src/secret", 0o000);
    let out = b.run_unprivileged(args!["-a", "--json", t2.p("src"), t2.p("dst")]);
    out.assert_code(1).assert_error_format();
    assert_eq!(out.error_lines().len(), 1, "{out}");
    out.assert_one_error_naming(b"secret");
    let j = out.json();
    let errors = j["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "{j}");
    let path = errors[0]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with("secret"), "{j}");
    assert!(errors[0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("Permission denied")));
});

// Row 30: Ctrl-C stops promptly, exit non-zero, and leaves no partial file looking complete:
// every file in DST equals its source; nothing in DST lacks a source (no stray temp files).
backend_test!(row30_ctrl_c, |b| {
    let src_tree = TestTree::in_shm();
    for i in 0..6 {
        src_tree.file_sized(format!("src/big{i}"), 48 * MIB, i);
    }
    for i in 0..300 {
        src_tree.file_sized(format!("src/many/f{i:03}"), 256 * KIB, 100 + i);
    }
    let dst_tree = TestTree::new();
    let dst = dst_tree.p("dst");
    let mut c = b.cmd();
    c.args(args!["-a", src_tree.p("src"), &dst]);
    let mut running = spawn(c);
    // Interrupt as soon as the copy has visibly started.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dst.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    let sent = Instant::now();
    rustix::process::kill_process(running.pid(), rustix::process::Signal::INT).expect("kill -INT");
    let Some(out) = running.wait_timeout(Duration::from_secs(5)) else {
        panic!("still running 5 s after SIGINT");
    };
    eprintln!("stopped {:?} after SIGINT: {}", sent.elapsed(), out.status);
    if out.status.success() {
        // Finished before the signal landed: nothing was interrupted, so it must be complete.
        eprintln!("note: the copy completed before SIGINT arrived");
        assert_trees_equal(&src_tree.p("src"), &dst, &Compare::archive());
        return;
    }
    let n = assert_only_complete_files(&src_tree.p("src"), &dst);
    eprintln!("{n} complete files in the interrupted copy");
});
