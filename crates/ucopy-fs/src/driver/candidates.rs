//! Leaf candidates: subdirectories the walk does not open ([`Step::Candidate`]), listed by a
//! worker in its own descriptor table and copied whole there when they are leaves.
//!
//! Why: with leaves (`leaves.rs`) the driver still opened, stat'ed and listed every directory on
//! its thread, and a worker then fetched that descriptor into its own table: on a tree of tiny
//! directories the driver's thread took a fifth of the CPU and the workers waited on it (PERF.md,
//! "Which backend with the data in memory"). Here the walk names the subdirectory and moves on;
//! the worker opens it (one `openat` in its copy of the parent, cached across the parent's
//! subdirectories), checks it, lists it, and if it holds nothing but regular files — at most a
//! batch — makes, fills and finishes it exactly as a leaf the walk found (`copy_leaves`).
//!
//! A candidate with subdirectories is copied the same way when its whole subtree is small
//! (`LeafRules::subtree_dirs` directories below it, `LeafRules::most` files in all, nothing but
//! directories and regular files): the worker opens, checks and lists each directory below it
//! as it did the candidate, and makes, fills and finishes them with it (`leaves.rs`). A
//! `node_modules` package (a `package.json` beside `lib/`) is one; before, each went back to
//! the walk and was opened and listed twice (PERF.md, "Small subtrees").
//!
//! Anything else goes back untouched, before anything was made: a directory with a symlink or a
//! special file anywhere in it, too many files or directories, one that cannot be opened or
//! listed, one that is the destination of an ancestor (copied into itself). The driver gives it
//! to the walk (`Planner::revisit`), which enters it as any subdirectory, with every check and
//! message of its own. One that vanished since the listing is nothing to copy, as for the walk.
//!
//! Under `-a` (and `-u`) the worker stats each file as the walk would (`PlanOptions::stat_files`)
//! and a file with other names, where hard links are kept, makes the directory the walk's; a
//! subdirectory the walk stat'ed must still be the same directory when the worker opens it.
//! Only in a directory with many subdirectories (`ucopy_core::CANDIDATES_FROM_SUBDIRS`):
//! elsewhere the walk keeps its own order, which decides when the large files of a tree start
//! (PERF.md, "Leaf candidates").
//!
//! The parent counts the candidate as one of its files until it comes back as a finished leaf,
//! as vanished, or — given back — until the walk has entered it (`Step::Revisited`): its mode
//! and times are applied after the subdirectory is made in it.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, Mode};
use rustix::io::Errno;
use ucopy_core::{
    destination_among_ancestors, files_and_subdirs_in, Batch, Candidate, DirNode, FileJob,
    JobOutcome, Kind, LeafRules, Name, Options, Progress, Stat, DIR_FLAGS,
};

use super::fd_tables::LocalDirs;
use super::leaves::{copy_leaves, LeafDone, LeafSource, LeafTask, SubDir};
use super::Driver;

/// Candidates whose outcome is seen before the driver judges whether they pay
/// ([`Driver::candidates_pay`]).
const CANDIDATE_SAMPLE: u64 = 32;

/// `getdents64` buffer of a worker listing candidates.
pub(super) const LISTING_BUFFER: usize = 32 << 10;

/// A subdirectory for a worker to list, with the driver's descriptors of its parent.
#[derive(Debug)]
pub(crate) struct CandidateTask {
    pub(super) candidate: Candidate,
    /// The driver's descriptor of the parent's source directory.
    pub(super) parent_src: Arc<OwnedFd>,
    /// The driver's descriptor of the parent's destination directory.
    pub(super) parent_dst: Arc<OwnedFd>,
    /// What makes it a leaf (the plan's).
    pub(super) rules: LeafRules,
}

/// A candidate that was not copied as a leaf, back to the driver (with its descriptors, to be
/// dropped on the driver's thread).
#[derive(Debug)]
pub(super) enum NotCopied {
    /// No leaf, or not one the worker could tell: for the walk.
    GiveBack(CandidateTask),
    /// Gone since the walk listed it (or the copy was cancelled): nothing to copy.
    Vanished(CandidateTask),
}

/// Lists each candidate on the worker's thread and copies those that are leaves, together (as
/// [`copy_leaves`] copies a group). Those that are not go to `give_back` as soon as the group is
/// listed, before any leaf is copied: the walk waits for them, and a group's leaves may take a
/// while (a leaf of large files) while the other workers run out of work.
pub(super) fn copy_candidates(
    tasks: Vec<CandidateTask>,
    run: &mut dyn FnMut(Batch) -> Vec<(FileJob, JobOutcome)>,
    mut local: Option<&mut LocalDirs<'_>>,
    buf: &mut [MaybeUninit<u8>],
    give_back: &mut dyn FnMut(Vec<NotCopied>),
    options: &Options,
    progress: &dyn Progress,
) -> Vec<LeafDone> {
    let mut leaves = Vec::with_capacity(tasks.len());
    let mut not_copied = Vec::new();
    let mut finished = Vec::new();
    // Directories below the leaves listed so far, each holding a descriptor until copied: past
    // twice a subtree's worth, what is listed is copied before the group goes on, to keep
    // within the fd budget (`LeafRules::subtree_dirs`).
    let mut held_below = 0;
    for task in tasks {
        if held_below > 2 * task.rules.subtree_dirs {
            if !not_copied.is_empty() {
                give_back(std::mem::take(&mut not_copied));
            }
            let listed = std::mem::take(&mut leaves);
            finished.extend(copy_leaves(
                listed,
                run,
                local.as_deref_mut(),
                options,
                progress,
            ));
            held_below = 0;
        }
        if options.cancel.is_cancelled() {
            not_copied.push(NotCopied::Vanished(task));
            continue;
        }
        match list_candidate(&task, local.as_deref_mut(), buf) {
            Listed::Leaf {
                node,
                files,
                src,
                subdirs,
            } => {
                let CandidateTask {
                    parent_src,
                    parent_dst,
                    ..
                } = task;
                let leaf = LeafTask {
                    node,
                    files,
                    src_dir: LeafSource::InParent {
                        _parent: parent_src,
                    },
                    parent_dst,
                };
                held_below += subdirs.len();
                leaves.push((leaf, Some(src), subdirs));
            }
            Listed::NoLeaf => not_copied.push(NotCopied::GiveBack(task)),
            Listed::Vanished => not_copied.push(NotCopied::Vanished(task)),
        }
    }
    if !not_copied.is_empty() {
        give_back(not_copied);
    }
    finished.extend(copy_leaves(leaves, run, local, options, progress));
    finished
}

enum Listed {
    /// A leaf: its node (holding no descriptor), files, this worker's descriptor of it, and the
    /// directories below it (parents first).
    Leaf {
        node: Arc<DirNode>,
        files: Vec<(Name, Stat)>,
        src: Arc<OwnedFd>,
        subdirs: Vec<SubDir>,
    },
    NoLeaf,
    Vanished,
}

/// Opens and lists one candidate in this worker's table; nothing is made.
fn list_candidate(
    task: &CandidateTask,
    local: Option<&mut LocalDirs<'_>>,
    buf: &mut [MaybeUninit<u8>],
) -> Listed {
    let parent = match local {
        Some(local) => match local.copy_of(&task.parent_src) {
            Ok(fd) => fd,
            Err(_) => return Listed::NoLeaf,
        },
        None => Arc::clone(&task.parent_src),
    };
    let Candidate {
        parent: node,
        name,
        id,
    } = &task.candidate;
    let fd = match rfs::openat(parent.as_fd(), name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        // Listed, never statted, and gone since: nothing to copy (as the walk has it; one it
        // stat'ed and lost is the walk's to report).
        Err(Errno::NOENT) if id.is_none() => return Listed::Vanished,
        Err(_) => return Listed::NoLeaf,
    };
    let Ok(st) = rfs::fstat(&fd) else {
        return Listed::NoLeaf;
    };
    let stat = Stat::from(&st);
    let opened = (stat.dev, stat.ino);
    if id.is_some_and(|id| id != opened) || destination_among_ancestors(node, opened).is_some() {
        return Listed::NoLeaf;
    }
    let rules = task.rules;
    let Some((files, names)) = files_and_subdirs_in(fd.as_fd(), stat.dev, buf, rules, rules.most)
    else {
        return Listed::NoLeaf;
    };
    let node = DirNode::listed_child(node, name.clone(), stat);
    let src = Arc::new(fd);
    let files_left = rules.most - files.len();
    let Some(subdirs) = list_below(&node, &src, names, files_left, buf, rules) else {
        return Listed::NoLeaf;
    };
    Listed::Leaf {
        node,
        files,
        src,
        subdirs,
    }
}

/// Opens and lists the directories below a candidate (`names`: the candidate's subdirectories),
/// as the candidate was: `None` at the first that rules the subtree out (more than
/// `rules.subtree_dirs` directories or `files_left` files, an entry neither a directory nor a
/// regular file, one that cannot be opened or listed, or is the destination of an ancestor).
fn list_below(
    candidate: &Arc<DirNode>,
    candidate_src: &Arc<OwnedFd>,
    names: Vec<std::ffi::CString>,
    mut files_left: usize,
    buf: &mut [MaybeUninit<u8>],
    rules: LeafRules,
) -> Option<Vec<SubDir>> {
    let mut subdirs: Vec<SubDir> = Vec::new();
    if names.is_empty() {
        return Some(subdirs); // a leaf: nothing below it, nothing to allocate
    }
    // Directories known so far, listed or not: a subtree with too many is given back as soon
    // as its listings show it, not after as many of them as it is allowed.
    let mut known = names.len();
    if known > rules.subtree_dirs {
        return None;
    }
    // Directories whose subdirectories are still to be listed: their place (`None`: the
    // candidate), and those names.
    let mut to_list = vec![(None, names)];
    while let Some((parent, names)) = to_list.pop() {
        let (parent_node, parent_src) = match parent {
            None => (Arc::clone(candidate), Arc::clone(candidate_src)),
            Some(at) => {
                let p: &SubDir = &subdirs[at];
                (Arc::clone(&p.node), Arc::clone(&p.src))
            }
        };
        for name in names {
            let fd = rfs::openat(parent_src.as_fd(), &name, DIR_FLAGS, Mode::empty()).ok()?;
            let stat = Stat::from(&rfs::fstat(&fd).ok()?);
            if stat.kind() != Kind::Dir
                || destination_among_ancestors(&parent_node, (stat.dev, stat.ino)).is_some()
            {
                return None;
            }
            let (files, below) =
                files_and_subdirs_in(fd.as_fd(), stat.dev, buf, rules, files_left)?;
            files_left -= files.len();
            known += below.len();
            if known > rules.subtree_dirs {
                return None;
            }
            subdirs.push(SubDir {
                node: DirNode::listed_child(&parent_node, name, stat),
                files,
                src: Arc::new(fd),
                parent,
            });
            if !below.is_empty() {
                to_list.push((Some(subdirs.len() - 1), below));
            }
        }
    }
    Some(subdirs)
}

impl Driver<'_> {
    /// Hands a candidate to a worker (in groups); its parent is not finished before it is
    /// back. One whose parent's descriptors the driver cannot give goes to the walk at once.
    pub(super) fn start_candidate(
        &mut self,
        candidate: Candidate,
    ) -> Result<(), super::FatalError> {
        let parent = Arc::clone(&candidate.parent);
        if parent.dst_failed() {
            return Ok(()); // nothing inside can be copied (the walk lists none of it either)
        }
        parent.add_pending();
        let fds = parent.src_fd().and_then(|src| Ok((src, parent.dst_fd()?)));
        let Ok((parent_src, parent_dst)) = fds else {
            self.revisits.push(candidate);
            return Ok(());
        };
        self.in_flight += 1;
        self.candidate_group.push(CandidateTask {
            candidate,
            parent_src,
            parent_dst,
            rules: self.leaf_rules,
        });
        if self.candidate_group.len() >= self.candidate_group_size() {
            self.send_candidates()?;
        }
        Ok(())
    }

    /// Whether the walk should go on naming candidates: not where, after a first sample, more
    /// than a quarter came back as no leaves. Each such directory is opened and listed twice
    /// and waits for a worker's round trip before the walk enters it; on the bench's mixed
    /// corpus, where half the directories hold a symlink or a subdirectory, that cost more
    /// than the walk's listing of the leaves saved (PERF.md, "Leaf candidates").
    pub(super) fn candidates_pay(&self) -> bool {
        let (seen, given_back) = self.candidates_seen;
        seen < CANDIDATE_SAMPLE || given_back * 4 <= seen
    }

    /// Candidates that go to a worker together: about a queue depth's files by the leaves
    /// copied so far (one hand-off for many tiny directories, and no worker left with a long
    /// group of large ones while the other idles at the end), one until a leaf has come back.
    fn candidate_group_size(&self) -> usize {
        let (leaves, files) = self.leaves_seen;
        if leaves == 0 {
            return 1;
        }
        let per_leaf = (files / leaves).max(1);
        (self.leaf_group_size as u64 / per_leaf).clamp(1, 32) as usize
    }

    /// Hands the candidates gathered so far to a worker.
    pub(super) fn send_candidates(&mut self) -> Result<(), super::FatalError> {
        if self.candidate_group.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.candidate_group);
        self.dispatch
            .push(crate::dispatch::WorkItem::Candidates(group));
        if !self.hold_or_hand_out(0, true) {
            return Ok(());
        }
        self.wait_for_room()
    }

    /// Takes in the candidates of a group that a worker did not copy.
    pub(super) fn candidates_not_copied(&mut self, not_copied: Vec<NotCopied>) {
        self.candidates_seen.0 += not_copied.len() as u64;
        for not in not_copied {
            self.in_flight -= 1;
            match not {
                // The parent's count stays until the walk has entered it (`Step::Revisited`).
                NotCopied::GiveBack(task) => {
                    self.candidates_seen.1 += 1;
                    self.revisits.push(task.candidate);
                }
                NotCopied::Vanished(task) => {
                    let parent = Arc::clone(&task.candidate.parent);
                    drop(task);
                    self.file_finished(&parent);
                }
            }
        }
    }

    /// Takes in the leaves a worker copied from a group of candidates.
    pub(super) fn candidate_leaves_done(&mut self, leaves: Vec<LeafDone>) {
        self.candidates_seen.0 += leaves.len() as u64;
        for leaf in leaves {
            self.leaf_done(leaf);
        }
    }
}
