//! io_uring executors for ucopy: many files in flight, one `io_uring_enter` per wave.
//!
//! Three executors move file data, chosen with `ucopy --backend`:
//! - [`Mode::Splice`]: source → pipe → destination with `IORING_OP_SPLICE` (Linux 5.7), no
//!   userspace buffer;
//! - [`Mode::Rw`]: `IORING_OP_READ` (5.6) into ordinary buffers carved from one anonymous
//!   mapping;
//! - [`Mode::Fixed`]: `IORING_OP_READ_FIXED` (5.1) into buffers registered once with
//!   `IORING_REGISTER_BUFFERS`.
//!
//! All three open sources relative to the job's directory descriptors with `IORING_OP_OPENAT`
//! (5.6), many files per `io_uring_enter`, read them with many reads in flight (buffered reads
//! of cold files complete asynchronously, without a worker thread), and close descriptors with
//! `IORING_OP_CLOSE`. Destinations are created with `openat(2)` and, for `rw` and `fixed`,
//! written with `pwrite(2)` from the executor thread: a creating `OPENAT` and, on ext4, a
//! buffered `WRITE` always go to an io-wq worker, and the hand-offs measured slower than the
//! syscalls they save (PERF.md; the ring-side variants were removed after those measurements).
//! See `exec` for the waves, `ring` for the kernel contract. Everything a copy must get right
//! per file (creation rules, conflicts, metadata, partial files, close errors) is
//! `ucopy_fs::NewFile`'s; large and sparse files take `ucopy-fs`'s
//! `copy_file_range`/`FICLONE` path.
//!
//! [`Probe`] says whether io_uring is usable and what each executor needs:
//!
//! ```no_run
//! use ucopy_core::ExecutorFactory;
//! use ucopy_uring::{Mode, Probe, UringFactory};
//!
//! let probe = Probe::detect();
//! println!("{probe}");
//! if probe.check(Mode::Rw).is_ok() {
//!     let factory = UringFactory::new(Mode::Rw);
//!     let executor = factory.make(&ucopy_core::Options::default()).unwrap();
//!     assert_eq!(executor.name(), "rw");
//! }
//! ```
//!
//! All `unsafe` code is in the `ring` module.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod exec;
mod ops;
mod probe;
mod ring;

use std::io;

use serde::Serialize;
use ucopy_core::{Executor, ExecutorFactory, Options};

pub use probe::{cached_pages, Capability, Feature, Opcode, Probe, SetupFailure};
pub use ucopy_core::DEFAULT_QUEUE_DEPTH;

/// Which io_uring executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `IORING_OP_SPLICE` through one pipe per file in flight.
    Splice,
    /// `IORING_OP_READ` into buffers in an anonymous mapping; `pwrite(2)` writes them.
    Rw,
    /// `IORING_OP_READ_FIXED` into registered buffers; `pwrite(2)` writes them.
    Fixed,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Splice, Mode::Rw, Mode::Fixed];

    /// The name `--backend` uses.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Splice => "splice",
            Mode::Rw => "rw",
            Mode::Fixed => "fixed",
        }
    }

    /// The mode called `name`, if any.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Knobs of the io_uring executors. The defaults are what measured fastest here (PERF.md);
/// the others exist to measure them again.
#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    /// Bytes per file in flight: the buffer of `rw`/`fixed`, the pipe size of `splice` (capped by
    /// `/proc/sys/fs/pipe-max-size` without privilege). Larger files take one chain per chunk.
    pub buffer_size: usize,
    /// Files larger than this go through `ucopy-fs`'s kernel path (`FICLONE`, then
    /// `copy_file_range`) instead of the ring.
    pub ring_max: u64,
    /// `IOSQE_CQE_SKIP_SUCCESS` on the first op of a splice chain.
    pub skip_success: bool,
    /// `IORING_SETUP_SINGLE_ISSUER`.
    pub single_issuer: bool,
    /// `IORING_SETUP_DEFER_TASKRUN` (only with `single_issuer`).
    pub defer_taskrun: bool,
    /// `IORING_SETUP_COOP_TASKRUN`.
    pub coop_taskrun: bool,
    /// `IORING_REGISTER_IOWQ_MAX_WORKERS` as [bounded, unbounded]; `None` keeps the kernel's
    /// defaults (bounded: min(SQ entries, 4 × CPUs)).
    pub iowq_max_workers: Option<[u32; 2]>,
    /// `rw`/`fixed` read sources with `O_DIRECT`: straight from the disk into the buffers, no
    /// page-cache copy and no read-ahead (each read rounded up to whole 4 KiB blocks; a read
    /// past the end returns what there is). A filesystem that refuses it at open, or a read it
    /// refuses (EINVAL: an alignment it wants), gets the same file read through the page cache;
    /// a file the ring hands to the kernel path (larger than `ring_max`) goes without it, so
    /// that it keeps its read-ahead. For data not in memory ([`Tuning::cold`]); `splice`
    /// ignores it.
    pub direct_reads: bool,
    /// At most this many files in flight in one ring, below the queue depth (`None`: the queue
    /// depth). Reads that skip the page cache reach this disk's best rate with fewer in flight
    /// than buffered ones (PERF.md, "Cold reads around the page cache").
    pub files_in_flight: Option<usize>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            buffer_size: 128 << 10,
            ring_max: 1 << 20,
            skip_success: true,
            single_issuer: true,
            defer_taskrun: true,
            coop_taskrun: true,
            iowq_max_workers: None,
            direct_reads: false,
            files_in_flight: None,
        }
    }
}

impl Tuning {
    /// The knobs for a source whose data is in the page cache: the ring takes files up to
    /// 32 KiB, through 32 KiB buffers; larger files go through the kernel path
    /// (`copy_file_range` copies them once, in the kernel, where a read into a buffer and a
    /// `pwrite` copy twice). For small files the ring's batched opens, reads and closes cost the
    /// kernel less than six system calls per file (the repository's PERF.md, "the seventh run").
    pub fn in_memory() -> Tuning {
        Tuning {
            buffer_size: 32 << 10,
            ring_max: 32 << 10,
            ..Tuning::default()
        }
    }

    /// The knobs for a source whose data is not in memory, on a filesystem where reads that
    /// skip the page cache were measured faster: [`Tuning::direct_reads`], with at most 16 files
    /// in flight per ring (the repository's PERF.md, "Cold reads around the page cache": 10,000
    /// × 64 KiB and the mixed corpus a tenth to a fifth faster than buffered reads at any depth).
    /// Such a copy runs four workers per CPU where other io_uring copies run two, so the files
    /// in flight per CPU stay the 64 of two rings of 32, as do the buffers' memory and the
    /// disk's queue ("More workers per CPU, the same files in flight").
    pub fn cold() -> Tuning {
        Tuning {
            direct_reads: true,
            files_in_flight: Some(16),
            ..Tuning::default()
        }
    }
}

/// Why an io_uring executor cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel or its configuration does not let this executor run.
    #[error("the {mode} backend cannot run here: {reason}")]
    Unsupported {
        /// The executor.
        mode: &'static str,
        /// What is missing.
        reason: String,
    },
    /// Setting up the ring failed.
    #[error("cannot set up an io_uring for the {mode} backend: {}", ucopy_core::cause(.source))]
    Setup {
        /// The executor.
        mode: &'static str,
        /// The error from the kernel.
        #[source]
        source: io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Unsupported { .. } => io::Error::new(io::ErrorKind::Unsupported, e),
            Error::Setup { ref source, .. } => io::Error::new(source.kind(), e),
        }
    }
}

/// Under an address-space limit (`ulimit -v`), keeps every thread's allocations in the C
/// library's main heap instead of a 64 MiB arena reserved per thread (glibc), so that worker
/// threads do not take the space the rest of the copy needs. Call before starting threads; it
/// does nothing without a limit. Returns whether a limit was found and the setting taken.
pub fn share_heap_under_address_limit() -> bool {
    ucopy_fs::address_space_limited() && ring::one_malloc_arena()
}

/// Gives the calling thread a file-descriptor table of its own holding only descriptors 0, 1, 2
/// and `keep`: the [`ucopy_core::PrivateFdTable`] the facade passes to the driver, which calls
/// it in each worker thread (crates/ucopy-fs/src/driver/fd_tables.rs). Threads that share one
/// table contend on its lock at every open and close (`cargo xtask fd-tables`: two threads that
/// only open and close files take 0.79× as long with tables of their own; PERF.md).
pub fn private_fd_table(keep: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    ring::unshare_fd_table(keep)
}

/// Bytes of buffers one executor may map under `RLIMIT_AS`: an eighth of what the limit leaves
/// above the process's current size, and no more than the worker's share of it
/// ([`ucopy_fs::worker_address_space`]) (`None`: no limit).
pub(crate) fn map_budget() -> Option<usize> {
    let left = ucopy_fs::address_space_left()?;
    let budget = (left / 8).min(ucopy_fs::worker_address_space().unwrap_or(u64::MAX));
    Some(usize::try_from(budget).unwrap_or(usize::MAX))
}

/// Below this much address space left (`ulimit -v`), an io_uring executor does not start: its
/// ring, buffers, and the allocations of a worker juggling many files in flight would leave the
/// heap too little, and an allocation failure aborts the process. The driver copies with plain
/// system calls instead.
const MIN_ADDRESS_SPACE: u64 = 24 << 20;

/// Below this `RLIMIT_NOFILE` the splice executor does not start (its pipes, two descriptors per
/// file in flight, starve the walk and the destination opens: at 64 the row 28 test hit EMFILE
/// as uid 65534); the driver copies with plain system calls instead.
const MIN_NOFILE_SPLICE: u64 = 128;

/// Makes io_uring executors of one [`Mode`], one per worker thread.
#[derive(Debug, Clone)]
pub struct UringFactory {
    mode: Mode,
    tuning: Tuning,
}

impl UringFactory {
    /// A factory for `mode` with the default [`Tuning`].
    pub fn new(mode: Mode) -> UringFactory {
        UringFactory::with_tuning(mode, Tuning::default())
    }

    /// A factory for `mode` with the given knobs.
    pub fn with_tuning(mode: Mode, tuning: Tuning) -> UringFactory {
        UringFactory { mode, tuning }
    }

    /// The executor's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The knobs in use.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// An executor, or why there cannot be one.
    pub fn try_make(&self, options: &Options) -> Result<Box<dyn Executor>> {
        // A probe refused for want of locked memory knew nothing of the kernel: ask again, and
        // if memory is still short, say so as a setup failure (the driver then copies with plain
        // system calls) rather than as something the kernel lacks.
        let probe = Probe::for_chosen_backend();
        if probe.short_of_locked_memory() {
            return Err(Error::Setup {
                mode: self.mode.name(),
                source: io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        probe
            .check(self.mode)
            .map_err(|reason| Error::Unsupported {
                mode: self.mode.name(),
                reason,
            })?;
        if ucopy_fs::address_space_left().is_some_and(|left| left < MIN_ADDRESS_SPACE) {
            return Err(Error::Setup {
                mode: self.mode.name(),
                source: io::Error::from_raw_os_error(libc::ENOMEM),
            });
        }
        if self.mode == Mode::Splice {
            // Pipes cost two descriptors per file in flight; under a tiny RLIMIT_NOFILE the
            // walk's directories need them more. EMFILE lets the driver copy with plain system
            // calls instead (and say so).
            let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            if nofile.is_some_and(|n| n < MIN_NOFILE_SPLICE) {
                return Err(Error::Setup {
                    mode: self.mode.name(),
                    source: io::Error::from_raw_os_error(libc::EMFILE),
                });
            }
        }
        let caps = exec::Caps::of(&probe);
        let e = exec::UringExecutor::new(self.mode, self.tuning.clone(), caps, options).map_err(
            |source| Error::Setup {
                mode: self.mode.name(),
                source,
            },
        )?;
        Ok(Box::new(e))
    }
}

impl ExecutorFactory for UringFactory {
    fn name(&self) -> &'static str {
        self.mode.name()
    }

    fn make(&self, options: &Options) -> io::Result<Box<dyn Executor>> {
        Ok(self.try_make(options)?)
    }

    /// The ring, and for `splice` a pipe (two descriptors) for at least one file in flight.
    fn fds_per_worker(&self) -> usize {
        match self.mode {
            Mode::Splice => 3,
            Mode::Rw | Mode::Fixed => 1,
        }
    }
}
