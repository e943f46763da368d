//! `auto`'s one measurement at run time: is the source's data already in the page cache?
//!
//! The bench (README "Performance") shows which backend wins depends on it: with the data cached
//! (tmpfs, or a tree just written or read), per-file work is CPU-bound and the std executor's
//! plain system calls are fastest; with a cold cache, what counts is how many reads are in flight
//! at once, and the io_uring executors win. A read of one byte with `RWF_NOWAIT` answers for a
//! file without waiting for the disk: it fails with EAGAIN when the data is not cached.

use std::io::IoSliceMut;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::{Errno, ReadWriteFlags};

/// What a sample of source files said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheState {
    /// Most sampled files have their first page cached.
    Warm,
    /// Most sampled files would have to be read from disk.
    Cold,
    /// Nothing to sample, or the filesystem cannot answer (`RWF_NOWAIT` unsupported).
    Unknown,
}

/// Files sampled at most.
const SAMPLE_FILES: usize = 16;
/// Directory entries looked at at most, so sampling costs microseconds even for huge trees.
const SAMPLE_ENTRIES: usize = 512;

/// Samples the first regular files found below `sources`: a directory's own files first, then its
/// subdirectories, breadth-first.
pub(crate) fn sample(sources: &[PathBuf]) -> CacheState {
    let mut tally = Tally::default();
    let mut dirs = std::collections::VecDeque::new();
    for source in sources {
        tally.visit(source, &mut dirs);
    }
    while let Some(dir) = dirs.pop_front() {
        if tally.done() {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if tally.done() {
                break;
            }
            tally.seen += 1;
            tally.visit(&entry.path(), &mut dirs);
        }
    }
    match (tally.cached, tally.uncached, tally.unknown) {
        (_, _, true) | (0, 0, _) => CacheState::Unknown,
        (c, u, _) if u > c => CacheState::Cold,
        _ => CacheState::Warm,
    }
}

#[derive(Default)]
struct Tally {
    cached: usize,
    uncached: usize,
    seen: usize,
    unknown: bool,
}

impl Tally {
    fn done(&self) -> bool {
        self.unknown || self.cached + self.uncached >= SAMPLE_FILES || self.seen >= SAMPLE_ENTRIES
    }

    fn visit(&mut self, path: &Path, dirs: &mut std::collections::VecDeque<PathBuf>) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            dirs.push_back(path.to_path_buf());
        } else if meta.is_file() && meta.len() > 0 {
            match first_page_cached(path) {
                Some(true) => self.cached += 1,
                Some(false) => self.uncached += 1,
                None => self.unknown = true,
            }
        }
    }
}

/// `Some(true)` when the file's first byte reads without I/O, `Some(false)` when it would
/// block, `None` when the filesystem cannot tell.
fn first_page_cached(path: &Path) -> Option<bool> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rfs::open(path, flags, Mode::empty()).ok()?;
    let mut byte = [0u8; 1];
    match rustix::io::preadv2(
        &fd,
        &mut [IoSliceMut::new(&mut byte)],
        0,
        ReadWriteFlags::NOWAIT,
    ) {
        Ok(_) => Some(true),
        Err(Errno::AGAIN) => Some(false),
        Err(_) => None,
    }
}
