//! Reading a cold source's directories ahead of the walk.
//!
//! The walk lists one directory at a time on one thread, so on a cold disk it reads directory
//! blocks one at a time while the workers wait for work (PERF.md, "Cold reads around the page
//! cache": with the directories read before a cold copy of the mixed corpus, 0.71–0.80 s
//! instead of 0.83–0.89 s). A [`DirWarmer`] lists the source's directories on threads of its
//! own while the copy runs, so the walk finds them in memory. It only reads, it is best effort
//! (a directory it cannot open is left to the walk, which reports it), and each of its threads
//! has a descriptor table of its own, so it takes no descriptor from the copy's budget.
//!
//! After listing a directory (its subdirectories queued first) a thread also looks up each
//! regular file in it by name (`fstatat`), which reads its inode: an io_uring open whose inode
//! is not in memory is handed to a kernel worker thread, one that finds it cached completes in
//! line (PERF.md, "The run of `bench/runs/2026-12-02j/`", `warm-lookup.txt` there: cold, the
//! mixed corpus 1.12 → 1.04 s, 4 KiB files 1.27 → 1.20 s, the toolchain 2.07 → 1.99 s, 64 KiB
//! files level).

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rustix::fs::{self as rfs, FileType, Mode, OFlags, RawDir};

/// Directories waiting at most: past it, further subdirectories are left to the walk (keeps the
/// warmer's memory bounded on trees of millions of directories).
const MAX_WAITING: usize = 4096;

/// Bytes of a directory's file names kept to look up after its listing; past it they are
/// looked up during the listing (keeps memory bounded on directories of millions of files).
const MAX_NAMES: usize = 64 << 10;

/// Threads that list directories: more than one, so that several directory reads are in flight.
const THREADS: usize = 4;

/// Directories waiting, and how many threads are listing one.
#[derive(Default)]
struct Queue {
    waiting: Vec<PathBuf>,
    busy: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    stop: AtomicBool,
    dev: u64,
}

/// Threads listing a tree's directories until they are all read or [`DirWarmer::stop`].
pub(crate) struct DirWarmer {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DirWarmer {
    /// Starts listing the directories below `root` (a directory; the filesystem it is on only),
    /// or `None` if `root` is not a directory.
    pub(crate) fn start(root: &Path) -> Option<DirWarmer> {
        let meta = std::fs::symlink_metadata(root).ok()?;
        if !meta.is_dir() {
            return None;
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                waiting: vec![root.to_path_buf()],
                busy: 0,
            }),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            dev: std::os::unix::fs::MetadataExt::dev(&meta),
        });
        let threads = (0..THREADS)
            .filter_map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("ucopy-warm-{i}"))
                    .stack_size(64 << 10)
                    .spawn(move || warm(&shared))
                    .ok()
            })
            .collect();
        Some(DirWarmer { shared, threads })
    }

    /// Stops the threads (after the directory each is listing) and waits for them.
    pub(crate) fn stop(self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// One warming thread: takes directories from the queue until there are none left (and none
/// being listed) or it is told to stop.
fn warm(shared: &Shared) {
    // A table of its own holding only 0, 1 and 2: what it opens counts against no one else's
    // descriptors. Without one it does not run.
    if ucopy_uring::private_fd_table(std::io::stderr().as_fd()).is_err() {
        return;
    }
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 << 10];
    loop {
        let dir = {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(d) = q.waiting.pop() {
                    q.busy += 1;
                    break d;
                }
                if q.busy == 0 {
                    shared.wake.notify_all();
                    return;
                }
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let listed = list(&dir, shared.dev, &shared.stop, &mut buf);
        {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            let room = MAX_WAITING.saturating_sub(q.waiting.len());
            q.waiting.extend(listed.subdirs.into_iter().take(room));
            shared.wake.notify_all();
        }
        if let Some(fd) = listed.fd {
            look_up(&fd, &listed.files, &shared.stop);
        }
        let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.busy -= 1;
        shared.wake.notify_all();
    }
}

/// What listing a directory found.
#[derive(Default)]
struct Listed {
    /// The directory, open, for looking up its files by name.
    fd: Option<OwnedFd>,
    /// Its subdirectories by their listed type.
    subdirs: Vec<PathBuf>,
    /// The names of its regular files (by their listed type), each ending in a NUL.
    files: Vec<u8>,
}

/// Lists `dir` (reading its blocks into memory): its subdirectories and the names of its regular
/// files, by their listed type; nothing if it cannot be opened or is on another filesystem
/// than `dev`. A huge directory is left half-read once `stop` is set.
fn list(dir: &Path, dev: u64, stop: &AtomicBool, buf: &mut [MaybeUninit<u8>]) -> Listed {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(fd) = rfs::open(dir, flags, Mode::empty()) else {
        return Listed::default();
    };
    if rfs::fstat(&fd).map(|st| st.st_dev) != Ok(dev) {
        return Listed::default();
    }
    let mut listed = Listed::default();
    let mut entries = RawDir::new(&fd, buf);
    let mut seen = 0u32;
    while let Some(Ok(e)) = entries.next() {
        seen = seen.wrapping_add(1);
        if seen % 1024 == 0 && stop.load(Ordering::Relaxed) {
            break;
        }
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if e.file_type() == FileType::Directory {
            listed
                .subdirs
                .push(dir.join(std::ffi::OsStr::from_bytes(name)));
        } else if e.file_type() == FileType::RegularFile {
            listed
                .files
                .extend_from_slice(e.file_name().to_bytes_with_nul());
            if listed.files.len() >= MAX_NAMES {
                // A huge directory: its names are looked up as they come, not all kept.
                look_up(&fd, &listed.files, stop);
                listed.files.clear();
            }
        }
    }
    listed.fd = Some(fd);
    listed
}

/// Looks up each of `names` (NUL-terminated, one after another) in `dir` without following
/// it, so that the copy's opens find their dentries and inodes in memory: on a cold disk an
/// io_uring open that must read an inode is handed to a kernel worker thread, one that finds
/// it cached completes inline. Stops early once `stop` is set.
fn look_up(dir: &OwnedFd, names: &[u8], stop: &AtomicBool) {
    for (i, name) in names.split_inclusive(|&b| b == 0).enumerate() {
        if i % 64 == 63 && stop.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(name) = std::ffi::CStr::from_bytes_with_nul(name) {
            let _ = rfs::statat(dir, name, rfs::AtFlags::SYMLINK_NOFOLLOW);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_directory_and_stops() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["a/b/c", "a/d", "e"] {
            std::fs::create_dir_all(tmp.path().join(d)).expect("mkdir");
        }
        std::fs::write(tmp.path().join("a/f"), b"x").expect("write");
        // Stopped at once, it joins.
        DirWarmer::start(tmp.path()).expect("a directory").stop();
        // Runs to the end by itself (every directory listed), and stop then joins at once.
        let w = DirWarmer::start(tmp.path()).expect("a directory");
        for _ in 0..500 {
            if w.threads.iter().all(|t| t.is_finished()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(
            w.threads.iter().all(|t| t.is_finished()),
            "threads end when done"
        );
        w.stop();
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];
        let dev = std::fs::metadata(tmp.path()).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
        let go = AtomicBool::new(false);
        let dev = dev.expect("stat");
        let mut found = list(&tmp.path().join("a"), dev, &go, &mut buf);
        found.subdirs.sort();
        assert_eq!(
            found.subdirs,
            [tmp.path().join("a/b"), tmp.path().join("a/d")]
        );
        assert_eq!(found.files, b"f\0");
        look_up(found.fd.as_ref().expect("opened"), &found.files, &go);
        let other = list(&tmp.path().join("a"), u64::MAX, &go, &mut buf);
        assert!(other.fd.is_none() && other.subdirs.is_empty() && other.files.is_empty());
        // A directory whose names pass MAX_NAMES has them looked up as they come.
        let huge = tmp.path().join("huge");
        std::fs::create_dir(&huge).expect("mkdir");
        for i in 0..MAX_NAMES / 10 {
            std::fs::File::create(huge.join(format!("file-{i:05}"))).expect("create");
        }
        let listed = list(&huge, dev, &go, &mut buf);
        assert!(
            listed.files.len() < MAX_NAMES,
            "kept {}",
            listed.files.len()
        );
        assert!(
            DirWarmer::start(&tmp.path().join("a/f")).is_none(),
            "not a directory"
        );
    }
}
