//! The executor contract: the only thing a backend must provide is moving the data of a batch
//! of regular files from source to destination.
//!
//! Everything else a tree copy does (directories, symlinks, special files, hard links, directory
//! metadata, destination conflicts) is the same for every backend and is done by `ucopy-fs`'s
//! driver, which hands executors [`FileJob`]s whose directories are already open.

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use crate::node::join;
use crate::{DirNode, EntryError, LinkGroup, Name, Options, Stat};

/// One regular file to copy: open `src_name` relative to `src_dir`, create `dst_name` relative to
/// `dst_dir` (both directories are held open by the job, so the names never re-resolve a long
/// path and a swapped parent cannot redirect the copy).
#[derive(Debug)]
pub struct FileJob {
    /// The source file's directory.
    pub src_dir: Arc<OwnedFd>,
    /// The source file's name within `src_dir` (one component, no `/`). Shared, not copied:
    /// the planner, the job and the executor's in-flight operations hold the same name.
    pub src_name: Name,
    /// The destination directory, already created.
    pub dst_dir: Arc<OwnedFd>,
    /// The destination name within `dst_dir` (usually the same allocation as `src_name`).
    pub dst_name: Name,
    /// Where the job comes from: what names it in messages, and the driver's bookkeeping.
    pub origin: JobOrigin,
    /// The source metadata as planned (the file may change before it is opened; executors
    /// compare against the opened file's `fstat`).
    pub stat: Stat,
}

/// Where a [`FileJob`] comes from. Its paths are built only when a message needs them: a copy of
/// many small files would otherwise build two full paths per file that nothing reads.
#[derive(Debug, Clone)]
pub enum JobOrigin {
    /// An entry of a planned tree, in directory `dir`.
    Planned {
        /// The directory holding the entry (source and destination sides).
        dir: Arc<DirNode>,
        /// The entry's own name, when the job reads another one (`-L`: a followed symlink's
        /// target); `None` when it is the job's `src_name`.
        name: Option<Name>,
        /// Its hard-link group, when other names of its inode wait for it (`-a`).
        link: Option<Arc<LinkGroup>>,
    },
    /// Paths given outright: a job made outside a planned tree (tests, a downstream executor).
    Paths {
        /// The source path.
        path: PathBuf,
        /// The destination path.
        dst_path: PathBuf,
    },
}

impl FileJob {
    /// The source path, for messages (never used for a system call).
    pub fn path(&self) -> PathBuf {
        match &self.origin {
            JobOrigin::Planned { dir, name, .. } => {
                join(dir.path(), name.as_deref().unwrap_or(&self.src_name))
            }
            JobOrigin::Paths { path, .. } => path.clone(),
        }
    }

    /// The destination path, for messages about destination-side failures.
    pub fn dst_path(&self) -> PathBuf {
        self.origin.dst_path(&self.dst_name)
    }
}

impl JobOrigin {
    /// The destination path of the entry named `dst_name` in this origin's directory.
    pub fn dst_path(&self, dst_name: &CStr) -> PathBuf {
        match self {
            JobOrigin::Planned { dir, .. } => join(dir.dst_path(), dst_name),
            JobOrigin::Paths { dst_path, .. } => dst_path.clone(),
        }
    }
}

/// What happened to one job.
#[derive(Debug)]
pub enum JobOutcome {
    /// Copied, with this many bytes of data.
    Copied {
        /// Bytes copied (the file's size when it was read).
        bytes: u64,
    },
    /// Left alone: the destination exists and `--no-clobber` was given.
    Skipped,
    /// The source disappeared between planning and copying: a warning, not a failure.
    Vanished(EntryError),
    /// Failed; the destination holds no partial file.
    Failed(EntryError),
}

/// A batch of jobs handed to an executor in one call: at most `Options::queue_depth` files.
pub type Batch = Vec<FileJob>;

/// A backend: copies the data (and, under `-a`, the per-file metadata) of batches of regular
/// files. One executor serves one thread; the driver makes one per worker thread.
pub trait Executor: Send {
    /// The backend's name as `--backend` spells it (`std`, `splice`, `rw`, `fixed`).
    fn name(&self) -> &'static str;

    /// Copies every job of `batch` and returns one outcome per job, in any order, each with its
    /// job. Per-file failures are outcomes, not errors; a job whose destination could not be
    /// completed must leave no partial destination file.
    fn copy_batch(&mut self, batch: Batch, options: &Options) -> Vec<(FileJob, JobOutcome)>;
}

/// Makes executors, one per worker thread (each may own a ring, buffers, pipes).
pub trait ExecutorFactory: Send + Sync {
    /// The backend's name as `--backend` spells it.
    fn name(&self) -> &'static str;

    /// A fresh executor for one worker thread.
    fn make(&self, options: &Options) -> std::io::Result<Box<dyn Executor>>;

    /// Descriptors each executor holds besides the files it copies (a ring, pipes), so that the
    /// driver can size its work to `RLIMIT_NOFILE`.
    fn fds_per_worker(&self) -> usize {
        0
    }
}
