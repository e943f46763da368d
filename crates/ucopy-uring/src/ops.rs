//! What the ring is given and gives back: how to build it, what it accepted, the ops of a chain
//! and how each ended. Plain data without `unsafe`; `ring` owns everything the kernel points at
//! (an op's descriptors and names move into its in-flight table when pushed).

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

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
#[allow(dead_code)]
pub(crate) struct RingInfo {
    pub single_issuer: bool,
    pub defer_taskrun: bool,
    pub coop_taskrun: bool,
    pub submit_all: bool,
    pub registered_buffers: bool,
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

/// One operation of a chain.
#[derive(Debug)]
pub(crate) enum Op {
    /// `IORING_OP_OPENAT` of `name` relative to `dir`, as a normal descriptor returned in the
    /// completion.
    Open {
        dir: Arc<OwnedFd>,
        name: CString,
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
    /// `IORING_OP_CLOSE` of a normal descriptor, which the op takes over.
    CloseFd { fd: OwnedFd },
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
    pub results: Vec<OpResult>,
}
