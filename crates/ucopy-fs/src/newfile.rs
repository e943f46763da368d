//! A destination file's whole life in one type, so that no executor can forget a rule
//! (docs/behaviour-table.md, rows 20, 27, 30, 36 and 40).
//!
//! [`NewFile::create`] makes the file private (`dest::private_file_mode`, or truncates an
//! existing one by the rules of [`crate::dest`]); the executor only moves bytes into
//! [`NewFile::fd`]; then exactly one of:
//!
//! - [`NewFile::commit`]: owner, xattrs, mode and times from the source's `fstat` taken on the
//!   descriptor the bytes were read from (never the planner's, which may describe a file renamed
//!   away since), then `close(2)` with its result checked — NFS, CIFS and FUSE report write errors
//!   there, and a file whose close failed is removed and reported like a failed write, as with cp;
//! - [`NewFile::abort`]: the partial file is removed and the error becomes the job's outcome; an
//!   error that dooms the run (ENOSPC, EDQUOT, EROFS) cancels it;
//! - [`NewFile::discard`]: the partial file is removed, with no error of its own (the job goes
//!   another way, or was interrupted);
//! - drop without any of these (only while unwinding): the partial file is still removed.
//!
//! A partial file that cannot be removed (the destination went read-only mid-copy) is recorded
//! in [`Options::leftovers`], and the run's report names it: it must not pass for a copy.
//!
//! Executors that close descriptors in bulk through io_uring use [`NewFile::finish_metadata`],
//! [`NewFile::into_closing`] and [`Closing::closed`], which keep the same rules.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::io::Errno;
use ucopy_core::{EntryError, FileJob, JobOutcome, Leftovers, Op, Options, Stat};

use crate::dest::{create_file, remove_entry};
use crate::file::{failed, meta_error};
use crate::meta::finish_fd;

/// Where a destination file lives, to remove it if it does not end complete. It holds only the
/// job's own directory and name: a clone of anything the driver or the other workers share (the
/// directory's node, the run's leftovers) would be two atomic operations per file on a cache
/// line that bounces between threads. What a failed removal is reported with (its path, the
/// run's leftovers) comes from the job and the options, which every way out passes in.
#[derive(Debug)]
struct Name {
    dir: Arc<OwnedFd>,
    name: ucopy_core::Name,
}

impl Name {
    fn new(job: &FileJob) -> Name {
        Name {
            dir: Arc::clone(&job.dst_dir),
            name: job.dst_name.clone(),
        }
    }

    /// Removes the incomplete file. The failure that led here is what gets reported as the
    /// job's error; a file that cannot be removed as well (the filesystem went read-only) stays
    /// behind, truncated, and is recorded so that the run names it.
    fn remove(self, job: &FileJob, leftovers: &Leftovers) {
        if let Err(e) = self.try_remove() {
            leftovers.record(EntryError::new(job.dst_path(), Op::Remove, e));
        }
    }

    fn try_remove(&self) -> io::Result<()> {
        remove_entry(self.dir.as_fd(), &*self.name, false)
    }
}

/// A destination regular file being written. Removed when dropped unless committed.
#[derive(Debug)]
pub struct NewFile {
    fd: Option<Held>,
    /// `None` once the file is handed to [`Closing`] (then it is no longer removed on drop).
    at: Option<Name>,
    created: bool,
}

/// The open descriptor: owned outright (written with plain system calls), or shared with
/// io_uring operations in flight ([`NewFile::share`]). Only sharing costs an allocation, which
/// per small file was a fifth of the std path's allocator work.
#[derive(Debug)]
enum Held {
    Owned(OwnedFd),
    Shared(Arc<OwnedFd>),
}

impl NewFile {
    /// Creates (or, for an existing regular file, truncates) the destination of `job`, whose
    /// opened source has metadata `src`. `Ok(None)`: it exists and `--no-clobber` keeps it.
    pub fn create(
        job: &FileJob,
        src: &Stat,
        options: &Options,
    ) -> Result<Option<NewFile>, EntryError> {
        Ok(create_file(job, src, options)?.map(|d| NewFile {
            fd: Some(Held::Owned(d.fd)),
            at: Some(Name::new(job)),
            created: d.created,
        }))
    }

    /// The descriptor to write the data to.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self.fd.as_ref().expect("open until committed") {
            Held::Owned(fd) => fd.as_fd(),
            Held::Shared(fd) => fd.as_fd(),
        }
    }

    /// Makes the descriptor shareable with operations in flight (an io_uring op keeps it open
    /// until it completes), for [`NewFile::shared`]; all clones must be gone before
    /// [`NewFile::commit`] or [`NewFile::into_closing`].
    pub fn share(&mut self) {
        if let Some(Held::Owned(fd)) = self.fd.take() {
            self.fd = Some(Held::Shared(Arc::new(fd)));
        }
    }

    /// The descriptor, shared with operations in flight. Panics unless [`NewFile::share`] was
    /// called.
    pub fn shared(&self) -> &Arc<OwnedFd> {
        match self.fd.as_ref().expect("open until committed") {
            Held::Shared(fd) => fd,
            Held::Owned(_) => panic!("NewFile::share comes before NewFile::shared"),
        }
    }

    /// True when this run created the file (or an interrupted run left it unfinished): it gets
    /// its final mode without `-a` too.
    pub fn created(&self) -> bool {
        self.created
    }

    /// The data is complete: applies metadata (from `stat`, the source's `fstat` on `src`, the
    /// descriptor the data was read from), closes the file and checks the close. `Ok` only when
    /// all of it worked. A metadata failure keeps the file (its data is complete; cp does the
    /// same) and is returned; a close failure removes it.
    pub fn commit(
        mut self,
        job: &FileJob,
        src: BorrowedFd<'_>,
        stat: &Stat,
        options: &Options,
    ) -> Result<(), EntryError> {
        let meta = self.finish_metadata(job, src, stat, options);
        self.into_closing().close(job, options)?;
        meta
    }

    /// Applies owner, xattrs, mode and times (see [`NewFile::commit`]). On failure the file is
    /// kept: its data is complete.
    pub fn finish_metadata(
        &mut self,
        job: &FileJob,
        src: BorrowedFd<'_>,
        stat: &Stat,
        options: &Options,
    ) -> Result<(), EntryError> {
        finish_fd(self.fd(), Some(src), stat, options, self.created).map_err(|e| meta_error(job, e))
    }

    /// Hands the descriptor over to be closed elsewhere (a batch of `IORING_OP_CLOSE`); the
    /// result must come back through [`Closing::closed`]. Panics if the descriptor is still
    /// shared.
    pub fn into_closing(mut self) -> Closing {
        let fd = match self.fd.take().expect("open until committed") {
            Held::Owned(fd) => fd,
            Held::Shared(fd) => {
                Arc::try_unwrap(fd).expect("no operation holds the descriptor any more")
            }
        };
        // The name moves to `Closing`, which removes the file if the close fails.
        let at = self.at.take().expect("named until handed over");
        Closing {
            fd: FdSlot(Some(fd)),
            at,
        }
    }

    /// The data could not be completed: removes the file and turns `error` into the job's
    /// outcome (an error that dooms the run cancels it, see [`failed`]).
    pub fn abort(self, job: &FileJob, error: EntryError, options: &Options) -> JobOutcome {
        self.discard(job, options);
        failed(error, options)
    }

    /// Removes the file without an error of its own (the job is handed to another path, or was
    /// interrupted); a removal that fails is recorded in [`Options::leftovers`].
    pub fn discard(mut self, job: &FileJob, options: &Options) {
        // Close first, then remove the name: nothing may keep writing into a removed file.
        drop(self.fd.take());
        if let Some(at) = self.at.take() {
            at.remove(job, &options.leftovers);
        }
    }
}

impl Drop for NewFile {
    /// Reached only while unwinding (every other way out is [`NewFile::commit`],
    /// [`NewFile::abort`], [`NewFile::discard`] or [`NewFile::into_closing`]): the partial file
    /// is still removed, so nothing truncated passes for a copy. A removal that fails here has
    /// no report to go to: the panic ends the run.
    fn drop(&mut self) {
        drop(self.fd.take());
        if let Some(at) = self.at.take() {
            debug_assert!(
                std::thread::panicking(),
                "a NewFile was dropped without commit, abort or discard"
            );
            let _ = at.try_remove();
        }
    }
}

#[derive(Debug)]
struct FdSlot(Option<OwnedFd>);

impl FdSlot {
    fn take_fd(&mut self) -> OwnedFd {
        self.0.take().expect("taken once")
    }
}

/// A complete file whose descriptor is being closed elsewhere.
#[derive(Debug)]
pub struct Closing {
    fd: FdSlot,
    at: Name,
}

impl Closing {
    /// The descriptor, to hand to whatever closes it (exactly once).
    pub fn take_fd(&mut self) -> OwnedFd {
        self.fd.take_fd()
    }

    /// Closes the file now with `close(2)` and checks the result (see [`Closing::closed`]); a
    /// descriptor already handed out counts as a failed close.
    pub fn close(mut self, job: &FileJob, options: &Options) -> Result<(), EntryError> {
        let result = match self.fd.0.take() {
            Some(fd) => nix::unistd::close(fd).map_err(|e| Errno::from_raw_os_error(e as i32)),
            None => Err(Errno::IO),
        };
        self.closed(job, result, options)
    }

    /// How the close went: a failed close means the data may not have reached the file (NFS,
    /// FUSE report deferred write errors there), so the file is removed and the error reported
    /// as a failed write.
    pub fn closed(
        self,
        job: &FileJob,
        result: Result<(), Errno>,
        options: &Options,
    ) -> Result<(), EntryError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                self.at.remove(job, &options.leftovers);
                Err(EntryError::new(
                    job.dst_path(),
                    Op::Write,
                    io::Error::from(e),
                ))
            }
        }
    }
}
