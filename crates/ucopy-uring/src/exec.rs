//! The three io_uring executors: one state machine per file, advanced in waves.
//!
//! A batch is copied in groups of at most `group` files (one buffer or pipe, and with
//! `Create::InChain` one direct descriptor slot, per file). Each group goes through:
//!
//! 1. **Open wave**: `OPENAT` of every source as a normal descriptor, all in one
//!    `io_uring_enter` (cached lookups complete inline, cold ones run on io-wq workers side by
//!    side); with `Create::OpenWave` also `OPENAT` of every destination. Then, in userspace,
//!    `fstat` of each source (`file::check_source`: still a regular file, current size and
//!    times) before any byte is read, exactly as on the std path, and with `Create::Syscall`
//!    (the default) `dest::create_file`. Files too large or sparse for the ring go through
//!    `file::copy_job` while this wave is in the kernel.
//! 2. **Data waves**: per file one chain. By default that is a lone `READ` (so a wave keeps
//!    every file's read in flight at once; a cold buffered read completes asynchronously
//!    without a worker), and the bytes are written with `pwrite(2)` before the next wave. With
//!    ring writes it is a linked `READ → WRITE`, and with `Create::InChain`
//!    `READ → OPENAT(dst, direct slot) → WRITE(slot) → [FIXED_FD_INSTALL under -a] → CLOSE(slot)`:
//!    middle ops carry `CQE_SKIP_SUCCESS`, so a file costs one CQE and no userspace round trip,
//!    and its destination is created only after the source was read. A short read, a short
//!    write or an error breaks the link; the next wave's chain starts from wherever the file got
//!    to (the ring reports each op's result, see `ring`). Larger files take one chain per chunk.
//! 3. **Finish**: metadata with plain system calls (`meta::finish_fd` on a normal or installed
//!    descriptor, or `meta::finish_at` by name), and the outcome. The batch's descriptors are
//!    closed together with `IORING_OP_CLOSE` at the end of the batch.
//!
//! Between waves the cancel flag is checked; an interrupted file is removed, and an ENOSPC (or
//! EROFS, EDQUOT) stops the run after one reported error.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use rustix::fs::{self as rfs, Mode as FileMode, OFlags};
use rustix::io::Errno;
use ucopy_core::{EntryError, Executor, FileJob, JobOutcome, Op as EntryOp, Options, Stat};
use ucopy_fs::data::read_write;
use ucopy_fs::dest::{self, create_file, create_mode, discard_partial, CREATE_FLAGS, SOURCE_FLAGS};
use ucopy_fs::file::{check_source, data_error, failed, interrupted, meta_error};
use ucopy_fs::meta::{finish_at, finish_fd};
use ucopy_fs::StdCopier;

use crate::ring::{Buf, BufferSpec, Completion, Op, OpResult, Ring, RingSpec, Target};
use crate::{Create, Mode, Tuning};

/// What the kernel offers that the executor may use (from the probe).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    /// Open destinations into direct descriptor slots inside the data chain.
    pub direct: bool,
    /// `IORING_OP_FIXED_FD_INSTALL` (6.8): a normal descriptor for `-a` metadata.
    pub install: bool,
    /// `IOSQE_CQE_SKIP_SUCCESS` (5.17).
    pub skip: bool,
}

/// Ops per file in one data wave at most: READ, OPENAT, WRITE, INSTALL, CLOSE, and a lone READ.
const OPS_PER_FILE: usize = 6;

/// Largest group (files in flight in one ring).
const MAX_GROUP: usize = 1024;

/// One io_uring executor (one per worker thread).
#[derive(Debug)]
pub(crate) struct UringExecutor {
    mode: Mode,
    tuning: Tuning,
    caps: Caps,
    group: usize,
    buffer_size: usize,
    ring: Option<Ring>,
    owner: Option<ThreadId>,
    /// Files the ring does not take (and every file when this thread has no ring).
    std: StdCopier,
    /// This batch already reported an error that stops the run (ENOSPC, EROFS, EDQUOT).
    fatal_seen: bool,
    /// Descriptors of finished files, closed with `IORING_OP_CLOSE` in one submission at the end
    /// of the batch instead of one `close(2)` each.
    closes: Vec<OwnedFd>,
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
        let mut e = UringExecutor {
            mode,
            buffer_size: tuning.buffer_size.clamp(4096, 1 << 30),
            tuning,
            caps,
            group: options.queue_depth.clamp(1, MAX_GROUP),
            ring: None,
            owner: None,
            std: StdCopier::default(),
            fatal_seen: false,
            closes: Vec::new(),
        };
        e.ring = Some(e.build_ring()?);
        Ok(e)
    }

    fn spec(&self) -> RingSpec {
        RingSpec {
            entries: (self.group * OPS_PER_FILE).next_power_of_two() as u32,
            single_issuer: self.tuning.single_issuer,
            defer_taskrun: self.tuning.defer_taskrun,
            coop_taskrun: self.tuning.coop_taskrun,
            file_slots: if self.caps.direct {
                self.group as u32
            } else {
                0
            },
            buffers: match self.mode {
                Mode::Splice => None,
                Mode::Rw | Mode::Fixed => Some(BufferSpec {
                    count: self.group,
                    size: self.buffer_size,
                    register: self.mode == Mode::Fixed,
                }),
            },
            iowq_max_workers: self.tuning.iowq_max_workers,
            skip_success: self.tuning.skip_success && self.caps.skip,
        }
    }

    /// Sets a ring up, shrinking what the limits refuse: the direct descriptor table must fit
    /// RLIMIT_NOFILE (EMFILE), registered buffers RLIMIT_MEMLOCK (ENOMEM without CAP_IPC_LOCK).
    fn build_ring(&mut self) -> io::Result<Ring> {
        loop {
            match Ring::new(&self.spec()) {
                Ok(r) => return Ok(r),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) && self.group > 1 => {
                    self.group /= 2;
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::ENOMEM)
                        && self.mode == Mode::Fixed
                        && (self.buffer_size > 4096 || self.group > 1) =>
                {
                    if self.buffer_size > 4096 {
                        self.buffer_size /= 2;
                    } else {
                        self.group /= 2;
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

    fn uses_ring(&self, stat: &Stat) -> bool {
        stat.size <= self.tuning.ring_max && !stat.maybe_sparse()
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
        // which is slower but complete.
        let (ring_jobs, mut std_jobs): (Vec<FileJob>, Vec<FileJob>) =
            if self.ring_for_this_thread().is_ok() {
                batch.into_iter().partition(|j| self.uses_ring(&j.stat))
            } else {
                (Vec::new(), batch)
            };
        let mut jobs = ring_jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let group: Vec<FileJob> = jobs.by_ref().take(self.group).collect();
            let std_now = std::mem::take(&mut std_jobs);
            self.run_group(group, std_now, options, &mut out);
        }
        for job in std_jobs {
            let outcome = self.std.copy(&job, options);
            out.push((job, outcome));
        }
        self.flush_closes();
        out
    }
}

/// The source's stat now, if its size or modification time moved since `stat` was taken (with
/// multigrain timestamps, 6.13+, any change after our `fstat` gets a new mtime). A source that
/// cannot be stat'ed counts as changed.
fn changed_since(t: &Task, stat: &Stat) -> Option<Stat> {
    let src = t.src.as_ref()?;
    match rfs::fstat(src) {
        Ok(st) => {
            let now = Stat::from(&st);
            (now.size != stat.size || now.mtime != stat.mtime).then_some(now)
        }
        Err(_) => Some(*stat),
    }
}

/// An error that stops the run: the destination is full or read-only (not Ctrl-C, which is
/// said once by the front end).
fn stops_run(e: &EntryError) -> bool {
    e.is_fatal() && e.op != EntryOp::Interrupted
}

/// The destination of a file in the ring.
#[derive(Debug)]
enum Dst {
    /// Not opened yet.
    None,
    /// Open in the direct descriptor slot of the file's position in the group.
    Slot,
    /// Open as a normal descriptor (no direct descriptors, or an existing file replaced by
    /// `dest::create_file`).
    Fd(Arc<OwnedFd>),
    /// Was in the slot, and the slot is closed.
    Closed,
}

/// One op of a data chain, to read its result.
#[derive(Debug, Clone, Copy)]
enum Step {
    OpenDst,
    Read(u32),
    Write(u32),
    Install,
    Close,
}

/// Tag kinds: which chain of a file a completion belongs to.
const TAG_SRC: u64 = 0;
const TAG_DST: u64 = 1;
const TAG_DATA: u64 = 2;
const TAG_ZERO: u64 = 3;

fn tag(index: usize, kind: u64) -> u64 {
    ((index as u64) << 2) | kind
}

/// One file's progress through the ring.
#[derive(Debug)]
struct Task {
    job: FileJob,
    src: Option<Arc<OwnedFd>>,
    stat: Option<Stat>,
    dst: Dst,
    /// This run created the destination (rather than truncating an existing file).
    created: bool,
    /// A destination file exists because of us: a failure must remove it.
    dst_written: bool,
    /// The destination `OPENAT` of the open wave failed with EEXIST.
    dst_exists: bool,
    /// The destination `OPENAT` of the open wave failed otherwise.
    dst_error: Option<Errno>,
    /// Bytes written to the destination (all of them at offsets below this).
    off: u64,
    /// Bytes read into the buffer or pipe and not written yet; they belong at `off`.
    pend: u32,
    /// Where those bytes start in the buffer.
    pend_start: u32,
    /// The source ended: a read came up short.
    eof: bool,
    /// A zero-size source was read once and had nothing (procfs-like files report size 0).
    zero_checked: bool,
    nonblock_cleared: bool,
    installed: Option<OwnedFd>,
    install_failed: bool,
    outcome: Option<JobOutcome>,
    /// Hand over to the std path after the ring is done with this file.
    fallback: bool,
}

impl Task {
    fn new(job: FileJob) -> Task {
        Task {
            job,
            src: None,
            stat: None,
            dst: Dst::None,
            created: false,
            dst_written: false,
            dst_exists: false,
            dst_error: None,
            off: 0,
            pend: 0,
            pend_start: 0,
            eof: false,
            zero_checked: false,
            nonblock_cleared: false,
            installed: None,
            install_failed: false,
            outcome: None,
            fallback: false,
        }
    }

    fn size(&self) -> u64 {
        self.stat.map_or(0, |s| s.size)
    }

    fn data_done(&self) -> bool {
        self.pend == 0
            && (self.eof || (self.off >= self.size() && (self.size() > 0 || self.zero_checked)))
    }

    fn active(&self) -> bool {
        self.outcome.is_none() && !self.fallback
    }

    /// The ring has nothing left to do for this file.
    fn ring_done(&self) -> bool {
        self.data_done() && matches!(self.dst, Dst::Closed | Dst::Fd(_))
    }

    fn fail(&mut self, e: EntryError) {
        if self.outcome.is_none() {
            self.outcome = Some(JobOutcome::Failed(e));
        }
    }

    fn fail_read(&mut self, e: Errno) {
        let e = EntryError::new(&self.job.path, EntryOp::Read, e);
        self.fail(e);
    }

    fn fail_write(&mut self, e: Errno) {
        let e = EntryError::new(dest::dest_path(&self.job), EntryOp::Write, e);
        self.fail(e);
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
        let src = self.src.as_ref().expect("reads happen on open sources");
        let cleared = rfs::fcntl_getfl(src.as_fd())
            .and_then(|fl| rfs::fcntl_setfl(src.as_fd(), fl.difference(OFlags::NONBLOCK)));
        if let Err(e) = cleared {
            self.fail_read(e);
        }
    }

    /// The destination exists: let the shared rules decide (no-clobber, replace a symlink or
    /// FIFO, refuse a directory or the source itself, unlink a hard-linked file under -a).
    fn resolve_existing(&mut self, options: &Options) {
        let stat = self.stat.expect("opened sources have a stat");
        match create_file(&self.job, &stat, options) {
            Ok(Some(d)) => {
                self.dst = Dst::Fd(Arc::new(d.fd));
                self.created = d.created;
                self.dst_written = true;
            }
            Ok(None) => {
                if self.outcome.is_none() {
                    self.outcome = Some(JobOutcome::Skipped);
                }
            }
            Err(e) => self.fail(e),
        }
    }
}

impl UringExecutor {
    /// Chunk size for file `index`: its buffer, or its pipe's capacity.
    fn chunk(&mut self, index: usize) -> io::Result<u32> {
        match self.mode {
            Mode::Splice => {
                let size = self.buffer_size;
                self.ring.as_mut().expect("ring").pipe(index, size)
            }
            Mode::Rw | Mode::Fixed => Ok(self.buffer_size as u32),
        }
    }

    fn run_group(
        &mut self,
        jobs: Vec<FileJob>,
        std_jobs: Vec<FileJob>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) {
        let mut tasks: Vec<Task> = jobs.into_iter().map(Task::new).collect();
        let result = self
            .open_wave(&mut tasks, std_jobs, options, out)
            .and_then(|()| self.data_waves(&mut tasks, options))
            .and_then(|()| self.close_slots(&tasks));
        if let Err(e) = result {
            // The ring itself failed (not a file): give up on it; the next batch sets up a new
            // one. Files not finished fail without leaving partial destinations.
            self.ring = None;
            for t in tasks.iter_mut() {
                if t.outcome.is_none() && !t.ring_done() {
                    let e = EntryError::new(
                        dest::dest_path(&t.job),
                        EntryOp::Write,
                        io::Error::new(e.kind(), format!("io_uring failed: {e}")),
                    );
                    t.fail(e);
                }
            }
        }
        for (index, t) in tasks.into_iter().enumerate() {
            let outcome = self.finish(index, t, options);
            out.push(outcome);
        }
    }

    /// Opens sources (and destinations without direct descriptors); copies the std-path files
    /// while the kernel works on that.
    fn open_wave(
        &mut self,
        tasks: &mut [Task],
        std_jobs: Vec<FileJob>,
        options: &Options,
        out: &mut Vec<(FileJob, JobOutcome)>,
    ) -> io::Result<()> {
        let mut chains = Vec::with_capacity(tasks.len() * 2);
        for (i, t) in tasks.iter().enumerate() {
            chains.push((
                tag(i, TAG_SRC),
                vec![Op::Open {
                    dir: Arc::clone(&t.job.src_dir),
                    name: t.job.src_name.clone(),
                    flags: SOURCE_FLAGS,
                    mode: FileMode::empty(),
                    slot: None,
                }],
            ));
            if !self.caps.direct && self.tuning.create != Create::Syscall {
                chains.push((
                    tag(i, TAG_DST),
                    vec![Op::Open {
                        dir: Arc::clone(&t.job.dst_dir),
                        name: t.job.dst_name.clone(),
                        flags: CREATE_FLAGS,
                        mode: create_mode(&t.job.stat, options),
                        slot: None,
                    }],
                ));
            }
        }
        let mut done = Vec::new();
        let ring = self.ring.as_mut().expect("ring");
        let mut pending = chains.into_iter();
        let mut first = true;
        let mut std_jobs = Some(std_jobs);
        loop {
            for (tag, ops) in pending.by_ref() {
                if let Err(ops) = ring.push(tag, ops) {
                    // No room: finish what is queued first.
                    done.extend(ring.run()?);
                    ring.push(tag, ops)
                        .map_err(|_| io::Error::other("ring too small"))?;
                }
            }
            if first {
                first = false;
                ring.submit()?;
                for job in std_jobs.take().unwrap_or_default() {
                    let outcome = self.std.copy(&job, options);
                    out.push((job, outcome));
                }
            }
            done.extend(ring.run()?);
            if ring.in_flight() == 0 {
                break;
            }
        }
        for c in done {
            let i = (c.tag >> 2) as usize;
            let t = &mut tasks[i];
            let result = c.results.into_iter().next();
            match (c.tag & 3, result) {
                (TAG_SRC, Some(OpResult::Fd(fd))) => t.src = Some(Arc::new(fd)),
                (TAG_SRC, Some(OpResult::Failed(Errno::NOENT))) => {
                    t.outcome = Some(JobOutcome::Vanished(EntryError::new(
                        &t.job.path,
                        EntryOp::Changed,
                        io::Error::other("vanished during the copy"),
                    )));
                }
                (TAG_SRC, Some(OpResult::Failed(e))) => {
                    let e = EntryError::new(&t.job.path, EntryOp::Open, e);
                    t.fail(e);
                }
                (TAG_SRC, _) => t.fail_read(Errno::CANCELED),
                (TAG_DST, Some(OpResult::Fd(fd))) => {
                    t.dst = Dst::Fd(Arc::new(fd));
                    t.created = true;
                    t.dst_written = true;
                }
                (TAG_DST, Some(OpResult::Failed(Errno::EXIST))) => t.dst_exists = true,
                (TAG_DST, Some(OpResult::Failed(e))) => t.dst_error = Some(e),
                (_, _) => t.dst_error = Some(Errno::CANCELED),
            }
        }
        for t in tasks.iter_mut() {
            if t.outcome.is_some() {
                continue;
            }
            let src = t
                .src
                .as_ref()
                .expect("an open without error gave a descriptor");
            match check_source(&t.job, src.as_fd()) {
                Ok(stat) => t.stat = Some(stat),
                Err(e) => {
                    t.fail(e);
                    continue;
                }
            }
            if let (Dst::Fd(dst), true) = (&t.dst, t.created) {
                // Created in the same wave as its source was opened, so with the planned mode;
                // a file planned from its directory entry alone had none to give. Without `-a`
                // nothing changes the mode later, so set the real one now.
                let want = create_mode(t.stat.as_ref().expect("set above"), options);
                if want != create_mode(&t.job.stat, options) {
                    if let Err(e) = rfs::fchmod(&**dst, want) {
                        let e = EntryError::new(dest::dest_path(&t.job), EntryOp::Chmod, e);
                        t.fail(e);
                        continue;
                    }
                }
            }
            if let Some(e) = t.dst_error {
                let e = EntryError::new(dest::dest_path(&t.job), EntryOp::Create, e);
                t.fail(e);
            } else if t.dst_exists || (self.tuning.create == Create::Syscall && !self.caps.direct) {
                t.resolve_existing(options);
            }
            if t.outcome.is_none() && !self.uses_ring(&t.stat.expect("set above")) {
                // It grew (or became sparse) since it was planned.
                t.fallback = true;
            }
        }
        Ok(())
    }

    /// Builds one file's chains for the next wave.
    fn plan(
        &mut self,
        index: usize,
        t: &Task,
        options: &Options,
    ) -> io::Result<(Vec<Step>, Vec<Op>, Option<Op>)> {
        let slot = index as u32;
        let src = Target::Fd(Arc::clone(t.src.as_ref().expect("open")));
        let open_dst = matches!(t.dst, Dst::None);
        let dst_target = match &t.dst {
            Dst::Fd(f) => Target::Fd(Arc::clone(f)),
            _ => Target::Slot(slot),
        };
        let mut steps = Vec::with_capacity(OPS_PER_FILE);
        let mut ops = Vec::with_capacity(OPS_PER_FILE);
        let mut zero = None;
        let open = |steps: &mut Vec<Step>, ops: &mut Vec<Op>| {
            steps.push(Step::OpenDst);
            ops.push(Op::Open {
                dir: Arc::clone(&t.job.dst_dir),
                name: t.job.dst_name.clone(),
                flags: CREATE_FLAGS,
                mode: create_mode(t.stat.as_ref().expect("stat"), options),
                slot: Some(slot),
            });
        };
        let completes;
        if t.pend > 0 {
            if open_dst {
                open(&mut steps, &mut ops);
            }
            steps.push(Step::Write(t.pend));
            ops.push(self.write_op(index, dst_target, t.pend_start, t.pend, t.off));
            completes = t.eof || t.off + u64::from(t.pend) >= t.size();
        } else if !t.data_done() {
            let chunk = self.chunk(index)?;
            if t.size() == 0 {
                // Size 0: one read tells a really empty file from a procfs-like one.
                zero = Some(self.read_op(index, src, chunk, 0));
                if open_dst {
                    open(&mut steps, &mut ops);
                }
                completes = true;
            } else {
                let want = (t.size() - t.off).min(u64::from(chunk)) as u32;
                steps.push(Step::Read(want));
                ops.push(self.read_op(index, src, want, t.off));
                if self.syscall_writes() {
                    // `flush_writes` writes it after this wave.
                    return Ok((steps, ops, zero));
                }
                if open_dst {
                    open(&mut steps, &mut ops);
                }
                steps.push(Step::Write(want));
                ops.push(self.write_op(index, dst_target, 0, want, t.off));
                completes = t.off + u64::from(want) >= t.size();
            }
        } else {
            if open_dst {
                open(&mut steps, &mut ops);
            }
            completes = true;
        }
        if completes && (open_dst || matches!(t.dst, Dst::Slot)) {
            if options.archive && self.caps.install && !t.install_failed && t.installed.is_none() {
                steps.push(Step::Install);
                ops.push(Op::Install { slot });
            }
            steps.push(Step::Close);
            ops.push(Op::Close { slot });
        }
        Ok((steps, ops, zero))
    }

    /// Closes the descriptors of finished files: all in one submission (regular files have no
    /// `->flush`, so `IORING_OP_CLOSE` completes inline). Without a ring they are just dropped.
    fn flush_closes(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            self.closes.clear();
            return;
        };
        for fd in self.closes.drain(..) {
            if let Err(mut ops) = ring.push(0, vec![Op::CloseFd { fd }]) {
                if ring.run().is_err() {
                    return; // the rest are closed by drop
                }
                if let Err(ops) = ring.push(0, std::mem::take(&mut ops)) {
                    drop(ops);
                }
            }
        }
        // Close errors of finished files do not change their outcome: their data and metadata
        // were complete and checked before.
        let _ = ring.run();
    }

    /// Writes go through `pwrite(2)` (see [`Tuning::syscall_writes`]).
    fn syscall_writes(&self) -> bool {
        self.tuning.syscall_writes && !self.caps.direct && self.mode != Mode::Splice
    }

    /// Writes what the last wave read, with `pwrite(2)`, between waves.
    fn flush_writes(&mut self, tasks: &mut [Task]) {
        let ring = self.ring.as_ref().expect("ring");
        for (i, t) in tasks.iter_mut().enumerate() {
            if !t.active() || t.pend == 0 {
                continue;
            }
            let Dst::Fd(fd) = &t.dst else { continue };
            let data = ring.buffer(Buf {
                index: i,
                start: t.pend_start,
                len: t.pend,
            });
            let mut done = 0;
            while done < data.len() {
                match rustix::io::pwrite(fd.as_fd(), &data[done..], t.off + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(Errno::INTR) => continue,
                    Err(e) => {
                        t.fail_write(e);
                        break;
                    }
                }
            }
            if t.outcome.is_none() && done < data.len() {
                t.fail_write(Errno::IO);
            }
            t.off += done as u64;
            t.pend -= done as u32;
            t.pend_start += done as u32;
        }
    }

    fn read_op(&self, index: usize, src: Target, len: u32, offset: u64) -> Op {
        match self.mode {
            Mode::Splice => Op::SpliceIn {
                fd: src,
                pipe: index,
                len,
                offset,
            },
            Mode::Rw | Mode::Fixed => Op::Read {
                fd: src,
                buf: Buf {
                    index,
                    start: 0,
                    len,
                },
                offset,
            },
        }
    }

    fn write_op(&self, index: usize, dst: Target, start: u32, len: u32, offset: u64) -> Op {
        match self.mode {
            Mode::Splice => Op::SpliceOut {
                pipe: index,
                fd: dst,
                len,
                offset,
            },
            Mode::Rw | Mode::Fixed => Op::Write {
                fd: dst,
                buf: Buf { index, start, len },
                offset,
            },
        }
    }

    fn data_waves(&mut self, tasks: &mut [Task], options: &Options) -> io::Result<()> {
        let mut steps: Vec<Vec<Step>> = vec![Vec::new(); tasks.len()];
        loop {
            if options.cancel.is_cancelled() {
                // Files whose data is all written are finished normally.
                for t in tasks.iter_mut().filter(|t| t.active() && !t.ring_done()) {
                    let outcome = interrupted(&t.job);
                    t.outcome = Some(outcome);
                }
                return Ok(());
            }
            if self.syscall_writes() {
                self.flush_writes(tasks);
            }
            let mut chains = Vec::new();
            for (i, t) in tasks.iter_mut().enumerate() {
                steps[i].clear();
                if !t.active() || t.ring_done() {
                    continue;
                }
                match self.plan(i, t, options) {
                    Ok((s, ops, zero)) => {
                        if !ops.is_empty() {
                            chains.push((tag(i, TAG_DATA), ops));
                        }
                        if let Some(z) = zero {
                            chains.push((tag(i, TAG_ZERO), vec![z]));
                        }
                        steps[i] = s;
                    }
                    // No pipe for this file (out of descriptors): the std path needs fewer.
                    Err(_) => t.fallback = true,
                }
            }
            if chains.is_empty() {
                return Ok(());
            }
            let ring = self.ring.as_mut().expect("ring");
            let mut done = Vec::new();
            for (tag, ops) in chains {
                if let Err(ops) = ring.push(tag, ops) {
                    done.extend(ring.run()?);
                    ring.push(tag, ops)
                        .map_err(|_| io::Error::other("ring too small"))?;
                }
            }
            done.extend(ring.run()?);
            for c in done {
                let i = (c.tag >> 2) as usize;
                self.apply(&mut tasks[i], i, &steps[i], c, options);
            }
            // The destination is full (or read-only): the files still in flight would fail one
            // by one; stop the run now, as the std path does.
            if tasks
                .iter()
                .any(|t| matches!(&t.outcome, Some(JobOutcome::Failed(e)) if stops_run(e)))
            {
                options.cancel.cancel();
            }
        }
    }

    /// Updates a file's state from one completed chain.
    fn apply(
        &mut self,
        t: &mut Task,
        index: usize,
        steps: &[Step],
        c: Completion,
        options: &Options,
    ) {
        if c.tag & 3 == TAG_ZERO {
            match c.results.into_iter().next() {
                Some(OpResult::Done(0)) => {
                    t.zero_checked = true;
                    t.eof = true;
                }
                Some(OpResult::Done(_)) => {
                    // Has content although its size says 0 (procfs-like): the std path reads
                    // such files to their end. Whatever the read left in a pipe is stale.
                    t.fallback = true;
                    if self.mode == Mode::Splice {
                        self.ring.as_mut().expect("ring").reset_pipe(index);
                    }
                }
                Some(OpResult::Failed(Errno::AGAIN)) => t.retry_blocking(),
                Some(OpResult::Failed(e)) if self.splice_unsupported(t, e) => {
                    t.fallback = true;
                }
                Some(OpResult::Failed(e)) => t.fail_read(e),
                _ => t.fail_read(Errno::CANCELED),
            }
            return;
        }
        for (step, result) in steps.iter().zip(c.results) {
            match (*step, result) {
                (_, OpResult::Cancelled) => {}
                (Step::OpenDst, OpResult::Done(_)) => {
                    t.dst = Dst::Slot;
                    t.created = true;
                    t.dst_written = true;
                }
                (Step::OpenDst, OpResult::Failed(Errno::EXIST)) => t.resolve_existing(options),
                (Step::OpenDst, OpResult::Failed(e)) => {
                    let e = EntryError::new(dest::dest_path(&t.job), EntryOp::Create, e);
                    t.fail(e);
                }
                (Step::Read(want), OpResult::Done(n)) => {
                    t.pend = n;
                    t.pend_start = 0;
                    if n < want {
                        // io_uring retries short reads of regular files itself: short means
                        // the file ends here (it shrank). Keep the prefix.
                        t.eof = true;
                    }
                }
                (Step::Read(_), OpResult::Failed(Errno::AGAIN)) => t.retry_blocking(),
                (Step::Read(_), OpResult::Failed(e)) if self.splice_unsupported(t, e) => {
                    t.fallback = true;
                }
                (Step::Read(_), OpResult::Failed(e)) => t.fail_read(e),
                (Step::Write(len), OpResult::Done(n)) => {
                    if n == 0 && len > 0 {
                        t.fail_write(Errno::IO);
                    } else {
                        // A short write leaves the rest pending; the next wave writes it.
                        let n = n.min(t.pend);
                        t.off += u64::from(n);
                        t.pend -= n;
                        t.pend_start += n;
                    }
                }
                (Step::Write(_), OpResult::Failed(e)) if self.splice_unsupported(t, e) => {
                    // Whatever the pipe holds is stale now; `finish` resets it.
                    t.fallback = true;
                }
                (Step::Write(_), OpResult::Failed(e)) => t.fail_write(e),
                (Step::Install, OpResult::Fd(fd)) => t.installed = Some(fd),
                (Step::Install, _) => t.install_failed = true,
                (Step::Close, OpResult::Done(_)) => t.dst = Dst::Closed,
                (Step::Close, OpResult::Failed(e)) => {
                    // Closing a just-written file can report a deferred write error.
                    t.dst = Dst::Closed;
                    t.fail_write(e);
                }
                // A descriptor where none was asked for: the kernel broke its contract.
                (_, OpResult::Fd(_)) => {
                    t.fail_write(Errno::IO);
                }
            }
        }
    }

    /// Copies a spliced file again with `pread`/`pwrite` into the destination we made (kept, so
    /// an overwritten file keeps its identity), and leaves it open in `t.dst` for metadata.
    fn rewrite(&mut self, t: &mut Task, options: &Options) -> Result<(), EntryError> {
        let create = |e| EntryError::new(dest::dest_path(&t.job), EntryOp::Create, e);
        let dst = match (&t.dst, t.installed.take()) {
            (Dst::Fd(fd), _) => Arc::clone(fd),
            (_, Some(fd)) => Arc::new(fd),
            // Created by us a moment ago, in a directory we hold open; `O_NOFOLLOW` and the
            // type check refuse anything swapped in since.
            _ => {
                let fd = rfs::openat(
                    t.job.dst_dir.as_fd(),
                    &t.job.dst_name,
                    OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                    FileMode::empty(),
                )
                .map_err(create)?;
                let st = rfs::fstat(&fd).map_err(create)?;
                if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::RegularFile {
                    return Err(create(Errno::EXIST));
                }
                Arc::new(fd)
            }
        };
        t.dst = Dst::Fd(Arc::clone(&dst));
        let src = t.src.as_ref().expect("open");
        rfs::ftruncate(&*dst, 0)
            .map_err(|e| EntryError::new(dest::dest_path(&t.job), EntryOp::Write, e))?;
        let bytes = read_write(src.as_fd(), dst.as_fd(), 0, &options.cancel)
            .map_err(|e| data_error(&t.job, e))?;
        t.off = bytes;
        Ok(())
    }

    /// A splice failed because one side's filesystem cannot splice (no `splice_read` or
    /// `splice_write`: procfs files, some FUSE and network filesystems answer EINVAL): before
    /// any byte was written, the std path can still copy the file.
    fn splice_unsupported(&self, t: &Task, e: Errno) -> bool {
        self.mode == Mode::Splice
            && t.off == 0
            && matches!(e, Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS)
    }

    /// Closes every slot still open (files that failed or were interrupted mid-chain), so that
    /// their destinations are not held open by the ring.
    fn close_slots(&mut self, tasks: &[Task]) -> io::Result<()> {
        let ring = self.ring.as_mut().expect("ring");
        let mut any = false;
        for (i, t) in tasks.iter().enumerate() {
            if matches!(t.dst, Dst::Slot) {
                any = true;
                if let Err(ops) = ring.push(tag(i, TAG_DATA), vec![Op::Close { slot: i as u32 }]) {
                    ring.run()?;
                    ring.push(tag(i, TAG_DATA), ops)
                        .map_err(|_| io::Error::other("ring too small"))?;
                }
            }
        }
        if any {
            ring.run()?;
        }
        Ok(())
    }

    /// The file's outcome; its descriptors are closed through the ring at the end of the batch.
    fn finish(&mut self, index: usize, mut t: Task, options: &Options) -> (FileJob, JobOutcome) {
        let outcome = self.outcome(index, &mut t, options);
        let dst = match std::mem::replace(&mut t.dst, Dst::None) {
            Dst::Fd(fd) => Some(fd),
            _ => None,
        };
        for fd in [t.src.take(), dst].into_iter().flatten() {
            // Only a descriptor nothing else holds can be handed to the kernel to close.
            if let Ok(fd) = Arc::try_unwrap(fd) {
                self.closes.push(fd);
            }
        }
        self.closes.extend(t.installed.take());
        (t.job, outcome)
    }

    /// Metadata for a complete copy, cleanup for a failed one.
    fn outcome(&mut self, index: usize, t: &mut Task, options: &Options) -> JobOutcome {
        // Bytes spliced in and not out: the pipe is not empty, and no later file may see them.
        if self.mode == Mode::Splice && t.pend > 0 {
            if let Some(ring) = self.ring.as_mut() {
                ring.reset_pipe(index);
            }
        }
        if t.outcome.is_none() && !t.fallback && !t.ring_done() {
            t.fail_write(Errno::IO);
        }
        if let Some(outcome) = t.outcome.take() {
            // Failed, vanished or interrupted: whatever destination we made or truncated must
            // not look like a copy.
            if t.dst_written {
                drop(t.installed.take());
                t.dst = Dst::None;
                discard_partial(&t.job);
            }
            let outcome = match outcome {
                // Files of the same wave hit ENOSPC together: the first is the error, the others
                // were stopped by it (one line, as the std path gives).
                JobOutcome::Failed(e) if stops_run(&e) && self.fatal_seen => interrupted(&t.job),
                // ENOSPC and the like stop the whole run (the shared cancel flag).
                JobOutcome::Failed(e) => {
                    self.fatal_seen |= stops_run(&e);
                    failed(e, options)
                }
                o => o,
            };
            return outcome;
        }
        if t.fallback {
            t.dst = Dst::None;
            t.src = None;
            if t.dst_written {
                discard_partial(&t.job);
            }
            let outcome = self.std.copy(&t.job, options);
            return outcome;
        }
        let mut stat = t.stat.expect("a copied file has a stat");
        if self.mode == Mode::Splice {
            if let Some(now) = changed_since(t, &stat) {
                // The pipe held references to page-cache pages, not copies: a truncation while
                // they sat there zeroes the cut folio in place, and the copy could carry those
                // zeros. The source changed during the copy, so copy it again through a buffer.
                if let Err(e) = self.rewrite(t, options) {
                    drop(t.installed.take());
                    t.dst = Dst::None;
                    discard_partial(&t.job);
                    return failed(e, options);
                }
                stat = now;
            }
        }
        let src = t.src.as_ref().expect("a copied file has a source");
        let meta = match (&t.dst, &t.installed) {
            (Dst::Fd(fd), _) => finish_fd(fd.as_fd(), Some(src.as_fd()), &stat, options, t.created),
            (_, Some(fd)) => finish_fd(fd.as_fd(), Some(src.as_fd()), &stat, options, t.created),
            _ if options.archive || t.created => finish_at(
                t.job.dst_dir.as_fd(),
                &t.job.dst_name,
                t.job.src_dir.as_fd(),
                &t.job.src_name,
                &stat,
                options,
                t.created,
                false,
            ),
            _ => Ok(()),
        };
        match meta {
            Ok(()) => JobOutcome::Copied { bytes: t.off },
            // The data is complete; the file stays, with the error reported (as cp does).
            Err(e) => failed(meta_error(&t.job, e), options),
        }
    }
}
