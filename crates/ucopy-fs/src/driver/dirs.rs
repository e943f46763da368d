//! Directory completion: creating each destination directory (at its final mode where nothing
//! changes it later, else private and marked unfinished: `dest::dir_final_at_creation`), counting
//! its files in flight, and applying its final xattrs, mode and times once the planner is done with
//! it and its last file came back.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode};
use rustix::io::Errno;
use ucopy_core::{CopiedPaths, DirNode, EntryError, Kind, Op, Options, Stat, DIR_FLAGS};

use super::Driver;
use crate::dest::{
    chmod_made_dir, clear_unfinished, dir_final_at_creation, is_left_unfinished, mark_unfinished,
    PRIVATE_DIR_MODE,
};
use crate::meta::{mode_and_times_fd, own_fd, read_xattrs, write_xattrs, Xattrs};

impl Driver<'_> {
    /// One file of `dir` is no longer in flight; finish the directory if it was the last and
    /// the planner is done with it.
    pub(super) fn file_finished(&mut self, dir: &Arc<DirNode>) {
        if dir.finish_pending() == 0 {
            self.finish_dir(dir);
        }
    }

    /// The planner is done with `node`: finish it now if none of its files is in flight, else
    /// its last file does (`DirNode::pending` counts the walk as one).
    pub(super) fn dir_done(&mut self, node: Arc<DirNode>) {
        self.file_finished(&node);
    }

    /// Creates (or merges into) a destination directory: at its final mode where nothing changes
    /// it later, else private while it fills (mode 0700 and the unfinished mark,
    /// `dest::mark_unfinished`).
    pub(super) fn make_dir(&mut self, node: &Arc<DirNode>) {
        if node.parent().is_some_and(|p| p.dst_failed()) {
            node.mark_dst_failed();
            return;
        }
        match self.create_dir(node) {
            Ok(()) => {
                self.report.dirs += 1;
                // As cp -v: a directory is reported when it is made, not when merged into.
                if node.dst_created() {
                    self.progress.copied(Kind::Dir, CopiedPaths::dir(node), 0);
                }
            }
            Err(e) => {
                node.mark_dst_failed();
                self.fail(e);
            }
        }
    }

    pub(super) fn create_dir(&mut self, node: &Arc<DirNode>) -> Result<(), EntryError> {
        let parent = node
            .parent()
            .expect("a directory below the anchor")
            .dst_fd();
        let parent = parent.map_err(|e| EntryError::new(node.dst_path(), Op::Open, e))?;
        let MadeDir {
            fd,
            created,
            xattrs,
        } = make_dir_at(parent.as_fd(), node, None, self.options)?;
        if let Some(xattrs) = xattrs {
            self.dir_xattrs.insert(Arc::as_ptr(node) as usize, xattrs);
        }
        let dst_err = |op, e: io::Error| EntryError::new(node.dst_path(), op, e);
        node.set_dst(fd, created)
            .map_err(|e| dst_err(Op::Stat, e))?;
        self.open_dst.push_back(Arc::clone(node));
        // A finished directory gave its fd back (release_dst_upward) but is still queued here:
        // swept out whenever the queue has doubled since the last sweep (amortised O(1) per
        // directory), so 10,000 finished siblings are not all kept in memory, nor counted
        // against the budget in place of directories that hold an fd.
        if self.open_dst.len() >= self.sweep_open_dst_at {
            self.open_dst.retain(|n| n.holds_dst());
            self.sweep_open_dst_at = (2 * self.open_dst.len()).max(64);
        }
        while self.open_dst.len() > self.max_open_dst {
            if let Some(old) = self.open_dst.pop_front() {
                old.release_dst();
            }
        }
        Ok(())
    }

    /// Applies a directory's final mode and times, now that everything in it is written.
    pub(super) fn finish_dir(&mut self, node: &Arc<DirNode>) {
        if node.is_anchor() || node.dst_failed() || self.stopping() {
            self.dir_xattrs.remove(&(Arc::as_ptr(node) as usize));
            node.release_dst_upward();
            return;
        }
        let stat = *node.stat().expect("not the anchor");
        let xattrs = if self.dir_xattrs.is_empty() {
            None
        } else {
            self.dir_xattrs.remove(&(Arc::as_ptr(node) as usize))
        };
        if !left_to_finish(&stat, node.dst_created(), xattrs.is_some(), self.options) {
            node.release_dst_upward();
            return;
        }
        let result = node
            .dst_fd()
            .map_err(|e| EntryError::new(node.dst_path(), Op::Open, e))
            .and_then(|fd| {
                finish_made_dir(
                    fd.as_fd(),
                    node,
                    node.dst_created(),
                    xattrs.as_ref(),
                    self.options,
                )
            });
        node.release_dst_upward();
        if let Err(e) = result {
            self.fail(e);
        }
    }
}

/// A destination directory just made (or merged into) by [`make_dir_at`].
pub(super) struct MadeDir {
    pub(super) fd: OwnedFd,
    /// This run made it (rather than merging into one that was there).
    pub(super) created: bool,
    /// The source's xattrs (or ACLs), read now and written when it is finished.
    pub(super) xattrs: Option<Xattrs>,
}

/// Creates (or merges into) `node`'s destination directory in `parent`: at its final mode where
/// nothing changes it later, else private while it fills (mode 0700 and the unfinished mark,
/// `dest::mark_unfinished`); its owner set now, its xattrs read now (written when it is
/// finished). The driver's thread and a worker copying a leaf directory both make directories
/// here.
pub(super) fn make_dir_at(
    parent: BorrowedFd<'_>,
    node: &DirNode,
    src: Option<BorrowedFd<'_>>,
    options: &Options,
) -> Result<MadeDir, EntryError> {
    let dst_err = |op, e: io::Error| EntryError::new(node.dst_path(), op, e);
    let name = node.dst_name();
    let stat = node.stat().expect("not the anchor");
    // Made at its final mode where nothing changes it later (as cp -r), else private.
    let final_at_creation = dir_final_at_creation(stat, options);
    let mode = final_at_creation.unwrap_or(Mode::from_raw_mode(PRIVATE_DIR_MODE));
    let mut flags = DIR_FLAGS;
    let created = match rfs::mkdirat(parent, name, mode) {
        Ok(()) => true,
        Err(Errno::EXIST) => {
            let st = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| dst_err(Op::Stat, e.into()))?;
            match FileType::from_raw_mode(st.st_mode) {
                // Left unfinished by an interrupted run (checked once opened): it gets its
                // final mode as if created now (see `dest`'s "Resuming an interrupted copy").
                FileType::Directory => false,
                // --keep-directory-symlink: the user asked to merge into a symlinked dir.
                FileType::Symlink
                    if options.keep_directory_symlink
                        && rfs::statat(parent, name, AtFlags::empty()).is_ok_and(|t| {
                            FileType::from_raw_mode(t.st_mode) == FileType::Directory
                        }) =>
                {
                    flags = DIR_FLAGS.difference(rustix::fs::OFlags::NOFOLLOW);
                    false
                }
                // A symlink inside the destination must never redirect writes (row 4);
                // anything else is a type conflict (row 3). Both leave it untouched.
                FileType::Symlink => {
                    return Err(dst_err(
                        Op::Conflict,
                        io::Error::other("destination is a symlink; not writing through it"),
                    ))
                }
                _ => {
                    return Err(dst_err(
                        Op::Conflict,
                        io::Error::other("a non-directory is in the way of a directory"),
                    ))
                }
            }
        }
        Err(e) => return Err(dst_err(Op::Mkdir, e.into())),
    };
    let fd =
        rfs::openat(parent, name, flags, Mode::empty()).map_err(|e| dst_err(Op::Open, e.into()))?;
    let created = if created {
        if final_at_creation.is_none() {
            mark_unfinished(fd.as_fd());
        }
        true
    } else if flags == DIR_FLAGS && is_left_unfinished(fd.as_fd()) {
        if final_at_creation.is_some() {
            // A killed run's private directory, which this run would have made at its final
            // mode: it gets that mode now, and is then like one made so (nothing left to
            // apply when it is finished).
            clear_unfinished(fd.as_fd()).map_err(|e| dst_err(Op::Xattr, e))?;
            chmod_made_dir(fd.as_fd(), stat, options).map_err(|(op, e)| dst_err(op, e))?;
        }
        true
    } else {
        false
    };
    // Owner now; xattrs are read now (the source fd is open) but written when the directory
    // is finished: a default ACL written now would be inherited by every child made later.
    own_fd(fd.as_fd(), None, stat, options).map_err(|e| dst_err(e.op, e.error))?;
    let keep = options.preserved();
    let mut kept = None;
    if keep.xattr || keep.mode {
        // The source directory: the caller's descriptor of it (a worker's own copy), else the
        // node's, which only the driver's thread may use.
        let held;
        let src = match src {
            Some(src) => src,
            None => {
                held = node
                    .src_fd()
                    .map_err(|e| EntryError::new(node.path(), Op::Open, e))?;
                held.as_fd()
            }
        };
        // -p without xattrs still copies the ACLs: they are part of the mode for cp.
        let xattrs = if keep.xattr {
            read_xattrs(src).map_err(|e| EntryError::new(node.path(), Op::Xattr, e))?
        } else {
            crate::meta::read_acls(src).map_err(|e| EntryError::new(node.path(), e.op, e.error))?
        };
        if !xattrs.is_empty() {
            kept = Some(xattrs);
        }
    }
    Ok(MadeDir {
        fd,
        created,
        xattrs: kept,
    })
}

/// True when a finished directory has something left to apply: xattrs, the final mode of one
/// made private, or kept times. A directory made at its final mode (and a killed run's, given it
/// when merged into) has no mark and keeps its mode.
pub(super) fn left_to_finish(stat: &Stat, created: bool, xattrs: bool, options: &Options) -> bool {
    let private = created && dir_final_at_creation(stat, options).is_none();
    xattrs || private || options.preserved().timestamps
}

/// Applies a directory's final xattrs, mode and times once everything in it is written (`fd`
/// is its destination, `created` whether this run made it).
pub(super) fn finish_made_dir(
    fd: BorrowedFd<'_>,
    node: &DirNode,
    created: bool,
    xattrs: Option<&Xattrs>,
    options: &Options,
) -> Result<(), EntryError> {
    let stat = node.stat().expect("not the anchor");
    let private = created && dir_final_at_creation(stat, options).is_none();
    if let Some(xattrs) = xattrs {
        write_xattrs(fd, xattrs).map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
    }
    if private {
        clear_unfinished(fd).map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
    }
    // Without a kept mode, the final mode keeps an inherited set-group-ID bit.
    if private && !options.preserved().mode {
        chmod_made_dir(fd, stat, options)
            .map_err(|(op, e)| EntryError::new(node.dst_path(), op, e))?;
    }
    // A kept mode (applied whether made or merged into), and kept times.
    mode_and_times_fd(fd, stat, options, false)
        .map_err(|e| EntryError::new(node.dst_path(), e.op, e.error))
}
