//! Direct reads of a file's later chunks into the buffers of the group's finished files.
//!
//! A group's files move in waves, and a file larger than its buffer needs one wave per chunk,
//! so after the first wave a group of mostly small files has only its large ones reading: a
//! few reads in flight for the rest of the group (PERF.md, "Cold reads around the page
//! cache"). With reads that skip the page cache there is no read-ahead to fill that gap, so a
//! file whose own read takes a whole chunk also reads its next chunks, in the same wave, into
//! the buffers of files that are done. They are written after its own chunk, in order, for as
//! long as each came back whole; whatever follows a short or failed one is read again by the
//! file itself in the next wave.

use std::io;
use std::sync::Arc;

use smallvec::smallvec;

use super::data::{write_pending, Chain, DIRECT_BLOCK};
use super::{Task, UringExecutor};
use crate::ring::{Buf, Completion, Op, OpResult, Target};

/// Chunks one file may read into other files' buffers in one wave (with 128 KiB buffers, a
/// file of up to 1 MiB — the most the ring takes — in one wave).
const MAX_LENT: usize = 7;

/// One read of a file's later chunk into another file's buffer.
#[derive(Debug)]
pub(super) struct Lent {
    /// The reading file.
    task: usize,
    /// Whose buffer.
    slot: usize,
    /// Where in the file.
    offset: u64,
    /// Bytes asked for.
    len: u32,
}

impl UringExecutor {
    /// Pushes the lent reads of this wave (tags after the tasks': `tasks.len() + k` for the
    /// `k`-th of the returned list). Only `rw`/`fixed` with direct reads; files whose own chain
    /// this wave is a read of a whole chunk.
    pub(super) fn lend_buffers(
        &mut self,
        tasks: &[Task],
        chains: &[Option<Chain>],
        done: &mut Vec<Completion>,
    ) -> io::Result<Vec<Lent>> {
        let mut lent = Vec::new();
        let chunk = self.direct_chunk();
        let mut free = tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.moving())
            .map(|(j, _)| j)
            .peekable();
        for (i, t) in tasks.iter().enumerate() {
            if free.peek().is_none() {
                break;
            }
            if !t.direct || !matches!(chains[i], Some(Chain::Read)) || t.pend > 0 {
                continue;
            }
            let src = t.src.as_ref().expect("a moving file has its source open");
            let mut offset = t.off + u64::from(chunk);
            for _ in 0..MAX_LENT {
                if offset >= t.stat.size {
                    break;
                }
                let Some(slot) = free.next() else { break };
                let len = ((t.stat.size - offset).min(u64::from(chunk)) as u32)
                    .next_multiple_of(DIRECT_BLOCK)
                    .min(chunk);
                let read = Op::Read {
                    fd: Target::Fd(Arc::clone(src)),
                    buf: Buf {
                        index: slot,
                        start: 0,
                        len,
                    },
                    offset,
                };
                let tag = (tasks.len() + lent.len()) as u64;
                self.ring().push_or_drain(tag, smallvec![read], done)?;
                lent.push(Lent {
                    task: i,
                    slot,
                    offset,
                    len,
                });
                offset += u64::from(chunk);
            }
        }
        Ok(lent)
    }

    /// Writes what the lent reads brought, after each file's own chunk (written here too), in
    /// order and for as long as every read before came back whole. `results[k]` is `lent[k]`'s.
    pub(super) fn write_lent(
        &mut self,
        tasks: &mut [Task],
        lent: &[Lent],
        results: &[Option<OpResult>],
    ) {
        let chunk = self.direct_chunk();
        let ring = self.ring.as_ref().expect("ring");
        let mut k = 0;
        while k < lent.len() {
            let i = lent[k].task;
            let end = k + lent[k..].iter().take_while(|l| l.task == i).count();
            let t = &mut tasks[i];
            // The lent chunks follow the file's own: only if that one came back whole.
            let mut whole = t.moving() && t.pend == chunk && write_pending(ring, t, i);
            for (l, r) in lent[k..end].iter().zip(&results[k..end]) {
                if !whole || !t.moving() || t.off != l.offset {
                    break;
                }
                let Some(OpResult::Done(n)) = *r else { break };
                // What lies past the size seen at open is not copied (as for the file's own).
                let n = t.within_size(n);
                if n == 0 {
                    break;
                }
                t.pend = n;
                t.pend_start = 0;
                whole = write_pending(ring, t, l.slot) && n == l.len;
            }
            k = end;
        }
    }
}
