//! Rows 14–21: metadata under `-a` (modes, special bits, read-only dirs, ns times, owners,
//! xattrs), permissions while copying, and a source that stays untouched.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rustix::fs::FileType;

use crate::compare::{assert_trees_equal, walk, Compare, Snapshot};
use crate::fixtures::small_tree;
use crate::harness::{is_root, run, sh, spawn, NOBODY};
use crate::mounts::Mount;
use crate::tree::{lstat, TestTree, MIB};

/// Relative path -> permission bits (incl. setuid/setgid/sticky) of every entry but symlinks.
fn modes(root: &Path) -> BTreeMap<Vec<u8>, u32> {
    let mut m = BTreeMap::new();
    walk(root, &mut |rel, _, _, st| {
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            m.insert(rel.to_vec(), st.st_mode & 0o7777);
        }
    });
    m
}

/// Files and dirs in many modes, a few of them without owner write permission.
fn mode_tree(t: &TestTree) {
    let mut file_modes = vec![
        0o644, 0o600, 0o755, 0o777, 0o640, 0o444, 0o400, 0o705, 0o666,
    ];
    let mut dir_modes = vec![0o755, 0o700, 0o775, 0o711, 0o750, 0o777, 0o555, 0o500];
    if is_root() {
        // Only root can read these back; for anyone else they are row 26's unreadable entries.
        file_modes.push(0o000);
        dir_modes.push(0o000);
    }
    for m in file_modes {
        t.file(format!("src/f{m:04o}"), format!("mode {m:o}"));
        t.chmod(format!("src/f{m:04o}"), m);
    }
    for m in &dir_modes {
        t.file(format!("src/d{m:04o}/inner"), "inner");
    }
    // Dirs last, after their contents exist.
    for m in dir_modes {
        t.chmod(format!("src/d{m:04o}"), m);
    }
}

// Row 14: with -a modes are copied exactly whatever the umask.
backend_test!(row14_modes_exact_any_umask, |b| {
    let t = TestTree::new();
    mode_tree(&t);
    t.stamp_times("src", 14);
    for (i, umask) in ["077", "000", "027"].iter().enumerate() {
        let dst = t.p(format!("dst{i}"));
        b.run_sh(&format!("umask {umask}"), args!["-a", t.p("src"), dst])
            .assert_success();
        assert_trees_equal(&t.p("src"), &dst, &Compare::archive());
    }
});

// Row 14: without -a new files and dirs get the modes `cp -r` gives them (GNU cp is the oracle),
// under several umasks.
/// Copies `t`'s `src` to `dst` with GNU cp and with ucopy under `umask`, with the same
/// `options` (`-r` and the like), and returns the two trees' modes: (ucopy's, cp's).
fn modes_beside_cp(
    b: crate::harness::Backend,
    t: &TestTree,
    umask: &str,
    options: &[&str],
    dst: &str,
) -> (BTreeMap<Vec<u8>, u32>, BTreeMap<Vec<u8>, u32>) {
    let (cp_dst, ours) = (t.p(format!("{dst}.cp")), t.p(format!("{dst}.ucopy")));
    let prelude = format!("umask {umask}");
    let mut cp_args = args!["cp"];
    cp_args.extend(options.iter().map(std::ffi::OsString::from));
    cp_args.extend(args![t.p("src"), &cp_dst]);
    let mut c = sh(&prelude, cp_args);
    c.env("LC_ALL", "C");
    let out = run(c, Duration::from_secs(60));
    assert!(out.status.success(), "cp {options:?} failed:\n{out}");
    let mut our_args: Vec<std::ffi::OsString> =
        options.iter().map(std::ffi::OsString::from).collect();
    our_args.extend(args![t.p("src"), &ours]);
    b.run_sh(&prelude, our_args).assert_success();
    (modes(&ours), modes(&cp_dst))
}

backend_test!(row14_plain_modes_follow_cp_r, |b| {
    let t = TestTree::new();
    mode_tree(&t);
    t.file("src/setuid", "s");
    t.chmod("src/setuid", 0o4755);
    for (i, umask) in ["022", "077", "000"].iter().enumerate() {
        let (ours, cp) = modes_beside_cp(b, &t, umask, &["-r"], &format!("d{i}"));
        assert_trees_equal(&t.p("src"), &t.p(format!("d{i}.ucopy")), &Compare::plain());
        assert_eq!(ours, cp, "modes differ from cp -r under umask {umask}");
    }
});

// Row 14: without -a a directory made inside a set-group-ID directory keeps the bit it inherits,
// as with `cp -r`, whether it is made at its final mode (0755 under umask 022) or made private
// and given its mode when finished (0775 under umask 002, group-writable).
backend_test!(row14_plain_dirs_keep_an_inherited_setgid_bit, |b| {
    let t = TestTree::new();
    mode_tree(&t);
    t.dir("sgid");
    t.chmod("sgid", 0o2775);
    for (i, umask) in ["022", "002"].iter().enumerate() {
        let (ours, cp) = modes_beside_cp(b, &t, umask, &["-r"], &format!("sgid/d{i}"));
        assert_eq!(
            ours, cp,
            "modes differ from cp -r in a set-group-ID directory under umask {umask}"
        );
        assert_ne!(ours[&Vec::new()] & 0o2000, 0, "the inherited bit");
    }
});

// Row 14 with --no-preserve=mode: new entries get the default mode less the umask, and a
// directory keeps its source's sticky bit (and nothing else special), as GNU cp gives them.
backend_test!(row14_no_preserve_mode_follows_cp, |b| {
    let t = TestTree::new();
    for m in [0o700, 0o1700, 0o2700, 0o4700, 0o7755] {
        t.file(format!("src/d{m:04o}/f"), "f");
        t.chmod(format!("src/d{m:04o}/f"), 0o700);
        t.chmod(format!("src/d{m:04o}"), m);
    }
    for (i, umask) in ["022", "077"].iter().enumerate() {
        let options = ["-r", "--no-preserve=mode"];
        let (ours, cp) = modes_beside_cp(b, &t, umask, &options, &format!("d{i}"));
        assert_eq!(
            ours, cp,
            "--no-preserve=mode differs from cp under umask {umask}"
        );
    }
});

/// What is wrong with `dir` now, if it is group- or other-writable while it holds fewer than
/// `n` entries (row 20: a half-made directory never is).
fn writable_by_others_while_filling(dir: &Path, n: usize) -> Option<String> {
    let st = lstat(dir).filter(|st| st.st_mode & 0o022 != 0)?;
    let entries = std::fs::read_dir(dir).map_or(0, |r| r.count());
    (entries < n).then(|| {
        format!(
            "{}: mode {:o} with {entries} of {n} entries",
            dir.display(),
            st.st_mode & 0o7777
        )
    })
}

// Row 20 without -a: a directory whose final mode is group- or other-writable (0777 under umask
// 0) is private while it fills, like one under -a; only once complete does it get that mode.
backend_test!(row20_plain_dir_not_writable_by_others_while_filling, |b| {
    let t = TestTree::new();
    const N: usize = 2000;
    for i in 0..N {
        t.file_sized(format!("src/open/f{i:04}"), 4096, i as u64);
    }
    t.chmod("src/open", 0o777);
    let dst = t.p("dst");
    let mut running = spawn(b.sh_cmd("umask 0", args![t.p("src"), &dst]));
    let mut violations = Vec::new();
    let out = loop {
        violations.extend(writable_by_others_while_filling(&dst.join("open"), N));
        if let Some(out) = running.wait_timeout(Duration::ZERO) {
            break out;
        }
    };
    out.assert_success();
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(lstat(&dst.join("open")).unwrap().st_mode & 0o7777, 0o777);
});

// Row 15: setuid/setgid/sticky kept; as root the owner is set before the mode (a chown after the
// chmod would clear setuid/setgid).
backend_test!(row15_special_bits_with_owner, |b| {
    require_root!();
    let t = TestTree::new();
    let cases = [
        ("suid", 0o4755, 1234, 1234),
        ("sgid", 0o2755, 1234, 2345),
        ("both", 0o6711, 4321, 4321),
        ("suid_noexec", 0o4644, 1000, 1000),
    ];
    for (name, mode, uid, gid) in cases {
        t.file(format!("src/{name}"), name);
        t.chown(format!("src/{name}"), uid, gid);
        t.chmod(format!("src/{name}"), mode);
    }
    t.file("src/sticky/f", "f");
    t.file("src/setgid_dir/f", "f");
    t.chown("src/setgid_dir", 1234, 1234);
    t.chmod("src/sticky", 0o1777);
    t.chmod("src/setgid_dir", 0o2775);
    t.stamp_times("src", 15);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

fn read_only_tree(t: &TestTree) {
    t.file("src/ro555/f1", "one");
    t.file("src/ro555/sub500/f2", "two");
    t.file("src/ro500/f3", "three");
    t.file("src/ro500/deeper/f4", "four");
}

fn read_only_chmod(t: &TestTree) {
    t.chmod("src/ro555/sub500", 0o500);
    t.chmod("src/ro555", 0o555);
    t.chmod("src/ro500/deeper", 0o555);
    t.chmod("src/ro500", 0o500);
}

// Row 16: read-only dirs with files inside copy fully and end read-only (as root).
backend_test!(row16_read_only_dirs, |b| {
    let t = TestTree::new();
    read_only_tree(&t);
    t.stamp_times("src", 16);
    read_only_chmod(&t);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 16, as an unprivileged user, who really cannot write into a 555 dir: the copier must fill
// the dirs before it makes them read-only.
backend_test!(row16_read_only_dirs_unprivileged, |b| {
    let t = TestTree::new();
    read_only_tree(&t);
    t.give_to_nobody();
    t.stamp_times("src", 16);
    read_only_chmod(&t);
    b.run_unprivileged(args!["-a", t.p("src"), t.p("dst")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 17: mtimes to the ns, before 1970 and after 2038; dir times set after their children at
// every level; symlink times too.
backend_test!(row17_times_ns_and_range, |b| {
    let t = TestTree::new();
    let times: [(i64, u32); 6] = [
        (-1_234_567_890, 123_456_789), // 1930
        (-1, 999_999_999),             // just before the epoch
        (0, 1),
        (1_600_000_000, 1),
        (2_147_483_648, 500_000_000), // first second past the 32-bit end
        (4_102_444_800, 999_999_999), // 2100
    ];
    for (i, _) in times.iter().enumerate() {
        t.file(format!("src/l1/l2/l3/f{i}"), format!("{i}"));
        t.symlink(format!("src/l1/l2/s{i}"), format!("l3/f{i}"));
        t.file(format!("src/l1/g{i}"), "g");
    }
    for (i, (s, ns)) in times.iter().enumerate() {
        t.mtime(format!("src/l1/l2/l3/f{i}"), *s, *ns);
        t.mtime(format!("src/l1/l2/s{i}"), s + 7, *ns);
        t.mtime(format!("src/l1/g{i}"), s - 7, *ns);
    }
    // Dirs last, deepest first, each at a different extreme.
    t.mtime("src/l1/l2/l3", -2_000_000_000, 1);
    t.mtime("src/l1/l2", 4_000_000_000, 2);
    t.mtime("src/l1", 1_000_000_000, 3);
    t.mtime("src", -5, 4);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 18: as root, ownership kept with arbitrary numeric ids (no passwd entries), on files,
// dirs and symlinks (lchown).
backend_test!(row18_owners_as_root, |b| {
    require_root!();
    let t = TestTree::new();
    let ids = [
        (1234, 5678),
        (65533, 1),
        (3_000_000_000, 3_000_000_001),
        (0, 4242),
    ];
    for (i, (u, g)) in ids.iter().enumerate() {
        t.file(format!("src/d{i}/f"), "f");
        t.symlink(format!("src/d{i}/s"), "f");
        t.chown(format!("src/d{i}/f"), *u, *g);
        t.chown(format!("src/d{i}/s"), g + 1, u + 1);
        t.chown(format!("src/d{i}"), *g, *u);
    }
    t.stamp_times("src", 18);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 18: as non-root a failed chown is not an error: exit 0, everything else kept, the copies
// owned by the user who copied.
backend_test!(row18_unprivileged_chown_not_an_error, |b| {
    let t = TestTree::new();
    small_tree(&t, "src");
    // Readable by anyone: this row is about ownership, not about unreadable sources.
    t.chmod("src/empty", 0o644);
    t.chmod("src/sub", 0o755);
    if is_root() {
        t.chown("src/a.txt", 1234, 1234);
        t.chown("src/sub", 4321, 4321);
        t.chown("src/abs", 777, 777);
        std::os::unix::fs::chown(t.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        t.stamp_times("src", 18);
    }
    b.run_unprivileged(args!["-a", t.p("src"), t.p("dst")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive().no_owner());
    let me = if is_root() {
        NOBODY
    } else {
        rustix::process::geteuid().as_raw()
    };
    for rel in ["dst/a.txt", "dst/sub", "dst/abs"] {
        assert_eq!(t.lstat(rel).unwrap().st_uid, me, "{rel} owner");
    }
});

fn user_xattr_tree(t: &TestTree) {
    t.file("src/f", "f");
    t.file("src/d/g", "g");
    t.file("src/ro/h", "h");
    t.xattr("src/f", "user.plain", b"value");
    t.xattr("src/f", "user.binary", b"\x00\xff\x01 binary\n");
    t.xattr("src/f", "user.empty", b"");
    t.xattr("src/f", "user.big", &[b'x'; 3000]);
    t.xattr("src/d", "user.on_dir", b"dir value");
    t.xattr("src/d/g", "user.g", b"g");
    t.xattr("src/ro", "user.on_ro_dir", b"ro dir");
    t.xattr("src/ro/h", "user.h", b"h");
}

fn user_xattr_read_only(t: &TestTree) {
    // Read-only entries still get their xattrs (user.* needs write permission on the inode:
    // a non-root copier must set them before the final mode).
    t.chmod("src/d/g", 0o444);
    t.chmod("src/ro/h", 0o400);
    t.chmod("src/ro", 0o555);
}

// Row 19: user xattrs kept on files and dirs (binary values, empty values, big values).
backend_test!(row19_user_xattrs, |b| {
    let t = TestTree::new();
    user_xattr_tree(&t);
    t.stamp_times("src", 19);
    user_xattr_read_only(&t);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 19, as an unprivileged user: the kernel checks write permission for user.* xattrs, so the
// order "xattrs, then mode" matters here (root would not notice).
backend_test!(row19_user_xattrs_unprivileged, |b| {
    let t = TestTree::new();
    user_xattr_tree(&t);
    t.give_to_nobody();
    t.stamp_times("src", 19);
    user_xattr_read_only(&t);
    b.run_unprivileged(args!["-a", t.p("src"), t.p("dst")])
        .assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

/// A POSIX ACL in the kernel's xattr format: user::rw- user:1000:r-- group::r-- mask::r--
/// other::---.
fn acl_bytes() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 1000),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

/// `security.capability` v2 granting cap_net_raw (bit 13), effective.
fn capability_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        v.extend_from_slice(&word.to_le_bytes());
    }
    v
}

// Row 19: as root also trusted.* and security.*: ACLs and file capabilities survive, the
// capability on a file whose owner is also changed (chown clears capabilities: set them after).
backend_test!(row19_root_xattrs_acl_capabilities, |b| {
    require_root!();
    let t = TestTree::new();
    t.file("src/acl", "acl");
    t.file("src/d/cap", "capability");
    t.chmod("src/d/cap", 0o755);
    t.chown("src/d/cap", 1234, 1234);
    t.xattr("src/acl", "system.posix_acl_access", &acl_bytes());
    t.xattr("src/d", "system.posix_acl_default", &acl_bytes());
    t.xattr("src/d", "trusted.ucopy", b"trusted value");
    t.xattr("src/d/cap", "security.capability", &capability_bytes());
    t.stamp_times("src", 19);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 19: a destination without xattr support (ramfs) is not a per-file error under -a.
backend_test!(row19_dst_without_xattr_support, |b| {
    let m = match Mount::new_ramfs() {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let t = TestTree::new();
    let src = small_tree(&t, "src");
    t.xattr("src/sub", "user.on_dir", b"d");
    t.xattr("src/exec", "user.on_file", b"f");
    t.stamp_times("src", 19);
    let dst = m.path().join("dst");
    b.run(args!["-a", src, dst]).assert_success();
    assert_trees_equal(&src, &dst, &Compare::archive().no_xattrs());
});

// Row 20: while a file is being written it is never more accessible than 0600 (or its final
// mode if narrower); a half-made dir is never group/other-writable. Checked by polling the
// destination during the copy (umask 0, so the umask hides nothing). Polling can miss a
// violation but never invents one. Owner bits are not checked (the owner can chmod its own
// file anyway, and cp's 0700 for files that end setuid is harmless): group/other bits and
// setuid/setgid/sticky must all be clear while the file is incomplete.
backend_test!(row20_never_more_accessible_while_writing, |b| {
    let t = TestTree::new();
    let files: [(&str, u64, u32); 4] = [
        ("big644", 48 * MIB, 0o644),
        ("big400", 48 * MIB, 0o400),
        ("big666", 32 * MIB, 0o666),
        ("big4755", 16 * MIB, 0o4755),
    ];
    for (i, (name, size, _)) in files.iter().enumerate() {
        t.file_sized(format!("src/{name}"), *size, i as u64);
    }
    const N: usize = 300;
    for i in 0..N {
        t.file_sized(format!("src/open/f{i:03}"), 8192, i as u64);
    }
    for (name, _, mode) in files {
        t.chmod(format!("src/{name}"), mode);
    }
    t.chmod("src/open", 0o777);
    let dst = t.p("dst");
    let mut running = spawn(b.sh_cmd("umask 0", args!["-a", t.p("src"), &dst]));
    let mut violations = Vec::new();
    let mut samples = 0u64;
    let out = loop {
        for (name, size, mode) in files {
            if let Some(st) = lstat(&dst.join(name)) {
                let perm = st.st_mode & 0o7777;
                if (st.st_size as u64) < size && perm & 0o7077 != 0 {
                    violations.push(format!(
                        "{name}: mode {perm:o} at {} of {size} bytes (final {mode:o})",
                        st.st_size
                    ));
                }
            }
        }
        violations.extend(writable_by_others_while_filling(&dst.join("open"), N));
        samples += 1;
        if let Some(out) = running.wait_timeout(Duration::ZERO) {
            break out;
        }
    };
    eprintln!("{samples} samples");
    out.assert_success();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "too accessible while being written:\n  {}",
        violations
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    assert_trees_equal(&t.p("src"), &dst, &Compare::archive());
});

// Row 21: the source is never modified, including the targets of symlinks pointing outside the
// tree (a copier that chmods/utimes/chowns "dst/link" following it would hit them). ctime is
// part of the snapshot, so even an undone change shows.
backend_test!(row21_source_never_modified, |b| {
    let t = TestTree::new();
    small_tree(&t, "src");
    t.file("outside/target_file", "outside file");
    t.file("outside/target_dir/inner", "inner");
    t.chmod("outside/target_file", 0o600);
    t.stamp_times("outside", 21);
    t.symlink("src/to_outside_file", t.p("outside/target_file"));
    t.symlink("src/to_outside_dir", t.p("outside/target_dir"));
    t.symlink("src/sub/rel_outside", "../../outside/target_file");
    t.xattr("src/sub/b", "user.keep", b"k");
    if is_root() {
        t.chown("src/to_outside_file", 1234, 1234);
        t.chown("src/exec", 4321, 4321);
    }
    t.stamp_times("src", 21);
    let before_src = Snapshot::take(&t.p("src"));
    let before_out = Snapshot::take(&t.p("outside"));
    b.run(args!["-a", t.p("src"), t.p("dst_a")])
        .assert_success();
    b.run(args![t.p("src"), t.p("dst_r")]).assert_success();
    // Again onto the existing copies (overwrite paths).
    b.run(args!["-a", t.p("src"), t.p("dst_a")])
        .assert_success();
    b.run(args![t.p("src"), t.p("dst_r")]).assert_success();
    Snapshot::take(&t.p("src")).assert_same(&before_src, "the source");
    Snapshot::take(&t.p("outside")).assert_same(&before_out, "the symlink targets outside");
});

fn perm(p: &Path) -> u32 {
    lstat(p).expect("exists").st_mode & 0o7777
}

// Row 15/18: when ownership is to be kept but cannot be (a user copying root's files with -p or
// -a), setuid, setgid and sticky are dropped, as cp does: a copy of root's setuid program must
// not become a setuid program of the user's. Entries whose owner was kept keep their bits.
backend_test!(special_bits_dropped_when_owner_not_kept, |b| {
    require_root!(); // root owns the source; the copy runs as nobody
    let t = TestTree::new();
    t.file("src/prog", "#!/bin/sh\n");
    t.chmod("src/prog", 0o6554);
    t.dir("src/shared");
    t.chmod("src/shared", 0o3755);
    t.dir("out");
    t.chown("out", NOBODY, NOBODY);
    t.chmod("", 0o755);
    for opt in ["-p", "-a"] {
        let (f, d) = (
            t.p(format!("out/prog{opt}")),
            t.p(format!("out/shared{opt}")),
        );
        b.run_unprivileged(args![opt, t.p("src/prog"), &f])
            .assert_success();
        b.run_unprivileged(args![opt, "-r", t.p("src/shared"), &d])
            .assert_success();
        assert_eq!(perm(&f), 0o554, "{opt}: file");
        assert_eq!(perm(&d), 0o755, "{opt}: directory");
    }
    // As root the owner is kept, and so are the bits.
    b.run(args!["-p", t.p("src/prog"), t.p("root_prog")])
        .assert_success();
    assert_eq!(perm(&t.p("root_prog")), 0o6554);
});

// Row 18: a user who cannot give a copy the source's owner still gives it the source's group when
// they are a member of it (cp retries the group alone).
backend_test!(group_kept_when_only_owner_fails, |b| {
    require_root!();
    const GROUP: u32 = 100;
    let t = TestTree::new();
    t.file("src/f", "f");
    t.chown("src/f", 0, GROUP);
    t.dir("out");
    t.chown("out", NOBODY, NOBODY);
    t.chmod("", 0o755);
    let mut c = std::process::Command::new("setpriv");
    c.args([
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        format!("--groups={NOBODY},{GROUP}"),
        "--".into(),
    ])
    .arg(crate::harness::bin_for_nobody())
    .args(b.args())
    .args(args!["-p", t.p("src/f"), t.p("out/f")]);
    run(c, crate::harness::DEFAULT_TIMEOUT).assert_success();
    let st = lstat(&t.p("out/f")).expect("copied");
    assert_eq!((st.st_uid, st.st_gid), (NOBODY, GROUP));
});

// Row 19: -p (mode without xattrs) still copies POSIX ACLs, which are part of the mode for cp:
// the access ACL of a file and a directory, and a directory's default ACL.
backend_test!(preserve_mode_copies_acls, |b| {
    let t = TestTree::new();
    t.file("src/f", "f");
    t.dir("src/d");
    let set = |args: &[&str], p: &Path| {
        std::process::Command::new("setfacl")
            .args(args)
            .arg(p)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !set(&["-m", "u:65534:r"], &t.p("src/f")) {
        skip!("setfacl unavailable or ACLs unsupported here");
    }
    assert!(set(&["-m", "u:65534:rx"], &t.p("src/d")));
    assert!(set(&["-d", "-m", "u:65534:rwx"], &t.p("src/d")));
    b.run(args!["-p", "-r", t.p("src"), t.p("dst")])
        .assert_success();
    let acl = |rel: &str| {
        let out = std::process::Command::new("getfacl")
            .args(["-cp", "--numeric"])
            .arg(t.p(rel))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for rel in ["f", "d"] {
        let (src, dst) = (acl(&format!("src/{rel}")), acl(&format!("dst/{rel}")));
        assert!(src.contains("user:65534:"), "{src}");
        assert_eq!(dst, src, "{rel}");
    }
    // Without -p nothing of the ACL is carried over.
    b.run(args!["-r", t.p("src"), t.p("plain")])
        .assert_success();
    assert!(!acl("plain/f").contains("user:65534:"));
});
