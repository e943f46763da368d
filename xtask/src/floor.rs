//! `cargo xtask floor SRC DST [THREADS]`: the least work a synchronous copier can do per file,
//! run by the bench as the `floor` contender so every table shows how far each tool is from what
//! blocking system calls allow on this machine.
//!
//! One thread lists every directory and makes the destination directories; then `THREADS`
//! threads (default: one per core) take whole directories — no two threads create in the same
//! directory — and per regular file do `openat(src)`, `openat(dst, O_CREAT|O_EXCL)`,
//! `copy_file_range` until it returns 0 (`sendfile` where it answers EXDEV: another filesystem),
//! and two `close`s. No `stat`, no metadata, no error recovery beyond stopping: a measuring
//! stick, not a copier. Symlinks are recreated (so the bench's check of the copy passes on trees
//! that have them); other special files are not expected in the corpora.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
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

/// A directory pair the workers fill: source and destination paths.
struct Pair {
    src: PathBuf,
    dst: PathBuf,
}

pub fn run(args: FloorArgs) -> Result<()> {
    rfs::mkdir(&args.dst, Mode::from_raw_mode(0o755))
        .with_context(|| format!("cannot create '{}'", args.dst.display()))?;
    let mut dirs = Vec::new();
    walk(&args.src, &args.dst, &mut dirs)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut buf = vec![MaybeUninit::uninit(); 64 << 10];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(pair) = dirs.get(i) else {
                            return Ok(());
                        };
                        copy_dir(pair, &mut buf)
                            .with_context(|| format!("in '{}'", pair.src.display()))?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("floor worker panicked")?;
        }
        Ok(())
    })
}

/// Lists `src` recursively (directories only, by `d_type`), making each destination directory.
fn walk(src: &std::path::Path, dst: &std::path::Path, out: &mut Vec<Pair>) -> Result<()> {
    out.push(Pair {
        src: src.to_path_buf(),
        dst: dst.to_path_buf(),
    });
    for entry in
        std::fs::read_dir(src).with_context(|| format!("cannot list '{}'", src.display()))?
    {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            rfs::mkdir(&d, Mode::from_raw_mode(0o755))
                .with_context(|| format!("cannot create '{}'", d.display()))?;
            walk(&s, &d, out)?;
        }
    }
    Ok(())
}

fn copy_dir(pair: &Pair, buf: &mut [MaybeUninit<u8>]) -> Result<()> {
    let sdir = rfs::open(&pair.src, DIR, Mode::empty())?;
    let ddir = rfs::open(&pair.dst, DIR, Mode::empty())?;
    let mut names = RawDir::new(&sdir, buf);
    while let Some(entry) = names.next() {
        let entry = entry?;
        let name = entry.file_name();
        match entry.file_type() {
            rfs::FileType::RegularFile => copy_file(sdir.as_fd(), ddir.as_fd(), name)
                .with_context(|| format!("file '{}'", String::from_utf8_lossy(name.to_bytes())))?,
            rfs::FileType::Symlink => {
                let target = rfs::readlinkat(&sdir, name, Vec::new())?;
                rfs::symlinkat(&target, &ddir, name)?;
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
        match rfs::copy_file_range(&src, None, &dst, None, 1 << 30) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
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
