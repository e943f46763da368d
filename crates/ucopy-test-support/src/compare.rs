//! Comparing trees the way docs/behaviour-table.md defines "equal trees" ([`tree_diffs`],
//! [`assert_trees_equal`]), and the invariant after a failed or interrupted copy
//! ([`assert_only_complete_files`]). The walk holds dir fds (2 per level at most) and opens
//! children with `openat` relative to them, so depth 2,000 and paths past PATH_MAX work; names
//! stay raw bytes. The fd helpers are in `fsat`, snapshots ("nothing changed") in `snapshot`;
//! both are re-exported here.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{FileType, SeekFrom, Stat};

pub use crate::fsat::{list, lstatat, show, walk, xattrs, Visit};
pub use crate::snapshot::{Snap, Snapshot};

use crate::fsat::{join, open_dir, open_file, open_parent, read_full_at, readlink, show_x};
use crate::is_root;

/// What "equal" includes. `archive()` is the full definition of docs/behaviour-table.md; `plain()` is what
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

/// Every regular file in `dst` has a counterpart in `src` with the same size and content, and
/// nothing in `dst` lacks a counterpart: the invariant after an interrupted or failed copy (no
/// partial file looking complete, no leftover temp file). Returns the number of files checked.
#[track_caller]
pub fn assert_only_complete_files(src: &Path, dst: &Path) -> usize {
    assert_complete_or_named(src, dst, |_| false).0
}

/// [`assert_only_complete_files`] for a copy that could not remove its partial files (the
/// destination went read-only): a regular file of `dst` that is not a complete copy passes only
/// if `named(its path under dst)` says the copier reported it. Returns the numbers of complete
/// and of named incomplete files.
#[track_caller]
pub fn assert_complete_or_named(
    src: &Path,
    dst: &Path,
    named: impl Fn(&Path) -> bool,
) -> (usize, usize) {
    let (sp, sn) = open_parent(src);
    let mut bad = Vec::new();
    let (mut complete, mut partial) = (0, 0);
    walk(dst, &mut |rel, parent, name, st| {
        let spath = join(&sn, rel);
        let s = lstatat(sp.as_fd(), &spath);
        let kind = FileType::from_raw_mode(st.st_mode);
        let problem = match s {
            Err(_) => Some("in destination but not in source".to_owned()),
            Ok(s) if FileType::from_raw_mode(s.st_mode) != kind => Some("type differs".to_owned()),
            Ok(s) if kind == FileType::RegularFile => {
                if s.st_size != st.st_size {
                    Some(format!(
                        "partial file: size {} in destination, {} in source",
                        st.st_size, s.st_size
                    ))
                } else {
                    same_content(sp.as_fd(), &spath, parent, name, s.st_size as u64).err()
                }
            }
            Ok(_) => None,
        };
        let is_file = kind == FileType::RegularFile;
        match problem {
            None if is_file => complete += 1,
            None => {}
            Some(_) if is_file && named(&dst.join(OsStr::from_bytes(rel))) => partial += 1,
            Some(p) => bad.push(format!("{}: {p}", show(rel))),
        }
    });
    assert!(
        bad.is_empty(),
        "destination holds files that are not complete copies (and were not named as such):\n  {}",
        bad.iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    (complete, partial)
}
