//! The three io_uring executors: one state machine per file ([`Task`], its [`Phase`]), advanced
//! in waves over a group of at most `group` files (one buffer or pipe per file):
//!
//! 1. **Open** ([`open`]): `OPENAT` of every source, all in one `io_uring_enter` (cached lookups
//!    complete inline, cold ones run on io-wq workers side by side); meanwhile the files the
//!    ring does not take (large, sparse) are copied by `ucopy-fs`'s std path. Then per file, in
//!    userspace: `fstat` of the source (`file::check_source`: still a regular file; its size,
//!    mode, owner and times as of now) and the destination's creation (`NewFile::create`, with
//!    `openat(2)`: a creating open never completes inline in io_uring).
//! 2. **Data** ([`data`]): per file and wave one `READ` (`rw`, `fixed`), whose bytes are written
//!    with `pwrite(2)` before the next wave, or one linked `SPLICE → SPLICE` (`splice`). A
//!    transfer that comes up short is resumed from where it got to in the next wave; only a
//!    read of 0 bytes ends a file before its size. With direct reads a large file also reads
//!    its next chunks into the buffers of files already done ([`lend`]).
//! 3. **Finish** ([`finish`]): metadata from the source's fresh `fstat`, every descriptor closed
//!    with `IORING_OP_CLOSE` in one submission, and each destination's close result checked
//!    (`Closing::closed`): a file whose close failed is removed and reported.
//!
//! The rules about destination files (private while written, removed when incomplete, fatal
//! errors cancel the run) are `ucopy_fs::NewFile`'s: this module only moves bytes. Between waves
//! the cancel flag is checked.

mod data;
mod finish;
mod lend;
mod open;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use rustix::fs::{self as rfs, OFlags};
use rustix::io::Errno;
use ucopy_core::{EntryError, Executor, FileJob, JobOutcome, Op as EntryOp, Options, Stat};
use ucopy_fs::{NewFile, StdCopier};

use crate::probe::{Feature, Probe};
use crate::ring::{BufferSpec, Ring, RingSpec};
use crate::{Mode, Tuning};

/// What the kernel offers that the executor may use, from the probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    /// `IOSQE_CQE_SKIP_SUCCESS` (5.17) on the first op of a splice chain.
    pub skip: bool,
    /// Bytes of registered buffers one executor may pin (`None`: no limit, as with
    /// `CAP_IPC_LOCK`). A share of `RLIMIT_MEMLOCK`, which all of this user's processes share.
    pub pin_budget: Option<usize>,
    /// Bytes of buffers (registered or not) one executor may map: a share of what `RLIMIT_AS`
    /// leaves (`None`: unlimited).
    pub map_budget: Option<usize>,
}

impl Caps {
    /// The capabilities `probe` found, and the limits of this process.
    pub(crate) fn of(probe: &Probe) -> Caps {
        Caps {
            skip: probe.has_feature(Feature::CqeSkip),
            pin_budget: probe.pin_budget(),
            map_budget: crate::map_budget(),
        }
    }
}

/// Ops one file has in flight at most: a splice chain (in, out); a source open or close.
const OPS_PER_FILE: usize = 2;

/// Largest group (files in flight in one ring).
const MAX_GROUP: usize = 1024;

/// One io_uring executor (one per worker thread).
#[derive(Debug)]
pub(crate) struct UringExecutor {
    mode: Mode,
    tuning: Tuning,
    caps: Caps,
    group: usize,
    /// Files in flight asked for (`group` may shrink below it to fit the limits).
    max_group: usize,
    buffer_size: usize,
    /// `fixed` registers its buffers; false once the memlock limit refused even the smallest.
    register: bool,
    ring: Option<Ring>,
    owner: Option<ThreadId>,
    /// Files the ring does not take (and every file when this thread has no ring).
    std: StdCopier,
    /// This batch already reported an error that stops the run (ENOSPC, EROFS, EDQUOT).
    fatal_seen: bool,
}

impl UringExecutor {
    /// An executor for `queue_depth` files in flight; sets its ring up now so that a kernel that
    /// refuses is known before the copy starts.
    pub(crate) fn new(
        mode: Mode,
        tuning: Tuning,
        caps: Caps,
        options: &Options,
    ) -> io::Result<UringExecutor> {
        let in_flight = options
            .queue_depth
            .min(tuning.files_in_flight.unwrap_or(usize::MAX))
            .clamp(1, MAX_GROUP);
        let mut e = UringExecutor {
            mode,
            buffer_size: tuning.buffer_size.clamp(4096, 1 << 30),
            tuning,
            caps,
            group: in_flight,
            max_group: in_flight,
            register: mode == Mode::Fixed,
            ring: None,
            owner: None,
            std: StdCopier::default(),
            fatal_seen: false,
        };
        if let (Mode::Rw | Mode::Fixed, Some(budget)) = (mode, caps.map_budget) {
            // Under a small RLIMIT_AS, buffers that fill the address space leave nothing for
            // the heap: allocation failures abort the process. Stay well inside it, or do not
            // start (the driver then copies with plain system calls).
            e.shrink_to(budget);
            if e.group * e.buffer_size > budget {
                return Err(io::Error::from_raw_os_error(libc::ENOMEM));
            }
            e.max_group = e.group;
        }
        if let (true, Some(budget)) = (e.register, caps.pin_budget) {
            // Start within this executor's share of the memlock limit instead of finding it by
            // failing: other executors and processes of this user need the rest.
            e.shrink_to(budget);
        }
        e.ring = Some(e.build_ring()?);
        Ok(e)
    }

    fn spec(&self) -> RingSpec {
        RingSpec {
            entries: (self.group * OPS_PER_FILE).next_power_of_two() as u32,
            single_issuer: self.tuning.single_issuer,
            defer_taskrun: self.tuning.defer_taskrun,
            coop_taskrun: self.tuning.coop_taskrun,
            buffers: match self.mode {
                Mode::Splice => None,
                Mode::Rw | Mode::Fixed => Some(BufferSpec {
                    count: self.group,
                    size: self.buffer_size,
                    register: self.register,
                }),
            },
            iowq_max_workers: self.tuning.iowq_max_workers,
            skip_success: self.tuning.skip_success && self.caps.skip,
        }
    }

    /// Smaller buffers, then fewer of them, until they fit in `budget` bytes (or cannot shrink).
    fn shrink_to(&mut self, budget: usize) {
        while self.group * self.buffer_size > budget && self.buffer_size > 4096 {
            self.buffer_size /= 2;
        }
        while self.group * self.buffer_size > budget && self.group > 1 {
            self.group /= 2;
        }
    }

    /// Sets a ring up, shrinking what the limits refuse: ring memory and registered buffers
    /// count against RLIMIT_MEMLOCK (ENOMEM without CAP_IPC_LOCK; the limit is per user, shared
    /// by all their processes), buffers against RLIMIT_AS (ENOMEM from mmap). Smaller buffers
    /// first, then fewer files in flight (a smaller ring), then, for `fixed`, unregistered
    /// buffers.
    fn build_ring(&mut self) -> io::Result<Ring> {
        loop {
            match Ring::new(&self.spec()) {
                Ok(r) => return Ok(r),
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                    let buffers = self.mode != Mode::Splice;
                    if buffers && self.buffer_size > 16 << 10 {
                        self.buffer_size /= 2;
                    } else if self.group > 1 {
                        self.group /= 2;
                    } else if buffers && self.buffer_size > 4096 {
                        self.buffer_size /= 2;
                    } else if self.register {
                        // Unregistered buffers pin nothing: back to the files in flight asked
                        // for.
                        self.register = false;
                        self.group = self.max_group;
                    } else {
                        // As small as it gets: rings other processes of this user closed a
                        // moment ago may still hold the locked memory.
                        let accounted = self.caps.pin_budget.is_some();
                        return crate::probe::settling(accounted, || Ring::new(&self.spec()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The ring, enabled for this thread. A single-issuer ring belongs to the thread that first
    /// submitted on it; if the executor moved to another thread, it gets a new ring (nothing is
    /// in flight between batches).
    fn ring_for_this_thread(&mut self) -> io::Result<()> {
        let me = thread::current().id();
        if self.owner.is_some_and(|o| o != me)
            && self.ring.as_ref().is_some_and(|r| r.info().single_issuer)
        {
            self.ring = None;
        }
        if self.ring.is_none() {
            self.ring = Some(self.build_ring()?);
        }
        self.ring.as_mut().expect("just set").enable()?;
        self.owner = Some(me);
        Ok(())
    }

    /// Sources are opened with `O_DIRECT` ([`Tuning::direct_reads`]; not for `splice`).
    fn direct_reads(&self) -> bool {
        self.tuning.direct_reads && self.mode != Mode::Splice
    }

    fn uses_ring(&self, stat: &Stat) -> bool {
        stat.size <= self.tuning.ring_max && !stat.maybe_sparse()
    }

    fn ring(&mut self) -> &mut Ring {
        self.ring.as_mut().expect("a group runs on a ring")
    }

    fn run_group(
        &mut self,
        mut tasks: Vec<Task>,
        std_jobs: Vec<FileJob>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) {
        let result = self
            .open_wave(&mut tasks, std_jobs, options, out)
            .and_then(|()| self.data_waves(&mut tasks, options));
        if let Err(e) = result {
            // The ring itself failed (not a file): give up on it; the next batch sets up a new
            // one. Files not finished fail without leaving partial destinations.
            self.ring = None;
            for t in tasks.iter_mut().filter(|t| t.in_progress()) {
                t.fail(EntryError::new(
                    t.job.dst_path(),
                    EntryOp::Write,
                    io::Error::new(
                        e.kind(),
                        format!("io_uring failed: {}", ucopy_core::cause(&e)),
                    ),
                ));
            }
        }
        self.finish_group(tasks, options, out);
    }
}

impl Executor for UringExecutor {
    fn name(&self) -> &'static str {
        self.mode.name()
    }

    fn copy_batch(&mut self, batch: Vec<FileJob>, options: &Options) -> Vec<(FileJob, JobOutcome)> {
        let mut out = Vec::with_capacity(batch.len());
        self.fatal_seen = false;
        // No ring for this thread (e.g. out of descriptors): the whole batch takes the std path,
        // which is slower but complete. Options that change what is written (--attributes-only,
        // --reflink=always, --sparse=always|never) are implemented once, on the plain-syscall
        // path.
        let ring_ok = self.ring_for_this_thread().is_ok() && !options.needs_std_data_path();
        // Each ring job becomes its task here, straight in its group (at most `group` files,
        // one ring submission): splitting one vector of the batch's tasks into groups moved
        // every later task again at each split.
        let mut groups: Vec<Vec<Task>> = Vec::new();
        let mut std_jobs = Vec::with_capacity(if ring_ok { 0 } else { batch.len() });
        let group_capacity = self.group.min(batch.len());
        for job in batch {
            if ucopy_fs::existing::kept_as_is(&job, options) {
                // A re-sync (-u, -n): destinations that stay as they are need no source open.
                out.push((job, JobOutcome::Skipped));
            } else if ring_ok && self.uses_ring(&job.stat) {
                match groups.last_mut() {
                    Some(group) if group.len() < self.group => group.push(Task::new(job)),
                    _ => {
                        let mut group = Vec::with_capacity(group_capacity);
                        group.push(Task::new(job));
                        groups.push(group);
                    }
                }
            } else {
                std_jobs.push(job);
            }
        }
        for tasks in groups {
            if self.ring.is_none() {
                // An earlier group's ring failed (and is gone): the rest take the std path below.
                std_jobs.extend(tasks.into_iter().map(|t| t.job));
                continue;
            }
            let std_now = std::mem::take(&mut std_jobs);
            self.run_group(tasks, std_now, options, &mut out);
        }
        for mut job in std_jobs {
            let outcome = self.std.copy(&mut job, options);
            out.push((job, outcome));
        }
        // Files that found no descriptor while the group's others were open (a low
        // RLIMIT_NOFILE) get one more try now that the batch's descriptors are closed. A failed
        // outcome left no destination behind, so trying again is safe.
        for (job, outcome) in out.iter_mut() {
            if matches!(outcome, JobOutcome::Failed(e)
                if matches!(e.error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)))
            {
                *outcome = self.std.copy(job, options);
            }
        }
        out
    }
}

/// Where one file is in its life through the ring.
#[derive(Debug)]
enum Phase {
    /// The source is being opened, then checked, and the destination created.
    Open,
    /// Data is moving: `off` bytes are written; `pend` more are read and not written yet.
    Data,
    /// Every byte is written; metadata and the checked close remain.
    Written,
    /// The ring gives up on this file (content behind a size of 0, a filesystem that cannot
    /// splice, no pipe left, it grew past `ring_max`): the std path copies it from scratch.
    Fallback,
    /// Over before it was complete, with this outcome (failed, vanished, skipped, interrupted).
    Over(JobOutcome),
}

/// One file's progress through the ring.
#[derive(Debug)]
struct Task {
    job: FileJob,
    phase: Phase,
    src: Option<Arc<OwnedFd>>,
    /// The planner's metadata until the source is open, then the source's own `fstat`.
    stat: Stat,
    dst: Option<NewFile>,
    /// Bytes written to the destination (all of them at offsets below this).
    off: u64,
    /// Bytes read into the buffer or pipe and not written yet; they belong at `off`.
    pend: u32,
    /// Where those bytes start in the buffer.
    pend_start: u32,
    /// `O_NONBLOCK` was taken off the source (see [`Task::retry_blocking`]).
    nonblock_cleared: bool,
    /// The source is open with `O_DIRECT` ([`Tuning::direct_reads`]): reads are whole blocks.
    direct: bool,
}

impl Task {
    fn new(job: FileJob) -> Task {
        Task {
            stat: job.stat,
            job,
            phase: Phase::Open,
            src: None,
            dst: None,
            off: 0,
            pend: 0,
            pend_start: 0,
            nonblock_cleared: false,
            direct: false,
        }
    }

    /// Data still to move (the data waves work on it).
    fn moving(&self) -> bool {
        matches!(self.phase, Phase::Data)
    }

    /// Not finished one way or another.
    fn in_progress(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Data)
    }

    /// Ends the file with `outcome`, unless it already has one (the first failure is reported).
    fn end(&mut self, outcome: JobOutcome) {
        if !matches!(self.phase, Phase::Over(_)) {
            self.phase = Phase::Over(outcome);
        }
    }

    fn fail(&mut self, e: EntryError) {
        self.end(JobOutcome::Failed(e));
    }

    fn fail_read(&mut self, e: Errno) {
        let e = EntryError::new(self.job.path(), EntryOp::Read, e);
        self.fail(e);
    }

    fn fail_write(&mut self, e: Errno) {
        let e = EntryError::new(self.job.dst_path(), EntryOp::Write, e);
        self.fail(e);
    }

    /// Takes `O_DIRECT` off the source: a direct read was refused (EINVAL: the filesystem wants
    /// another alignment), or the file goes to the kernel path, whose reads should have the
    /// page cache's read-ahead. The next read of it goes through the page cache; false if the
    /// flag could not be changed.
    fn read_buffered(&mut self) -> bool {
        self.direct = false;
        self.clear_source_flag(OFlags::DIRECT).is_ok()
    }

    /// Takes `flag` off the open source's status flags (`F_SETFL`).
    fn clear_source_flag(&self, flag: OFlags) -> rustix::io::Result<()> {
        let src = self.src.as_ref().expect("an open source");
        let flags = rfs::fcntl_getfl(src.as_fd())?;
        rfs::fcntl_setfl(src.as_fd(), flags.difference(flag))
    }

    /// `n` bytes read at `off`, less any past the size the source had when it was opened: the
    /// copy stops at that size, as every read of the std path does.
    fn within_size(&self, n: u32) -> u32 {
        n.min(
            self.stat
                .size
                .saturating_sub(self.off)
                .min(u64::from(u32::MAX)) as u32,
        )
    }

    /// A read said EAGAIN: the source was opened `O_NONBLOCK` (so that a FIFO swapped in cannot
    /// block us) on a filesystem without `FMODE_NOWAIT`, where io_uring then refuses to wait.
    /// It is a regular file (checked), so clear the flag and read again next wave.
    fn retry_blocking(&mut self) {
        if self.nonblock_cleared {
            self.fail_read(Errno::AGAIN);
            return;
        }
        self.nonblock_cleared = true;
        if let Err(e) = self.clear_source_flag(OFlags::NONBLOCK) {
            self.fail_read(e);
        }
    }
}
