//! Batching: a directory's regular files kept together in one batch (up to `batch_files`), small
//! directories grouped until a batch holds `queue_depth` files (and at most `max_dirs_per_batch`
//! directories), and the hard-link groups that make later names of an inode wait for its first.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};

use rustix::fs as rfs;

use super::{Entry, LinkGroup, LinkStatus, PlannedFile, Planner, Step};
use crate::{Dereference, EntryError, Kind, Op};

impl Planner {
    pub(super) fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.ready
                .push_back(Step::Files(std::mem::take(&mut self.batch)));
            self.batch_dirs = 0;
            self.batch_seq += 1;
        }
    }

    /// Hands the current batch out first if a file of directory `dir` should start a new one:
    /// once it is worth handing out, a new directory starts a new batch, so that one worker
    /// creates in a directory at a time (see `PlanOptions::batch_files`).
    fn flush_before(&mut self, dir: &Arc<crate::DirNode>) {
        let new_dir = self
            .batch
            .last()
            .is_some_and(|f| !Arc::ptr_eq(&f.entry.dir, dir));
        if new_dir
            && (self.batch_dirs >= self.options.max_dirs_per_batch
                || self.batch.len() >= self.options.queue_depth)
        {
            self.flush();
        }
    }

    pub(super) fn add_file(
        &mut self,
        entry: Entry,
        src_dir: Arc<OwnedFd>,
        link: Option<Arc<LinkGroup>>,
    ) {
        self.flush_before(&entry.dir);
        let new_dir = self
            .batch
            .last()
            .is_none_or(|f| !Arc::ptr_eq(&f.entry.dir, &entry.dir));
        if new_dir {
            self.batch_dirs += 1;
        }
        entry.dir.add_pending();
        if self.batch.capacity() == 0 {
            // Room for the most a batch holds: grown by doubling from empty, each batch was
            // reallocated (and moved) eight times at the defaults.
            self.batch.reserve_exact(self.options.batch_files.max(1));
        }
        self.batch.push(PlannedFile {
            entry,
            src_dir,
            link,
        });
        if self.batch.len() >= self.options.batch_files {
            self.flush();
        }
    }

    /// Plans one non-directory entry.
    /// `src_dir` is the entry's directory's descriptor, which its job keeps.
    pub(super) fn plan_entry(&mut self, entry: Entry, src_dir: Arc<OwnedFd>) {
        let src_dir = match &entry.resolved {
            Some((fd, _)) => Arc::clone(fd),
            None => src_dir,
        };
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
                    // The batch this first name goes into is the one its group records (its
                    // other names must not share it), so any flush comes first.
                    self.flush_before(&entry.dir);
                    let group = Arc::new(LinkGroup {
                        state: Mutex::new((
                            LinkStatus::Planned,
                            Arc::clone(&entry.dir),
                            // Kept for the rest of the run: not the whole listing's names.
                            entry.dst_name.detached(),
                        )),
                        batch: self.batch_seq,
                    });
                    self.links.insert(key, (Arc::clone(&group), 1));
                    self.add_file(entry, src_dir, Some(group));
                } else {
                    self.add_file(entry, src_dir, None);
                }
            }
            Kind::Symlink => {
                match rfs::readlinkat(src_dir.as_fd(), entry.src_at(&src_dir).1, Vec::new()) {
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
}
