//! Non-directory entries made on the driver thread: symlinks, special files, `--copy-contents`
//! streams, and the shared step that frees a taken destination name first (`dest::make_room`).

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType};
use ucopy_core::{file_id, CopiedPaths, Entry, EntryError, FileJob, JobOrigin, Kind, LinkMode, Op};

use super::Driver;
use crate::dest::{create_making_room, Room};
use crate::existing::Incoming;
use crate::meta::finish_at;

impl Driver<'_> {
    /// Runs `create` for a non-directory entry, freeing the name first if something is there.
    /// `resolves_to` is what the new object will refer to (a symlink's target, a hard link's
    /// source): replacing that very object is refused as "the same file".
    pub(super) fn create_entry(
        &mut self,
        entry: &Entry,
        op: Op,
        wanted: Option<(u64, u64)>,
        resolves_to: impl Fn() -> Option<(u64, u64)>,
        create: impl Fn(&OwnedFd, &CStr) -> rustix::io::Result<()>,
    ) -> Result<Room, EntryError> {
        let dst_path = entry.dst_path();
        let src_path = entry.path();
        let dir = entry
            .dir
            .dst_fd()
            .map_err(|e| EntryError::new(&dst_path, Op::Open, e))?;
        let incoming = || Incoming {
            path: &src_path,
            stat: &entry.stat,
            resolves_to: resolves_to(),
            // Copying (not -l/-s), a link is made only for another name of a hard-linked
            // source (links.rs, make_hard_link).
            keeps_link: op == Op::Link && self.options.link_mode == LinkMode::Copy,
        };
        create_making_room(
            (&dir, &*entry.dst_name),
            &dst_path,
            op,
            self.options,
            wanted,
            incoming,
            create,
        )
    }

    pub(super) fn finish_entry(
        &mut self,
        entry: &Entry,
        created: bool,
        is_symlink: bool,
    ) -> Result<(), EntryError> {
        let dst = entry
            .dir
            .dst_fd()
            .map_err(|e| EntryError::new(entry.dst_path(), Op::Open, e))?;
        let src = entry
            .dir
            .src_fd()
            .map_err(|e| EntryError::new(entry.path(), Op::Open, e))?;
        finish_at(
            dst.as_fd(),
            &entry.dst_name,
            src.as_fd(),
            &entry.src_name,
            &entry.stat,
            self.options,
            created,
            is_symlink,
        )
        .map_err(|e| EntryError::new(entry.dst_path(), e.op, e.error))
    }

    pub(super) fn entry_result(
        &mut self,
        entry: &Entry,
        kind: Kind,
        result: Result<Room, EntryError>,
        is_symlink: bool,
    ) {
        let result = result.and_then(|room| match room {
            Room::Free => self.finish_entry(entry, true, is_symlink).map(|()| true),
            Room::Keep | Room::Same => Ok(false),
        });
        match result {
            Ok(true) => {
                self.record_created(CopiedPaths::entry(entry));
                match kind {
                    Kind::Symlink => self.report.symlinks += 1,
                    _ => self.report.specials += 1,
                }
                self.progress.copied(kind, CopiedPaths::entry(entry), 0);
            }
            Ok(false) => self.report.skipped += 1,
            Err(e) => self.fail(e),
        }
    }

    pub(super) fn make_symlink(&mut self, entry: &Entry, target: &std::ffi::OsStr) {
        if entry.dir.dst_failed() {
            return;
        }
        let src_dir = entry.dir.src_fd().ok();
        let resolves_to = || {
            let dir = src_dir.as_ref()?;
            let st = rfs::statat(dir.as_fd(), &*entry.src_name, AtFlags::empty()).ok()?;
            Some(file_id(&st))
        };
        let result = self.create_entry(entry, Op::Symlink, None, resolves_to, |dir, name| {
            rfs::symlinkat(target, dir, name)
        });
        self.entry_result(entry, Kind::Symlink, result, true);
    }

    pub(super) fn make_special(&mut self, entry: &Entry) {
        if entry.dir.dst_failed() {
            return;
        }
        let stat = entry.stat;
        let kind = FileType::from_raw_mode(stat.mode);
        // Private while it is being made; finish_at gives the final mode.
        let mode = crate::dest::create_mode(&stat, self.options);
        let result = self.create_entry(
            entry,
            Op::Mknod,
            None,
            || None,
            |dir, name| rfs::mknodat(dir, name, kind, mode, stat.rdev),
        );
        self.entry_result(entry, Kind::Special, result, false);
    }

    /// `--copy-contents`: a FIFO or device inside the tree is read into a regular file.
    pub(super) fn copy_contents(&mut self, entry: &Entry) {
        if entry.dir.dst_failed() {
            return;
        }
        let Some(job) = self.job_here(entry) else {
            return;
        };
        let outcome = crate::file::copy_stream(&job, self.options);
        self.count_file(&job, outcome);
    }

    /// A job for `entry` to run on this thread, or `None` after reporting why not.
    pub(super) fn job_here(&mut self, entry: &Entry) -> Option<FileJob> {
        let (src_dir, dst_dir) = match (entry.dir.src_fd(), entry.dir.dst_fd()) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => {
                self.fail(EntryError::new(entry.path(), Op::Open, e));
                return None;
            }
        };
        let (src_dir, src_name) = match &entry.resolved {
            Some((fd, name)) => (Arc::clone(fd), name.clone()),
            None => (src_dir, entry.src_name.clone()),
        };
        Some(FileJob {
            src_dir,
            src_name,
            dst_dir,
            dst_name: entry.dst_name.clone(),
            origin: JobOrigin::Planned {
                dir: Arc::clone(&entry.dir),
                name: entry.resolved.is_some().then(|| entry.src_name.clone()),
                link: None,
            },
            stat: entry.stat,
        })
    }
}
