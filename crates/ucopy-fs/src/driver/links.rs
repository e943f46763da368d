//! Links: hard-link coordination (another name of an inode waits for its first copy, or is
//! copied in its place) and `-l` / `-s`, which link to the source instead of copying it.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags};
use ucopy_core::{
    file_id, CopiedPaths, Entry, EntryError, Kind, LinkGroup, LinkMode, LinkStatus, Op,
};

use super::Driver;
use crate::dest::Room;

impl Driver<'_> {
    /// Links another name of an inode to its first copy, waiting for that copy if it is still in
    /// flight; if the first copy failed, this name is copied instead and becomes the first.
    pub(super) fn make_hard_link(&mut self, entry: &Entry, group: &Arc<LinkGroup>) {
        if entry.dir.dst_failed() {
            return;
        }
        let (status, first_dir, first_name) = loop {
            let (status, dir, name) = group.first();
            // No worker started: the first name may be among the work held back, copied here.
            if status == LinkStatus::Planned && self.holds_work() {
                self.run_held_if_any();
                continue;
            }
            // Waiting is only useful while something is in flight: a first name that is not
            // (never dispatched, or lost) is treated as failed, and this name is copied.
            if status != LinkStatus::Planned
                || self.workers_alive == 0
                || self.in_flight == 0
                || self.stopping()
            {
                break (status, dir, name);
            }
            self.collect(true);
        };
        if self.stopping() {
            return;
        }
        if status != LinkStatus::Copied {
            self.copy_here(entry, group);
            return;
        }
        let wanted = first_dir.dst_fd().and_then(|fd| {
            let st = rfs::statat(fd.as_fd(), &*first_name, AtFlags::SYMLINK_NOFOLLOW)?;
            Ok((fd, file_id(&st)))
        });
        let (first_fd, wanted) = match wanted {
            Ok(w) => w,
            // The first copy cannot be reached any more (its directory was moved or replaced
            // meanwhile): this name is copied instead and becomes the first, so that it ends
            // copied or reported under its own name, never silently missing.
            Err(_) => {
                self.copy_here(entry, group);
                return;
            }
        };
        let result = self.create_entry(
            entry,
            Op::Link,
            Some(wanted),
            || None,
            |dir, name| rfs::linkat(first_fd.as_fd(), &*first_name, dir, name, AtFlags::empty()),
        );
        match result {
            Ok(Room::Free | Room::Same) => {
                self.record_created(CopiedPaths::entry(entry));
                self.report.hardlinks += 1;
                self.progress
                    .copied(Kind::File, CopiedPaths::entry(entry), 0);
            }
            Ok(Room::Keep) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    /// `-l` / `-s`: makes `entry`'s destination a hard or symbolic link to its source.
    pub(super) fn link_entry(&mut self, entry: &Entry, kind: Kind) {
        if entry.dir.dst_failed() {
            return;
        }
        let src_dir = match entry.dir.src_fd() {
            Ok(fd) => fd,
            Err(e) => return self.fail(EntryError::new(entry.path(), Op::Open, e)),
        };
        let (src_dir, src_name) = entry.src_at(&src_dir);
        let src_id = (entry.stat.dev, entry.stat.ino);
        let symbolic = self.options.link_mode == LinkMode::Symbolic;
        let target = entry.path();
        if symbolic && target.is_relative() {
            // cp's rule: a relative source only makes a valid link from the current directory.
            let dst = entry.dst_path();
            if dst
                .parent()
                .is_some_and(|p| !p.as_os_str().is_empty() && p != Path::new("."))
            {
                return self.fail(EntryError::new(
                    &dst,
                    Op::Refused,
                    io::Error::other(format!(
                        "'{}': can make relative symbolic links only in current directory",
                        dst.display()
                    )),
                ));
            }
        }
        let wanted = (!symbolic).then_some(src_id);
        // cp -l / -s leave an existing destination alone (EEXIST) unless told to replace it
        // (-f, --remove-destination, -b) or to skip it (-n, -u).
        let replace = self.options.remove_destination
            || self.options.backup != ucopy_core::Backup::Off
            || self.options.keeps_existing()
            || self.options.update != ucopy_core::Update::All;
        if !replace {
            let dir = match entry.dir.dst_fd() {
                Ok(fd) => fd,
                Err(e) => return self.fail(EntryError::new(entry.dst_path(), Op::Open, e)),
            };
            let exists = rfs::statat(dir.as_fd(), &*entry.dst_name, AtFlags::SYMLINK_NOFOLLOW);
            if let Ok(st) = exists {
                if symbolic || file_id(&st) != src_id {
                    let what = if symbolic { "symlink" } else { "hard link" };
                    return self.fail(EntryError::new(
                        entry.dst_path(),
                        Op::Refused,
                        io::Error::other(format!(
                            "cannot create {what} '{}' to '{}': File exists",
                            entry.dst_path().display(),
                            entry.path().display()
                        )),
                    ));
                }
            }
        }
        let result = if symbolic {
            self.create_entry(
                entry,
                Op::Symlink,
                None,
                || None,
                |dir, name| rfs::symlinkat(&target, dir, name),
            )
        } else {
            self.create_entry(
                entry,
                Op::Link,
                wanted,
                || None,
                |dir, name| rfs::linkat(src_dir, src_name, dir, name, AtFlags::empty()),
            )
        };
        match result {
            Ok(Room::Free | Room::Same) => {
                self.record_created(CopiedPaths::entry(entry));
                if symbolic {
                    self.report.symlinks += 1;
                } else {
                    self.report.hardlinks += 1;
                }
                self.progress.copied(kind, CopiedPaths::entry(entry), 0);
            }
            Ok(Room::Keep) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    /// Copies a hard-link name whose first copy failed, on this thread with plain calls.
    pub(super) fn copy_here(&mut self, entry: &Entry, group: &Arc<LinkGroup>) {
        let Some(mut job) = self.job_here(entry) else {
            return;
        };
        let outcome = self.std.copy(&mut job, self.options);
        let copied = self.count_file(&job, outcome) == LinkStatus::Copied;
        if copied {
            group.set_first(Arc::clone(&entry.dir), entry.dst_name.detached());
        }
    }
}
