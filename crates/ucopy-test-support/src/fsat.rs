//! Small `*at` helpers over raw byte names, shared by the comparator and snapshots: open a
//! parent, lstat, list, read links and xattrs, walk a tree with a bounded number of fds.

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
/// followed) as `(rel, parent_dir_fd, name, lstat)`. At most `OPEN_LEVELS` (16) dir fds at any
/// depth: a 2,000-deep tree is walked under a 1,024-descriptor limit, and the other tests of
/// the same process keep theirs.
pub fn walk(root: &Path, visit: &mut Visit<'_>) {
    let (parent, name) = open_parent(root);
    walk_at(Vec::new(), parent.as_fd(), &name, visit);
}

/// The dir fds a [`walk`] holds at once. Deeper levels close their oldest ancestors' fds and
/// reopen them through `..` on the way back up.
pub const OPEN_LEVELS: usize = 16;

fn walk_at(rel: Vec<u8>, parent: BorrowedFd<'_>, name: &[u8], visit: &mut Visit<'_>) {
    // Iterative, so depth 2,000 does not depend on the test thread's stack size.
    struct Level {
        /// `None` for the ancestors beyond the [`OPEN_LEVELS`] deepest: always a prefix.
        fd: Option<OwnedFd>,
        ino: (u64, u64),
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
    let Some(fd) = open_dir_to_walk(parent, name, &rel) else {
        return;
    };
    let names = list(fd.as_fd()).into_iter();
    let mut stack = vec![Level {
        fd: Some(fd),
        ino: (st.st_dev, st.st_ino),
        rel,
        names,
    }];
    let mut first_open = 0;
    while let Some(top) = stack.last_mut() {
        let Some(child) = top.names.next() else {
            let done = stack.pop().expect("the loop's top");
            if let Some(up) = stack.last_mut() {
                if up.fd.is_none() {
                    let fd = open_dir(done.fd.as_ref().expect("the top is open").as_fd(), b"..")
                        .unwrap_or_else(|e| panic!("reopen {} through ..: {e}", show(&up.rel)));
                    let st = rustix::fs::fstat(&fd).unwrap();
                    assert_eq!(
                        (st.st_dev, st.st_ino),
                        up.ino,
                        "{} changed while it was walked",
                        show(&up.rel)
                    );
                    up.fd = Some(fd);
                    first_open -= 1;
                }
            }
            continue;
        };
        let top_fd = top.fd.as_ref().expect("the top is open").as_fd();
        let rel = join(&top.rel, &child);
        let Ok(st) = lstatat(top_fd, &child) else {
            continue;
        };
        visit(&rel, top_fd, &child, &st);
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if let Some(fd) = open_dir_to_walk(top_fd, &child, &rel) {
                let names = list(fd.as_fd()).into_iter();
                stack.push(Level {
                    fd: Some(fd),
                    ino: (st.st_dev, st.st_ino),
                    rel,
                    names,
                });
                if stack.len() - first_open > OPEN_LEVELS {
                    stack[first_open].fd = None;
                    first_open += 1;
                }
            }
        }
    }
}

/// A dir to descend into, or `None` when it cannot be opened (no permission, gone): the walk
/// reports it and skips its contents. Running out of descriptors is the walker's own failure
/// and would silently shorten the comparison, so it panics.
fn open_dir_to_walk(parent: BorrowedFd<'_>, name: &[u8], rel: &[u8]) -> Option<OwnedFd> {
    match open_dir(parent, name) {
        Ok(fd) => Some(fd),
        Err(e @ (rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)) => {
            panic!("walk {}: {e}", show(rel))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    // A 300-deep chain is walked completely (every level, and the file at the bottom after the
    // climb back through `..` reaches the siblings of the top), holding about OPEN_LEVELS
    // descriptors, not one per level.
    #[test]
    fn deep_walk_holds_few_descriptors_and_visits_everything() {
        const DEPTH: usize = 300;
        let tmp = tempfile::tempdir().unwrap();
        let mut dir = rustix::fs::open(
            tmp.path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        rustix::fs::mkdirat(&dir, "top", Mode::from_raw_mode(0o755)).unwrap();
        rustix::fs::mkdirat(&dir, "top_sibling", Mode::from_raw_mode(0o755)).unwrap();
        dir = open_dir(dir.as_fd(), b"top").unwrap();
        for _ in 0..DEPTH {
            rustix::fs::mkdirat(&dir, "d", Mode::from_raw_mode(0o755)).unwrap();
            rustix::fs::mkdirat(&dir, "e", Mode::from_raw_mode(0o755)).unwrap();
            dir = open_dir(dir.as_fd(), b"d").unwrap();
        }
        drop(dir);

        let before = open_fds();
        let mut most = 0;
        let mut visited = Vec::new();
        walk(tmp.path(), &mut |rel, _, _, _| {
            most = most.max(open_fds());
            visited.push(rel.to_vec());
        });
        // 1 (root) + top + top_sibling + DEPTH × (d, e).
        assert_eq!(visited.len(), 3 + 2 * DEPTH);
        assert_eq!(visited.last().unwrap(), b"top_sibling");
        assert!(
            visited
                .iter()
                .any(|r| r.len() == 3 + 2 * DEPTH && r.ends_with(b"/e")),
            "the deepest sibling is visited"
        );
        // Other tests of this binary may hold a few descriptors at the same time.
        assert!(
            most < before + OPEN_LEVELS + 20,
            "{most} descriptors open during the walk, {before} before"
        );
    }
}
