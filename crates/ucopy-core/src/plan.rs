//! The planner: a streaming walk of the source that yields [`Step`]s in an order a driver can
//! carry out directly.
//!
//! - Directories are opened relative to their parent's fd with `O_NOFOLLOW`, and each opened
//!   directory is checked against the identity its listing reported, so a directory swapped for
//!   a symlink mid-copy is refused instead of followed (docs/behaviours.md row 32).
//! - A directory's entries are listed once (`getdents64`), then taken one at a time, so memory
//!   holds one listing per open level, not the tree (row 35).
//! - Files are ordered by the inode number the directory entry already carries (no extra stat
//!   for ordering) and grouped across directories into batches of `queue_depth`.
//! - Source directory fds beyond `max_open_dirs` are released from the bottom of the stack and
//!   reopened when the walk comes back up (row 28: `ulimit -n 64`, 2,000 levels).
//! - [`Step::DirDone`] comes after everything inside the directory (post-order), so the driver
//!   can apply its mode and times last, at every level (rows 16, 17).

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;

use crate::node::{join, DirNode, DIR_FLAGS};
use crate::{file_id, Dereference, EntryError, Exclude, Kind, Op, Options, Order, Stat, Update};

/// Settings the planner needs.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// File order within a directory.
    pub order: Order,
    /// Files per batch.
    pub queue_depth: usize,
    /// Keep hard links as hard links (`-a`): files with `nlink > 1` are grouped by inode.
    pub preserve_links: bool,
    /// Source directory fds the walk may hold at once (at least 2).
    pub max_open_dirs: usize,
    /// Distinct directories one batch may reference (each costs the driver two fds).
    pub max_dirs_per_batch: usize,
    /// Which symlinks are followed (`-P`, `-H`, `-L`); a trailing `/` on the source always
    /// follows it.
    pub dereference: Dereference,
    /// `-x`: directories on another filesystem than the source's top are created but not
    /// walked.
    pub one_file_system: bool,
    /// `--exclude`: entries matched are neither copied nor walked.
    pub exclude: Option<Arc<Exclude>>,
    /// `fstatat` every regular file while planning. Without it (a copy that keeps no hard links,
    /// so needs no link count up front), a file whose directory entry says "regular" is planned
    /// from the entry alone ([`Stat::regular_from_dirent`]) and the worker that opens it takes
    /// its metadata from the descriptor: no single thread stats every file (on many cores it
    /// would be the ceiling), a cold inode is read by the open that needs it anyway (in
    /// parallel, not at queue depth 1 on the planning thread), and the metadata is the opened
    /// file's, not a stale one's.
    pub stat_files: bool,
}

impl PlanOptions {
    /// The planner's share of the copy options.
    pub fn from_options(options: &Options) -> PlanOptions {
        PlanOptions {
            order: options.order,
            queue_depth: options.queue_depth,
            // -l and -s make a link per name whatever its inode: nothing to group (cp's
            // `preserve_links && !hard_link`), and no table of every inode to keep.
            preserve_links: options.preserved().links && options.link_mode == crate::LinkMode::Copy,
            dereference: options.dereference,
            one_file_system: options.one_file_system,
            exclude: options.exclude.clone(),
            // Hard links need every file's link count while planning, and `-u` decides from
            // the source's mtime before the file is opened; otherwise the workers stat the
            // files they open.
            stat_files: (options.preserved().links && options.link_mode == crate::LinkMode::Copy)
                || options.update == Update::Older,
            ..PlanOptions::default()
        }
    }
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            order: Order::Inode,
            queue_depth: crate::DEFAULT_QUEUE_DEPTH,
            preserve_links: false,
            max_open_dirs: 64,
            max_dirs_per_batch: 64,
            dereference: Dereference::Never,
            one_file_system: false,
            exclude: None,
            stat_files: true,
        }
    }
}

/// A start-up failure: nothing can be copied for this source.
#[derive(Debug, thiserror::Error)]
#[error("cannot {verb} '{path}': {cause}", path = .path.display(), cause = crate::cause(.source))]
pub struct PlanError {
    /// What could not be done.
    pub verb: &'static str,
    /// The path the user named.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// One non-directory entry of the source.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The directory holding it.
    pub dir: Arc<DirNode>,
    /// Its name in the source directory.
    pub src_name: CString,
    /// Its name in the destination directory (differs only for a renamed top-level entry).
    pub dst_name: CString,
    /// Its metadata when planned (of what it resolves to, when `resolved` is set).
    pub stat: Stat,
    /// Under `-L`/`-H`, a symlink followed: the directory and name of the object it resolves to,
    /// which is what gets read. `src_name` stays the name the user sees.
    pub resolved: Option<(Arc<OwnedFd>, CString)>,
}

impl Entry {
    /// The source path, for messages.
    pub fn path(&self) -> PathBuf {
        join(self.dir.path(), &self.src_name)
    }

    /// The destination path, for messages.
    pub fn dst_path(&self) -> PathBuf {
        join(self.dir.dst_path(), &self.dst_name)
    }

    /// The directory and name to read the source object from: its own, or (a followed
    /// symlink) those of what it resolves to. `dir_fd` is the entry's directory's fd.
    pub fn src_at<'a>(&'a self, dir_fd: &'a Arc<OwnedFd>) -> (&'a Arc<OwnedFd>, &'a CStr) {
        match &self.resolved {
            Some((fd, name)) => (fd, name),
            None => (dir_fd, &self.src_name),
        }
    }
}

/// Follows the symlink `name` in `dir` to the last object of its chain, returning that object's
/// directory (opened) and name, so it can be opened with `O_NOFOLLOW` like any other entry.
pub fn resolve_symlink(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<(OwnedFd, CString)> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = rfs::openat(dir, c".", dir_flags, Mode::empty())?;
    let mut name = name.to_owned();
    for _ in 0..40 {
        let st = rfs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            return Ok((dir, name));
        }
        let target = rfs::readlinkat(&dir, &name, Vec::new())?.into_bytes();
        match target.iter().rposition(|b| *b == b'/') {
            None => name = CString::new(target).expect("readlink has no NUL"),
            Some(i) => {
                let dir_part: &[u8] = if i == 0 { b"/" } else { &target[..i] };
                let last = &target[i + 1..];
                if last.is_empty() || last == b"." || last == b".." {
                    return Err(Errno::ISDIR.into());
                }
                dir = rfs::openat(
                    &dir,
                    std::ffi::OsStr::from_bytes(dir_part),
                    dir_flags,
                    Mode::empty(),
                )?;
                name = CString::new(last).expect("readlink has no NUL");
            }
        }
    }
    Err(Errno::LOOP.into())
}

/// A regular file to copy.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// What and where.
    pub entry: Entry,
    /// The source directory's fd, held until the file is copied.
    pub src_dir: Arc<OwnedFd>,
    /// The hard-link group this file is the first name of, under `-a`.
    pub link: Option<Arc<LinkGroup>>,
}

/// How the first name of a hard-linked inode fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// Planned, not finished yet.
    Planned,
    /// Copied: later names become links to it.
    Copied,
    /// Failed: the next name is copied as a file and becomes the first.
    Failed,
}

/// The names of one inode seen so far in the tree (`-a`).
#[derive(Debug)]
pub struct LinkGroup {
    state: Mutex<(LinkStatus, Arc<DirNode>, CString)>,
    batch: u64,
}

impl LinkGroup {
    /// Where the first name was copied to, and how that went.
    pub fn first(&self) -> (LinkStatus, Arc<DirNode>, CString) {
        let s = self.state.lock().expect("lock");
        (s.0, Arc::clone(&s.1), s.2.clone())
    }

    /// Records how copying the first name went.
    pub fn set_status(&self, status: LinkStatus) {
        self.state.lock().expect("lock").0 = status;
    }

    /// Makes another name the first (after the first failed), already copied.
    pub fn set_first(&self, dir: Arc<DirNode>, name: CString) {
        *self.state.lock().expect("lock") = (LinkStatus::Copied, dir, name);
    }
}

/// One thing for the driver to do, in order.
#[derive(Debug)]
pub enum Step {
    /// Create (or merge into) this destination directory; its entries follow.
    Dir(Arc<DirNode>),
    /// Regular files to copy. Each file's directory was announced before.
    Files(Vec<PlannedFile>),
    /// A symlink to recreate with this exact target.
    Symlink(Entry, OsString),
    /// A FIFO, socket or device node to recreate (never opened).
    Special(Entry),
    /// Another name of an inode already planned: link it to the group's first name.
    HardLink(Entry, Arc<LinkGroup>),
    /// Nothing more will be planned inside this directory; its files may still be in flight.
    DirDone(Arc<DirNode>),
    /// An entry of the source could not be read; the walk goes on.
    Error(EntryError),
}

struct Frame {
    node: Arc<DirNode>,
    /// Remaining listing, reversed (next entry last): name, inode, and whether the entry's
    /// type says regular file.
    entries: Vec<(CString, u64, bool)>,
    /// Subdirectories found so far, visited after the files.
    subdirs: Vec<(CString, Stat)>,
    listed: bool,
    subdirs_reversed: bool,
    /// The destination directory's identity, once the driver made it (known when the frame is
    /// listed): no directory entered below may be it.
    dst_id: Option<(u64, u64)>,
}

/// What the top-level source is, decided before anything is created.
#[derive(Debug)]
enum Start {
    Dir(Arc<DirNode>),
    Entry(Entry),
}

/// The streaming plan of one top-level source. An iterator of [`Step`]s.
pub struct Planner {
    options: PlanOptions,
    anchor: Arc<DirNode>,
    start: Option<Start>,
    /// The top directory's device (for `-x`) and path (for `--exclude`).
    root: Option<(u64, PathBuf)>,
    stack: Vec<Frame>,
    ready: VecDeque<Step>,
    batch: Vec<PlannedFile>,
    batch_dirs: usize,
    batch_seq: u64,
    links: HashMap<(u64, u64), (Arc<LinkGroup>, u64)>,
    dirent_buf: Vec<MaybeUninit<u8>>,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

/// Splits an operator-named path into the directory to open and the name within it, keeping a
/// display form of the directory (empty when the path has no directory part). `a/.`, `.` and
/// `/` name the directory itself (`a/.` merges contents), so their name is `.`.
pub fn split_operand(path: &Path) -> (PathBuf, CString) {
    let bytes = path.as_os_str().as_bytes();
    let mut end = bytes.len();
    while end > 1 && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &bytes[..end];
    let (dir, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|b| *b == b'/') {
        _ if trimmed == b"/" => (trimmed, b"."),
        Some(i) => (&trimmed[..i.max(usize::from(i == 0))], &trimmed[i + 1..]),
        None => (b"", trimmed),
    };
    let (dir, name) = if name == b"." || name == b".." {
        (trimmed, &b"."[..])
    } else {
        (dir, name)
    };
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir));
    (dir, CString::new(name).expect("paths have no NUL"))
}

/// Opens an operator-named directory (following symlinks, as cp does for operands).
pub fn open_operand_dir(dir: &Path) -> io::Result<OwnedFd> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok(rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

impl Planner {
    /// Plans copying `source` to exactly `dest` (the caller resolved "into a directory"
    /// semantics). A trailing `/` on `source` dereferences a symlink to a directory, as with cp.
    pub fn new(source: &Path, dest: &Path, options: PlanOptions) -> Result<Planner, PlanError> {
        let err = |verb, e| PlanError {
            verb,
            path: source.to_path_buf(),
            source: e,
        };
        let (src_dir, src_name) = split_operand(source);
        let (dst_dir, dst_name) = split_operand(dest);
        let anchor_fd = open_operand_dir(&src_dir).map_err(|e| err("stat", e))?;
        let follow = source.as_os_str().as_bytes().ends_with(b"/")
            || options.dereference != Dereference::Never;
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        let raw = rfs::statat(&anchor_fd, &src_name, flags).map_err(|e| err("stat", e.into()))?;
        let stat = Stat::from(&raw);
        let resolved = if follow && stat.kind() != Kind::Dir {
            let (fd, name) =
                resolve_symlink(anchor_fd.as_fd(), &src_name).map_err(|e| err("stat", e))?;
            (name != src_name || !is_same_dir(&fd, &anchor_fd)).then(|| (Arc::new(fd), name))
        } else {
            None
        };
        let anchor = DirNode::anchor(anchor_fd, src_dir, dst_dir);
        let start = if stat.kind() == Kind::Dir {
            let open_flags = if follow {
                DIR_FLAGS.difference(OFlags::NOFOLLOW)
            } else {
                DIR_FLAGS
            };
            let fd = rfs::openat(
                anchor.src_fd().map_err(|e| err("open", e))?.as_fd(),
                &src_name,
                open_flags,
                Mode::empty(),
            )
            .map_err(|e| err("open", e.into()))?;
            Start::Dir(DirNode::child(&anchor, src_name, dst_name, stat, fd))
        } else {
            Start::Entry(Entry {
                dir: Arc::clone(&anchor),
                src_name,
                dst_name,
                stat,
                resolved,
            })
        };
        Ok(Planner {
            options: PlanOptions {
                queue_depth: options.queue_depth.max(1),
                max_open_dirs: options.max_open_dirs.max(2),
                max_dirs_per_batch: options.max_dirs_per_batch.max(1),
                ..options
            },
            anchor,
            start: Some(start),
            root: None,
            stack: Vec::new(),
            ready: VecDeque::new(),
            batch: Vec::new(),
            batch_dirs: 0,
            batch_seq: 0,
            links: HashMap::new(),
            dirent_buf: vec![MaybeUninit::uninit(); 64 << 10],
        })
    }

    /// What this plan was made with.
    pub fn options(&self) -> &PlanOptions {
        &self.options
    }

    /// The anchor: the directories holding the top-level source and destination.
    pub fn anchor(&self) -> &Arc<DirNode> {
        &self.anchor
    }

    /// True when the top-level source is a directory.
    pub fn is_tree(&self) -> bool {
        matches!(self.start, Some(Start::Dir(_))) || !self.stack.is_empty()
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.ready
                .push_back(Step::Files(std::mem::take(&mut self.batch)));
            self.batch_dirs = 0;
            self.batch_seq += 1;
        }
    }

    fn add_file(&mut self, entry: Entry, src_dir: Arc<OwnedFd>, link: Option<Arc<LinkGroup>>) {
        let new_dir = self
            .batch
            .last()
            .is_none_or(|f| !Arc::ptr_eq(&f.entry.dir, &entry.dir));
        if new_dir && self.batch_dirs >= self.options.max_dirs_per_batch {
            self.flush();
        }
        if new_dir || self.batch.is_empty() {
            self.batch_dirs += 1;
        }
        *entry.dir.pending() += 1;
        self.batch.push(PlannedFile {
            entry,
            src_dir,
            link,
        });
        if self.batch.len() >= self.options.queue_depth {
            self.flush();
        }
    }

    /// Plans one non-directory entry.
    fn plan_entry(&mut self, entry: Entry, src_dir: &Arc<OwnedFd>) {
        let resolved_dir = entry.resolved.as_ref().map(|(fd, _)| Arc::clone(fd));
        let src_dir = resolved_dir.as_ref().unwrap_or(src_dir);
        match entry.stat.kind() {
            Kind::File => {
                // Under -L a file reached through symlinks is one more name of it, whatever its
                // link count says (cp's rule: `-L --preserve=links` links what dereferences to
                // one file), so every file is remembered and none forgotten early.
                let via_symlinks = self.options.dereference == Dereference::Always;
                if self.options.preserve_links && (entry.stat.nlink > 1 || via_symlinks) {
                    let key = (entry.stat.dev, entry.stat.ino);
                    if let Some((group, seen)) = self.links.get_mut(&key) {
                        let group = Arc::clone(group);
                        *seen += 1;
                        if *seen >= entry.stat.nlink && !via_symlinks {
                            self.links.remove(&key); // every name seen: free the memory
                        }
                        if group.batch == self.batch_seq {
                            self.flush(); // the first name must be handed out before its links
                        }
                        self.ready.push_back(Step::HardLink(entry, group));
                        return;
                    }
                    let group = Arc::new(LinkGroup {
                        state: Mutex::new((
                            LinkStatus::Planned,
                            Arc::clone(&entry.dir),
                            entry.dst_name.clone(),
                        )),
                        batch: self.batch_seq,
                    });
                    self.links.insert(key, (Arc::clone(&group), 1));
                    self.add_file(entry, Arc::clone(src_dir), Some(group));
                } else {
                    self.add_file(entry, Arc::clone(src_dir), None);
                }
            }
            Kind::Symlink => {
                match rfs::readlinkat(src_dir.as_fd(), entry.src_at(src_dir).1, Vec::new()) {
                    Ok(target) => {
                        let target = OsString::from_vec(target.into_bytes());
                        self.ready.push_back(Step::Symlink(entry, target));
                    }
                    Err(e) => self.ready.push_back(Step::Error(EntryError::new(
                        entry.path(),
                        Op::ReadLink,
                        e,
                    ))),
                }
            }
            Kind::Special => self.ready.push_back(Step::Special(entry)),
            Kind::Dir => unreachable!("directories are planned as frames"),
        }
    }

    /// Opens `name` in the top frame's directory and pushes it as a new frame.
    fn enter(&mut self, name: CString, stat: Stat) {
        let parent = Arc::clone(&self.stack.last().expect("a frame").node);
        let path = join(parent.path(), &name);
        // A directory that is the destination of this directory or of one of its ancestors
        // (reached through a bind mount, or because the destination lies inside the source)
        // would be copied into itself, level after level, until the disk is full. cp refuses
        // it per directory; so do we (docs/behaviours.md row 38). Comparing identities catches
        // every route to it.
        let id = (stat.dev, stat.ino);
        if let Some(frame) = self.stack.iter().rev().find(|f| f.dst_id == Some(id)) {
            let dest = frame.node.dst_path().display().to_string();
            self.ready.push_back(Step::Error(EntryError::new(
                path,
                Op::IntoItself,
                io::Error::other(format!(
                    "it is the destination directory '{dest}'; not copying a directory into itself"
                )),
            )));
            return;
        }
        let flags = if self.options.dereference == Dereference::Always {
            DIR_FLAGS.difference(OFlags::NOFOLLOW)
        } else {
            DIR_FLAGS
        };
        let opened = parent.src_fd().and_then(|pfd| {
            let fd = rfs::openat(pfd.as_fd(), &name, flags, Mode::empty())?;
            let st = rfs::fstat(&fd)?;
            if file_id(&st) != (stat.dev, stat.ino) {
                return Err(io::Error::other("directory was replaced during the copy"));
            }
            Ok(fd)
        });
        // Following symlinks (-L) can lead back up the tree: cp refuses such a directory.
        let opened = opened.and_then(|fd| {
            let own = (stat.dev, stat.ino);
            if self.options.dereference == Dereference::Always
                && self
                    .stack
                    .iter()
                    .any(|f| f.node.stat().is_some_and(|s| (s.dev, s.ino) == own))
            {
                return Err(io::Error::other(
                    "directory is its own ancestor (symlink loop)",
                ));
            }
            Ok(fd)
        });
        match opened {
            Ok(fd) => {
                let node = DirNode::child(&parent, name.clone(), name, stat, fd);
                self.push_frame(node);
            }
            Err(e) => {
                let op = if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) {
                    Op::Changed
                } else {
                    Op::Open
                };
                self.ready
                    .push_back(Step::Error(EntryError::new(path, op, e)));
            }
        }
    }

    fn push_frame(&mut self, node: Arc<DirNode>) {
        if self.root.is_none() {
            let dev = node.stat().map_or(0, |s| s.dev);
            self.root = Some((dev, node.path().to_path_buf()));
        }
        self.ready.push_back(Step::Dir(Arc::clone(&node)));
        self.stack.push(Frame {
            node,
            entries: Vec::new(),
            subdirs: Vec::new(),
            listed: false,
            subdirs_reversed: false,
            dst_id: None,
        });
        // Keep at most max_open_dirs source fds: release from the bottom (never the top, which
        // is being listed). Released ones reopen from an open ancestor when the walk returns.
        let open = self.stack.iter().filter(|f| f.node.holds_src()).count();
        let mut excess = open.saturating_sub(self.options.max_open_dirs);
        for frame in &self.stack[..self.stack.len() - 1] {
            if excess == 0 {
                break;
            }
            if frame.node.holds_src() {
                frame.node.release_src();
                excess -= 1;
            }
        }
    }

    /// Lists the top frame's directory.
    fn list_top(&mut self) {
        let frame = self.stack.last_mut().expect("a frame");
        frame.listed = true;
        frame.dst_id = frame.node.dst_id();
        if frame.node.dst_failed() {
            return; // its destination could not be made: nothing inside can be copied
        }
        if self.options.one_file_system {
            let root_dev = self.root.as_ref().map(|(dev, _)| *dev);
            if frame.node.stat().map(|s| s.dev) != root_dev {
                return; // -x: a mount point is created, empty
            }
        }
        let fd = match frame.node.src_fd() {
            Ok(fd) => fd,
            Err(e) => {
                self.ready
                    .push_back(Step::Error(EntryError::new(frame.node.path(), Op::Open, e)));
                return;
            }
        };
        let mut entries = Vec::new();
        let mut dir = RawDir::new(fd.as_fd(), &mut self.dirent_buf);
        while let Some(item) = dir.next() {
            match item {
                Ok(e) => {
                    let name = e.file_name();
                    if name == c"." || name == c".." {
                        continue;
                    }
                    let regular = e.file_type() == FileType::RegularFile;
                    entries.push((name.to_owned(), e.ino(), regular));
                }
                Err(e) => {
                    self.ready.push_back(Step::Error(EntryError::new(
                        frame.node.path(),
                        Op::ReadDir,
                        e,
                    )));
                    break;
                }
            }
        }
        if self.options.order == Order::Inode {
            entries.sort_unstable_by_key(|(_, ino, _)| *ino);
        }
        entries.reverse();
        frame.entries = entries;
    }

    /// Takes the next entry of the top frame, if any; `false` when its listing is exhausted.
    fn step_top(&mut self) -> bool {
        let frame = self.stack.last_mut().expect("a frame");
        let Some((name, ino, regular)) = frame.entries.pop() else {
            return false;
        };
        let node = Arc::clone(&frame.node);
        let fd = match node.src_fd() {
            Ok(fd) => fd,
            Err(e) => {
                self.ready
                    .push_back(Step::Error(EntryError::new(node.path(), Op::Open, e)));
                self.stack.last_mut().expect("a frame").entries.clear();
                return true;
            }
        };
        let unstatted = (regular && !self.options.stat_files)
            .then(|| node.stat().map(|s| Stat::regular_from_dirent(s.dev, ino)))
            .flatten();
        let stat = match unstatted.map_or_else(
            || rfs::statat(fd.as_fd(), &name, AtFlags::SYMLINK_NOFOLLOW).map(|st| Stat::from(&st)),
            Ok,
        ) {
            Ok(st) => st,
            Err(Errno::NOENT) => return true, // vanished since the listing: nothing to copy
            Err(e) => {
                self.ready.push_back(Step::Error(EntryError::new(
                    join(node.path(), &name),
                    Op::Stat,
                    e,
                )));
                return true;
            }
        };
        if let Some(exclude) = &self.options.exclude {
            let path = join(node.path(), &name);
            let root = self.root.as_ref().map(|(_, p)| p.as_path());
            let rel = root
                .and_then(|r| path.strip_prefix(r).ok())
                .unwrap_or(&path);
            if exclude.excludes(rel, stat.kind() == Kind::Dir) {
                return true;
            }
        }
        let (stat, resolved) =
            if stat.kind() == Kind::Symlink && self.options.dereference == Dereference::Always {
                match self.follow(&fd, &name) {
                    Ok(r) => r,
                    Err(e) => {
                        self.ready.push_back(Step::Error(EntryError::new(
                            join(node.path(), &name),
                            Op::Stat,
                            e,
                        )));
                        return true;
                    }
                }
            } else {
                (stat, None)
            };
        if FileType::from_raw_mode(stat.mode) == FileType::Directory {
            self.stack
                .last_mut()
                .expect("a frame")
                .subdirs
                .push((name, stat));
        } else {
            let entry = Entry {
                dir: node,
                src_name: name.clone(),
                dst_name: name,
                stat,
                resolved,
            };
            self.plan_entry(entry, &fd);
        }
        true
    }
}

impl Planner {
    /// `-L`: what the symlink `name` in `fd` resolves to — its stat, and for a non-directory
    /// where to read it from.
    #[allow(clippy::type_complexity)]
    fn follow(
        &self,
        fd: &Arc<OwnedFd>,
        name: &CStr,
    ) -> io::Result<(Stat, Option<(Arc<OwnedFd>, CString)>)> {
        let st = Stat::from(&rfs::statat(fd.as_fd(), name, AtFlags::empty())?);
        if st.kind() == Kind::Dir {
            return Ok((st, None));
        }
        let (dir, real) = resolve_symlink(fd.as_fd(), name)?;
        Ok((st, Some((Arc::new(dir), real))))
    }
}

/// True when two directory fds are the same directory.
fn is_same_dir(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (rfs::fstat(a), rfs::fstat(b)) {
        (Ok(x), Ok(y)) => file_id(&x) == file_id(&y),
        _ => false,
    }
}

impl Iterator for Planner {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        loop {
            if let Some(step) = self.ready.pop_front() {
                return Some(step);
            }
            if let Some(start) = self.start.take() {
                match start {
                    Start::Dir(node) => self.push_frame(node),
                    Start::Entry(entry) => match self.anchor.src_fd() {
                        Ok(fd) => self.plan_entry(entry, &fd),
                        Err(e) => self.ready.push_back(Step::Error(EntryError::new(
                            entry.path(),
                            Op::Open,
                            e,
                        ))),
                    },
                }
                continue;
            }
            let Some(frame) = self.stack.last() else {
                self.flush();
                return self.ready.pop_front();
            };
            if !frame.listed {
                self.list_top();
                continue;
            }
            if self.step_top() {
                continue;
            }
            // Files listed; now the subdirectories, in listing order (reversed once, popped).
            let frame = self.stack.last_mut().expect("a frame");
            if !frame.subdirs_reversed {
                frame.subdirs.reverse();
                frame.subdirs_reversed = true;
            }
            if let Some((name, stat)) = frame.subdirs.pop() {
                self.enter(name, stat);
                continue;
            }
            let frame = self.stack.pop().expect("a frame");
            frame.node.release_src_upward();
            self.ready.push_back(Step::DirDone(frame.node));
        }
    }
}

/// The name bytes of a C string, as an `OsStr` for display.
pub fn name_os(name: &CStr) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(name.to_bytes())
}
