//! The planner: a streaming walk of the source that yields [`Step`]s in an order a driver can
//! carry out directly.
//!
//! - Directories are opened relative to their parent's fd with `O_NOFOLLOW`, and each opened
//!   directory is checked against the identity its listing reported, so a directory swapped for
//!   a symlink mid-copy is refused instead of followed (docs/behaviour-table.md row 32).
//! - A directory's entries are listed once (`getdents64`), then taken one at a time, so memory
//!   holds one listing per open level, not the tree (row 35).
//! - Files are ordered by the inode number the directory entry already carries (no extra stat
//!   for ordering) and grouped across directories into batches of `queue_depth`.
//! - Source directory fds beyond `max_open_dirs` are released from the bottom of the stack and
//!   reopened when the walk comes back up (row 28: `ulimit -n 64`, 2,000 levels).
//! - [`Step::DirDone`] comes after everything inside the directory (post-order), so the driver
//!   can apply its mode and times last, at every level (rows 16, 17).
//!
//! This file holds what the planner yields and its loop (`Iterator for Planner`); the walk and
//! the source directory fd budget are in `walk`, batching and hard-link groups in `batch`, and
//! naming and opening what the user named in `operand`.

mod batch;
mod leaf;
mod operand;
mod walk;

pub use leaf::{files_and_subdirs_in, leaf_files_in, LeafRules, SUBTREE_DIRS};
use operand::is_same_dir;
pub use operand::{name_os, open_operand_dir, resolve_symlink, split_operand};
pub use walk::destination_among_ancestors;

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

use crate::node::{join, DirNode, DIR_FLAGS};
use crate::{
    Dereference, EntryError, Exclude, Kind, Name, NameBlock, Op, Options, Order, Stat, Update,
};

/// Most files in one batch by default ([`PlanOptions::batch_files`]): a directory of up to this
/// many files goes to one worker whole, and a directory larger than that is still shared between
/// workers (a tree that is one big directory keeps every core busy).
pub const DEFAULT_BATCH_FILES: usize = 256;

/// With [`PlanOptions::workers_list_leaves`], a directory's subdirectories come as candidates
/// only where it has at least this many: a fan-out (a `node_modules`, a tree of tiny
/// directories), where the walk's open, stat and listing of each would be most of the work per
/// directory. Elsewhere the walk enters them itself, in its own order (PERF.md, "Leaf
/// candidates": on a Rust toolchain, naming every subdirectory made the copy 16 % slower).
pub const CANDIDATES_FROM_SUBDIRS: usize = 16;

/// Settings the planner needs.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// File order within a directory.
    pub order: Order,
    /// Files one executor keeps in flight; also the size a batch of small directories'
    /// files reaches before it is handed out.
    pub queue_depth: usize,
    /// Most files in one batch (the unit one worker takes). A directory's files stay in one
    /// batch up to this many, so that one worker at a time creates in it: two workers creating
    /// in one directory contend for its lock (`i_rwsem`), which `perf` showed as a tenth of a
    /// warm copy's cycles. At least `queue_depth`; a batch longer than that runs in groups of it.
    pub batch_files: usize,
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
    /// Hand a subdirectory that holds nothing but regular files, at most this many, to one
    /// worker whole ([`Step::Leaf`]): the worker makes it, copies its files and finishes it, so
    /// the directory and its files are created on one CPU and no file of it passes through the
    /// driver. A directory holding a file with other names while hard links are kept is no
    /// leaf. 0 (the default) never does; the driver sets it only for copies that plan nothing
    /// per entry beyond a stat (no `--exclude`, `-L`, `-x`: see `ucopy-fs`'s
    /// `driver/leaves.rs`).
    pub leaf_files: usize,
    /// With [`PlanOptions::leaf_files`], a subdirectory of a directory with at least
    /// [`CANDIDATES_FROM_SUBDIRS`] of them is not opened by the walk at all: it comes as a
    /// [`Step::Candidate`] for a
    /// worker to open and list in its own descriptor table, and if it is no leaf the driver
    /// gives it back ([`Planner::revisit`]) and the walk enters it then. The walking thread then
    /// spends nothing per leaf directory; a directory that is no leaf is listed twice, so the
    /// driver turns this off for the rest of a tree where many come back
    /// ([`Planner::stop_candidates`]).
    pub workers_list_leaves: bool,
}

impl PlanOptions {
    /// The planner's share of the copy options.
    pub fn from_options(options: &Options) -> PlanOptions {
        PlanOptions {
            order: options.order,
            queue_depth: options.queue_depth,
            batch_files: DEFAULT_BATCH_FILES,
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
            batch_files: DEFAULT_BATCH_FILES,
            preserve_links: false,
            max_open_dirs: 64,
            max_dirs_per_batch: 64,
            dereference: Dereference::Never,
            one_file_system: false,
            exclude: None,
            stat_files: true,
            leaf_files: 0,
            workers_list_leaves: false,
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
    pub src_name: Name,
    /// Its name in the destination directory (differs only for a renamed top-level entry; else
    /// the same allocation as `src_name`).
    pub dst_name: Name,
    /// Its metadata when planned (of what it resolves to, when `resolved` is set).
    pub stat: Stat,
    /// Under `-L`/`-H`, a symlink followed: the directory and name of the object it resolves to,
    /// which is what gets read. `src_name` stays the name the user sees.
    pub resolved: Option<(Arc<OwnedFd>, Name)>,
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
    state: Mutex<(LinkStatus, Arc<DirNode>, Name)>,
    batch: u64,
}

impl LinkGroup {
    /// Where the first name was copied to, and how that went.
    pub fn first(&self) -> (LinkStatus, Arc<DirNode>, Name) {
        let s = self.state.lock().expect("lock");
        (s.0, Arc::clone(&s.1), s.2.clone())
    }

    /// Records how copying the first name went.
    pub fn set_status(&self, status: LinkStatus) {
        self.state.lock().expect("lock").0 = status;
    }

    /// Makes another name the first (after the first failed), already copied.
    pub fn set_first(&self, dir: Arc<DirNode>, name: Name) {
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
    /// A directory holding only regular files, listed whole: make it, copy the files, finish
    /// it (only with [`PlanOptions::leaf_files`]; no [`Step::Dir`] or [`Step::DirDone`] comes
    /// for it, and its parent's [`Step::DirDone`] may come before the leaf is copied).
    Leaf(LeafDir),
    /// A subdirectory not opened by the walk (only with [`PlanOptions::workers_list_leaves`]):
    /// a worker opens and lists it, copies it whole if it is a leaf, else hands it back to
    /// [`Planner::revisit`]. Nothing else comes for it until then; its parent's
    /// [`Step::DirDone`] may come before.
    Candidate(Candidate),
    /// A directory given back by [`Planner::revisit`] was entered (its [`Step::Dir`], or an
    /// error, came just before): its parent no longer waits for it as a candidate.
    Revisited(Arc<DirNode>),
    /// An entry of the source could not be read; the walk goes on.
    Error(EntryError),
}

/// A directory of regular files only, for one worker to copy whole ([`Step::Leaf`]).
#[derive(Debug)]
pub struct LeafDir {
    /// The directory, its source opened; its destination is not made yet.
    pub node: Arc<DirNode>,
    /// Its files and their metadata as planned, in the plan's order: from a stat where the plan
    /// stats files ([`PlanOptions::stat_files`]), else from the directory entry
    /// ([`Stat::regular_from_dirent`]).
    pub files: Vec<(Name, Stat)>,
}

/// A subdirectory for a worker to open and list ([`Step::Candidate`]).
#[derive(Debug)]
pub struct Candidate {
    /// The directory it is in (made at the destination already).
    pub parent: Arc<DirNode>,
    /// Its name there.
    pub name: CString,
    /// Its identity (device, inode) where the walk stat'ed it: what it must still be when
    /// opened.
    pub id: Option<(u64, u64)>,
}

/// What a listing says an entry is (`d_type`), before any stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    Regular,
    Dir,
    /// Anything else, or a filesystem that does not say (`DT_UNKNOWN`): stat it.
    Other,
}

struct Frame {
    node: Arc<DirNode>,
    /// The listing's names, each NUL-terminated, one after another: one allocation per
    /// directory rather than one per name, so a directory of 20,000 entries costs its names'
    /// bytes and 16 bytes each (`cp -al` of a large tree under a tight `ulimit -v`).
    names: NameBlock,
    /// Remaining listing, reversed (next entry last): where the name starts in `names`, inode,
    /// and what the entry's type says it is.
    entries: Vec<(u32, u64, Listed)>,
    /// Subdirectories found so far, visited after the files: name (in `names`) and identity,
    /// when a stat took it (a directory known from its listed type is identified once opened).
    subdirs: Vec<(u32, Option<(u64, u64)>)>,
    listed: bool,
    /// Its listing was read when it was entered (the leaf test's), and is in `names` and
    /// `entries` already.
    prelisted: bool,
    subdirs_reversed: bool,
    /// Its subdirectories come as candidates (it has many: `CANDIDATES_FROM_SUBDIRS`).
    names_candidates: bool,
    /// The directory's source descriptor while this frame is the top one, taken once rather
    /// than per entry (each take locks the node and counts a reference). Dropped when a
    /// subdirectory is entered: a frame below the top may have its descriptor released.
    src_fd: Option<Arc<OwnedFd>>,
}

impl Frame {
    /// The listed name that starts at `at` in `names`.
    fn name_ref(&self, at: u32) -> &CStr {
        self.names.get(at)
    }

    /// The listed name that starts at `at`, owned (a directory's, kept by its node).
    fn name(&self, at: u32) -> CString {
        self.name_ref(at).to_owned()
    }

    /// The listed name that starts at `at`, shared (a file's: its job, the ring's open and the
    /// destination's removal name all hold it) with the listing's block: no allocation.
    fn shared_name(&self, at: u32) -> Name {
        self.names.name(at)
    }
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
    /// A listing's names and entries are gathered here, then copied into the frame at their
    /// exact size: one allocation each per directory instead of a growing vector's few.
    listing: (Vec<u8>, Vec<(u32, u64, Listed)>),
    /// Candidates given back (no leaf after all), entered once the walk's stack is empty.
    revisits: VecDeque<Candidate>,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
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
            (name != src_name || !is_same_dir(&fd, &anchor_fd)).then(|| (Arc::new(fd), name.into()))
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
            let renamed = (dst_name != src_name).then_some(dst_name);
            Start::Dir(DirNode::child(&anchor, src_name, renamed, stat, fd))
        } else {
            Start::Entry(Entry {
                dir: Arc::clone(&anchor),
                src_name: src_name.into(),
                dst_name: dst_name.into(),
                stat,
                resolved,
            })
        };
        Ok(Planner {
            options: PlanOptions {
                queue_depth: options.queue_depth.max(1),
                batch_files: options.batch_files.max(options.queue_depth).max(1),
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
            listing: (Vec::new(), Vec::new()),
            revisits: VecDeque::new(),
        })
    }

    /// A [`Step::Candidate`] that is no leaf (or that a worker could not open or list: the walk
    /// then says why), given back by the driver: the walk enters it as it enters any
    /// subdirectory, before it goes on with the directory it is in, and says
    /// [`Step::Revisited`] after its [`Step::Dir`]. Iteration that ended goes on after this.
    pub fn revisit(&mut self, candidate: Candidate) {
        self.revisits.push_back(candidate);
    }

    /// From now on the walk enters every subdirectory itself (finding leaves as it lists
    /// them) instead of naming candidates: for a tree where most subdirectories are no leaves.
    pub fn stop_candidates(&mut self) {
        self.options.workers_list_leaves = false;
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
                        Ok(fd) => self.plan_entry(entry, fd),
                        Err(e) => self.ready.push_back(Step::Error(EntryError::new(
                            entry.path(),
                            Op::Open,
                            e,
                        ))),
                    },
                }
                continue;
            }
            // A candidate given back is entered before the walk goes on: its subtree's work
            // starts now, not once the rest of the tree is walked (a frame's parent need not be
            // the frame below it).
            if let Some(Candidate { parent, name, id }) = self.revisits.pop_front() {
                self.enter_in(Arc::clone(&parent), name, id);
                self.ready.push_back(Step::Revisited(parent));
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
                frame.names_candidates = frame.subdirs.len() >= CANDIDATES_FROM_SUBDIRS;
            }
            frame.entries = Vec::new(); // exhausted: its memory goes back now
            if let Some((at, id)) = frame.subdirs.pop() {
                let name = frame.name(at);
                if frame.names_candidates
                    && self.options.workers_list_leaves
                    && self.options.leaf_files > 0
                {
                    let parent = Arc::clone(&frame.node);
                    self.ready
                        .push_back(Step::Candidate(Candidate { parent, name, id }));
                } else {
                    self.enter(name, id);
                }
                continue;
            }
            let frame = self.stack.pop().expect("a frame");
            frame.node.release_src_upward();
            self.ready.push_back(Step::DirDone(frame.node));
        }
    }
}
