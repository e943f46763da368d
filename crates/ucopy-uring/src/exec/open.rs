//! Phase 1: open every source of a group through the ring, check each, create its destination.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::fs::{Mode as FileMode, OFlags};
use rustix::io::Errno;
use smallvec::smallvec;
use ucopy_core::{EntryError, FileJob, JobOutcome, Op as EntryOp, Options};
use ucopy_fs::dest::SOURCE_FLAGS;
use ucopy_fs::file::check_source;
use ucopy_fs::NewFile;

use super::{Phase, Task, UringExecutor};
use crate::ring::{Op, OpResult};

impl UringExecutor {
    /// Opens the group's sources in one submission and copies the std-path files while the
    /// kernel works on that; then checks each source and creates its destination.
    pub(super) fn open_wave(
        &mut self,
        tasks: &mut [Task],
        std_jobs: Vec<FileJob>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) -> io::Result<()> {
        let mut done = Vec::with_capacity(tasks.len());
        let direct = self.direct_reads();
        let flags = if direct {
            SOURCE_FLAGS | OFlags::DIRECT
        } else {
            SOURCE_FLAGS
        };
        let ring = self.ring();
        for (i, t) in tasks.iter().enumerate() {
            let open = Op::Open {
                dir: Arc::clone(&t.job.src_dir),
                name: t.job.src_name.clone(),
                flags,
                mode: FileMode::empty(),
            };
            ring.push_or_drain(i as u64, smallvec![open], &mut done)?;
        }
        ring.submit()?;
        for mut job in std_jobs {
            let outcome = self.std.copy(&mut job, options);
            out.push((job, outcome));
        }
        done.extend(self.ring().run()?);
        for c in done {
            let t = &mut tasks[c.tag as usize];
            match c.results.into_iter().next() {
                Some(OpResult::Fd(fd)) => {
                    t.src = Some(Arc::new(fd));
                    t.direct = direct;
                }
                // A filesystem that refuses O_DIRECT (procfs, some FUSE and network ones): the
                // std path opens and reads it through the page cache.
                Some(OpResult::Failed(Errno::INVAL)) if direct => t.phase = Phase::Fallback,
                Some(OpResult::Failed(Errno::NOENT)) => {
                    t.end(JobOutcome::Vanished(EntryError::new(
                        t.job.path(),
                        EntryOp::Changed,
                        io::Error::other("vanished during the copy"),
                    )));
                }
                // Out of descriptors (a low RLIMIT_NOFILE, the group's other files open): the
                // std path copies it once the ring is done with the group.
                Some(OpResult::Failed(Errno::MFILE | Errno::NFILE)) => t.phase = Phase::Fallback,
                Some(OpResult::Failed(e)) => {
                    let e = EntryError::new(t.job.path(), EntryOp::Open, e);
                    t.fail(e);
                }
                _ => t.fail_read(Errno::CANCELED),
            }
        }
        for t in tasks.iter_mut() {
            if !matches!(t.phase, Phase::Open) {
                continue;
            }
            let src = t
                .src
                .as_ref()
                .expect("an open without error gave a descriptor");
            match check_source(&t.job, src.as_fd()) {
                Ok(stat) => t.stat = stat,
                Err(e) => {
                    t.fail(e);
                    continue;
                }
            }
            if !self.uses_ring(&t.stat) {
                // Too large for the ring (or sparse): planned without a stat, or grown since.
                // The std path copies it now, from the descriptor already open, through the
                // page cache: its read-ahead keeps a large file's reads long.
                if t.direct && !t.read_buffered() {
                    t.phase = Phase::Fallback;
                    continue;
                }
                let src = t.src.as_ref().expect("checked above");
                let outcome = self
                    .std
                    .copy_opened(&mut t.job, src.as_fd(), t.stat, options);
                t.end(outcome);
                continue;
            }
            match NewFile::create(&t.job, &t.stat, options) {
                Ok(Some(mut dst)) => {
                    // Its descriptor goes into ring operations (data.rs).
                    dst.share();
                    t.dst = Some(dst);
                    t.phase = Phase::Data;
                }
                Ok(None) => t.end(JobOutcome::Skipped),
                Err(e) if matches!(e.error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    t.phase = Phase::Fallback;
                }
                Err(e) => t.fail(e),
            }
        }
        Ok(())
    }
}
