//! Small `*at` helpers over raw byte names, shared by the comparator and snapshots: open a
//! parent, lstat, list, read links and xattrs, walk a tree with one fd per level.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

/// The callback of [`walk`]: `(relative path, parent dir fd, name, lstat)`.
pub type Visit<'v> = dyn FnMut(&[u8], BorrowedFd<'_>, &[u8], &Stat) + 'v;

pub(crate) fn read_full_at(f: &File, buf: &mut [u8], off: u64) -> usize {
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
pub(crate) fn open_parent(p: &Path) -> (OwnedFd, Vec<u8>) {
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

pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    open_nofollow(dir, name, OFlags::DIRECTORY)
}

pub(crate) fn open_file(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<File> {
    open_nofollow(dir, name, OFlags::NONBLOCK).map(File::from)
}

/// Opens `name` in `dir` read-only, never through a symlink.
fn open_nofollow(dir: BorrowedFd<'_>, name: &[u8], flags: OFlags) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | flags,
        Mode::empty(),
    )
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

pub(crate) fn readlink(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
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

pub(crate) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
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

pub(crate) fn show_x(x: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let items: Vec<String> = x
        .iter()
        .map(|(k, v)| format!("{}={}", show(k), show(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

pub(crate) fn hash_file(dir: BorrowedFd<'_>, name: &[u8]) -> u64 {
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
