//! Phase 2: move the bytes, in waves, until every file of the group is written or over.

use std::io;
use std::sync::Arc;

use rustix::io::Errno;
use smallvec::smallvec;
use ucopy_core::{JobOutcome, Options};
use ucopy_fs::file::interrupted;

use super::{Phase, Task, UringExecutor};
use crate::ring::{Buf, Completion, Op, OpResult, Ops, Target};
use crate::Mode;

/// What one file's chain of a wave does, to read its results.
#[derive(Debug, Clone, Copy)]
pub(super) enum Chain {
    /// A size-0 source gets one read: procfs-like files report 0 but have content.
    ZeroCheck,
    /// `READ` at `off` (`rw`, `fixed`; `pwrite(2)` writes the bytes after the wave).
    Read,
    /// `SPLICE` from the source into the pipe, linked to `SPLICE` of those bytes into the
    /// destination.
    SpliceThrough,
    /// `SPLICE` of the `pend` bytes a short write left in the pipe.
    SpliceOut,
}

/// The unit of a direct read's offset, length and buffer address: 4 KiB covers the logical
/// block size of the disks this runs on (512 or 4096 bytes); a filesystem that wants more
/// refuses the read, and the file is read through the page cache instead.
pub(super) const DIRECT_BLOCK: u32 = 4096;

/// An error that stops the run: the destination is full or read-only (not Ctrl-C, which is
/// said once by the front end).
pub(super) fn stops_run(e: &ucopy_core::EntryError) -> bool {
    e.is_fatal() && e.op != ucopy_core::Op::Interrupted
}

impl UringExecutor {
    pub(super) fn data_waves(&mut self, tasks: &mut [Task], options: &Options) -> io::Result<()> {
        let mut chains: Vec<Option<Chain>> = vec![None; tasks.len()];
        loop {
            if options.cancel.is_cancelled() {
                for t in tasks.iter_mut().filter(|t| t.moving()) {
                    let outcome = interrupted(&t.job);
                    t.end(outcome);
                }
                return Ok(());
            }
            if self.mode != Mode::Splice {
                self.flush_writes(tasks);
            }
            let mut done = Vec::with_capacity(tasks.len());
            let mut any = false;
            for (i, t) in tasks.iter_mut().enumerate() {
                chains[i] = None;
                if !t.moving() {
                    continue;
                }
                if t.pend == 0 && t.stat.size > 0 && t.off >= t.stat.size {
                    // Copied up to the size the source had when it was opened (a file growing
                    // meanwhile is copied as that prefix, as on the std path).
                    t.phase = Phase::Written;
                    continue;
                }
                let (chain, ops) = match self.plan(i, t) {
                    Ok(c) => c,
                    // No pipe for this file (out of descriptors): the std path needs fewer.
                    Err(_) => {
                        t.phase = Phase::Fallback;
                        continue;
                    }
                };
                chains[i] = Some(chain);
                any = true;
                self.ring().push_or_drain(i as u64, ops, &mut done)?;
            }
            if !any {
                return Ok(());
            }
            let lent = if self.direct_reads() {
                self.lend_buffers(tasks, &chains, &mut done)?
            } else {
                Vec::new()
            };
            done.extend(self.ring().run()?);
            let mut lent_results: Vec<Option<OpResult>> = lent.iter().map(|_| None).collect();
            for c in done {
                let i = c.tag as usize;
                if let Some(k) = i.checked_sub(tasks.len()) {
                    lent_results[k] = c.results.into_iter().next();
                    continue;
                }
                let chain = chains[i].expect("a chain was pushed for this file");
                self.apply(&mut tasks[i], i, chain, c);
            }
            if !lent.is_empty() {
                self.write_lent(tasks, &lent, &lent_results);
            }
            // The destination is full (or read-only): the files still in flight would fail one
            // by one; stop the run now, as the std path does.
            if tasks
                .iter()
                .any(|t| matches!(&t.phase, Phase::Over(JobOutcome::Failed(e)) if stops_run(e)))
            {
                options.cancel.cancel();
            }
        }
    }

    /// Chunk size for file `index`: its buffer, or its pipe's capacity.
    fn chunk(&mut self, index: usize) -> io::Result<u32> {
        match self.mode {
            Mode::Splice => {
                let size = self.buffer_size;
                self.ring().pipe(index, size)
            }
            Mode::Rw | Mode::Fixed => Ok(self.buffer_size as u32),
        }
    }

    /// A direct read's chunk: the buffer size in whole blocks, read into a buffer that starts on
    /// one (buffers are a multiple of 4 KiB apart; `new` clamps them to at least that).
    pub(super) fn direct_chunk(&self) -> u32 {
        (self.buffer_size as u32) & !(DIRECT_BLOCK - 1)
    }

    /// The next chain of file `index`.
    fn plan(&mut self, index: usize, t: &Task) -> io::Result<(Chain, Ops)> {
        let src = Target::Fd(Arc::clone(t.src.as_ref().expect("open")));
        let dst = || Target::Fd(Arc::clone(t.dst.as_ref().expect("created").shared()));
        let splice_out = |len: u32| Op::SpliceOut {
            pipe: index,
            fd: dst(),
            len,
            offset: t.off,
        };
        if t.pend > 0 {
            // Only splice keeps bytes across waves (rw and fixed wrote them in `flush_writes`).
            return Ok((Chain::SpliceOut, smallvec![splice_out(t.pend)]));
        }
        let chunk = if t.direct {
            self.direct_chunk()
        } else {
            self.chunk(index)?
        };
        let read = |len: u32| match self.mode {
            Mode::Splice => Op::SpliceIn {
                fd: src.clone(),
                pipe: index,
                len,
                offset: t.off,
            },
            Mode::Rw | Mode::Fixed => Op::Read {
                fd: src.clone(),
                buf: Buf {
                    index,
                    start: 0,
                    len,
                },
                offset: t.off,
            },
        };
        if t.stat.size == 0 {
            return Ok((Chain::ZeroCheck, smallvec![read(chunk)]));
        }
        let want = (t.stat.size - t.off).min(u64::from(chunk)) as u32;
        Ok(match self.mode {
            Mode::Splice => (
                Chain::SpliceThrough,
                smallvec![read(want), splice_out(want)],
            ),
            // A direct read ends on a block boundary; the file's last block reads short.
            Mode::Rw | Mode::Fixed if t.direct => (
                Chain::Read,
                smallvec![read(want.next_multiple_of(DIRECT_BLOCK).min(chunk))],
            ),
            Mode::Rw | Mode::Fixed => (Chain::Read, smallvec![read(want)]),
        })
    }

    /// Updates a file's state from its completed chain.
    fn apply(&mut self, t: &mut Task, index: usize, chain: Chain, c: Completion) {
        let mut results = c.results.into_iter();
        let first = results.next().unwrap_or(OpResult::Cancelled);
        match (chain, first) {
            (Chain::ZeroCheck, OpResult::Done(0)) => t.phase = Phase::Written,
            (Chain::ZeroCheck, OpResult::Done(_)) => {
                // Has content although its size says 0: the std path reads such files to their
                // end. Whatever the read left in a pipe is stale.
                t.phase = Phase::Fallback;
                if self.mode == Mode::Splice {
                    self.ring().reset_pipe(index);
                }
            }
            (Chain::Read | Chain::SpliceThrough, OpResult::Done(0)) => {
                // End of file before the size seen at open: it shrank. Keep the prefix.
                t.phase = Phase::Written;
            }
            (Chain::Read, OpResult::Done(n)) => {
                // A short read is not the end: the next wave reads on from here. A direct read
                // asked for whole blocks, past the size seen at open if the file grew since.
                t.pend = if t.direct && t.stat.size > 0 {
                    t.within_size(n)
                } else {
                    n
                };
                t.pend_start = 0;
            }
            (_, OpResult::Failed(Errno::INVAL)) if t.direct => {
                // The filesystem wants another alignment (or a short read left the offset off
                // a block): read on through the page cache.
                if !t.read_buffered() {
                    t.fail_read(Errno::INVAL);
                }
            }
            (Chain::SpliceThrough, OpResult::Done(n)) => {
                t.pend = n;
                t.pend_start = 0;
                // The out-splice ran only if the in-splice moved everything asked for.
                self.spliced_out(t, results.next().unwrap_or(OpResult::Cancelled));
            }
            (Chain::SpliceOut, r) => self.spliced_out(t, r),
            (_, OpResult::Failed(Errno::AGAIN)) => t.retry_blocking(),
            (_, OpResult::Failed(e)) if self.splice_unsupported(t, e) => t.phase = Phase::Fallback,
            (_, OpResult::Failed(e)) => t.fail_read(e),
            (_, OpResult::Cancelled) => t.fail_read(Errno::CANCELED),
            // A descriptor where none was asked for: the kernel broke its contract.
            (_, OpResult::Fd(_)) => t.fail_read(Errno::IO),
        }
    }

    /// The result of splicing `t.pend` bytes from the pipe into the destination.
    fn spliced_out(&mut self, t: &mut Task, r: OpResult) {
        match r {
            OpResult::Cancelled => {} // the in-splice came up short; the next wave goes on
            OpResult::Done(0) if t.pend > 0 => t.fail_write(Errno::IO),
            OpResult::Done(n) => {
                // A short write leaves the rest in the pipe; the next wave writes it.
                let n = n.min(t.pend);
                t.off += u64::from(n);
                t.pend -= n;
            }
            OpResult::Failed(e) if self.splice_unsupported(t, e) => t.phase = Phase::Fallback,
            OpResult::Failed(e) => t.fail_write(e),
            OpResult::Fd(_) => t.fail_write(Errno::IO),
        }
    }

    /// A splice failed because one side's filesystem cannot splice (no `splice_read` or
    /// `splice_write`: procfs files, some FUSE and network filesystems answer EINVAL): before
    /// any byte was written, the std path can still copy the file.
    fn splice_unsupported(&self, t: &Task, e: Errno) -> bool {
        self.mode == Mode::Splice
            && t.off == 0
            && matches!(e, Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS)
    }

    /// Writes what the last wave read, with `pwrite(2)`, between waves.
    fn flush_writes(&mut self, tasks: &mut [Task]) {
        let ring = self.ring.as_ref().expect("ring");
        for (i, t) in tasks.iter_mut().enumerate() {
            if t.moving() && t.pend > 0 {
                write_pending(ring, t, i);
            }
        }
    }
}

/// Writes the `t.pend` bytes read into buffer `slot` (from `t.pend_start`) at `t.off`, with
/// `pwrite(2)`, and moves `t.off` past what was written; a failed write fails the file. True
/// when every byte was written.
pub(super) fn write_pending(ring: &crate::ring::Ring, t: &mut Task, slot: usize) -> bool {
    let Some(dst) = t.dst.as_ref() else {
        return false;
    };
    let data = ring.buffer(Buf {
        index: slot,
        start: t.pend_start,
        len: t.pend,
    });
    let mut done = 0;
    let mut error = None;
    while done < data.len() {
        match rustix::io::pwrite(dst.fd(), &data[done..], t.off + done as u64) {
            Ok(0) => {
                error = Some(Errno::IO);
                break;
            }
            Ok(n) => done += n,
            Err(Errno::INTR) => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    t.off += done as u64;
    t.pend -= done as u32;
    t.pend_start += done as u32;
    match error {
        Some(e) => {
            t.fail_write(e);
            false
        }
        None => true,
    }
}
