//! Comparing trees the way behaviours.md defines "equal trees", and snapshots for "nothing
//! changed". Both walks hold dir fds (2 per level at most) and open children with `openat`
//! relative to them, so depth 2,000 and paths past PATH_MAX work; names stay raw bytes.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, SeekFrom, Stat};

use crate::harness::is_root;

/// What "equal" includes. `archive()` is the full definition of behaviours.md; `plain()` is what
/// `cp -r` keeps (type, size, content, symlink targets, rdev).
#[derive(Clone, Debug)]
pub struct Compare {
    /// Full mode (incl. setuid/setgid/sticky), ns mtimes, xattrs, hard-link grouping.
    pub archive: bool,
    /// uid/gid; defaults to `archive` when the tests run as root.
    pub owner: bool,
    /// xattrs; defaults to `archive`.
    pub xattrs: bool,
    /// Compare the two top entries' own metadata (off when DST is a pre-existing dir).
    pub root_meta: bool,
    /// Entries only in the destination are fine (merges).
    pub extra_ok: bool,
    /// Relative paths (raw bytes) skipped on both sides, with their subtrees.
    pub ignore: Vec<Vec<u8>>,
}

impl Compare {
    pub fn archive() -> Self {
        Compare {
            archive: true,
            owner: is_root(),
            xattrs: true,
            root_meta: true,
            extra_ok: false,
            ignore: Vec::new(),
        }
    }

    pub fn plain() -> Self {
        Compare {
            archive: false,
            owner: false,
            xattrs: false,
            root_meta: true,
            extra_ok: false,
            ignore: Vec::new(),
        }
    }

    pub fn no_owner(mut self) -> Self {
        self.owner = false;
        self
    }

    pub fn no_xattrs(mut self) -> Self {
        self.xattrs = false;
        self
    }

    pub fn no_root_meta(mut self) -> Self {
        self.root_meta = false;
        self
    }

    pub fn allow_extra(mut self) -> Self {
        self.extra_ok = true;
        self
    }

    pub fn ignore(mut self, rel: impl AsRef<[u8]>) -> Self {
        self.ignore.push(rel.as_ref().to_vec());
        self
    }
}

/// Fails the test with the first differences when `dst` is not a copy of `src` under `cmp`.
#[track_caller]
pub fn assert_trees_equal(src: &Path, dst: &Path, cmp: &Compare) {
    let diffs = tree_diffs(src, dst, cmp);
    if !diffs.is_empty() {
        let mut msg = format!(
            "{} differences between {} and {}:\n",
            diffs.len(),
            src.display(),
            dst.display()
        );
        for d in diffs.iter().take(40) {
            let _ = writeln!(msg, "  {d}");
        }
        panic!("{msg}");
    }
}

/// All differences between `src` and `dst` (the top entries may be of any type).
pub fn tree_diffs(src: &Path, dst: &Path, cmp: &Compare) -> Vec<String> {
    let mut w = Lockstep {
        cmp,
        diffs: Vec::new(),
        links: HashMap::new(),
        links_back: HashMap::new(),
    };
    let (sp, sn) = open_parent(src);
    let (dp, dn) = open_parent(dst);
    w.entry(Vec::new(), &Rc::new(sp), &sn, &Rc::new(dp), &dn);
    w.diffs
}

/// `(st_dev, st_ino)`: an inode's identity.
type DevIno = (u64, u64);

/// The callback of [`walk`]: `(relative path, parent dir fd, name, lstat)`.
pub type Visit<'v> = dyn FnMut(&[u8], BorrowedFd<'_>, &[u8], &Stat) + 'v;

struct Lockstep<'c> {
    cmp: &'c Compare,
    diffs: Vec<String>,
    /// Hard-link grouping must be a bijection between source and destination inodes.
    links: HashMap<DevIno, (DevIno, Vec<u8>)>,
    links_back: HashMap<DevIno, (DevIno, Vec<u8>)>,
}

/// A dir still to be listed: the parents' fds stay open through the `Rc`s (so open fds are
/// bounded by the depth, not by the number of pending dirs).
struct Pending {
    rel: Vec<u8>,
    src_parent: Rc<OwnedFd>,
    src_name: Vec<u8>,
    dst_parent: Rc<OwnedFd>,
    dst_name: Vec<u8>,
}

impl Lockstep<'_> {
    fn diff(&mut self, rel: &[u8], what: String) {
        self.diffs.push(format!("{}: {what}", show(rel)));
    }

    fn entry(&mut self, rel: Vec<u8>, sp: &Rc<OwnedFd>, sn: &[u8], dp: &Rc<OwnedFd>, dn: &[u8]) {
        let mut stack = Vec::new();
        self.one(rel, sp, sn, dp, dn, &mut stack);
        while let Some(p) = stack.pop() {
            self.dir(p, &mut stack);
        }
    }

    /// Compares one entry; a dir present on both sides is queued on `stack`.
    fn one(
        &mut self,
        rel: Vec<u8>,
        sp: &Rc<OwnedFd>,
        sn: &[u8],
        dp: &Rc<OwnedFd>,
        dn: &[u8],
        stack: &mut Vec<Pending>,
    ) {
        let s = match lstatat(sp.as_fd(), sn) {
            Ok(s) => s,
            Err(e) => return self.diff(&rel, format!("cannot lstat source: {e}")),
        };
        let d = match lstatat(dp.as_fd(), dn) {
            Ok(d) => d,
            Err(e) => return self.diff(&rel, format!("missing in destination ({e})")),
        };
        let (st, dt) = (
            FileType::from_raw_mode(s.st_mode),
            FileType::from_raw_mode(d.st_mode),
        );
        if st != dt {
            return self.diff(
                &rel,
                format!("type {st:?} in source, {dt:?} in destination"),
            );
        }
        let is_root = rel.is_empty();
        if !is_root || self.cmp.root_meta {
            self.meta(&rel, &s, &d, st);
            if self.cmp.xattrs {
                let (sx, dx) = (xattrs(sp.as_fd(), sn), xattrs(dp.as_fd(), dn));
                if sx != dx {
                    self.diff(&rel, format!("xattrs {} vs {}", show_x(&sx), show_x(&dx)));
                }
            }
        }
        match st {
            FileType::Directory => stack.push(Pending {
                rel,
                src_parent: sp.clone(),
                src_name: sn.to_vec(),
                dst_parent: dp.clone(),
                dst_name: dn.to_vec(),
            }),
            FileType::RegularFile => {
                if s.st_size != d.st_size {
                    self.diff(&rel, format!("size {} vs {}", s.st_size, d.st_size));
                } else if let Err(e) =
                    same_content(sp.as_fd(), sn, dp.as_fd(), dn, s.st_size as u64)
                {
                    self.diff(&rel, e);
                }
            }
            FileType::Symlink => {
                let (a, b) = (readlink(sp.as_fd(), sn), readlink(dp.as_fd(), dn));
                if a != b {
                    self.diff(&rel, format!("symlink target {} vs {}", show(&a), show(&b)));
                }
            }
            FileType::CharacterDevice | FileType::BlockDevice if s.st_rdev != d.st_rdev => {
                self.diff(&rel, format!("rdev {:#x} vs {:#x}", s.st_rdev, d.st_rdev));
            }
            _ => {}
        }
    }

    fn meta(&mut self, rel: &[u8], s: &Stat, d: &Stat, kind: FileType) {
        let cmp = self.cmp;
        if cmp.archive {
            // Symlink modes are always 0777 on Linux; comparing them is harmless.
            if s.st_mode & 0o7777 != d.st_mode & 0o7777 {
                self.diff(
                    rel,
                    format!("mode {:o} vs {:o}", s.st_mode & 0o7777, d.st_mode & 0o7777),
                );
            }
            if (s.st_mtime, s.st_mtime_nsec) != (d.st_mtime, d.st_mtime_nsec) {
                self.diff(
                    rel,
                    format!(
                        "mtime {}.{:09} vs {}.{:09}",
                        s.st_mtime, s.st_mtime_nsec, d.st_mtime, d.st_mtime_nsec
                    ),
                );
            }
            if kind != FileType::Directory && (s.st_nlink > 1 || d.st_nlink > 1) {
                self.link_group(rel, s, d);
            }
        }
        if cmp.owner && (s.st_uid, s.st_gid) != (d.st_uid, d.st_gid) {
            self.diff(
                rel,
                format!(
                    "owner {}:{} vs {}:{}",
                    s.st_uid, s.st_gid, d.st_uid, d.st_gid
                ),
            );
        }
    }

    fn link_group(&mut self, rel: &[u8], s: &Stat, d: &Stat) {
        let (si, di) = ((s.st_dev, s.st_ino), (d.st_dev, d.st_ino));
        if let Some((want, first)) = self.links.get(&si) {
            if *want != di {
                let first = show(first);
                self.diff(rel, format!("not hard-linked to {first} as in the source"));
            }
        } else {
            self.links.insert(si, (di, rel.to_vec()));
        }
        if let Some((want, first)) = self.links_back.get(&di) {
            if *want != si {
                let first = show(first);
                self.diff(
                    rel,
                    format!("hard-linked to {first} in the destination only"),
                );
            }
        } else {
            self.links_back.insert(di, (si, rel.to_vec()));
        }
    }

    fn dir(&mut self, p: Pending, stack: &mut Vec<Pending>) {
        let s = match open_dir(p.src_parent.as_fd(), &p.src_name) {
            Ok(fd) => Rc::new(fd),
            Err(e) => return self.diff(&p.rel, format!("cannot open source dir: {e}")),
        };
        let d = match open_dir(p.dst_parent.as_fd(), &p.dst_name) {
            Ok(fd) => Rc::new(fd),
            Err(e) => return self.diff(&p.rel, format!("cannot open destination dir: {e}")),
        };
        let (sl, dl) = (list(s.as_fd()), list(d.as_fd()));
        let mut children = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < sl.len() || j < dl.len() {
            let take_src = j == dl.len() || (i < sl.len() && sl[i] <= dl[j]);
            let take_dst = i == sl.len() || (j < dl.len() && dl[j] <= sl[i]);
            let name = if take_src { &sl[i] } else { &dl[j] };
            let rel = join(&p.rel, name);
            let ignored = self.cmp.ignore.contains(&rel);
            if !ignored {
                match (take_src, take_dst) {
                    (true, true) => children.push(rel),
                    (true, false) => self.diff(&rel, "missing in destination".into()),
                    (false, true) if !self.cmp.extra_ok => {
                        self.diff(&rel, "only in destination".into())
                    }
                    _ => {}
                }
            }
            i += usize::from(take_src);
            j += usize::from(take_dst);
        }
        // Reverse so that the stack pops dirs in name order (stable diff output).
        let mut sub = Vec::new();
        for rel in children {
            let name = rel[rel.iter().rposition(|&c| c == b'/').map_or(0, |k| k + 1)..].to_vec();
            self.one(rel, &s, &name, &d, &name, &mut sub);
        }
        sub.reverse();
        stack.extend(sub);
    }
}

/// Content equality that skips ranges that are holes on both sides, so a 1 TiB sparse file
/// compares in milliseconds while any data or zero-fill difference is still read and compared.
fn same_content(
    sp: BorrowedFd<'_>,
    sn: &[u8],
    dp: BorrowedFd<'_>,
    dn: &[u8],
    size: u64,
) -> Result<(), String> {
    let a = open_file(sp, sn).map_err(|e| format!("cannot open source: {e}"))?;
    let b = open_file(dp, dn).map_err(|e| format!("cannot open destination: {e}"))?;
    first_difference(&a, &b, size).map_or(Ok(()), |off| Err(format!("content differs at {off}")))
}

/// The first offset below `size` where `a` and `b` differ.
pub fn first_difference(a: &File, b: &File, size: u64) -> Option<u64> {
    const CHUNK: u64 = 1 << 20;
    let (mut ba, mut bb) = (vec![0u8; CHUNK as usize], vec![0u8; CHUNK as usize]);
    let mut pos = 0;
    while pos < size {
        let skip = next_data(a, pos, size).min(next_data(b, pos, size));
        if skip > pos {
            pos = skip;
            continue;
        }
        let n = CHUNK.min(size - pos) as usize;
        let ra = read_full_at(a, &mut ba[..n], pos);
        let rb = read_full_at(b, &mut bb[..n], pos);
        if ra != rb || ba[..n] != bb[..n] {
            let k = (0..n.min(ra).min(rb))
                .find(|&k| ba[k] != bb[k])
                .unwrap_or(ra.min(rb));
            return Some(pos + k as u64);
        }
        pos += n as u64;
    }
    None
}

/// `SEEK_DATA` from `pos`: where the next data starts (`size` if none; `pos` if the filesystem
/// cannot tell, which makes the caller read).
fn next_data(f: &File, pos: u64, size: u64) -> u64 {
    match rustix::fs::seek(f, SeekFrom::Data(pos)) {
        Ok(off) => off,
        Err(rustix::io::Errno::NXIO) => size,
        Err(_) => pos,
    }
}

fn read_full_at(f: &File, buf: &mut [u8], off: u64) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    done
}

/// The open parent dir of `p` and `p`'s last component (`p` itself need not be a dir).
fn open_parent(p: &Path) -> (OwnedFd, Vec<u8>) {
    let name = p
        .file_name()
        .unwrap_or_else(|| panic!("{} has no file name", p.display()));
    let parent = match p.parent() {
        Some(q) if !q.as_os_str().is_empty() => q,
        _ => Path::new("."),
    };
    let fd = rustix::fs::open(
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", parent.display()));
    (fd, name.as_bytes().to_vec())
}

pub fn lstatat(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<Stat> {
    rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW)
}

fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn open_file(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<File> {
    rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map(File::from)
}

/// Sorted names in an open dir, without `.` and `..`.
pub fn list(dir: BorrowedFd<'_>) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = Dir::read_from(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_bytes().to_vec())
        .filter(|n| n != b"." && n != b"..")
        .collect();
    names.sort();
    names
}

fn readlink(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    rustix::fs::readlinkat(dir, OsStr::from_bytes(name), Vec::new())
        .map(|c| c.into_bytes())
        .unwrap_or_else(|e| format!("<readlink failed: {e}>").into_bytes())
}

/// All xattrs of `dir/name` without following a symlink. Through `/proc/self/fd/N/name` so
/// that the path stays short at any depth.
pub fn xattrs(dir: BorrowedFd<'_>, name: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name);
    let path = OsStr::from_bytes(&path);
    let mut out = BTreeMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    let n = match rustix::fs::llistxattr(path, &mut buf[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return out,
        Err(e) => panic!("llistxattr {}: {e}", show(name)),
    };
    for xname in buf[..n].split(|&c| c == 0).filter(|s| !s.is_empty()) {
        let xn = OsStr::from_bytes(xname);
        let mut val = vec![0u8; 64 * 1024];
        match rustix::fs::lgetxattr(path, xn, &mut val[..]) {
            Ok(len) => {
                val.truncate(len);
                out.insert(xname.to_vec(), val);
            }
            // Listed but gone (a racing change) or not readable: record it as such.
            Err(e) => {
                out.insert(xname.to_vec(), format!("<{e}>").into_bytes());
            }
        }
    }
    out
}

fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() {
        name.to_vec()
    } else {
        let mut v = parent.to_vec();
        v.push(b'/');
        v.extend_from_slice(name);
        v
    }
}

/// A relative path for messages: `.` for the top entry, escaped bytes otherwise.
pub fn show(rel: &[u8]) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        format!("{:?}", OsStr::from_bytes(rel))
    }
}

fn show_x(x: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let items: Vec<String> = x
        .iter()
        .map(|(k, v)| format!("{}={}", show(k), show(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// One entry of a [`Snapshot`]: everything that a modification would change, ctime included
/// (a chmod, chown, utimes or xattr change that was undone still moves ctime).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snap {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: i64,
    pub nlink: u64,
    pub ino: u64,
    pub mtime: (i64, u64),
    pub ctime: (i64, u64),
    pub content: u64,
    pub target: Vec<u8>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The state of a (small) tree, for "nothing was created/modified" assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<Vec<u8>, Snap>);

impl Snapshot {
    /// Takes the snapshot of `root` (any type, not followed if a symlink).
    pub fn take(root: &Path) -> Self {
        let mut map = BTreeMap::new();
        walk(root, &mut |rel, parent, name, st| {
            let kind = FileType::from_raw_mode(st.st_mode);
            let content = if kind == FileType::RegularFile {
                hash_file(parent, name)
            } else {
                0
            };
            let target = if kind == FileType::Symlink {
                readlink(parent, name)
            } else {
                Vec::new()
            };
            map.insert(
                rel.to_vec(),
                Snap {
                    kind: st.st_mode & libc_s_ifmt(),
                    mode: st.st_mode & 0o7777,
                    uid: st.st_uid,
                    gid: st.st_gid,
                    size: if kind == FileType::Directory {
                        0
                    } else {
                        st.st_size
                    },
                    nlink: if kind == FileType::Directory {
                        0
                    } else {
                        st.st_nlink
                    },
                    ino: st.st_ino,
                    mtime: (st.st_mtime, st.st_mtime_nsec),
                    ctime: (st.st_ctime, st.st_ctime_nsec),
                    content,
                    target,
                    xattrs: xattrs(parent, name),
                },
            );
        });
        Snapshot(map)
    }

    /// Fails with the differences when `self` (before) and `after` differ.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, what: &str) {
        let mut diffs = Vec::new();
        for (k, v) in &self.0 {
            match after.0.get(k) {
                None => diffs.push(format!("{}: removed", show(k))),
                Some(a) if a != v => diffs.push(format!("{}: {v:?}\n    -> {a:?}", show(k))),
                _ => {}
            }
        }
        for k in after.0.keys().filter(|k| !self.0.contains_key(*k)) {
            diffs.push(format!("{}: created", show(k)));
        }
        assert!(
            diffs.is_empty(),
            "{what} changed:\n  {}",
            diffs
                .iter()
                .take(30)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}

fn libc_s_ifmt() -> u32 {
    0o170000
}

fn hash_file(dir: BorrowedFd<'_>, name: &[u8]) -> u64 {
    let Ok(f) = open_file(dir, name) else {
        return u64::MAX;
    };
    let mut h = DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    loop {
        let n = read_full_at(&f, &mut buf, off);
        h.write(&buf[..n]);
        if n < buf.len() {
            break;
        }
        off += n as u64;
    }
    h.finish()
}

/// Visits every entry below and including `root` (pre-order, names sorted, symlinks not
/// followed) as `(rel, parent_dir_fd, name, lstat)`. Dir fds: one per level.
pub fn walk(root: &Path, visit: &mut Visit<'_>) {
    let (parent, name) = open_parent(root);
    walk_at(Vec::new(), parent.as_fd(), &name, visit);
}

fn walk_at(rel: Vec<u8>, parent: BorrowedFd<'_>, name: &[u8], visit: &mut Visit<'_>) {
    // Iterative, so depth 2,000 does not depend on the test thread's stack size.
    struct Level {
        fd: OwnedFd,
        rel: Vec<u8>,
        names: std::vec::IntoIter<Vec<u8>>,
    }
    let Ok(st) = lstatat(parent, name) else {
        return;
    };
    visit(&rel, parent, name, &st);
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return;
    }
    let Ok(fd) = open_dir(parent, name) else {
        return;
    };
    let names = list(fd.as_fd()).into_iter();
    let mut stack = vec![Level { fd, rel, names }];
    while let Some(top) = stack.last_mut() {
        let Some(child) = top.names.next() else {
            stack.pop();
            continue;
        };
        let rel = join(&top.rel, &child);
        let Ok(st) = lstatat(top.fd.as_fd(), &child) else {
            continue;
        };
        visit(&rel, top.fd.as_fd(), &child, &st);
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if let Ok(fd) = open_dir(top.fd.as_fd(), &child) {
                let names = list(fd.as_fd()).into_iter();
                stack.push(Level { fd, rel, names });
            }
        }
    }
}

/// Every regular file in `dst` has a counterpart in `src` with the same size and content, and
/// nothing in `dst` lacks a counterpart: the invariant after an interrupted or failed copy (no
/// partial file looking complete, no leftover temp file). Returns the number of files checked.
#[track_caller]
pub fn assert_only_complete_files(src: &Path, dst: &Path) -> usize {
    let (sp, sn) = open_parent(src);
    let mut bad = Vec::new();
    let mut n = 0;
    walk(dst, &mut |rel, parent, name, st| {
        let spath = join(&sn, rel);
        let s = lstatat(sp.as_fd(), &spath);
        let kind = FileType::from_raw_mode(st.st_mode);
        match s {
            Err(_) => bad.push(format!("{}: in destination but not in source", show(rel))),
            Ok(s) if FileType::from_raw_mode(s.st_mode) != kind => {
                bad.push(format!("{}: type differs", show(rel)))
            }
            Ok(s) if kind == FileType::RegularFile => {
                n += 1;
                if s.st_size != st.st_size {
                    bad.push(format!(
                        "{}: partial file: size {} in destination, {} in source",
                        show(rel),
                        st.st_size,
                        s.st_size
                    ));
                } else if let Err(e) =
                    same_content(sp.as_fd(), &spath, parent, name, s.st_size as u64)
                {
                    bad.push(format!("{}: {e}", show(rel)));
                }
            }
            Ok(_) => {}
        }
    });
    assert!(
        bad.is_empty(),
        "destination holds files that are not complete copies:\n  {}",
        bad.iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    n
}
