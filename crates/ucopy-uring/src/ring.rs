//! The only module of this crate with `unsafe`: one io_uring, the memory and descriptors its
//! operations point at, and the in-flight table that keeps all of that alive until the kernel
//! says it is done with it.
//!
//! # The contract with the kernel
//!
//! An SQE carries raw pointers (a path, a buffer) and raw descriptor numbers (a directory, a
//! source, a pipe). The kernel may use them at any time until the operation's completion: a
//! linked operation is prepared at submission but *issued* (its descriptor looked up, its buffer
//! imported) only when its predecessor finishes, possibly on an io-wq worker thread. So every
//! [`Op`] moves the things it refers to into the in-flight table ([`Keep`]), and they are
//! dropped only once the table knows the operation can no longer run: its CQE arrived, or the
//! chain it belongs to provably ended. Buffers are one allocation owned by the [`Ring`]; the
//! `Drop` of the ring first waits for everything in flight, and if it cannot (the ring broke), it
//! leaks the buffers and the kept descriptors rather than let the kernel write into freed memory
//! or into a descriptor number that was reused.
//!
//! One kind of op bypasses the table: the closes of [`Ring::close_all`]. A close points at no
//! memory, and the descriptor it names is given up (`into_raw_fd`) as it is queued, so there is
//! nothing to keep alive and nothing to drop later; those SQEs carry [`BULK_CLOSE`] in their
//! `user_data`, which the table ignores.
//!
//! # Chains and `IOSQE_CQE_SKIP_SUCCESS`
//!
//! The ops of one chain are linked with `IOSQE_IO_LINK`: each starts only after the previous one
//! succeeded, and a failure (for reads, writes and splices also a *short* transfer) cancels the
//! rest with `-ECANCELED`. Middle ops whose result is implied by success carry
//! `IOSQE_CQE_SKIP_SUCCESS` (5.17), so a file whose chain goes through costs one CQE. What the
//! kernel posts then (io_uring.h `req_set_fail`, timeout.c `io_fail_links`):
//! - the last op always posts;
//! - a skip-flagged op that fails posts its error, and the ops after it post *nothing*
//!   (`REQ_F_SKIP_LINK_CQES`);
//! - a non-skip op that fails posts, and every op after it posts `-ECANCELED`.
//!
//! [`Chain::record`] applies exactly these rules to know when a chain is over, and the results
//! it reports for ops without a CQE are inferred from them: before the op that ended the chain,
//! "succeeded with the expected result"; after it, "cancelled".
//!
//! # Minimum kernels
//!
//! `IORING_OP_READ`/`OPENAT`/`CLOSE` 5.6, `READ_FIXED` 5.1, `SPLICE` 5.7,
//! `IOSQE_CQE_SKIP_SUCCESS` 5.17. Setup flags: `R_DISABLED` 5.10, `SUBMIT_ALL` 5.18,
//! `COOP_TASKRUN` 5.19, `SINGLE_ISSUER` 6.0, `DEFER_TASKRUN` 6.1. Registration:
//! `IOWQ_MAX_WORKERS` 5.15, `ENABLE_RINGS` 5.10, `PROBE` 5.6.
//!
//! # Why this module is long
//!
//! Everything the kernel may touch after a push lives here on purpose: the ring, the buffer
//! mapping, the pipes, the SQE building, and the in-flight table that decides when what an op
//! points at may be freed. Splitting those apart would spread the `unsafe` blocks (and the
//! reasoning each `SAFETY` comment relies on) over several files; this is the one place to audit.
//! What the ring is given and gives back (specs, set-up flag fallback, pipes, ops, completions)
//! is in `ops`, its tests in `ring/tests.rs`; the unsafe system calls that are not io_uring
//! operations (`cachestat`, `mallopt`, `unshare`) in `ring/sys.rs`, under this module's
//! `allow(unsafe_code)`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

use io_uring::{opcode, squeue, types, IoUring};
use rustix::io::Errno;
use smallvec::SmallVec;

use crate::ops::Pipe;
pub(crate) use crate::ops::{
    Buf, BufferSpec, Completion, Op, OpResult, Ops, RingInfo, RingSpec, Target,
};

/// The most ops one chain may have (the position is 8 bits of `user_data`).
const MAX_CHAIN: usize = 255;

/// What an op's SQE points at, held until the op can no longer run. Never read: keeping the
/// values alive is the point.
#[derive(Debug)]
#[allow(dead_code)]
enum Keep {
    /// Only in the table's tests, whose chains point at nothing.
    #[cfg(test)]
    Nothing,
    Open(Arc<OwnedFd>, ucopy_core::Name),
    Fd(Arc<OwnedFd>),
    Two(Arc<OwnedFd>, Arc<OwnedFd>),
}

/// What result means "the op succeeded and the link goes on".
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exactly this value (bytes requested; 0 for closes). A read, write or
    /// splice returning less fails the link (rw.c `__io_complete_rw_common`, splice.c).
    Exact(i32),
    /// Any descriptor number; only an error fails the link.
    NewFd,
}

impl Expect {
    fn fails_link(self, res: i32) -> bool {
        match self {
            Expect::Exact(n) => res != n,
            Expect::NewFd => res < 0,
        }
    }
}

#[derive(Debug)]
struct ChainOp {
    #[allow(dead_code)] // see `Keep`
    keep: Keep,
    expect: Expect,
    skip: bool,
    res: Option<i32>,
    fd: Option<OwnedFd>,
}

#[derive(Debug)]
struct Chain {
    tag: u64,
    ops: SmallVec<[ChainOp; 2]>,
    /// A non-skip op failed: every later op will post a CQE (`-ECANCELED`).
    propagating: bool,
}

impl Chain {
    /// Records the CQE of op `pos`; true when the chain is over (see the module docs).
    fn record(&mut self, pos: usize, res: i32) -> bool {
        let last = pos + 1 == self.ops.len();
        let op = &mut self.ops[pos];
        op.res = Some(res);
        if matches!(op.expect, Expect::NewFd) && res >= 0 {
            // SAFETY: the kernel installed this descriptor for this op (OPENAT) and returned its
            // number only here; nothing else owns it.
            op.fd = Some(unsafe { OwnedFd::from_raw_fd(res) });
        }
        if last || self.propagating {
            return last;
        }
        if op.skip {
            // A skip-flagged op only posts when it failed; the rest of the chain stays silent.
            return true;
        }
        if op.expect.fails_link(res) {
            self.propagating = true;
        }
        false
    }

    /// The results of a chain that ended with the CQE of op `end`.
    fn finish(self, end: usize) -> Completion {
        let results = self
            .ops
            .into_iter()
            .enumerate()
            .map(|(pos, op)| match (op.res, op.fd) {
                (_, Some(fd)) => OpResult::Fd(fd),
                (Some(res), None) if res == -libc::ECANCELED => OpResult::Cancelled,
                (Some(res), None) if res < 0 => OpResult::Failed(Errno::from_raw_os_error(-res)),
                (Some(res), None) => OpResult::Done(res as u32),
                (None, None) if pos < end => match op.expect {
                    Expect::Exact(n) => OpResult::Done(n as u32),
                    // Never skip-flagged, so it always posts; unreachable unless the kernel
                    // broke its contract, in which case "failed" is the safe reading.
                    Expect::NewFd => OpResult::Failed(Errno::IO),
                },
                (None, None) => OpResult::Cancelled,
            })
            .collect();
        Completion {
            tag: self.tag,
            results,
        }
    }
}

/// Chains in flight, indexed by the `user_data` of their SQEs:
/// `generation << 40 | index << 8 | position`.
#[derive(Debug, Default)]
struct Table {
    slots: Vec<(u32, Option<Chain>)>,
    free: Vec<u32>,
    live: usize,
    live_ops: usize,
}

/// Generations wrap at 23 bits: bits 40–62 of `user_data`, leaving bit 63 to [`BULK_CLOSE`].
const GEN_MASK: u32 = (1 << 23) - 1;

/// `user_data` bit of the closes [`Ring::close_all`] pushes outside the table.
const BULK_CLOSE: u64 = 1 << 63;

impl Table {
    fn insert(&mut self, chain: Chain) -> (u32, u32) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.0 = (slot.0 + 1) & GEN_MASK;
        self.live += 1;
        self.live_ops += chain.ops.len();
        slot.1 = Some(chain);
        (index, slot.0)
    }

    fn user_data(index: u32, gen: u32, pos: usize) -> u64 {
        (u64::from(gen) << 40) | (u64::from(index) << 8) | pos as u64
    }

    /// Applies one CQE; pushes the chain's completion when it is over.
    fn complete(&mut self, user_data: u64, res: i32, out: &mut Vec<Completion>) {
        if user_data & BULK_CLOSE != 0 {
            return; // a close of `Ring::close_all` whose run was cut short: nothing to keep
        }
        let gen = ((user_data >> 40) as u32) & GEN_MASK;
        let index = ((user_data >> 8) & 0xffff_ffff) as usize;
        let pos = (user_data & 0xff) as usize;
        let Some((slot_gen, Some(chain))) = self.slots.get_mut(index) else {
            return; // not ours (cannot happen: every SQE we push is in the table)
        };
        if *slot_gen != gen || pos >= chain.ops.len() || chain.ops[pos].res.is_some() {
            return;
        }
        if chain.record(pos, res) {
            let chain = self.slots[index].1.take().expect("checked above");
            self.live -= 1;
            self.live_ops -= chain.ops.len();
            self.free.push(index as u32);
            out.push(chain.finish(pos));
        }
    }
}

/// The data buffers: one anonymous mapping (page-aligned, zero-filled on first touch, so that
/// buffers a run never uses cost nothing), never referenced from Rust (the kernel writes into it
/// while we run), only handed to the kernel as addresses.
#[derive(Debug)]
struct Buffers {
    ptr: NonNull<u8>,
    len: usize,
    count: usize,
    size: usize,
    leaked: bool,
}

// SAFETY: the mapping is owned by this struct alone and has no thread affinity; moving it to
// another thread moves nothing the kernel looks at (it keeps addresses, which stay valid).
unsafe impl Send for Buffers {}

impl Buffers {
    fn new(count: usize, size: usize) -> io::Result<Buffers> {
        let len = count
            .checked_mul(size)
            .filter(|&t| t > 0)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // No MADV_HUGEPAGE: it made no measurable difference to copying, and with
        // `defrag=madvise` a huge page fault may compact memory first (a 10 ms registration was
        // seen).
        Ok(Buffers {
            ptr,
            len,
            count,
            size,
            leaked: false,
        })
    }

    /// The address of `buf`; panics if it is not inside buffer `buf.index`.
    fn addr(&self, buf: Buf) -> *mut u8 {
        assert!(buf.index < self.count, "buffer index out of range");
        assert!(
            buf.start as usize + buf.len as usize <= self.size,
            "buffer range out of bounds"
        );
        // SAFETY: in bounds of the mapping, as just checked.
        unsafe {
            self.ptr
                .as_ptr()
                .add(buf.index * self.size + buf.start as usize)
        }
    }

    fn iovecs(&self) -> Vec<libc::iovec> {
        (0..self.count)
            .map(|i| libc::iovec {
                iov_base: self
                    .addr(Buf {
                        index: i,
                        start: 0,
                        len: 0,
                    })
                    .cast(),
                iov_len: self.size,
            })
            .collect()
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        if !self.leaked {
            // SAFETY: mapped in `new` with this length; the owning ring has drained (or set
            // `leaked`), so the kernel no longer writes here.
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}

/// One io_uring with its in-flight table, buffers and pipes.
pub(crate) struct Ring {
    // Field order is drop order: the ring (and with it the kernel's references to registered
    // buffers) goes before the buffers. Everything in flight was drained in `Drop` first.
    uring: IoUring,
    table: Table,
    buffers: Option<Buffers>,
    registered: bool,
    pipes: Vec<Option<Pipe>>,
    info: RingInfo,
    enabled: bool,
    skip_success: bool,
    cq_entries: usize,
}

impl Ring {
    /// Sets up a ring as `spec` says, dropping setup flags the kernel refuses (EINVAL) one by
    /// one, newest first. Buffers and the file table are registered here.
    pub(crate) fn new(spec: &RingSpec) -> io::Result<Ring> {
        let entries = spec.sq_entries();
        let mut flags = spec.wanted();
        let uring = loop {
            let mut b = IoUring::builder();
            b.setup_cqsize(entries * 2);
            flags.apply(&mut b);
            match b.build(entries) {
                Ok(u) => break u,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && flags.drop_newest() => {}
                Err(e) => return Err(e),
            }
        };
        let mut ring = Ring {
            cq_entries: uring.params().cq_entries() as usize,
            uring,
            table: Table::default(),
            buffers: None,
            registered: false,
            pipes: Vec::new(),
            enabled: !flags.single_issuer,
            info: flags,
            skip_success: spec.skip_success,
        };
        if let Some(b) = spec.buffers {
            let buffers = Buffers::new(b.count, b.size)?;
            if b.register {
                let iovecs = buffers.iovecs();
                // SAFETY: the iovecs describe `buffers`, which this ring owns and frees only
                // after the ring itself is closed (field order) and nothing is in flight.
                unsafe { ring.uring.submitter().register_buffers(&iovecs)? };
                ring.registered = true;
                ring.info.registered_buffers = true;
            }
            ring.buffers = Some(buffers);
        }
        if let Some(mut max) = spec.iowq_max_workers {
            ring.uring.submitter().register_iowq_max_workers(&mut max)?;
        }
        Ok(ring)
    }

    /// What the kernel accepted at setup.
    pub(crate) fn info(&self) -> &RingInfo {
        &self.info
    }

    /// Enables a ring created disabled (single issuer): the calling thread becomes the only one
    /// that may submit.
    pub(crate) fn enable(&mut self) -> io::Result<()> {
        if !self.enabled {
            self.uring.submitter().register_enable_rings()?;
            self.enabled = true;
        }
        Ok(())
    }

    /// Capacity of pipe `index`, creating it (sized to `size` bytes if the kernel lets us) if
    /// needed.
    pub(crate) fn pipe(&mut self, index: usize, size: usize) -> io::Result<u32> {
        if self.pipes.len() <= index {
            self.pipes.resize_with(index + 1, || None);
        }
        if let Some(p) = &self.pipes[index] {
            return Ok(p.capacity);
        }
        let pipe = Pipe::new(size)?;
        let capacity = pipe.capacity;
        self.pipes[index] = Some(pipe);
        Ok(capacity)
    }

    /// Throws pipe `index` away: after a failed chain it may hold stale data. Ops still holding
    /// its descriptors keep them open until they complete.
    pub(crate) fn reset_pipe(&mut self, index: usize) {
        if let Some(p) = self.pipes.get_mut(index) {
            *p = None;
        }
    }

    /// The bytes of `buf`, for a `write(2)` from userspace. Only between waves: nothing may be in
    /// flight (any op could be writing into any buffer).
    pub(crate) fn buffer(&self, buf: Buf) -> &[u8] {
        // Every pushed op, submitted or still queued, belongs to a live chain.
        assert!(
            self.table.live == 0,
            "buffers are read only when nothing is in flight"
        );
        let addr = self.buffers().addr(buf);
        // SAFETY: in bounds (`addr` checks); initialized (an anonymous mapping reads as zeros
        // until written); no op is in flight
        // or queued, so the kernel does not write there, and none can be pushed while the
        // returned borrow of `self` lives (`push` takes `&mut self`).
        unsafe { std::slice::from_raw_parts(addr, buf.len as usize) }
    }

    /// Queues one chain of linked ops; `Err` gives them back when the submission queue (or the
    /// completion budget that keeps the CQ from overflowing) has no room for all of them.
    pub(crate) fn push(&mut self, tag: u64, ops: Ops) -> Result<(), Ops> {
        let n = ops.len();
        assert!((1..=MAX_CHAIN).contains(&n), "a chain has 1..=255 ops");
        let sq_free = {
            let sq = self.uring.submission();
            sq.capacity() - sq.len()
        };
        if sq_free < n || self.table.live_ops + n > self.cq_entries {
            return Err(ops);
        }
        let mut entries: SmallVec<[(squeue::Entry, usize); 2]> = SmallVec::with_capacity(n);
        let mut chain_ops = SmallVec::with_capacity(n);
        for (pos, op) in ops.into_iter().enumerate() {
            let (entry, keep, expect) = self.build(op);
            let last = pos + 1 == n;
            // An op that returns a descriptor always posts, or the descriptor would leak.
            let skip = !last && self.skip_success && matches!(expect, Expect::Exact(_));
            let mut flags = squeue::Flags::empty();
            if !last {
                flags |= squeue::Flags::IO_LINK;
            }
            if skip {
                flags |= squeue::Flags::SKIP_SUCCESS;
            }
            entries.push((entry.flags(flags), pos));
            chain_ops.push(ChainOp {
                keep,
                expect,
                skip,
                res: None,
                fd: None,
            });
        }
        let (index, gen) = self.table.insert(Chain {
            tag,
            ops: chain_ops,
            propagating: false,
        });
        let entries: SmallVec<[squeue::Entry; 2]> = entries
            .into_iter()
            .map(|(e, pos)| e.user_data(Table::user_data(index, gen, pos)))
            .collect();
        // SAFETY: every pointer and descriptor number in these entries refers to something the
        // chain record just inserted owns (`Keep`: directory fds, path strings, source,
        // destination and pipe fds) or to this ring's buffers, which outlive everything in
        // flight (`Drop` drains or leaks).
        unsafe { self.uring.submission().push_multiple(&entries) }.expect("room was checked above");
        Ok(())
    }

    fn target(fd: &Target) -> types::Fd {
        match fd {
            Target::Fd(f) => types::Fd(f.as_raw_fd()),
        }
    }

    fn keep_of(fd: &Target) -> Arc<OwnedFd> {
        match fd {
            Target::Fd(f) => Arc::clone(f),
        }
    }

    fn build(&self, op: Op) -> (squeue::Entry, Keep, Expect) {
        match op {
            Op::Open {
                dir,
                name,
                flags,
                mode,
            } => {
                let o = opcode::OpenAt::new(types::Fd(dir.as_raw_fd()), name.as_ptr())
                    .flags(flags.bits() as i32)
                    .mode(mode.as_raw_mode());
                (o.build(), Keep::Open(dir, name), Expect::NewFd)
            }
            Op::Read { fd, buf, offset } => {
                let addr = self.buffers().addr(buf);
                let f = Self::target(&fd);
                let entry = if self.registered {
                    opcode::ReadFixed::new(f, addr, buf.len, buf.index as u16)
                        .offset(offset)
                        .build()
                } else {
                    opcode::Read::new(f, addr, buf.len).offset(offset).build()
                };
                (
                    entry,
                    Keep::Fd(Self::keep_of(&fd)),
                    Expect::Exact(buf.len as i32),
                )
            }
            Op::SpliceIn {
                fd,
                pipe,
                len,
                offset,
            } => {
                let p = self.pipes[pipe].as_ref().expect("pipe created before use");
                let out = types::Fd(p.write.as_raw_fd());
                let entry =
                    opcode::Splice::new(Self::target(&fd), offset as i64, out, -1, len).build();
                let keep = Keep::Two(Self::keep_of(&fd), Arc::clone(&p.write));
                (entry, keep, Expect::Exact(len as i32))
            }
            Op::SpliceOut {
                pipe,
                fd,
                len,
                offset,
            } => {
                let p = self.pipes[pipe].as_ref().expect("pipe created before use");
                let input = types::Fd(p.read.as_raw_fd());
                let entry =
                    opcode::Splice::new(input, -1, Self::target(&fd), offset as i64, len).build();
                let keep = Keep::Two(Self::keep_of(&fd), Arc::clone(&p.read));
                (entry, keep, Expect::Exact(len as i32))
            }
        }
    }

    fn buffers(&self) -> &Buffers {
        self.buffers
            .as_ref()
            .expect("read/write ops need a ring with buffers")
    }

    /// Queues one chain like [`Ring::push`]; when there is no room, first runs what is queued
    /// (its completions go to `done`), then queues it. Fails only if the chain is larger than
    /// the ring, or the ring failed.
    pub(crate) fn push_or_drain(
        &mut self,
        tag: u64,
        ops: Ops,
        done: &mut Vec<Completion>,
    ) -> io::Result<()> {
        match self.push(tag, ops) {
            Ok(()) => Ok(()),
            Err(ops) => {
                done.extend(self.run()?);
                self.push(tag, ops)
                    .map_err(|_| io::Error::other("a chain larger than the ring"))
            }
        }
    }

    /// Submits what is queued without waiting.
    pub(crate) fn submit(&mut self) -> io::Result<()> {
        loop {
            match self.uring.submit() {
                Ok(_) => return Ok(()),
                Err(e) => self.on_enter_error(e)?,
            }
        }
    }

    /// Submits what is queued and waits until every chain in flight is over; returns their
    /// completions.
    pub(crate) fn run(&mut self) -> io::Result<Vec<Completion>> {
        // Every chain in flight ends with one completion: sized once, never grown.
        let mut out = Vec::with_capacity(self.table.live);
        loop {
            self.reap(&mut out);
            let pending_sqes = self.uring.submission().len();
            if self.table.live == 0 && pending_sqes == 0 {
                return Ok(out);
            }
            // Every chain still in flight posts at least one more CQE, so waiting for that many
            // usually takes one io_uring_enter per wave.
            match self.uring.submit_and_wait(self.table.live) {
                Ok(_) => {}
                Err(e) => self.on_enter_error(e)?,
            }
        }
    }

    /// Closes every descriptor of `fds` with `IORING_OP_CLOSE`, as many per `io_uring_enter` as
    /// the ring holds, and returns each close's result in the order given. Lighter than a chain
    /// per descriptor: a close points at no memory and keeps nothing alive, so it needs no entry
    /// in the in-flight table, only its index in `user_data`. Only when nothing else is in
    /// flight (the executor closes a group's files once its data is written).
    ///
    /// A descriptor is the kernel's from the moment its close is queued (close(2) releases the
    /// number even when it reports an error): if the ring fails before reporting, those
    /// descriptors are forgotten, never closed a second time, and the error is returned;
    /// descriptors not queued yet are closed by their drop.
    pub(crate) fn close_all(&mut self, fds: Vec<OwnedFd>) -> io::Result<Vec<Result<(), Errno>>> {
        assert!(
            self.table.live == 0 && self.uring.submission().is_empty(),
            "bulk closes run alone"
        );
        let mut results = vec![Err(Errno::IO); fds.len()];
        let mut fds = fds.into_iter().enumerate();
        let mut outstanding = 0usize;
        let room = self.cq_entries;
        loop {
            {
                let mut sq = self.uring.submission();
                while outstanding < room && !sq.is_full() {
                    let Some((i, fd)) = fds.next() else { break };
                    let entry = opcode::Close::new(types::Fd(fd.into_raw_fd()))
                        .build()
                        .user_data(BULK_CLOSE | i as u64);
                    // SAFETY: a close points at no memory; the descriptor number it names was
                    // just released from its `OwnedFd`, so nothing else closes or reuses it
                    // before the kernel has closed it.
                    unsafe { sq.push(&entry) }.expect("room was checked");
                    outstanding += 1;
                }
            }
            if outstanding == 0 {
                return Ok(results);
            }
            if let Err(e) = self.uring.submit_and_wait(outstanding) {
                // On an error that ends it, the queued closes may or may not run: their
                // descriptors are not ours any more either way. Unqueued ones close on drop.
                self.on_enter_error(e)?;
            }
            for cqe in self.uring.completion() {
                let ud = cqe.user_data();
                if ud & BULK_CLOSE == 0 {
                    continue; // cannot happen: nothing else is in flight
                }
                let i = (ud & !BULK_CLOSE) as usize;
                if let Some(r) = results.get_mut(i) {
                    let res = cqe.result();
                    *r = if res < 0 {
                        Err(Errno::from_raw_os_error(-res))
                    } else {
                        Ok(())
                    };
                    outstanding -= 1;
                }
            }
        }
    }

    /// EINTR: go again. EAGAIN/EBUSY (no memory for requests, or completions the kernel has not
    /// been able to post yet): let the kernel make progress, then go again. Anything else is
    /// an error the caller sees.
    fn on_enter_error(&mut self, e: io::Error) -> io::Result<()> {
        match e.raw_os_error() {
            Some(libc::EINTR) => Ok(()),
            Some(libc::EAGAIN) | Some(libc::EBUSY) => {
                std::thread::yield_now();
                Ok(())
            }
            _ => Err(e),
        }
    }

    fn reap(&mut self, out: &mut Vec<Completion>) {
        let table = &mut self.table;
        for cqe in self.uring.completion() {
            table.complete(cqe.user_data(), cqe.result(), out);
        }
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.uring.as_raw_fd())
            .field("info", &self.info)
            .field("in_flight", &self.table.live)
            .finish_non_exhaustive()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.table.live == 0 && self.uring.submission().is_empty() {
            return;
        }
        // Let the kernel finish what it has; their results no longer matter.
        if self.enable().is_ok() && self.run().is_ok() {
            return;
        }
        // The ring cannot be drained (a broken ring, or a single-issuer ring dropped on another
        // thread). The kernel may still use buffers and descriptors of what is in flight after
        // the ring closes: leak them rather than free them under it.
        if let Some(b) = self.buffers.as_mut() {
            b.leaked = true;
        }
        std::mem::forget(std::mem::take(&mut self.table));
        for p in self.pipes.drain(..) {
            std::mem::forget(p);
        }
    }
}

/// Registers (and unregisters) `bytes` of buffer memory on a scratch ring: does the memlock
/// limit allow the fixed executor's buffers?
pub(crate) fn try_register_buffers(count: usize, size: usize) -> io::Result<()> {
    let uring = IoUring::new(4)?;
    let buffers = Buffers::new(count, size)?;
    let iovecs = buffers.iovecs();
    // SAFETY: no op is ever submitted on this ring, and the buffers stay mapped until the ring is
    // closed (dropped explicitly in that order below; if registering fails, nothing refers to
    // them).
    unsafe { uring.submitter().register_buffers(&iovecs)? };
    drop(uring);
    drop(buffers);
    Ok(())
}

mod sys;
pub(crate) use sys::{cached_pages, one_malloc_arena, unshare_fd_table};

#[cfg(test)]
mod tests;
