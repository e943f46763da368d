//! What the ring is given and gives back: how to build it (and which set-up flags to drop when
//! the kernel refuses them), what it accepted, the pipes splices go through, the ops of a chain
//! and how each ended. No `unsafe`; `ring` owns everything the kernel points at (an op's
//! descriptors and names move into its in-flight table when pushed).

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::{self as rpipe, PipeFlags};
use smallvec::SmallVec;

/// How to build a ring.
#[derive(Debug, Clone)]
pub(crate) struct RingSpec {
    /// Submission queue entries; the completion queue gets twice as many.
    pub entries: u32,
    /// `IORING_SETUP_SINGLE_ISSUER` (6.0): only one task submits. The ring is then created with
    /// `IORING_SETUP_R_DISABLED` and bound to the thread that calls [`Ring::enable`](crate::ring::Ring::enable).
    pub single_issuer: bool,
    /// `IORING_SETUP_DEFER_TASKRUN` (6.1, needs single issuer): completion work runs only when
    /// we wait for completions, in one batch.
    pub defer_taskrun: bool,
    /// `IORING_SETUP_COOP_TASKRUN` (5.19): no IPI to interrupt us for completion work.
    pub coop_taskrun: bool,
    /// Data buffers, one per file in flight.
    pub buffers: Option<BufferSpec>,
    /// `IORING_REGISTER_IOWQ_MAX_WORKERS` (5.15): [bounded, unbounded] io-wq workers; 0 keeps the
    /// kernel's value.
    pub iowq_max_workers: Option<[u32; 2]>,
    /// Mark middle ops of a chain `IOSQE_CQE_SKIP_SUCCESS`.
    pub skip_success: bool,
}

impl RingSpec {
    /// Submission queue entries as set up: at least 8, a power of two.
    pub fn sq_entries(&self) -> u32 {
        self.entries.max(8).next_power_of_two()
    }

    /// The set-up flags asked for (`SUBMIT_ALL` always), before the kernel says which it takes.
    pub fn wanted(&self) -> RingInfo {
        RingInfo {
            single_issuer: self.single_issuer,
            defer_taskrun: self.defer_taskrun && self.single_issuer,
            coop_taskrun: self.coop_taskrun,
            submit_all: true,
            registered_buffers: false,
        }
    }
}

/// Buffers for `READ`/`WRITE` (or `READ_FIXED`/`WRITE_FIXED` when registered).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferSpec {
    /// How many (one per file in flight).
    pub count: usize,
    /// Bytes each.
    pub size: usize,
    /// Register them with `IORING_REGISTER_BUFFERS` and use the fixed opcodes.
    pub register: bool,
}

/// What the kernel accepted when the ring was set up (shown by the executor's `Debug`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RingInfo {
    pub single_issuer: bool,
    pub defer_taskrun: bool,
    pub coop_taskrun: bool,
    pub submit_all: bool,
    pub registered_buffers: bool,
}

impl RingInfo {
    /// Sets these set-up flags on `b`.
    pub fn apply(&self, b: &mut io_uring::Builder) {
        if self.submit_all {
            b.setup_submit_all();
        }
        if self.coop_taskrun {
            b.setup_coop_taskrun();
        }
        if self.single_issuer {
            b.setup_single_issuer();
            // Bind the ring to the thread that will submit, not to the one creating it.
            b.setup_r_disabled();
        }
        if self.defer_taskrun {
            b.setup_defer_taskrun();
        }
    }

    /// After the kernel refused the set-up (EINVAL): drops the newest flag still set; `false`
    /// when none is left to drop.
    pub fn drop_newest(&mut self) -> bool {
        if self.defer_taskrun {
            self.defer_taskrun = false;
        } else if self.single_issuer {
            self.single_issuer = false;
        } else if self.coop_taskrun {
            self.coop_taskrun = false;
        } else if self.submit_all {
            self.submit_all = false;
        } else {
            return false;
        }
        true
    }
}

/// A pipe for `IORING_OP_SPLICE`: file → pipe → file.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub read: Arc<OwnedFd>,
    pub write: Arc<OwnedFd>,
    pub capacity: u32,
}

impl Pipe {
    /// A pipe sized to `size` bytes if the kernel lets us.
    pub fn new(size: usize) -> io::Result<Pipe> {
        let (read, write) = rpipe::pipe_with(PipeFlags::CLOEXEC)?;
        // Above /proc/sys/fs/pipe-max-size an unprivileged process gets EPERM: keep the
        // default size then.
        let _ = rpipe::fcntl_setpipe_size(&write, size);
        let capacity = rpipe::fcntl_getpipe_size(&write)?.min(u32::MAX as usize) as u32;
        Ok(Pipe {
            read: Arc::new(read),
            write: Arc::new(write),
            capacity,
        })
    }
}

/// The file an op works on: a normal descriptor, kept open by the op until it completes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A normal descriptor.
    Fd(Arc<OwnedFd>),
}

/// A part of one of the ring's buffers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Buf {
    pub index: usize,
    pub start: u32,
    pub len: u32,
}

/// The ops of one chain, in link order. Inline up to two (every chain the executors push has
/// one or two), so pushing a chain and reading its completion allocate nothing.
pub(crate) type Ops = SmallVec<[Op; 2]>;

/// One operation of a chain.
#[derive(Debug)]
pub(crate) enum Op {
    /// `IORING_OP_OPENAT` of `name` relative to `dir`, as a normal descriptor returned in the
    /// completion.
    Open {
        dir: Arc<OwnedFd>,
        name: ucopy_core::Name,
        flags: OFlags,
        mode: Mode,
    },
    /// `IORING_OP_READ` (or `READ_FIXED`) at `offset` into `buf`.
    Read { fd: Target, buf: Buf, offset: u64 },
    /// `IORING_OP_SPLICE` from `fd` at `offset` into pipe `pipe`.
    SpliceIn {
        fd: Target,
        pipe: usize,
        len: u32,
        offset: u64,
    },
    /// `IORING_OP_SPLICE` from pipe `pipe` into `fd` at `offset`.
    SpliceOut {
        pipe: usize,
        fd: Target,
        len: u32,
        offset: u64,
    },
}

/// How one op of a completed chain ended.
#[derive(Debug)]
pub(crate) enum OpResult {
    /// Succeeded with this result (bytes moved; 0 for closes).
    Done(u32),
    /// Succeeded with a new descriptor, now owned by the caller.
    Fd(OwnedFd),
    /// Failed.
    Failed(Errno),
    /// Never ran (or was cancelled): an earlier op of the chain failed or came up short.
    Cancelled,
}

/// A chain that is over, with one result per op in push order.
#[derive(Debug)]
pub(crate) struct Completion {
    pub tag: u64,
    pub results: SmallVec<[OpResult; 2]>,
}
