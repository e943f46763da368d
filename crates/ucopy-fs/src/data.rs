//! Moving a file's bytes with the fastest path the kernel offers, falling back per file:
//! `FICLONE` (reflink) → sparse-aware `copy_file_range` → `copy_file_range` → `sendfile` (one
//! in-kernel copy, where `copy_file_range` refuses: EXDEV between two filesystems, the common
//! backup case) → `read`/`write` (two copies through a user buffer).
//!
//! A source that shrinks or grows while it is copied ends as some prefix of its data: the copy
//! runs to end-of-file, never pads to the planned size.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{self as rfs, SeekFrom};
use rustix::io::Errno;
use ucopy_core::{Cancel, Options, Reflink, Sparse, Stat};

/// Largest single `copy_file_range`: big enough to be one call for most files, small enough that
/// Ctrl-C is noticed within a fraction of a second on a slow disk.
const CHUNK: usize = 64 << 20;

/// Buffer for the `read`/`write` fallback.
const RW_BUFFER: usize = 256 << 10;

/// Files at least this large try `FICLONE` first; below it a failing ioctl costs more than it can
/// save.
const CLONE_MIN: u64 = 64 << 10;

/// Which kernel paths worked between one pair of filesystems; kept per executor so a path that
/// fails (EXDEV, EOPNOTSUPP) is not retried for every file.
#[derive(Debug, Default, Clone)]
pub struct KernelPaths {
    devs: Option<(u64, u64)>,
    clone_works: Option<bool>,
    cfr_works: Option<bool>,
    sendfile_works: Option<bool>,
}

impl KernelPaths {
    fn reset_for(&mut self, src_dev: u64, dst_dev: u64) {
        if self.devs != Some((src_dev, dst_dev)) {
            *self = KernelPaths {
                devs: Some((src_dev, dst_dev)),
                ..KernelPaths::default()
            };
        }
    }
}

/// Why a data copy stopped.
#[derive(Debug)]
pub enum DataError {
    /// Reading the source failed.
    Read(io::Error),
    /// Writing the destination failed.
    Write(io::Error),
    /// `--reflink=always` and the filesystem cannot clone.
    Clone(io::Error),
    /// Ctrl-C.
    Cancelled,
}

/// Copies all data of `src` (whose `fstat` is `stat`, taken on this descriptor, which is a
/// regular file) into the empty file `dst`; returns the bytes copied. `dst_dev` is the
/// destination filesystem's device (for the path cache). `--reflink` and `--sparse` choose the
/// paths: `--reflink=always` clones or fails; `--reflink=never` and `--sparse=never` use plain
/// reads and writes (copy_file_range may share extents or keep holes); `--sparse=always` turns
/// runs of zeros into holes.
pub fn copy_data(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    stat: &Stat,
    dst_dev: u64,
    paths: &mut KernelPaths,
    options: &Options,
) -> Result<u64, DataError> {
    let cancel = &options.cancel;
    paths.reset_for(stat.dev, dst_dev);
    if options.reflink == Reflink::Always {
        return match rfs::ioctl_ficlone(dst, src) {
            Ok(()) => Ok(stat.size),
            Err(e) => Err(DataError::Clone(e.into())),
        };
    }
    match options.sparse {
        Sparse::Always => return read_write_sparse(src, dst, cancel),
        Sparse::Never => return read_write(src, dst, 0, cancel),
        Sparse::Auto => {}
    }
    if options.reflink == Reflink::Never {
        // No clone, and no copy_file_range (which clones on some filesystems); holes stay.
        let mut plain = KernelPaths {
            devs: paths.devs,
            clone_works: Some(false),
            cfr_works: Some(false),
            sendfile_works: paths.sendfile_works,
        };
        if stat.maybe_sparse() {
            if let Some(copied) = copy_sparse(src, dst, stat, &mut plain, cancel)? {
                return Ok(copied);
            }
        }
        return read_write(src, dst, 0, cancel);
    }
    if stat.size >= CLONE_MIN && paths.clone_works != Some(false) {
        match rfs::ioctl_ficlone(dst, src) {
            Ok(()) => {
                paths.clone_works = Some(true);
                return Ok(stat.size);
            }
            Err(_) => paths.clone_works = Some(false),
        }
    }
    if stat.size == 0 {
        // procfs-like files report size 0 but have content; a real empty file costs one read.
        return read_unknown_size(src, dst, cancel);
    }
    if stat.maybe_sparse() {
        if let Some(copied) = copy_sparse(src, dst, stat, paths, cancel)? {
            return Ok(copied);
        }
    }
    let copied = in_kernel(
        InKernel::CopyFileRange,
        src,
        dst,
        0,
        stat.size,
        paths,
        cancel,
    )?;
    if copied != stat.size || (stat.size >= RECHECK_MIN && changed_since(src, stat).is_some()) {
        // The in-kernel paths move page-cache pages by reference (a pipe inside the kernel): a
        // truncate while a page is in flight zeroes its cut tail in place, and the copy could
        // carry zeros the file never had at that offset. A source that came up short, grew, or
        // (large enough for an extra fstat not to count) changed meanwhile is copied again.
        return copy_again_through_buffer(src, dst, cancel);
    }
    Ok(copied)
}

/// Copies `src` into `dst` once more from the start, through a buffer, after a copy that moved
/// page-cache pages by reference (`copy_file_range`, `sendfile`, io_uring splices) while the
/// source changed: empties `dst`, then reads to end-of-file, taking only bytes below the size
/// the source has at each read.
pub fn copy_again_through_buffer(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    rfs::ftruncate(dst, 0).map_err(|e| DataError::Write(e.into()))?;
    read_write(src, dst, 0, cancel)
}

/// Files at least this large are checked after an in-kernel copy for a change during it (see
/// [`copy_data`]); below it a change shows as a short copy, and an `fstat` per small file would
/// cost more than the copy's own system calls save.
const RECHECK_MIN: u64 = 64 << 10;

/// The source's metadata now, if its size or modification time moved since `stat` was taken
/// (a source that cannot be stat'ed counts as changed: `stat` comes back). With multigrain
/// timestamps (6.13+) any write after our `fstat` gives a new mtime.
pub fn changed_since(src: BorrowedFd<'_>, stat: &Stat) -> Option<Stat> {
    match rfs::fstat(src) {
        Ok(st) => {
            let now = Stat::from(&st);
            (now.size != stat.size || now.mtime != stat.mtime).then_some(now)
        }
        Err(_) => Some(*stat),
    }
}

/// The two calls that copy page cache to page cache without a user buffer. One loop drives
/// both; what differs between them is said here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InKernel {
    CopyFileRange,
    Sendfile,
}

impl InKernel {
    /// Whether this call worked (or was refused) before, between this pair of filesystems.
    fn works(self, paths: &mut KernelPaths) -> &mut Option<bool> {
        match self {
            InKernel::CopyFileRange => &mut paths.cfr_works,
            InKernel::Sendfile => &mut paths.sendfile_works,
        }
    }

    /// One call of up to `CHUNK` bytes, reading the source at `at`.
    fn call(self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, at: u64) -> rustix::io::Result<usize> {
        let mut off_in = at;
        match self {
            InKernel::CopyFileRange => {
                let mut off_out = at;
                rfs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), CHUNK)
            }
            InKernel::Sendfile => rfs::sendfile(dst, src, Some(&mut off_in), CHUNK),
        }
    }

    /// Errors that mean "this call cannot copy this file" when nothing was copied yet.
    fn refused(self, e: Errno) -> bool {
        match self {
            InKernel::CopyFileRange => matches!(
                e,
                Errno::XDEV | Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS | Errno::PERM
            ),
            InKernel::Sendfile => matches!(e, Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS),
        }
    }
}

/// Copies with `call` from `offset` until `size` bytes are copied (the size `fstat` reported
/// when the file was opened: a file that grows meanwhile is copied as that prefix, which saves
/// the extra call per file that finding end-of-file would cost) or end-of-file comes first (it
/// shrank).
///
/// Where the kernel refuses a call for this pair of filesystems (EXDEV across some filesystems,
/// EINVAL/EOPNOTSUPP on special filesystems, ENOSYS), the next path copies instead:
/// `copy_file_range` → `sendfile` → read/write. `sendfile` still copies page cache to page cache
/// once (cpz does the same), where `read`/`write` copies every byte twice through user memory;
/// it is refused where the source cannot be spliced (EINVAL: no `splice_read`, procfs-like
/// files) or the destination cannot take it.
fn in_kernel(
    call: InKernel,
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    offset: u64,
    size: u64,
    paths: &mut KernelPaths,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    if *call.works(paths) != Some(false) {
        // sendfile writes at the destination's file position.
        if call == InKernel::Sendfile && offset != 0 {
            rfs::seek(dst, SeekFrom::Start(offset)).map_err(|e| DataError::Write(e.into()))?;
        }
        let mut copied = 0u64;
        loop {
            if cancel.is_cancelled() {
                return Err(DataError::Cancelled);
            }
            match call.call(src, dst, offset + copied) {
                Ok(0) => {
                    // A zero return at the very start may mean "this filesystem cannot do it"
                    // (procfs-like files): let read/write decide whether there is data.
                    if copied == 0 && *call.works(paths) != Some(true) {
                        return read_write(src, dst, offset, cancel);
                    }
                    if call == InKernel::Sendfile && copied < size {
                        // Ended before the size the file had when it was opened: a short read
                        // is "read again", never "done". Some filesystems (FUSE) take a short
                        // page-cache read for end of file; a plain read from here says whether
                        // the file really shrank (0) or the rest is unreadable (an error).
                        return read_write(src, dst, offset + copied, cancel).map(|n| copied + n);
                    }
                    return Ok(copied);
                }
                Ok(n) => {
                    *call.works(paths) = Some(true);
                    copied += n as u64;
                    if copied >= size {
                        return Ok(copied);
                    }
                }
                Err(Errno::INTR) => continue,
                // The source is opened O_NONBLOCK (a FIFO swapped in must not block us); should
                // a filesystem honour that for sendfile, finish with blocking reads instead of
                // spinning.
                Err(Errno::AGAIN) if call == InKernel::Sendfile => {
                    return read_write(src, dst, offset + copied, cancel).map(|n| copied + n)
                }
                Err(e) if copied == 0 && call.refused(e) => {
                    *call.works(paths) = Some(false);
                    break;
                }
                Err(e) => return Err(classify(src, e, offset + copied)),
            }
        }
    }
    match call {
        InKernel::CopyFileRange => {
            in_kernel(InKernel::Sendfile, src, dst, offset, size, paths, cancel)
        }
        InKernel::Sendfile => read_write(src, dst, offset, cancel),
    }
}

/// copy_file_range does not say which side failed. Errors only a destination gives are the
/// destination's; otherwise the source is asked: a one-byte read where the copy stopped (`at`)
/// that fails too (a bad sector gives EIO again) blames the source, so a dying source disk is
/// never reported as a write error.
fn classify(src: BorrowedFd<'_>, e: Errno, at: u64) -> DataError {
    match e {
        Errno::NOSPC | Errno::FBIG | Errno::DQUOT | Errno::ROFS => DataError::Write(e.into()),
        _ if rfs::fstat(src).is_err() => DataError::Read(e.into()),
        _ => {
            let mut byte = [0u8; 1];
            match rustix::io::pread(src, &mut byte, at) {
                Err(read_error) => DataError::Read(read_error.into()),
                Ok(_) => DataError::Write(e.into()),
            }
        }
    }
}

/// Copies the data runs of a file with holes, leaving the holes unwritten; `Ok(None)` when the
/// filesystem does not report holes (the caller copies everything).
fn copy_sparse(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    stat: &Stat,
    paths: &mut KernelPaths,
    cancel: &Cancel,
) -> Result<Option<u64>, DataError> {
    let mut pos = 0u64;
    let mut copied = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(DataError::Cancelled);
        }
        let data = match rfs::seek(src, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(Errno::NXIO) => break, // only a hole remains
            Err(Errno::INVAL | Errno::OPNOTSUPP) if pos == 0 => return Ok(None),
            Err(e) => return Err(DataError::Read(e.into())),
        };
        let hole = match rfs::seek(src, SeekFrom::Hole(data)) {
            Ok(h) => h,
            Err(Errno::NXIO) => break, // shrank meanwhile
            Err(e) => return Err(DataError::Read(e.into())),
        };
        let n = copy_span(src, dst, data, hole - data, paths, cancel)?;
        copied += n;
        if n < hole - data {
            // End of file before the hole the filesystem announced: the file shrank meanwhile,
            // or its size lies (sysfs reports 4096 bytes and no blocks for a 4-byte file). The
            // copy ends with the last byte read, never padded to a size nobody could read.
            rfs::ftruncate(dst, data + n).map_err(|e| DataError::Write(e.into()))?;
            return Ok(Some(copied));
        }
        pos = hole;
    }
    // The tail hole (or all of an all-hole file) becomes length, not written zeros. A source that
    // shrank meanwhile ends at its new length, never padded to the planned one.
    let end = rfs::fstat(src)
        .map_err(|e| DataError::Read(e.into()))?
        .st_size as u64;
    let end = end.min(stat.size.max(pos));
    rfs::ftruncate(dst, end).map_err(|e| DataError::Write(e.into()))?;
    Ok(Some(copied))
}

/// Copies exactly `[offset, offset + len)` (less at end-of-file).
fn copy_span(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    offset: u64,
    len: u64,
    paths: &mut KernelPaths,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    let mut done = 0u64;
    while done < len {
        if cancel.is_cancelled() {
            return Err(DataError::Cancelled);
        }
        let want = (len - done).min(CHUNK as u64) as usize;
        let mut off_in = offset + done;
        let mut off_out = off_in;
        let n = if paths.cfr_works != Some(false) {
            match rfs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), want) {
                // A zero at the start on a filesystem not known to support it may mean "cannot"
                // (procfs-like files), not end-of-file: let a read decide.
                Ok(0) if done == 0 && paths.cfr_works != Some(true) => {
                    paths.cfr_works = Some(false);
                    continue;
                }
                Ok(n) => {
                    paths.cfr_works = Some(true);
                    n
                }
                Err(Errno::INTR) => continue,
                Err(Errno::XDEV | Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS) => {
                    paths.cfr_works = Some(false);
                    continue;
                }
                Err(e) => return Err(classify(src, e, offset + done)),
            }
        } else {
            pread_pwrite(src, dst, offset + done, want, cancel)?
        };
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    Ok(done)
}

/// One buffer's worth of `pread` + `pwrite`; returns bytes moved (0 at end-of-file).
fn pread_pwrite(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    offset: u64,
    want: usize,
    cancel: &Cancel,
) -> Result<usize, DataError> {
    let mut buf = vec![0u8; want.min(RW_BUFFER)];
    let n = read_at(src, &mut buf, offset, cancel)?;
    write_all_at(dst, &buf[..n], offset)?;
    Ok(n)
}

/// `pread` into `buf` at `offset`; 0 at end-of-file. Interrupted by a signal, it reads again
/// unless the copy was cancelled meanwhile (Ctrl-C during a read that blocks).
fn read_at(
    src: BorrowedFd<'_>,
    buf: &mut [u8],
    offset: u64,
    cancel: &Cancel,
) -> Result<usize, DataError> {
    loop {
        match rustix::io::pread(src, &mut *buf, offset) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) if cancel.is_cancelled() => return Err(DataError::Cancelled),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(DataError::Read(e.into())),
        }
    }
}

/// Writes all of `data` at `offset`.
pub fn write_all_at(
    dst: BorrowedFd<'_>,
    mut data: &[u8],
    mut offset: u64,
) -> Result<(), DataError> {
    while !data.is_empty() {
        match rustix::io::pwrite(dst, data, offset) {
            Ok(0) => return Err(DataError::Write(Errno::IO.into())),
            Ok(n) => {
                data = &data[n..];
                offset += n as u64;
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(DataError::Write(e.into())),
        }
    }
    Ok(())
}

/// Plain positional read/write from `offset` to end-of-file. `src` must have been checked to be
/// a regular file through this very descriptor (`file::check_source`): a device swapped in after
/// planning would otherwise be read until the disk is full.
pub fn read_write(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    offset: u64,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    let mut buf = vec![0u8; RW_BUFFER];
    let mut copied = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(DataError::Cancelled);
        }
        let n = match read_at(src, &mut buf, offset + copied, cancel)? {
            0 => return Ok(copied),
            n => n,
        };
        write_all_at(dst, &buf[..n], offset + copied)?;
        copied += n as u64;
    }
}

/// [`read_write`] for a file whose size says nothing (0, as procfs-like files report): the first
/// read goes into a small buffer on the stack, so that a file that really is empty — most of
/// them — costs one `pread` and no buffer (zeroing a [`RW_BUFFER`] for each empty file was 12 %
/// of the user time of a copy of the bench's mixed corpus).
fn read_unknown_size(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    if cancel.is_cancelled() {
        return Err(DataError::Cancelled);
    }
    let mut first = [0u8; 4096];
    let n = read_at(src, &mut first, 0, cancel)?;
    if n == 0 {
        return Ok(0);
    }
    write_all_at(dst, &first[..n], 0)?;
    Ok(n as u64 + read_write(src, dst, n as u64, cancel)?)
}

/// `--sparse=always`: read/write where every all-zero block becomes a hole (skipped, and the
/// length set at the end), as cp does.
fn read_write_sparse(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    cancel: &Cancel,
) -> Result<u64, DataError> {
    const BLOCK: usize = 4096;
    let mut buf = vec![0u8; RW_BUFFER];
    let mut copied = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(DataError::Cancelled);
        }
        let n = match read_at(src, &mut buf, copied, cancel)? {
            0 => break,
            n => n,
        };
        for (i, block) in buf[..n].chunks(BLOCK).enumerate() {
            if block.iter().any(|b| *b != 0) {
                write_all_at(dst, block, copied + (i * BLOCK) as u64)?;
            }
        }
        copied += n as u64;
    }
    rfs::ftruncate(dst, copied).map_err(|e| DataError::Write(e.into()))?;
    Ok(copied)
}

/// The device of an open file (for [`KernelPaths`]).
pub fn device_of<Fd: AsFd>(fd: Fd) -> io::Result<u64> {
    Ok(rfs::fstat(fd)?.st_dev as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    fn copy_unknown_size(content: &[u8]) -> Vec<u8> {
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(content).unwrap();
        let mut dst = tempfile::tempfile().unwrap();
        let n = read_unknown_size(src.as_fd(), dst.as_fd(), &Cancel::default()).unwrap();
        assert_eq!(n, content.len() as u64);
        let mut out = Vec::new();
        dst.rewind().unwrap();
        dst.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_file_of_unknown_size_is_copied_whole_past_the_first_small_read() {
        assert_eq!(copy_unknown_size(b""), b"");
        assert_eq!(copy_unknown_size(b"a few bytes"), b"a few bytes");
        // Longer than the first read (4 KiB) and than one RW_BUFFER.
        let long: Vec<u8> = (0..RW_BUFFER + 10_000).map(|i| (i % 251) as u8).collect();
        assert_eq!(copy_unknown_size(&long), long);
    }
}
