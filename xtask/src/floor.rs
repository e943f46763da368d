//! `cargo xtask floor SRC DST [THREADS]`: the least work a synchronous copier can do per file,
//! run by the bench as the `floor` contender so every table shows how far each tool is from what
//! blocking system calls allow on this machine.
//!
//! `THREADS` threads (default: one per core) take whole directories from one shared stack: a
//! thread lists its directory, makes each subdirectory on the destination side and pushes the
//! pair for any thread to take, and copies the directory's files itself — no two threads create
//! in the same directory, and the walk runs beside the copying as cpz's does. Per regular file:
//! `openat(src)`, `openat(dst, O_CREAT|O_EXCL)`, one `copy_file_range` (another only while a
//! call copies all it was asked, which takes a file of a gigabyte or more; `sendfile` where it
//! answers EXDEV: another filesystem), and two `close`s. No `stat`, no metadata, no error
//! recovery beyond stopping: a measuring stick, not a copier. Symlinks are recreated (so the
//! bench's check of the copy passes on trees that have them); other special files are not
//! expected in the corpora.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{self as rfs, Mode, OFlags, RawDir};
use rustix::io::Errno;

/// Copy a tree the way the synchronous floor does (see the module doc); for the bench.
#[derive(Debug, clap::Args)]
pub struct FloorArgs {
    /// Source directory
    src: PathBuf,
    /// Destination directory (must not exist)
    dst: PathBuf,
    /// Worker threads (default: one per core)
    threads: Option<usize>,
}

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The largest single `copy_file_range`: a call that copies less has reached end-of-file.
const ONE_CALL: usize = 1 << 30;

/// A directory pair a thread fills (the destination already made), by path: each thread has a
/// descriptor table of its own (`ucopy_uring::private_fd_table`, as ucopy's workers and cpz's
/// threads do), so a directory goes from thread to thread as a path and is opened where it is
/// copied.
struct Pair {
    src: PathBuf,
    dst: PathBuf,
}

/// Directories waiting for a thread, and how many are being copied.
#[derive(Default)]
struct Work {
    waiting: Vec<Pair>,
    busy: usize,
    failed: bool,
}

pub fn run(args: FloorArgs) -> Result<()> {
    rfs::mkdir(&args.dst, Mode::from_raw_mode(0o755))
        .with_context(|| format!("cannot create '{}'", args.dst.display()))?;
    let root = Pair {
        src: args.src,
        dst: args.dst,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let work = Mutex::new(Work {
        waiting: vec![root],
        ..Work::default()
    });
    let more = Condvar::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| worker(&work, &more)))
            .collect();
        let mut result = Ok(());
        for w in workers {
            let r = w.join().map_err(|_| anyhow!("floor worker panicked"))?;
            result = result.and(r);
        }
        result
    })
}

/// Takes directories until none is waiting and none is being copied (which could add more).
fn worker(work: &Mutex<Work>, more: &Condvar) -> Result<()> {
    ucopy_uring::private_fd_table(std::io::stdin().as_fd())?;
    let mut buf = vec![MaybeUninit::uninit(); 64 << 10];
    let mut found = Vec::new();
    loop {
        let pair = {
            let mut w = work.lock().unwrap();
            loop {
                if w.failed {
                    return Ok(());
                }
                if let Some(pair) = w.waiting.pop() {
                    w.busy += 1;
                    break pair;
                }
                if w.busy == 0 {
                    more.notify_all();
                    return Ok(());
                }
                w = more.wait(w).unwrap();
            }
        };
        let copied = copy_dir(&pair, &mut buf, &mut found);
        let mut w = work.lock().unwrap();
        w.busy -= 1;
        w.waiting.append(&mut found);
        if copied.is_err() {
            w.failed = true;
        }
        more.notify_all();
        copied?;
    }
}

/// Copies one directory's files and symlinks; its subdirectories are made and go to `found`.
fn copy_dir(pair: &Pair, buf: &mut [MaybeUninit<u8>], found: &mut Vec<Pair>) -> Result<()> {
    let src = rfs::open(&pair.src, DIR, Mode::empty())
        .with_context(|| format!("cannot open '{}'", pair.src.display()))?;
    let dst = rfs::open(&pair.dst, DIR, Mode::empty())
        .with_context(|| format!("cannot open '{}'", pair.dst.display()))?;
    let mut names = RawDir::new(&src, buf);
    while let Some(entry) = names.next() {
        let entry = entry?;
        let name = entry.file_name();
        let what = || format!("'{}'", String::from_utf8_lossy(name.to_bytes()));
        match entry.file_type() {
            rfs::FileType::RegularFile => {
                copy_file(src.as_fd(), dst.as_fd(), name).with_context(what)?
            }
            rfs::FileType::Symlink => {
                let target = rfs::readlinkat(&src, name, Vec::new())?;
                rfs::symlinkat(&target, &dst, name).with_context(what)?;
            }
            rfs::FileType::Directory if ![&b"."[..], b".."].contains(&name.to_bytes()) => {
                rfs::mkdirat(&dst, name, Mode::from_raw_mode(0o755)).with_context(what)?;
                let name = std::ffi::OsStr::from_bytes(name.to_bytes());
                found.push(Pair {
                    src: pair.src.join(name),
                    dst: pair.dst.join(name),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn copy_file(sdir: BorrowedFd<'_>, ddir: BorrowedFd<'_>, name: &std::ffi::CStr) -> Result<()> {
    let src = rfs::openat(
        sdir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let dst = rfs::openat(
        ddir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    loop {
        match rfs::copy_file_range(&src, None, &dst, None, ONE_CALL) {
            Ok(ONE_CALL) => {}
            Ok(_) => return Ok(()),
            Err(Errno::XDEV) => return send(&src, &dst),
            Err(e) => bail!("copy_file_range: {e}"),
        }
    }
}

/// Across filesystems: `sendfile` until it returns 0 (one in-kernel copy, as cpz does).
fn send(src: &OwnedFd, dst: &OwnedFd) -> Result<()> {
    while rfs::sendfile(dst, src, None, 1 << 30).context("sendfile")? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use ucopy_test_support::compare::{tree_diffs, Compare};

    /// Every thread takes directories from the shared stack, so a tree deeper and wider than
    /// the threads, with empty files, one-byte files, files of several pages and symlinks,
    /// comes out whole with two threads and with one.
    #[test]
    fn the_floor_copies_a_nested_tree_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        for d in ["a/b/c", "a/d", "e", "f/g/h/i"] {
            fs::create_dir_all(src.join(d)).unwrap();
        }
        for (i, d) in ["", "a", "a/b", "a/b/c", "a/d", "e", "f/g/h/i"]
            .iter()
            .enumerate()
        {
            for (j, size) in [0usize, 1, 5000, 70_000].iter().enumerate() {
                let data: Vec<u8> = (0..*size).map(|k| (k * 7 + i + j) as u8).collect();
                fs::write(src.join(d).join(format!("file{j}")), data).unwrap();
            }
        }
        std::os::unix::fs::symlink("../e/file2", src.join("a/link")).unwrap();
        for threads in [2, 1] {
            let dst = tmp.path().join(format!("dst{threads}"));
            run(FloorArgs {
                src: src.clone(),
                dst: dst.clone(),
                threads: Some(threads),
            })
            .unwrap();
            // The floor sets no metadata: `plain` compares names, types, contents and link
            // targets, not modes or times.
            let diffs = tree_diffs(&src, &dst, &Compare::plain());
            assert!(diffs.is_empty(), "{threads} threads: {diffs:?}");
        }
    }
}
