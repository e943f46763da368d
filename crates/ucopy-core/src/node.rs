//! Directories of a copy, as nodes that know their parent: enough to name them in messages and
//! to reopen them (source or destination side) by walking down from an ancestor that is still
//! open, so a 2,000-deep tree needs only a bounded number of open descriptors.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use rustix::fs::{self as rfs, Mode, OFlags};

use crate::{file_id, Stat};

/// Flags for opening a directory we walk: never follow a symlink that was swapped in.
pub const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// One side (source or destination) of a directory: its fd when open (the identity it must have
/// when reopened is kept beside it, [`DirNode`]'s `src_id` and `dst_id`).
#[derive(Debug, Default)]
pub struct Side {
    fd: Option<Arc<OwnedFd>>,
    /// The fd last let go of, while anything else still holds it (a batch in flight): taken
    /// again instead of reopening the directory, which under a small `ulimit -n` would need a
    /// descriptor the copy does not have (a directory finished while its last batch is back
    /// but not yet dropped, a walk coming back to a directory a batch still holds).
    released: Weak<OwnedFd>,
}

impl Side {
    /// The fd, held or let go of but still open.
    fn open_fd(&self) -> Option<Arc<OwnedFd>> {
        self.fd.clone().or_else(|| self.released.upgrade())
    }

    /// Holds the fd again if it is let go of but still open; true when the side holds one.
    fn hold_again(&mut self) -> bool {
        if self.fd.is_none() {
            self.fd = self.released.upgrade();
        }
        self.fd.is_some()
    }

    /// Lets go of the fd, remembering it while others hold it.
    fn release(&mut self) -> Option<Arc<OwnedFd>> {
        let fd = self.fd.take();
        if let Some(fd) = &fd {
            self.released = Arc::downgrade(fd);
        }
        fd
    }
}

/// A directory of the copy. The root's parent is the *anchor*: the directories that hold the
/// top-level source and destination, opened by path (those are operator-named and may go through
/// symlinks) and never reopened.
#[derive(Debug)]
pub struct DirNode {
    parent: Option<Arc<DirNode>>,
    src_name: CString,
    /// `None`: the same as `src_name` (every directory but a renamed top-level one).
    dst_name: Option<CString>,
    /// Built when a message first needs them (most directories never do): two allocations and
    /// the copying of a whole path per directory, on the walking thread, otherwise.
    path: OnceLock<PathBuf>,
    dst_path: OnceLock<PathBuf>,
    stat: Option<Stat>,
    src: Mutex<Side>,
    dst: Mutex<Side>,
    /// The identities each side must have when reopened, and the destination's state, outside
    /// the locks: workers and the walk read them for every directory, and a read that takes a
    /// lock writes the lock's word, a cache line the driver's thread writes too.
    src_id: Option<(u64, u64)>,
    dst_id: OnceLock<(u64, u64)>,
    /// The destination's device where its identity is not taken (a leaf directory a worker
    /// made in its parent, on the parent's filesystem).
    dst_dev: OnceLock<u64>,
    dst_created: AtomicBool,
    dst_failed: AtomicBool,
    pending: AtomicUsize,
}

impl DirNode {
    /// The anchor: the parent directories of the top-level source and destination.
    pub(crate) fn anchor(src_fd: OwnedFd, src_path: PathBuf, dst_path: PathBuf) -> Arc<DirNode> {
        Arc::new(DirNode {
            parent: None,
            src_name: CString::default(),
            dst_name: None,
            path: OnceLock::from(src_path),
            dst_path: OnceLock::from(dst_path),
            stat: None,
            src: Mutex::new(Side {
                fd: Some(Arc::new(src_fd)),
                released: Weak::new(),
            }),
            dst: Mutex::new(Side::default()),
            src_id: None,
            dst_id: OnceLock::new(),
            dst_dev: OnceLock::new(),
            dst_created: AtomicBool::new(false),
            dst_failed: AtomicBool::new(false),
            // The walk's share (see `pending`).
            pending: AtomicUsize::new(1),
        })
    }

    /// A directory inside `parent`, with its source opened as `fd`; `dst_name` is given only
    /// when it differs from `src_name`.
    pub(crate) fn child(
        parent: &Arc<DirNode>,
        src_name: CString,
        dst_name: Option<CString>,
        stat: Stat,
        fd: OwnedFd,
    ) -> Arc<DirNode> {
        DirNode::below(parent, src_name, dst_name, stat, Some(fd))
    }

    /// A directory inside `parent` that a worker opened and listed in its own descriptor table
    /// (a [`Candidate`](crate::Candidate) found to be a leaf): the node holds no descriptor of
    /// its source; [`DirNode::src_fd`] reopens it by name, checked against `stat`'s identity.
    pub fn listed_child(parent: &Arc<DirNode>, src_name: CString, stat: Stat) -> Arc<DirNode> {
        DirNode::below(parent, src_name, None, stat, None)
    }

    fn below(
        parent: &Arc<DirNode>,
        src_name: CString,
        dst_name: Option<CString>,
        stat: Stat,
        fd: Option<OwnedFd>,
    ) -> Arc<DirNode> {
        Arc::new(DirNode {
            parent: Some(Arc::clone(parent)),
            src_name,
            dst_name,
            path: OnceLock::new(),
            dst_path: OnceLock::new(),
            stat: Some(stat),
            src: Mutex::new(Side {
                fd: fd.map(Arc::new),
                released: Weak::new(),
            }),
            dst: Mutex::new(Side::default()),
            src_id: Some((stat.dev, stat.ino)),
            dst_id: OnceLock::new(),
            dst_dev: OnceLock::new(),
            dst_created: AtomicBool::new(false),
            dst_failed: AtomicBool::new(false),
            // The walk's share (see `pending`).
            pending: AtomicUsize::new(1),
        })
    }

    /// This directory, its parent, and so on up to the anchor.
    pub fn ancestry(&self) -> impl Iterator<Item = &DirNode> {
        std::iter::successors(Some(self), |node| node.parent.as_deref())
    }

    /// The parent directory (`None` for the anchor).
    pub fn parent(&self) -> Option<&Arc<DirNode>> {
        self.parent.as_ref()
    }

    /// True for the anchor, which is neither created nor finished.
    pub fn is_anchor(&self) -> bool {
        self.parent.is_none()
    }

    /// The source name within the parent.
    pub fn src_name(&self) -> &CStr {
        &self.src_name
    }

    /// The destination name within the parent.
    pub fn dst_name(&self) -> &CStr {
        self.dst_name.as_deref().unwrap_or(&self.src_name)
    }

    /// The source path, for messages.
    pub fn path(&self) -> &Path {
        self.path.get_or_init(|| {
            let parent = self.parent.as_ref().expect("the anchor's path is set");
            join(parent.path(), &self.src_name)
        })
    }

    /// The destination path, for messages.
    pub fn dst_path(&self) -> &Path {
        self.dst_path.get_or_init(|| {
            let parent = self.parent.as_ref().expect("the anchor's path is set");
            join(parent.dst_path(), self.dst_name())
        })
    }

    /// The source directory's metadata (`None` for the anchor).
    pub fn stat(&self) -> Option<&Stat> {
        self.stat.as_ref()
    }

    /// The source side's fd, reopening it from the nearest open ancestor if it was released.
    pub fn src_fd(&self) -> io::Result<Arc<OwnedFd>> {
        self.side_fd(Which::Src)
    }

    /// The destination side's fd (after the driver set it), reopening it if it was released.
    pub fn dst_fd(&self) -> io::Result<Arc<OwnedFd>> {
        self.side_fd(Which::Dst)
    }

    /// Records the destination directory the driver created (or merged into), with its identity
    /// so that a reopen can tell it was not swapped.
    /// `created` says whether this run made it (cp -r keeps a merged directory's mode).
    pub fn set_dst(&self, fd: OwnedFd, created: bool) -> io::Result<Arc<OwnedFd>> {
        let st = rfs::fstat(&fd)?;
        let fd = Arc::new(fd);
        // Set once: the driver records a directory's destination once (a second call keeps
        // the first identity, which is the one a reopen must find).
        let _ = self.dst_id.set(file_id(&st));
        self.dst_created.store(created, Ordering::Release);
        self.dst.lock().expect("lock").fd = Some(Arc::clone(&fd));
        Ok(fd)
    }

    /// The destination directory's identity, once created.
    pub fn dst_id(&self) -> Option<(u64, u64)> {
        self.dst_id.get().copied()
    }

    /// The destination directory's device, once known: from its identity, or as recorded by
    /// [`DirNode::set_dst_dev`].
    pub fn dst_dev(&self) -> Option<u64> {
        self.dst_id()
            .map(|(dev, _)| dev)
            .or_else(|| self.dst_dev.get().copied())
    }

    /// Records the destination's device without its identity (a worker made the directory in
    /// its parent: it is on the parent's filesystem). Workers read it to choose a kernel copy
    /// path without an `fstat` per directory.
    pub fn set_dst_dev(&self, dev: u64) {
        let _ = self.dst_dev.set(dev);
    }

    /// True when this run created the destination directory (rather than merging into it).
    pub fn dst_created(&self) -> bool {
        self.dst_created.load(Ordering::Acquire)
    }

    /// Marks the destination as not made: nothing inside this directory is copied.
    pub fn mark_dst_failed(&self) {
        self.dst_failed.store(true, Ordering::Release);
    }

    /// True when this directory's destination, or an ancestor's, could not be made.
    pub fn dst_failed(&self) -> bool {
        self.dst_failed.load(Ordering::Acquire)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.dst_failed.load(Ordering::Acquire))
    }

    /// Lets go of the source fd (holders of clones keep theirs); it is reopened on demand.
    pub fn release_src(&self) {
        if !self.is_anchor() {
            self.side(Which::Src).release();
        }
    }

    /// Lets go of the destination fd; it is reopened on demand.
    pub fn release_dst(&self) {
        if !self.is_anchor() {
            self.side(Which::Dst).release();
        }
    }

    /// Lets go of the source fd when the walk leaves this directory for its parent. If the
    /// parent's fd was released, it is reopened through this directory's `..`: one `openat`,
    /// where a walk down from the nearest open ancestor would cost one per level.
    pub fn release_src_upward(&self) {
        self.release_upward(Which::Src);
    }

    /// Lets go of the destination fd after the directory is finished, handing the parent an fd
    /// through `..` as [`DirNode::release_src_upward`] does.
    pub fn release_dst_upward(&self) {
        self.release_upward(Which::Dst);
    }

    fn release_upward(&self, which: Which) {
        let Some(parent) = self.parent.as_deref() else {
            return;
        };
        let Some(fd) = self.side(which).release() else {
            return;
        };
        // The parent's own fd, held, or let go of but still open (a batch holds it) and held
        // again: no `..` to open (nor a second descriptor of the same directory).
        if parent.is_anchor() || parent.side(which).hold_again() {
            return;
        }
        let up = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if let Ok(up) = rfs::openat(fd.as_fd(), c"..", up, Mode::empty()) {
            let same = rfs::fstat(&up).is_ok_and(|st| Some(file_id(&st)) == parent.id(which));
            let mut side = parent.side(which);
            if same && side.fd.is_none() {
                side.fd = Some(Arc::new(up));
            }
        }
    }

    /// True when the source fd is currently held.
    pub fn holds_src(&self) -> bool {
        self.src.lock().expect("lock").fd.is_some()
    }

    /// True when the destination fd is currently held.
    pub fn holds_dst(&self) -> bool {
        self.dst.lock().expect("lock").fd.is_some()
    }

    /// What keeps this directory from being finished (the driver's bookkeeping: its metadata
    /// is applied once this is zero): its files planned but not yet finished, plus one for the
    /// walk until [`Step::DirDone`](crate::Step::DirDone) says the planner is done with it.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// One more file of this directory planned.
    pub fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// One file of this directory finished, or the walk left it; returns what is left. The one
    /// that brings it to zero finishes the directory: no table of directories waiting for
    /// their last file is needed.
    pub fn finish_pending(&self) -> usize {
        let before = self.pending.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "a file finished that was never planned");
        before - 1
    }

    fn side(&self, which: Which) -> MutexGuard<'_, Side> {
        match which {
            Which::Src => self.src.lock().expect("lock"),
            Which::Dst => self.dst.lock().expect("lock"),
        }
    }

    /// The identity a side must have when reopened (`None`: not known, never matched).
    fn id(&self, which: Which) -> Option<(u64, u64)> {
        match which {
            Which::Src => self.src_id,
            Which::Dst => self.dst_id(),
        }
    }

    fn name(&self, which: Which) -> &CStr {
        match which {
            Which::Src => &self.src_name,
            Which::Dst => self.dst_name(),
        }
    }

    /// Returns the held fd, or reopens this directory by walking down from the nearest ancestor
    /// that holds one, checking each step's identity (a directory swapped for another, or for a
    /// symlink, mid-copy is refused, never followed). Only this node keeps the reopened fd, so a
    /// reopen never holds more than two extra descriptors at a time.
    fn side_fd(&self, which: Which) -> io::Result<Arc<OwnedFd>> {
        if let Some(fd) = self.side(which).open_fd() {
            return Ok(fd);
        }
        let mut chain: Vec<&DirNode> = vec![self];
        let base = loop {
            let node = chain.last().expect("chain starts non-empty");
            let parent = node
                .parent
                .as_deref()
                .ok_or_else(|| io::Error::other("anchor has no fd"))?;
            if let Some(fd) = parent.side(which).open_fd() {
                break fd;
            }
            chain.push(parent);
        };
        let mut current = base;
        for node in chain.iter().rev() {
            let fd = rfs::openat(current.as_fd(), node.name(which), DIR_FLAGS, Mode::empty())?;
            let st = rfs::fstat(&fd)?;
            if Some(file_id(&st)) != node.id(which) {
                return Err(io::Error::other("directory was replaced during the copy"));
            }
            current = Arc::new(fd);
        }
        self.side(which).fd = Some(Arc::clone(&current));
        Ok(current)
    }
}

#[derive(Debug, Clone, Copy)]
enum Which {
    Src,
    Dst,
}

/// `base/name`, keeping the name's bytes exactly.
pub(crate) fn join(base: &Path, name: &CStr) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    if name.to_bytes() == b"." {
        return base.to_path_buf();
    }
    // Sized up front: `Path::join` copies `base` and then grows the copy for the name (a
    // reallocation for most of the tree's directories, on the walking thread).
    let mut path = PathBuf::with_capacity(base.as_os_str().len() + 1 + name.to_bytes().len());
    path.push(base);
    path.push(std::ffi::OsStr::from_bytes(name.to_bytes()));
    path
}

#[cfg(test)]
mod tests {
    use super::join;
    use std::path::Path;

    /// A released side whose fd a batch still holds gives that very fd back (no reopen, so no
    /// new descriptor); once nothing holds it, the directory is reopened by name.
    #[test]
    fn a_released_fd_still_held_elsewhere_is_taken_back() {
        use std::sync::Arc;

        use super::DirNode;
        use crate::Stat;

        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        let open = |p: &Path| std::fs::File::open(p).unwrap().into();
        let anchor = DirNode::anchor(open(t.path()), t.path().into(), t.path().join("out"));
        let st = rustix::fs::stat(t.path().join("d")).unwrap();
        let node = DirNode::child(
            &anchor,
            c"d".into(),
            None,
            Stat::from(&st),
            open(&t.path().join("d")),
        );
        let held = node.src_fd().unwrap();
        node.release_src();
        assert!(!node.holds_src());
        let again = node.src_fd().unwrap();
        assert!(
            Arc::ptr_eq(&held, &again),
            "the held fd, not a reopened one"
        );
        assert!(
            !node.holds_src(),
            "taking it back does not make the node hold it"
        );
        drop((held, again));
        let reopened = node.src_fd().unwrap();
        assert!(node.holds_src(), "a reopened fd is the node's");
        assert!(rustix::fs::fstat(&*reopened).is_ok());
    }

    /// A child leaving for its parent gives the parent back the parent's own fd while a batch
    /// still holds it, instead of opening `..`.
    #[test]
    fn leaving_upward_takes_back_the_parents_fd_still_held() {
        use std::sync::Arc;

        use super::DirNode;
        use crate::Stat;

        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("p/c")).unwrap();
        let open = |p: &Path| std::fs::File::open(p).unwrap().into();
        let stat = |p: &Path| Stat::from(&rustix::fs::stat(p).unwrap());
        let anchor = DirNode::anchor(open(t.path()), t.path().into(), t.path().join("out"));
        let (p, c) = (t.path().join("p"), t.path().join("p/c"));
        let parent = DirNode::child(&anchor, c"p".into(), None, stat(&p), open(&p));
        let child = DirNode::child(&parent, c"c".into(), None, stat(&c), open(&c));
        let held = parent.src_fd().unwrap();
        parent.release_src();
        child.release_src_upward();
        assert!(parent.holds_src());
        let back = parent.src_fd().unwrap();
        assert!(Arc::ptr_eq(&held, &back), "the parent's own fd, not `..`");
    }

    #[test]
    fn join_is_path_join_with_the_name_bytes_kept() {
        assert_eq!(join(Path::new("a/b"), c"c"), Path::new("a/b/c"));
        assert_eq!(join(Path::new("a/b/"), c"c"), Path::new("a/b/c"));
        assert_eq!(join(Path::new("/"), c"x"), Path::new("/x"));
        assert_eq!(join(Path::new(""), c"x"), Path::new("x"));
        assert_eq!(join(Path::new("a"), c"."), Path::new("a"));
        let odd = c"\xff name";
        assert_eq!(
            join(Path::new("d"), odd),
            Path::new("d").join(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(odd.to_bytes())
            )
        );
    }
}
