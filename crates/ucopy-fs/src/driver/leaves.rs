//! Leaf directories: a directory that holds nothing but regular files, made, filled and
//! finished by one worker ([`Step::Leaf`](ucopy_core::Step::Leaf)).
//!
//! Why: in a tree of small directories the driver otherwise makes each directory on its CPU,
//! hands its few files to a worker on the other CPU (which first fetches both directories into
//! its own descriptor table), and takes each file's outcome back. Measured on two cores (PERF.md,
//! "Leaf directories"), that hand-off was most of the distance to cpz, whose threads list, make and
//! fill their own directories. Here the worker makes the directory and creates its files on one
//! CPU, one descriptor is fetched instead of two, and no file of it passes through the driver.
//!
//! It stays the same copy as the driver's: the directory is made by the same function
//! (`dirs.rs`, `make_dir_at`), its files are copied by the worker's executor as any batch, and
//! it is finished by the same function (`finish_made_dir`), metadata and all. The walk plans a
//! leaf's files as it plans any (from the listing, or a stat each where the copy stats files);
//! a directory holding a file with other names while hard links are kept is no leaf (its link
//! group is the walk's), and copies that plan more per entry get none ([`leaf_files`]:
//! `--exclude`, `-L`, `-x`, `-l`/`-s`, prompts, backups, `--attributes-only`).
//!
//! The driver keeps the order of the tree: a leaf counts as one of its parent's files until it
//! is back (so the parent's times and mode are applied after it), and it counts the leaf's files,
//! and says every message but "copied", which the worker says as it copies.
//!
//! Descriptors: the task holds the driver's descriptors of the source directory and of the
//! parent's destination; the worker runs on its own copies (`fd_tables.rs`), and the task goes
//! back to the driver with them, to be dropped on the driver's thread.
//!
//! A leaf a worker found among candidates (`candidates.rs`) may come with a small subtree below
//! it ([`SubDir`]): each of its directories is made (parents first) by the same `make_dir_at`,
//! its files join the group's batch, and each is finished (children first) by the same
//! `finish_made_dir` before the leaf itself. A directory below that cannot be made fails alone
//! (its subtree is not copied), as the driver's would. Those directories' descriptors are the
//! worker's own and never leave its thread.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use ucopy_core::{
    Backup, Batch, CopiedPaths, Dereference, DirNode, EntryError, FileJob, JobOrigin, JobOutcome,
    Kind, LinkMode, Name, Op, Options, PlanOptions, Progress, Stat,
};

use super::dirs::{finish_made_dir, left_to_finish, make_dir_at, MadeDir};
use super::fd_tables::LocalDirs;
use super::workers::say_copied;
use super::Driver;
use crate::meta::Xattrs;

/// Below this queue depth (an fd budget cut by a small `ulimit -n`) a copy gets no leaves: each
/// leaf in flight holds two of the driver's descriptors that the budget does not count, and
/// under `ulimit -n 16` a tree of small packages then ran the walk out of descriptors
/// (`limits.rs`, `nofile_limits_with_small_subtrees`). The walk, whose directories the budget
/// does count, copies such a tree instead.
const LEAVES_FROM_QUEUE_DEPTH: usize = 4;

/// The most files a leaf may have when files are copied with plain system calls (`std`), where
/// the fd budget left the batch whole: a directory of up to this many files (and no
/// subdirectory) is copied by one worker, so that two workers do not take turns at its lock
/// creating in it (200 directories of 1,000 empty files, in memory: 10.7 % faster; PERF.md,
/// "Leaves of up to 1,024 files"). With io_uring a leaf stays one batch: cold, a directory's
/// batches on several workers keep more of its reads in flight.
const STD_LEAF_FILES: usize = 1024;

/// The most files a leaf may have for this copy (`std`: its files are copied with plain system
/// calls): the plan's batch size, or [`STD_LEAF_FILES`] for `std`, where leaves keep the copy
/// the same and the fd budget leaves room for them, else 0 (no leaves).
pub(super) fn leaf_files(options: &Options, plan: &PlanOptions, std: bool) -> usize {
    let plain = plan.queue_depth >= LEAVES_FROM_QUEUE_DEPTH
        && options.link_mode == LinkMode::Copy
        && options.confirm.is_none()
        && options.backup == Backup::Off
        && !options.attributes_only
        && !options.copy_contents
        && !options.keep_directory_symlink
        && !plan.one_file_system
        && plan.exclude.is_none()
        && plan.dereference != Dereference::Always;
    if plain && std && plan.batch_files >= ucopy_core::DEFAULT_BATCH_FILES {
        plan.batch_files.max(STD_LEAF_FILES)
    } else if plain {
        plan.batch_files
    } else {
        0
    }
}

/// A leaf directory handed to a worker.
#[derive(Debug)]
pub(crate) struct LeafTask {
    /// The directory (its source opened by the planner, in the driver's table).
    pub(super) node: Arc<DirNode>,
    /// Its files and their metadata as planned, in the plan's order.
    pub(super) files: Vec<(Name, Stat)>,
    /// The driver's descriptor of the source directory, or of its parent's where a worker
    /// opened it (`candidates.rs`).
    pub(super) src_dir: LeafSource,
    /// The driver's descriptor of the parent's destination directory.
    pub(super) parent_dst: Arc<OwnedFd>,
}

/// Which of the driver's descriptors a leaf's task holds on the source side.
#[derive(Debug)]
pub(super) enum LeafSource {
    /// The leaf's own directory, opened by the walk: the worker fetches a copy.
    Opened(Arc<OwnedFd>),
    /// Its parent's, kept until the task is back: the worker opened the leaf in its own copy of
    /// it and runs on that.
    InParent { _parent: Arc<OwnedFd> },
}

/// What a worker did with a leaf, for the driver to count and say.
#[derive(Debug)]
pub(super) struct LeafDone {
    /// The task, back to be dropped on the driver's thread.
    pub(super) task: LeafTask,
    /// The directory was made or merged into.
    pub(super) made: bool,
    /// Directories below it (a candidate's subtree) made or merged into.
    pub(super) made_below: u64,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) skipped: u64,
    pub(super) warnings: Vec<EntryError>,
    pub(super) errors: Vec<EntryError>,
}

/// A directory below a candidate, listed by the worker that copies it with the candidate
/// (`candidates.rs`), in an order where each comes after its parent.
#[derive(Debug)]
pub(super) struct SubDir {
    /// Its node, holding no descriptor (a child of its parent's).
    pub(super) node: Arc<DirNode>,
    /// Its files and their metadata as planned.
    pub(super) files: Vec<(Name, Stat)>,
    /// This worker's descriptor of its source directory.
    pub(super) src: Arc<OwnedFd>,
    /// Its parent's place in the subtree's list; `None`: the candidate itself.
    pub(super) parent: Option<usize>,
}

/// A leaf whose directory is made, waiting for its files.
struct Ready {
    /// Its task (with its node) and counts so far.
    done: LeafDone,
    dst: Arc<OwnedFd>,
    created: bool,
    xattrs: Option<Xattrs>,
}

/// A directory below a leaf, made (or merged into) by the worker.
struct MadeBelow {
    node: Arc<DirNode>,
    dst: Arc<OwnedFd>,
    created: bool,
    xattrs: Option<Xattrs>,
}

/// What making a leaf's directory came to: made (with this worker's copy of the source
/// directory), or done already (failed, or the copy was cancelled).
enum Made {
    Ready(Ready, Arc<OwnedFd>),
    Not(Box<LeafDone>),
}

/// Makes, fills and finishes a group of leaves on a worker's thread: every directory first,
/// then all their files as one batch (an io_uring executor keeps a batch's files in flight
/// together, and leaves of one or two files would otherwise be batches of one or two), then
/// each directory's final metadata. `run` copies a batch with the worker's executor; `local`
/// fetches copies of the driver's descriptors when the worker's table is its own. A task may
/// come with the worker's own descriptor of its source directory (a candidate it listed).
pub(super) fn copy_leaves(
    tasks: Vec<(LeafTask, Option<Arc<OwnedFd>>, Vec<SubDir>)>,
    run: &mut dyn FnMut(Batch) -> Vec<(FileJob, JobOutcome)>,
    mut local: Option<&mut LocalDirs<'_>>,
    options: &Options,
    progress: &dyn Progress,
) -> Vec<LeafDone> {
    let mut finished = Vec::with_capacity(tasks.len());
    let mut made = Vec::with_capacity(tasks.len());
    // Each made directory's node, and the leaf (its place in `made`) it belongs to.
    let mut owners: Vec<(*const DirNode, usize)> = Vec::with_capacity(tasks.len());
    let mut batch: Batch = Vec::new();
    for (task, own_src, subdirs) in tasks {
        match make_leaf(task, own_src, local.as_deref_mut(), options, progress) {
            Made::Ready(mut leaf, src) => {
                let files = std::mem::take(&mut leaf.done.task.files);
                let node = Arc::clone(&leaf.done.task.node);
                add_jobs(&mut batch, files, &src, &leaf.dst, &node);
                let below = make_below(&mut leaf, subdirs, &mut batch, options, progress);
                owners.push((Arc::as_ptr(&node), made.len()));
                owners.extend(below.iter().map(|b| (Arc::as_ptr(&b.node), made.len())));
                made.push((leaf, below));
            }
            Made::Not(done) => finished.push(*done),
        }
    }
    if !batch.is_empty() {
        // Outcomes may come back in another order than the jobs went: each finds its leaf by
        // its directory, most often the one of the outcome before.
        let mut at = 0;
        for (job, outcome) in run(batch) {
            let JobOrigin::Planned { dir, .. } = &job.origin else {
                unreachable!("a leaf's jobs are planned")
            };
            if owners[at].0 != Arc::as_ptr(dir) {
                at = owners
                    .iter()
                    .position(|&(node, _)| node == Arc::as_ptr(dir))
                    .expect("a job of one of these leaves");
            }
            count(
                &mut made[owners[at].1].0.done,
                &job,
                outcome,
                options,
                progress,
            );
        }
    }
    for (mut leaf, below) in made {
        // Children before parents, the leaf itself last: each directory's times and mode once
        // everything in it is written.
        for below in below.into_iter().rev() {
            let xattrs = below.xattrs.as_ref();
            let finish = finish_here(&below.node, &below.dst, below.created, xattrs, options);
            if let Err(e) = finish {
                leaf.done.errors.push(e);
            }
        }
        let node = &leaf.done.task.node;
        let finish = finish_here(node, &leaf.dst, leaf.created, leaf.xattrs.as_ref(), options);
        if let Err(e) = finish {
            leaf.done.errors.push(e);
        }
        finished.push(leaf.done);
    }
    finished
}

/// Applies the final metadata of a directory this worker made (or merged into), now that
/// everything in it is written: what the driver's `finish_dir` does, unless the copy was
/// cancelled or nothing is left to apply.
fn finish_here(
    node: &DirNode,
    dst: &OwnedFd,
    created: bool,
    xattrs: Option<&Xattrs>,
    options: &Options,
) -> Result<(), EntryError> {
    let stat = *node.stat().expect("not the anchor");
    if options.cancel.is_cancelled() || !left_to_finish(&stat, created, xattrs.is_some(), options) {
        return Ok(());
    }
    finish_made_dir(dst.as_fd(), node, created, xattrs, options)
}

/// Notes a directory this worker created (not one merged into): it is on its parent's
/// filesystem (one merged into may be a mount), and it is said as cp -v says it, when made.
fn note_created(node: &DirNode, progress: &dyn Progress) {
    if let Some(dev) = node.parent().and_then(|p| p.dst_dev()) {
        node.set_dst_dev(dev);
    }
    progress.copied(Kind::Dir, CopiedPaths::dir(node), 0);
}

/// The jobs of `files` in the directory `node` (`src` and `dst` its descriptors).
fn add_jobs(
    batch: &mut Batch,
    files: Vec<(Name, Stat)>,
    src: &Arc<OwnedFd>,
    dst: &Arc<OwnedFd>,
    node: &Arc<DirNode>,
) {
    batch.extend(files.into_iter().map(|(name, stat)| FileJob {
        src_dir: Arc::clone(src),
        src_name: name.clone(),
        dst_dir: Arc::clone(dst),
        dst_name: name,
        origin: JobOrigin::Planned {
            dir: Arc::clone(node),
            name: None,
            link: None,
        },
        stat,
    }));
}

/// Makes the directories of a leaf's subtree, parents first, and adds their files to `batch`;
/// returns those made, parents before children. One that cannot be made fails alone: nothing
/// below it is made or copied (as the driver's walk has it, a directory whose parent failed is
/// skipped without a message of its own).
fn make_below(
    leaf: &mut Ready,
    subdirs: Vec<SubDir>,
    batch: &mut Batch,
    options: &Options,
    progress: &dyn Progress,
) -> Vec<MadeBelow> {
    let mut made = Vec::with_capacity(subdirs.len());
    // Each directory's destination, by its place in `subdirs` (`None`: not made).
    let mut dsts: Vec<Option<Arc<OwnedFd>>> = Vec::with_capacity(subdirs.len());
    for sub in subdirs {
        let parent = match sub.parent {
            None => Some(Arc::clone(&leaf.dst)),
            Some(at) => dsts[at].clone(),
        };
        let Some(parent) = parent.filter(|_| !options.cancel.is_cancelled()) else {
            sub.node.mark_dst_failed();
            dsts.push(None);
            continue;
        };
        match make_dir_at(parent.as_fd(), &sub.node, Some(sub.src.as_fd()), options) {
            Ok(MadeDir {
                fd,
                created,
                xattrs,
            }) => {
                leaf.done.made_below += 1;
                if created {
                    note_created(&sub.node, progress);
                }
                let dst = Arc::new(fd);
                add_jobs(batch, sub.files, &sub.src, &dst, &sub.node);
                dsts.push(Some(Arc::clone(&dst)));
                made.push(MadeBelow {
                    node: sub.node,
                    dst,
                    created,
                    xattrs,
                });
            }
            Err(e) => {
                sub.node.mark_dst_failed();
                leaf.done.errors.push(e);
                dsts.push(None);
            }
        }
    }
    made
}

/// Makes a leaf's directory (nothing is made once the copy is cancelled).
fn make_leaf(
    task: LeafTask,
    own_src: Option<Arc<OwnedFd>>,
    local: Option<&mut LocalDirs<'_>>,
    options: &Options,
    progress: &dyn Progress,
) -> Made {
    let node = Arc::clone(&task.node);
    let mut done = LeafDone {
        task,
        made: false,
        made_below: 0,
        files: 0,
        bytes: 0,
        skipped: 0,
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    if options.cancel.is_cancelled() {
        return Made::Not(Box::new(done));
    }
    let fetched = leaf_fds(&done.task, own_src, local);
    let (src, parent) = match fetched {
        Ok(fds) => fds,
        Err(e) => {
            node.mark_dst_failed();
            done.errors
                .push(EntryError::new(node.dst_path(), Op::Open, e));
            return Made::Not(Box::new(done));
        }
    };
    let MadeDir {
        fd,
        created,
        xattrs,
    } = match make_dir_at(parent.as_fd(), &node, Some(src.as_fd()), options) {
        Ok(made) => made,
        Err(e) => {
            node.mark_dst_failed();
            done.errors.push(e);
            return Made::Not(Box::new(done));
        }
    };
    done.made = true;
    if created {
        note_created(&node, progress);
    }
    let ready = Ready {
        done,
        dst: Arc::new(fd),
        created,
        xattrs,
    };
    Made::Ready(ready, src)
}

/// This worker's descriptors of a leaf's source directory (its own, where it opened the leaf)
/// and of its parent's destination: copies of the driver's where the worker's table is its own,
/// else the driver's (the task keeps them, so dropping these clones never closes one).
fn leaf_fds(
    task: &LeafTask,
    own_src: Option<Arc<OwnedFd>>,
    mut local: Option<&mut LocalDirs<'_>>,
) -> std::io::Result<(Arc<OwnedFd>, Arc<OwnedFd>)> {
    let src = match (own_src, &task.src_dir, local.as_deref_mut()) {
        (Some(own), ..) => own,
        (None, LeafSource::Opened(src), Some(local)) => local.fetch(src)?,
        (None, LeafSource::Opened(src), None) => Arc::clone(src),
        (None, LeafSource::InParent { .. }, _) => unreachable!("a worker opens such a leaf"),
    };
    let parent = match local {
        Some(local) => local.copy_of(&task.parent_dst)?,
        None => Arc::clone(&task.parent_dst),
    };
    Ok((src, parent))
}

/// Counts one file's outcome as the driver's `count_file` does, saying "copied" now.
fn count(
    done: &mut LeafDone,
    job: &FileJob,
    outcome: JobOutcome,
    options: &Options,
    progress: &dyn Progress,
) {
    match outcome {
        JobOutcome::Copied { bytes } => {
            done.files += 1;
            done.bytes += bytes;
            if let Some(w) = say_copied(job, bytes, options, progress) {
                done.warnings.push(w);
            }
        }
        JobOutcome::Skipped => done.skipped += 1,
        JobOutcome::Vanished(w) => done.warnings.push(w),
        JobOutcome::Failed(e) => done.errors.push(e),
    }
}

impl Driver<'_> {
    /// Hands a leaf directory to a worker; its parent is not finished before it is back.
    pub(super) fn start_leaf(
        &mut self,
        leaf: ucopy_core::LeafDir,
    ) -> Result<(), super::FatalError> {
        let ucopy_core::LeafDir { node, files } = leaf;
        let parent = Arc::clone(node.parent().expect("a directory below the anchor"));
        if parent.dst_failed() {
            node.mark_dst_failed();
            return Ok(());
        }
        let parent_dst = match parent.dst_fd() {
            Ok(fd) => fd,
            Err(e) => {
                node.mark_dst_failed();
                self.fail(EntryError::new(node.dst_path(), Op::Open, e));
                return Ok(());
            }
        };
        let src_dir = match node.src_fd() {
            Ok(fd) => fd,
            Err(e) => {
                self.fail(EntryError::new(node.path(), Op::Open, e));
                return Ok(());
            }
        };
        parent.add_pending();
        self.in_flight += 1;
        self.leaf_group_files += files.len().max(1);
        self.leaf_group.push(LeafTask {
            node,
            files,
            src_dir: LeafSource::Opened(src_dir),
            parent_dst,
        });
        // Small leaves go in groups of about a batch's worth of files: one hand-off each, not
        // one per directory.
        if self.leaf_group_files >= self.leaf_group_size {
            self.send_leaves()?;
        }
        Ok(())
    }

    /// Hands the leaves gathered so far to a worker.
    pub(super) fn send_leaves(&mut self) -> Result<(), super::FatalError> {
        if self.leaf_group.is_empty() {
            return Ok(());
        }
        let files = std::mem::take(&mut self.leaf_group_files);
        let group = std::mem::take(&mut self.leaf_group);
        self.dispatch.push(crate::dispatch::WorkItem::Leaves(group));
        if !self.hold_or_hand_out(files, false) {
            return Ok(());
        }
        self.wait_for_room()
    }

    /// Takes in what a worker did with a leaf.
    pub(super) fn leaf_done(&mut self, done: LeafDone) {
        self.in_flight -= 1;
        let LeafDone {
            task,
            made,
            made_below,
            files,
            bytes,
            skipped,
            warnings,
            errors,
        } = done;
        if made {
            self.report.dirs += 1;
        }
        self.report.dirs += made_below;
        self.leaves_seen.0 += 1;
        self.leaves_seen.1 += files;
        self.report.files += files;
        self.report.bytes += bytes;
        self.report.skipped += skipped;
        for w in warnings {
            self.progress.warned(&w);
            self.report.warnings.push(w);
        }
        for e in errors {
            self.fail(e);
        }
        let parent = task.node.parent().map(Arc::clone);
        // The driver's descriptors go here, on the driver's thread.
        drop(task);
        if let Some(parent) = parent {
            self.file_finished(&parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::leaf_files;
    use std::sync::Arc;
    use ucopy_core::{Dereference, Exclude, LinkMode, Options, PlanOptions, Preserve};

    fn leaves(options: Options) -> usize {
        leaf_files(&options, &PlanOptions::from_options(&options), false)
    }

    /// A copy gets leaves of up to a batch, `-a` too; a copy that plans more per entry, or
    /// links instead of copying, gets none.
    #[test]
    fn leaves_only_for_copies_they_keep_the_same() {
        let batch = PlanOptions::from_options(&Options::builder().build()).batch_files;
        let plan = |o: &Options| PlanOptions::from_options(o);
        let plain = Options::builder().build();
        // With plain system calls, up to STD_LEAF_FILES; a budget that cut the batch keeps it.
        assert_eq!(
            leaf_files(&plain, &plan(&plain), true),
            super::STD_LEAF_FILES
        );
        let cut = PlanOptions {
            batch_files: 16,
            ..plan(&plain)
        };
        assert_eq!(leaf_files(&plain, &cut, true), 16);
        for options in [
            Options::builder().build(),
            Options::builder().archive(true).build(),
            Options::builder()
                .preserve(Preserve {
                    timestamps: true,
                    ..Preserve::default()
                })
                .build(),
        ] {
            assert_eq!(leaves(options.clone()), batch, "{options:?}");
        }
        let none = [
            Options::builder().link_mode(LinkMode::Symbolic).build(),
            Options::builder().dereference(Dereference::Always).build(),
            Options::builder().one_file_system(true).build(),
            Options::builder()
                .exclude(Some(Arc::new(
                    Exclude::new(&["*.o".to_string()], &[]).unwrap(),
                )))
                .build(),
        ];
        for options in none {
            assert_eq!(leaves(options.clone()), 0, "{options:?}");
        }
    }
}
