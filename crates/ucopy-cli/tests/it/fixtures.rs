//! Trees shared by several rows.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::harness::os;
use crate::tree::{Rng, TestTree, MIB};

/// A small tree with one of each common kind: files (empty, small, > 64 KiB), nested dirs, an
/// empty dir, relative and dangling absolute symlinks, a hard-link pair across dirs, a user
/// xattr, non-default modes and distinct ns mtimes.
pub fn small_tree(t: &TestTree, rel: &str) -> PathBuf {
    let r = Path::new(rel);
    t.file(r.join("a.txt"), "alpha\n");
    t.file(r.join("empty"), "");
    t.chmod(r.join("empty"), 0o600);
    t.file_sized(r.join("exec"), 5000, 1);
    t.chmod(r.join("exec"), 0o755);
    t.file_sized(r.join("sub/b"), 70_000, 2);
    t.file(r.join("sub/deeper/c"), "c");
    t.symlink(r.join("sub/deeper/link"), "../b");
    t.symlink(r.join("abs"), "/nonexistent/abs");
    t.file(r.join("hl1"), "linked twice");
    t.hardlink(r.join("hl1"), r.join("sub/hl2"));
    t.dir(r.join("emptydir"));
    t.xattr(r.join("a.txt"), "user.ucopy.test", b"value\0with nul");
    t.chmod(r.join("sub"), 0o750);
    t.stamp_times(r, 7);
    t.p(r)
}

/// Names that break code which treats paths as text or as shell words.
pub fn odd_names() -> Vec<Vec<u8>> {
    vec![
        b"sp ace".to_vec(),
        b" lead and trail ".to_vec(),
        b"new\nline".to_vec(),
        b"-dash".to_vec(),
        b"--double-dash".to_vec(),
        b"back\\slash".to_vec(),
        b"star*q?[br]".to_vec(),
        b"\xff\xfe not utf-8 \x80".to_vec(),
        b"caf\xe9 latin-1".to_vec(),
        "ünïcödé 名前".as_bytes().to_vec(),
        vec![b'n'; 255],
        b"'quote\"s".to_vec(),
        b"tab\there".to_vec(),
        b"..dots..".to_vec(),
    ]
}

pub use ucopy_test_support::EDGE_SIZES;

/// The generated tree of the differential test: every kind of entry a backend must handle,
/// at random places, reproducible from `seed`.
pub fn mixed_tree(t: &TestTree, rel: &str, seed: u64) -> PathBuf {
    let mut rng = Rng::new(seed);
    let root = PathBuf::from(rel);
    let mut dirs = vec![root.clone()];
    let names = odd_names();
    t.dir(&root);
    for i in 0..30 {
        let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let name = if i % 4 == 0 {
            os(&names[(i / 4) % names.len()])
        } else {
            format!("d{i}").into()
        };
        let d = parent.join(name);
        t.dir(&d);
        dirs.push(d);
    }
    let mut files = Vec::new();
    let pick_dir = |rng: &mut Rng| dirs[rng.below(dirs.len() as u64) as usize].clone();
    for (i, size) in EDGE_SIZES.iter().enumerate() {
        let f = pick_dir(&mut rng).join(format!("edge{i}_{size}"));
        t.file_sized(&f, *size, seed + i as u64);
        files.push(f);
    }
    for i in 0..150 {
        let size = match rng.below(10) {
            0 => 0,
            1..=6 => rng.below(5000),
            _ => rng.below(300_000),
        };
        let name = if i % 10 == 0 {
            let mut n = names[(i / 10) % names.len()].clone();
            n.extend_from_slice(format!("-{i}").as_bytes());
            n.truncate(255);
            os(&n)
        } else {
            format!("f{i}").into()
        };
        let f = pick_dir(&mut rng).join(name);
        t.file_sized(&f, size, seed * 1000 + i as u64);
        files.push(f);
    }
    // Sparse: data in the middle only.
    let sparse = pick_dir(&mut rng).join("sparse");
    t.sparse(&sparse, 3 * MIB, &[(MIB + 4096, b"middle data")]);
    for i in 0..15 {
        let existing = files[rng.below(files.len() as u64) as usize].clone();
        let link = pick_dir(&mut rng).join(format!("hardlink{i}"));
        t.hardlink(&existing, &link);
    }
    for i in 0..20 {
        let target = match i % 4 {
            0 => "/etc/hostname".into(),
            1 => format!("../../f{}", rng.below(150)),
            2 => "dangling/nowhere".into(),
            _ => format!("d{}", rng.below(30)),
        };
        t.symlink(pick_dir(&mut rng).join(format!("sym{i}")), target);
    }
    for i in 0..3 {
        t.fifo(pick_dir(&mut rng).join(format!("fifo{i}")));
    }
    // xattrs before modes: user.* xattrs need write permission unless we are root.
    for f in files.iter().step_by(11) {
        t.xattr(f, "user.ucopy.mixed", f.as_os_str().as_bytes());
    }
    const MODES: [u32; 8] = [0o644, 0o600, 0o755, 0o444, 0o700, 0o640, 0o2755, 0o777];
    for f in files.iter().step_by(3) {
        t.chmod(f, MODES[rng.below(MODES.len() as u64) as usize]);
    }
    for d in dirs.iter().skip(1).step_by(5) {
        t.chmod(d, 0o750);
    }
    t.stamp_times(&root, seed);
    t.p(&root)
}
