//! `auto`'s one measurement at run time: is the source's data already in the page cache?
//!
//! The bench (README "Performance") shows which backend wins depends on it: with the data cached
//! (tmpfs, or a tree just written or read), per-file work is CPU-bound: what counts is the kernel
//! work per file, and `rw` tuned for memory (small files batched in the ring, one worker per CPU)
//! does least; with a cold cache, what counts is how many reads are in flight at once, and the
//! io_uring executors' defaults win. `cachestat(2)` (Linux 6.5) answers for a file without
//! reading it. Before 6.5, a read of one byte with `RWF_NOWAIT` answers instead (EAGAIN when the
//! data is not cached) — less reliably: it starts the read-ahead it reports on, and on a fast disk
//! that read can complete before the kernel looks, so a cold file passes for a cached one (a
//! third of the bench's cold rounds ran `std` at queue depth 1 before `cachestat` was used).

use std::io::IoSliceMut;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::{Errno, ReadWriteFlags};

/// What a sample of source files said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheState {
    /// Most sampled files have their first page cached; `small_files` when most are no larger
    /// than the in-memory ring takes (`ucopy_uring::Tuning::in_memory`).
    Warm { small_files: bool },
    /// Most sampled files would have to be read from disk.
    Cold,
    /// No regular file with data was found within the sampling budget.
    NoData,
    /// The source filesystem does not answer `RWF_NOWAIT` reads (EOPNOTSUPP).
    Unsupported,
}

/// Files sampled at most.
const SAMPLE_FILES: usize = 16;
/// Entries looked at per directory: a directory of many subdirectories (e.g. `/usr/share/doc`,
/// 700 of them and no file) must not use the whole budget before any file is seen.
const ENTRIES_PER_DIR: usize = 64;
/// Directories listed at most, so sampling costs little even for huge trees.
const SAMPLE_DIRS: usize = 64;

/// Samples regular files below `sources`, breadth-first: up to [`ENTRIES_PER_DIR`] entries of
/// each directory (its files are sampled, its subdirectories queued), up to [`SAMPLE_DIRS`]
/// directories, until [`SAMPLE_FILES`] files answered. Entry types come from the directory
/// listing (`d_type`), so only sampled files cost an open.
pub(crate) fn sample(sources: &[PathBuf]) -> CacheState {
    let mut tally = Tally::default();
    let mut dirs = std::collections::VecDeque::new();
    for source in sources {
        match std::fs::symlink_metadata(source) {
            Ok(m) if m.is_dir() => dirs.push_back(source.clone()),
            Ok(m) if m.is_file() => tally.file(source),
            _ => {}
        }
    }
    let mut listed = 0;
    while let Some(dir) = dirs.pop_front() {
        if tally.done() || listed >= SAMPLE_DIRS {
            break;
        }
        listed += 1;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.take(ENTRIES_PER_DIR).flatten() {
            if tally.done() {
                break;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push_back(entry.path()),
                Ok(t) if t.is_file() => tally.file(&entry.path()),
                _ => {}
            }
        }
    }
    tally.state()
}

#[derive(Default)]
struct Tally {
    cached: usize,
    uncached: usize,
    /// Sampled files no larger than the in-memory ring takes.
    small: usize,
    unsupported: bool,
}

impl Tally {
    fn done(&self) -> bool {
        self.unsupported || self.cached + self.uncached >= SAMPLE_FILES
    }

    fn file(&mut self, path: &Path) {
        let (sampled, size) = first_page_cached(path);
        if matches!(sampled, Sampled::Cached | Sampled::Uncached)
            && size <= ucopy_uring::Tuning::in_memory().ring_max
        {
            self.small += 1;
        }
        match sampled {
            Sampled::Cached => self.cached += 1,
            Sampled::Uncached => self.uncached += 1,
            Sampled::Unsupported => self.unsupported = true,
            // Unreadable, empty, or replaced meanwhile: says nothing about the cache.
            Sampled::Skip => {}
        }
    }

    fn state(&self) -> CacheState {
        match (self.cached, self.uncached) {
            _ if self.unsupported => CacheState::Unsupported,
            (0, 0) => CacheState::NoData,
            (c, u) if u > c => CacheState::Cold,
            (c, u) => CacheState::Warm {
                small_files: self.small * 2 > c + u,
            },
        }
    }
}

enum Sampled {
    Cached,
    Uncached,
    Unsupported,
    Skip,
}

/// Whether the file's first page is in the page cache: `cachestat(2)`, or where the kernel has
/// none, whether its first byte reads without I/O (`RWF_NOWAIT`: EAGAIN when it would block);
/// with the file's size.
fn first_page_cached(path: &Path) -> (Sampled, u64) {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rfs::open(path, flags, Mode::empty()) else {
        return (Sampled::Skip, 0);
    };
    let size = match rfs::fstat(&fd) {
        Ok(st)
            if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::RegularFile
                && st.st_size > 0 =>
        {
            st.st_size as u64
        }
        _ => return (Sampled::Skip, 0),
    };
    match ucopy_uring::cached_pages(fd.as_fd(), 0, 1) {
        Ok(0) => return (Sampled::Uncached, size),
        Ok(_) => return (Sampled::Cached, size),
        // An older kernel (ENOSYS), or a filesystem cachestat does not cover: the read below.
        Err(_) => {}
    }
    let mut byte = [0u8; 1];
    match rustix::io::preadv2(
        &fd,
        &mut [IoSliceMut::new(&mut byte)],
        0,
        ReadWriteFlags::NOWAIT,
    ) {
        Ok(_) => (Sampled::Cached, size),
        Err(Errno::AGAIN) => (Sampled::Uncached, size),
        Err(Errno::OPNOTSUPP) => (Sampled::Unsupported, size),
        Err(_) => (Sampled::Skip, size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file just written is cached; once written back and dropped from the page cache it is
    /// not, and asking must not read it back in (a `RWF_NOWAIT` read did, and on a fast disk
    /// then answered "cached"). The eviction half needs a filesystem that can drop pages (not
    /// tmpfs), so on a tmpfs temp dir only the first half runs.
    #[test]
    fn evicted_file_samples_cold_and_stays_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 64 << 10]).unwrap();
        assert!(matches!(first_page_cached(&path).0, Sampled::Cached));
        let f = std::fs::File::open(&path).unwrap();
        f.sync_all().unwrap();
        rfs::fadvise(&f, 0, None, rfs::Advice::DontNeed).unwrap();
        match ucopy_uring::cached_pages(f.as_fd(), 0, 0) {
            Ok(0) => {
                for _ in 0..3 {
                    assert!(matches!(first_page_cached(&path).0, Sampled::Uncached));
                }
                assert_eq!(ucopy_uring::cached_pages(f.as_fd(), 0, 0).unwrap(), 0);
            }
            Ok(n) => eprintln!("this filesystem kept {n} pages after POSIX_FADV_DONTNEED"),
            Err(e) => eprintln!("no cachestat(2) here ({e}): the RWF_NOWAIT fallback answers"),
        }
    }

    /// A tree shaped like `/usr/share/doc`: hundreds of subdirectories and no file at the top.
    /// The old sampler looked at 512 top-level entries, found no file and blamed RWF_NOWAIT.
    #[test]
    fn finds_files_below_many_subdirectories() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..700 {
            let d = t.path().join(format!("pkg{i:03}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("copyright"), b"just written, so cached").unwrap();
        }
        let state = sample(&[t.path().to_path_buf()]);
        assert!(
            matches!(state, CacheState::Warm { .. } | CacheState::Unsupported),
            "{state:?}"
        );
    }

    #[test]
    fn empty_files_and_empty_trees_are_no_data_not_unsupported() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/empty"), b"").unwrap();
        assert_eq!(sample(&[t.path().to_path_buf()]), CacheState::NoData);
    }

    #[test]
    fn a_single_file_source_is_sampled() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, b"data").unwrap();
        let state = sample(&[f]);
        assert!(
            matches!(
                state,
                CacheState::Warm { small_files: true } | CacheState::Unsupported
            ),
            "{state:?}"
        );
    }

    /// A tree of files larger than the in-memory ring takes says so: `auto` then copies with
    /// plain system calls (`copy_file_range`, one copy in the kernel).
    #[test]
    fn a_tree_of_large_files_is_not_small() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..20 {
            std::fs::write(t.path().join(format!("f{i}")), vec![1u8; 64 << 10]).unwrap();
        }
        let state = sample(&[t.path().to_path_buf()]);
        assert!(
            matches!(
                state,
                CacheState::Warm { small_files: false } | CacheState::Unsupported
            ),
            "{state:?}"
        );
    }
}
