//! One regular file, start to finish, with plain system calls: the std executor's whole job and
//! every other executor's path for files it does not handle itself.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, FileType, Mode};
use rustix::io::Errno;
use ucopy_core::{EntryError, FileJob, JobOrigin, JobOutcome, Op, Options, Stat};

use crate::data::{copy_data, DataError, KernelPaths};
use crate::dest::SOURCE_FLAGS;
use crate::meta::MetaError;
use crate::NewFile;

/// Opens a job's source and returns it with its metadata as of now, from `fstat` of the very
/// descriptor the data will be read from: the file at the name may have been replaced since it
/// was planned (a rename over it), and the copy must carry the mode, owner and times of the file
/// whose bytes it carries, never the planned one's. The open cannot follow a symlink or block on
/// a FIFO swapped in since planning. A vanished source is `JobOutcome::Vanished`, so the caller
/// reports a warning rather than a failure.
pub fn open_source(job: &FileJob) -> Result<(OwnedFd, Stat), JobOutcome> {
    let fd = match rfs::openat(
        job.src_dir.as_fd(),
        &*job.src_name,
        SOURCE_FLAGS,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => {
            return Err(JobOutcome::Vanished(EntryError::new(
                job.path(),
                Op::Changed,
                io::Error::other("vanished during the copy"),
            )))
        }
        Err(e) => return Err(JobOutcome::Failed(EntryError::new(job.path(), Op::Open, e))),
    };
    let stat = check_source(job, fd.as_fd()).map_err(JobOutcome::Failed)?;
    Ok((fd, stat))
}

/// Checks that an opened source (by whatever means it was opened) is a regular file, and returns
/// its current metadata (size and times as of now, not as planned).
pub fn check_source(job: &FileJob, fd: std::os::fd::BorrowedFd<'_>) -> Result<Stat, EntryError> {
    let st = rfs::fstat(fd).map_err(|e| EntryError::new(job.path(), Op::Stat, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(EntryError::new(
            job.path(),
            Op::Changed,
            io::Error::other("changed type during the copy"),
        ));
    }
    Ok(Stat::from(&st))
}

/// Turns a data error into the entry error to report.
pub fn data_error(job: &FileJob, e: DataError) -> EntryError {
    match e {
        DataError::Read(e) => EntryError::new(job.path(), Op::Read, e),
        DataError::Write(e) => EntryError::new(job.dst_path(), Op::Write, e),
        DataError::Clone(e) => EntryError::new(
            job.dst_path(),
            Op::Refused,
            io::Error::other(format!(
                "failed to clone '{}' from '{}': {}",
                job.dst_path().display(),
                job.path().display(),
                ucopy_core::cause(&e)
            )),
        ),
        DataError::Cancelled => EntryError::new(
            job.dst_path(),
            Op::Interrupted,
            io::Error::from(Errno::INTR),
        ),
    }
}

/// Turns a metadata error into the entry error to report.
pub fn meta_error(job: &FileJob, e: MetaError) -> EntryError {
    EntryError::new(job.dst_path(), e.op, e.error)
}

/// Copies one file with plain system calls (see [`crate::data`] for which); the file's life
/// (private creation, metadata, checked close, removal on failure) is [`NewFile`]'s.
pub fn copy_job(
    job: &mut FileJob,
    options: &Options,
    paths: &mut KernelPaths,
    dst_dev: u64,
) -> JobOutcome {
    if crate::existing::kept_as_is(job, options) {
        return JobOutcome::Skipped;
    }
    let (src, stat) = match open_source(job) {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    copy_opened(job, src.as_fd(), stat, options, paths, dst_dev)
}

/// [`copy_job`] from the point where the source is open and checked ([`check_source`]): `src`
/// is read from and `stat` is its `fstat`.
fn copy_opened(
    job: &mut FileJob,
    src: std::os::fd::BorrowedFd<'_>,
    stat: Stat,
    options: &Options,
    paths: &mut KernelPaths,
    dst_dev: u64,
) -> JobOutcome {
    // The job goes back with the opened file's metadata: what the driver checks the copied
    // length against (a file planned without a stat had none).
    job.stat = stat;
    let job = &*job;
    let dst = match NewFile::create(job, &stat, options) {
        Ok(Some(d)) => d,
        Ok(None) => return JobOutcome::Skipped,
        Err(e) => return failed(e, options),
    };
    let data = if options.attributes_only {
        Ok(0)
    } else {
        copy_data(src, dst.fd(), &stat, dst_dev, paths, options)
    };
    match data {
        Ok(bytes) => match dst.commit(job, src, &stat, options) {
            Ok(()) => JobOutcome::Copied { bytes },
            Err(e) => failed(e, options),
        },
        Err(e) => dst.abort(job, data_error(job, e), options),
    }
}

/// `--copy-contents`: reads a FIFO or device (opened blocking, as cp does) to its end into a
/// new regular file, then applies the entry's metadata.
pub fn copy_stream(job: &FileJob, options: &Options) -> JobOutcome {
    let flags = rustix::fs::OFlags::RDONLY
        | rustix::fs::OFlags::NOFOLLOW
        | rustix::fs::OFlags::CLOEXEC
        | rustix::fs::OFlags::NOCTTY;
    let src = match rfs::openat(job.src_dir.as_fd(), &*job.src_name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return JobOutcome::Failed(EntryError::new(job.path(), Op::Open, e)),
    };
    let dst = match NewFile::create(job, &job.stat, options) {
        Ok(Some(d)) => d,
        Ok(None) => return JobOutcome::Skipped,
        Err(e) => return failed(e, options),
    };
    let mut buf = vec![0u8; 128 << 10];
    let mut copied = 0u64;
    let result = loop {
        if options.cancel.is_cancelled() {
            break Err(DataError::Cancelled);
        }
        let n = match rustix::io::read(&src, &mut buf) {
            Ok(0) => break Ok(copied),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => break Err(DataError::Read(e.into())),
        };
        if let Err(e) = crate::data::write_all_at(dst.fd(), &buf[..n], copied) {
            break Err(e);
        }
        copied += n as u64;
    };
    match result {
        Ok(bytes) => match dst.commit(job, src.as_fd(), &job.stat, options) {
            Ok(()) => JobOutcome::Copied { bytes },
            Err(e) => failed(e, options),
        },
        Err(e) => dst.abort(job, data_error(job, e), options),
    }
}

/// The outcome for a failed job. A failure that dooms the rest of the run (ENOSPC, EROFS) stops
/// the other jobs in flight at once, through the shared cancel flag, instead of letting every
/// remaining file of every batch fail one by one.
pub fn failed(error: EntryError, options: &Options) -> JobOutcome {
    if error.is_fatal() {
        options.cancel.cancel();
    }
    JobOutcome::Failed(error)
}

/// The outcome of a job stopped by Ctrl-C before it started (nothing was created).
pub fn interrupted(job: &FileJob) -> JobOutcome {
    JobOutcome::Failed(EntryError::new(
        job.dst_path(),
        Op::Interrupted,
        io::Error::from(Errno::INTR),
    ))
}

/// Copies jobs one at a time with plain system calls: the std executor's whole job, and every
/// other executor's path for the files it does not take. Remembers between files which kernel
/// paths work and the device of the last destination directory (one `fstat` per directory).
#[derive(Debug, Default)]
pub struct StdCopier {
    paths: KernelPaths,
    dst_dev: Option<(Arc<OwnedFd>, u64)>,
}

impl StdCopier {
    /// Copies one job, or reports it interrupted if Ctrl-C came first.
    pub fn copy(&mut self, job: &mut FileJob, options: &Options) -> JobOutcome {
        if options.cancel.is_cancelled() {
            return interrupted(job);
        }
        let dev = self.dst_dev(job);
        copy_job(job, options, &mut self.paths, dev)
    }

    /// Copies one job whose source another path has opened and checked already ([`check_source`]
    /// gave `stat`): an io_uring executor that opened a file it then finds too large for its
    /// ring hands it over without opening it again.
    pub fn copy_opened(
        &mut self,
        job: &mut FileJob,
        src: std::os::fd::BorrowedFd<'_>,
        stat: Stat,
        options: &Options,
    ) -> JobOutcome {
        if options.cancel.is_cancelled() {
            return interrupted(job);
        }
        let dev = self.dst_dev(job);
        copy_opened(job, src, stat, options, &mut self.paths, dev)
    }

    /// The device of the job's destination directory, remembered for the directory of the job
    /// before (most jobs of a batch share it): known to its directory node (the driver took it
    /// when it made the directory), else asked with `fstat`.
    fn dst_dev(&mut self, job: &FileJob) -> u64 {
        if let Some((dir, dev)) = &self.dst_dev {
            if Arc::ptr_eq(dir, &job.dst_dir) {
                return *dev;
            }
        }
        let planned = match &job.origin {
            JobOrigin::Planned { dir, .. } => dir.dst_dev(),
            _ => None,
        };
        // Only a cache key for which kernel paths work; 0 on failure is harmless.
        let dev =
            planned.unwrap_or_else(|| crate::data::device_of(job.dst_dir.as_fd()).unwrap_or(0));
        self.dst_dev = Some((Arc::clone(&job.dst_dir), dev));
        dev
    }
}
