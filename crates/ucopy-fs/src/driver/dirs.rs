//! Directory completion: creating each destination directory (at its final mode where nothing
//! changes it later, else private and marked unfinished: `dest::dir_final_at_creation`), counting
//! its files in flight, and applying its final xattrs, mode and times once the planner is done with
//! it and its last file came back.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode};
use rustix::io::Errno;
use ucopy_core::{CopiedPaths, DirNode, EntryError, Kind, Op, DIR_FLAGS};

use super::Driver;
use crate::dest::{
    chmod_made_dir, clear_unfinished, dir_final_at_creation, is_left_unfinished, mark_unfinished,
    PRIVATE_DIR_MODE,
};
use crate::meta::{mode_and_times_fd, own_fd, read_xattrs, write_xattrs};

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
        let dst_err = |op, e: io::Error| EntryError::new(node.dst_path(), op, e);
        let parent = node
            .parent()
            .expect("a directory below the anchor")
            .dst_fd();
        let parent = parent.map_err(|e| dst_err(Op::Open, e))?;
        let name = node.dst_name();
        let stat = node.stat().expect("not the anchor");
        // Made at its final mode where nothing changes it later (as cp -r), else private.
        let final_at_creation = dir_final_at_creation(stat, self.options);
        let mode = final_at_creation.unwrap_or(Mode::from_raw_mode(PRIVATE_DIR_MODE));
        let mut flags = DIR_FLAGS;
        let created = match rfs::mkdirat(parent.as_fd(), name, mode) {
            Ok(()) => true,
            Err(Errno::EXIST) => {
                let st = rfs::statat(parent.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| dst_err(Op::Stat, e.into()))?;
                match FileType::from_raw_mode(st.st_mode) {
                    // Left unfinished by an interrupted run (checked once opened): it gets its
                    // final mode as if created now (see `dest`'s "Resuming an interrupted copy").
                    FileType::Directory => false,
                    // --keep-directory-symlink: the user asked to merge into a symlinked dir.
                    FileType::Symlink
                        if self.options.keep_directory_symlink
                            && rfs::statat(parent.as_fd(), name, AtFlags::empty()).is_ok_and(
                                |t| FileType::from_raw_mode(t.st_mode) == FileType::Directory,
                            ) =>
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
        let fd = rfs::openat(parent.as_fd(), name, flags, Mode::empty())
            .map_err(|e| dst_err(Op::Open, e.into()))?;
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
                chmod_made_dir(fd.as_fd(), stat, self.options).map_err(|(op, e)| dst_err(op, e))?;
            }
            true
        } else {
            false
        };
        // Owner now; xattrs are read now (the source fd is open) but written when the directory
        // is finished: a default ACL written now would be inherited by every child made later.
        own_fd(fd.as_fd(), None, stat, self.options).map_err(|e| dst_err(e.op, e.error))?;
        let keep = self.options.preserved();
        if keep.xattr || keep.mode {
            let src = node
                .src_fd()
                .map_err(|e| EntryError::new(node.path(), Op::Open, e))?;
            // -p without xattrs still copies the ACLs: they are part of the mode for cp.
            let xattrs = if keep.xattr {
                read_xattrs(src.as_fd()).map_err(|e| EntryError::new(node.path(), Op::Xattr, e))?
            } else {
                crate::meta::read_acls(src.as_fd())
                    .map_err(|e| EntryError::new(node.path(), e.op, e.error))?
            };
            if !xattrs.is_empty() {
                self.dir_xattrs.insert(Arc::as_ptr(node) as usize, xattrs);
            }
        }
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
        // A directory made at its final mode (and a killed run's, given it when merged into) has
        // no mark and keeps its mode: only times or xattrs may be left to apply.
        let private = node.dst_created() && dir_final_at_creation(&stat, self.options).is_none();
        if xattrs.is_none() && !private && !self.options.preserved().timestamps {
            node.release_dst_upward();
            return;
        }
        let result = node
            .dst_fd()
            .map_err(|e| EntryError::new(node.dst_path(), Op::Open, e))
            .and_then(|fd| {
                if let Some(xattrs) = &xattrs {
                    write_xattrs(fd.as_fd(), xattrs)
                        .map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
                }
                if private {
                    clear_unfinished(fd.as_fd())
                        .map_err(|e| EntryError::new(node.dst_path(), Op::Xattr, e))?;
                }
                // Without a kept mode, the final mode keeps an inherited set-group-ID bit.
                let keep_mode = self.options.preserved().mode;
                if private && !keep_mode {
                    chmod_made_dir(fd.as_fd(), &stat, self.options)
                        .map_err(|(op, e)| EntryError::new(node.dst_path(), op, e))?;
                }
                // A kept mode (applied whether made or merged into), and kept times.
                mode_and_times_fd(fd.as_fd(), &stat, self.options, false)
                    .map_err(|e| EntryError::new(node.dst_path(), e.op, e.error))
            });
        node.release_dst_upward();
        if let Err(e) = result {
            self.fail(e);
        }
    }
}
