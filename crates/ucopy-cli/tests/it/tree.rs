//! `TestTree`: a temp dir with a compact builder for the trees the rows need. Paths given to the
//! builder are relative to the temp dir; `Path::new(&os(b"\xff"))` spells non-UTF-8 names.
//! Trees deeper than PATH_MAX are built with dir fds ([`chain`]), never with full paths.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, CWD};
use tempfile::TempDir;

use crate::harness::{is_root, NOBODY};

pub use ucopy_test_support::{pattern, pattern_at, pattern_nonzero, Rng, GIB, KIB, MIB};

/// A temp dir that is removed (as root: whatever its modes) when dropped.
pub struct TestTree {
    dir: TempDir,
    /// Built with [`TestTree::chain`]: removed with `rm -rf` only (see the `Drop`).
    deep: std::sync::atomic::AtomicBool,
}

impl TestTree {
    /// In `$TMPDIR` (here: the ext4 root filesystem, the realistic case).
    pub fn new() -> Self {
        Self::in_dir(&std::env::temp_dir())
    }

    /// In tmpfs (`/dev/shm`) for the bulky cases; falls back to `$TMPDIR`.
    pub fn in_shm() -> Self {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            Self::in_dir(shm)
        } else {
            Self::new()
        }
    }

    pub fn in_dir(parent: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ucopy-it-")
            .tempdir_in(parent)
            .unwrap_or_else(|e| panic!("cannot make a temp dir in {}: {e}", parent.display()));
        TestTree {
            dir,
            deep: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The absolute path of `rel`.
    pub fn p(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A chain of nested dirs below `rel` (see [`chain`]); marks the tree deep.
    pub fn chain(
        &self,
        rel: impl AsRef<Path>,
        names: &[&[u8]],
        at_level: impl FnMut(usize, BorrowedFd<'_>),
    ) {
        self.deep.store(true, std::sync::atomic::Ordering::Relaxed);
        chain(&self.p(rel), names, at_level);
    }

    /// `mkdir -p rel`.
    pub fn dir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.p(rel);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        p
    }

    fn parent_of(&self, p: &Path) {
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
    }

    /// A regular file with exactly `content` (parents created).
    pub fn file(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.p(rel);
        self.parent_of(&p);
        fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// A regular file of `size` bytes of [`pattern`] content from `seed`.
    pub fn file_sized(&self, rel: impl AsRef<Path>, size: u64, seed: u64) -> PathBuf {
        let p = self.p(rel);
        self.parent_of(&p);
        let mut f = fs::File::create(&p).unwrap();
        // Written in slices so that 100 MiB files do not need 100 MiB of pattern at once.
        let chunk = 8 * MIB;
        let mut off = 0;
        while off < size {
            let n = chunk.min(size - off);
            f.write_all(&pattern_at(seed, off, n as usize)).unwrap();
            off += n;
        }
        p
    }

    /// A sparse file of `size` bytes: holes everywhere except the given `(offset, bytes)` runs.
    pub fn sparse(&self, rel: impl AsRef<Path>, size: u64, data: &[(u64, &[u8])]) -> PathBuf {
        let p = self.p(rel);
        self.parent_of(&p);
        let f = fs::File::create(&p).unwrap();
        f.set_len(size).unwrap();
        for (off, bytes) in data {
            f.write_all_at(bytes, *off).unwrap();
        }
        p
    }

    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<OsStr>) -> PathBuf {
        let p = self.p(rel);
        self.parent_of(&p);
        std::os::unix::fs::symlink(target.as_ref(), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        p
    }

    /// `ln existing new` (both relative to the tree).
    pub fn hardlink(&self, existing: impl AsRef<Path>, new: impl AsRef<Path>) -> PathBuf {
        let p = self.p(new);
        self.parent_of(&p);
        fs::hard_link(self.p(existing), &p).unwrap_or_else(|e| panic!("link {}: {e}", p.display()));
        p
    }

    pub fn fifo(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.mknod(rel, FileType::Fifo, 0o644, 0)
    }

    /// A socket inode (made with mknod: nothing listens, nothing may connect).
    pub fn socket(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.mknod(rel, FileType::Socket, 0o755, 0)
    }

    /// A device node (root only).
    pub fn device(&self, rel: impl AsRef<Path>, block: bool, major: u32, minor: u32) -> PathBuf {
        let kind = if block {
            FileType::BlockDevice
        } else {
            FileType::CharacterDevice
        };
        self.mknod(rel, kind, 0o640, rustix::fs::makedev(major, minor))
    }

    fn mknod(&self, rel: impl AsRef<Path>, kind: FileType, mode: u32, dev: u64) -> PathBuf {
        let p = self.p(rel);
        self.parent_of(&p);
        rustix::fs::mknodat(CWD, &p, kind, Mode::from_raw_mode(mode), dev)
            .unwrap_or_else(|e| panic!("mknod {}: {e}", p.display()));
        p
    }

    /// `chmod` (follows symlinks; use it on files and dirs).
    pub fn chmod(&self, rel: impl AsRef<Path>, mode: u32) {
        let p = self.p(rel);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
    }

    /// `lchown`.
    pub fn chown(&self, rel: impl AsRef<Path>, uid: u32, gid: u32) {
        let p = self.p(rel);
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", p.display()));
    }

    /// Sets mtime (and atime) without following a symlink. Set a dir's time after its children.
    pub fn mtime(&self, rel: impl AsRef<Path>, secs: i64, nsecs: u32) {
        set_mtime(&self.p(rel), secs, nsecs);
    }

    /// `lsetxattr`.
    pub fn xattr(&self, rel: impl AsRef<Path>, name: &str, value: &[u8]) {
        let p = self.p(rel);
        rustix::fs::lsetxattr(&p, name, value, rustix::fs::XattrFlags::empty())
            .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", p.display()));
    }

    /// Gives every entry below and including `rel` a distinct mtime with a non-zero ns part,
    /// children before their dir, so that a copy that drops or rounds times is caught.
    pub fn stamp_times(&self, rel: impl AsRef<Path>, seed: u64) {
        let root = self.p(rel);
        let mut entries = Vec::new();
        collect_post_order(&root, &mut entries);
        for (i, p) in entries.iter().enumerate() {
            let i = i as u64 + seed * 1000;
            let secs = 1_300_000_000 + (i * 86_413) as i64;
            let nsecs = ((i * 7_919_113 + 123_457) % 1_000_000_000) as u32;
            set_mtime(p, secs, nsecs);
        }
    }

    /// As root: hands the whole tree (the temp dir included) to `nobody`, so an unprivileged
    /// copier can read the source and write the destination. Not root: nothing to do.
    pub fn give_to_nobody(&self) {
        if !is_root() {
            return;
        }
        let mut entries = Vec::new();
        collect_post_order(self.path(), &mut entries);
        for p in entries {
            std::os::unix::fs::lchown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let p = self.p(rel);
        fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// `lstat`, `None` when absent.
    pub fn lstat(&self, rel: impl AsRef<Path>) -> Option<rustix::fs::Stat> {
        lstat(&self.p(rel))
    }
}

impl Drop for TestTree {
    fn drop(&mut self) {
        // TempDir's own removal (std's `remove_dir_all`) fails and leaks the tree in two cases
        // the rows create: read-only dirs (rows 16, 26) for a non-root test user, and trees
        // deeper than the open-file limit (std holds a descriptor per level). Leaked trees of
        // 60,000 entries filled tmpfs in CI, so remove here and fall back to opening dirs up
        // plus `rm -rf` (fts: bounded descriptors). Deep trees go to `rm -rf` at once: under
        // nofile 1024 std's attempt took every descriptor the test process had before it
        // failed, and a test running beside it failed with EMFILE.
        let removed = if self.deep.load(std::sync::atomic::Ordering::Relaxed) {
            rm_rf(self.path());
            fs::symlink_metadata(self.path()).is_err()
        } else {
            fs::remove_dir_all(self.path()).is_ok()
        };
        if removed {
            return;
        }
        if !is_root() {
            let mut entries = Vec::new();
            collect_post_order(self.path(), &mut entries);
            for p in entries.iter().rev() {
                if let Ok(m) = fs::symlink_metadata(p) {
                    if m.is_dir() && m.permissions().mode() & 0o700 != 0o700 {
                        let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                    }
                }
            }
        }
        rm_rf(self.path());
    }
}

fn rm_rf(p: &Path) {
    let _ = std::process::Command::new("rm")
        .arg("-rf")
        .arg("--")
        .arg(p)
        .status();
}

/// Paths of all entries below and including `root`, children before their parent dir. Not
/// following symlinks. Only for trees whose paths fit in PATH_MAX.
pub fn collect_post_order(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = fs::symlink_metadata(root) else {
        return;
    };
    if meta.is_dir() {
        let Ok(rd) = fs::read_dir(root) else {
            out.push(root.to_path_buf());
            return;
        };
        let mut children: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for c in children {
            collect_post_order(&c, out);
        }
    }
    out.push(root.to_path_buf());
}

pub fn set_mtime(p: &Path, secs: i64, nsecs: u32) {
    let ts = Timespec {
        tv_sec: secs,
        tv_nsec: nsecs.into(),
    };
    let times = Timestamps {
        last_access: ts,
        last_modification: ts,
    };
    rustix::fs::utimensat(CWD, p, &times, AtFlags::SYMLINK_NOFOLLOW)
        .unwrap_or_else(|e| panic!("utimensat {}: {e}", p.display()));
}

pub fn lstat(p: &Path) -> Option<rustix::fs::Stat> {
    rustix::fs::statat(CWD, p, AtFlags::SYMLINK_NOFOLLOW).ok()
}

/// Builds a chain of nested dirs `base/n0/n1/...` with dir fds (so depth and total path length
/// are unlimited) and calls `at_level(level, dir_fd)` in each dir, deepest last.
fn chain(base: &Path, names: &[&[u8]], mut at_level: impl FnMut(usize, BorrowedFd<'_>)) {
    let mut dir: OwnedFd = rustix::fs::open(
        base,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    at_level(0, dir.as_fd());
    for (i, name) in names.iter().enumerate() {
        let name = OsStr::from_bytes(name);
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755))
            .unwrap_or_else(|e| panic!("mkdirat level {i}: {e}"));
        // The parent fd is closed as soon as the child is open: one fd whatever the depth.
        dir = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        at_level(i + 1, dir.as_fd());
    }
}

/// Creates `name` with `content` in the dir `dir`.
pub fn write_at(dir: BorrowedFd<'_>, name: &[u8], content: &[u8]) {
    let fd = rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    fs::File::from(fd).write_all(content).unwrap();
}

/// `n` empty files `prefix0000000..` in `dir` (created with one dir fd, fast).
pub fn many_empty_files(dir: &Path, prefix: &str, n: usize) {
    fs::create_dir_all(dir).unwrap();
    let d = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    for i in 0..n {
        let name = format!("{prefix}{i:07}");
        // mknodat needs no descriptor per file: with nofile 1024 and other tests holding
        // descriptors, an open per file once failed with EMFILE here.
        rustix::fs::mknodat(
            &d,
            name.as_str(),
            FileType::RegularFile,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap_or_else(|e| panic!("mknod {}/{name}: {e}", dir.display()));
    }
}
