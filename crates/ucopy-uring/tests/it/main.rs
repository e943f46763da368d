//! Integration tests of the io_uring executors: batches of `FileJob`s built by hand between two
//! temporary directories, run once per executor mode and per interesting [`Tuning`].
//!
//! Tests that need io_uring skip with a printed reason when the probe says it is unusable,
//! unless `UCOPY_REQUIRE_URING=1`, which turns the skip into a failure. Skipped tests (and tests
//! that could run only some modes) are reported as ignored with the reason (`runner`).

#[macro_use]
mod runner;

mod copy;
mod limits;
mod probe;

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustix::fs::{self as rfs, AtFlags, Mode as FileMode, OFlags};
use tempfile::TempDir;
use ucopy_core::{ExecutorFactory, FileJob, JobOrigin, JobOutcome, Options, Stat};
use ucopy_uring::{Mode, Probe, Tuning, UringFactory};

/// Tests that change process- or system-wide state (the fd table count, io_uring_disabled) take
/// this exclusively; all others share it ([`shared`]).
static GLOBAL: RwLock<()> = RwLock::new(());

/// What a test holds while it runs: see [`shared`].
#[derive(Debug)]
pub enum Guard {
    /// With the other tests that share.
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    /// Alone.
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// The lock most tests take: shared as root, alone as a normal user. A normal user's rings and
/// registered buffers all count against one RLIMIT_MEMLOCK (8 MiB on a desktop, for all of the
/// user's processes), and two fixed executors' buffers at once do not fit in it; root's do not
/// count.
pub fn shared() -> Guard {
    if is_root() {
        Guard::Shared(GLOBAL.read().unwrap_or_else(|e| e.into_inner()))
    } else {
        Guard::Alone(exclusive())
    }
}

/// How long a test waits for locked memory that rings closed a moment ago still hold: the kernel
/// tears a ring down (and gives its memory back) asynchronously, after its last descriptor is
/// closed.
const MEMLOCK_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Calls `attempt` again while what it gave says locked memory was wanting, until
/// [`MEMLOCK_SETTLE`] has passed.
fn settling<T>(mut attempt: impl FnMut() -> T, wanted_memory: impl Fn(&T) -> bool) -> T {
    let start = std::time::Instant::now();
    loop {
        let got = attempt();
        if !wanted_memory(&got) || start.elapsed() >= MEMLOCK_SETTLE {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GLOBAL.write().unwrap_or_else(|e| e.into_inner())
}

/// True when `mode` can run; otherwise prints why and returns false (or panics when
/// `UCOPY_REQUIRE_URING=1`).
pub fn uring_available(mode: Mode) -> bool {
    let probe = settling(Probe::detect, |p| {
        p.setup_failure
            .as_ref()
            .is_some_and(|f| f.errno == Some(libc::ENOMEM))
    });
    match probe.check(mode) {
        Ok(()) => true,
        Err(why) => {
            if std::env::var_os("UCOPY_REQUIRE_URING").is_some_and(|v| v == "1") {
                panic!(
                    "UCOPY_REQUIRE_URING=1 but the {} executor cannot run: {why}",
                    mode.name()
                );
            }
            runner::skip_part(format!(
                "the {} executor cannot run here: {why}",
                mode.name()
            ));
            false
        }
    }
}

/// The modes to test: all that can run, or only `UCOPY_TEST_MODE` (to narrow a failure down).
pub fn modes() -> Vec<Mode> {
    let only = std::env::var("UCOPY_TEST_MODE").ok();
    Mode::ALL
        .into_iter()
        .filter(|m| only.as_deref().is_none_or(|o| o == m.name()))
        .filter(|&m| uring_available(m))
        .collect()
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Knob sets every copy test runs with: the defaults, everything through the ring in tiny
/// chunks (many waves, chunk boundaries), chains without skipped CQEs, single issuer or
/// deferred task running, what `auto` runs with the data in memory (larger files through the
/// std path), and what it runs cold on ext4 (sources read with `O_DIRECT`, whole blocks; those
/// that refuse it, such as procfs files, and the larger ones read through the page cache).
pub const TUNINGS: [&str; 5] = [
    "default",
    "small-chunks",
    "no-skip-plain-ring",
    "in-memory",
    "cold",
];

/// Every knob set of [`TUNINGS`] with its label.
pub fn tunings() -> Vec<(&'static str, Tuning)> {
    TUNINGS.into_iter().map(|l| (l, tuning(l))).collect()
}

/// The knob set called `label` (one of [`TUNINGS`]).
pub fn tuning(label: &str) -> Tuning {
    let d = Tuning::default;
    match label {
        "default" => d(),
        "small-chunks" => Tuning {
            buffer_size: 4096,
            ring_max: u64::MAX,
            ..d()
        },
        "no-skip-plain-ring" => Tuning {
            skip_success: false,
            single_issuer: false,
            defer_taskrun: false,
            coop_taskrun: false,
            buffer_size: 64 << 10,
            ring_max: u64::MAX,
            ..d()
        },
        "in-memory" => Tuning::in_memory(),
        "cold" => Tuning::cold(),
        other => panic!("no tuning '{other}' (known: {TUNINGS:?})"),
    }
}

/// A source and a destination directory, held open like the driver holds them.
#[derive(Debug)]
pub struct Trees {
    pub src: TempDir,
    pub dst: TempDir,
    pub src_fd: Arc<OwnedFd>,
    pub dst_fd: Arc<OwnedFd>,
}

pub fn open_dir(path: &Path) -> Arc<OwnedFd> {
    Arc::new(
        rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            FileMode::empty(),
        )
        .expect("open dir"),
    )
}

impl Default for Trees {
    fn default() -> Trees {
        Trees::new()
    }
}

impl Trees {
    pub fn new() -> Trees {
        Trees::with_dst(tempfile::tempdir().expect("tempdir"))
    }

    pub fn with_dst(dst: TempDir) -> Trees {
        let src = tempfile::tempdir().expect("tempdir");
        let src_fd = open_dir(src.path());
        let dst_fd = open_dir(dst.path());
        Trees {
            src,
            dst,
            src_fd,
            dst_fd,
        }
    }

    pub fn src_path(&self, name: &str) -> PathBuf {
        self.src.path().join(name)
    }

    pub fn dst_path(&self, name: &str) -> PathBuf {
        self.dst.path().join(name)
    }

    /// Writes a source file of `size` bytes of a pattern that differs per name and offset.
    pub fn file(&self, name: &str, size: usize) -> Vec<u8> {
        let data = pattern(name, size);
        std::fs::write(self.src_path(name), &data).expect("write source");
        data
    }

    /// A job for source `name`, with the stat as planned now.
    pub fn job(&self, name: &str) -> FileJob {
        let st = rfs::statat(self.src_fd.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW).expect("stat");
        FileJob {
            src_dir: Arc::clone(&self.src_fd),
            src_name: CString::new(name).unwrap().into(),
            dst_dir: Arc::clone(&self.dst_fd),
            dst_name: CString::new(name).unwrap().into(),
            origin: JobOrigin::Paths {
                path: self.src_path(name),
                dst_path: self.dst_path(name),
            },
            stat: Stat::from(&st),
        }
    }

    /// A job for `name` as the planner makes it without `-a`: from the directory listing alone,
    /// its size unknown (0) until the executor opens it.
    pub fn unstatted_job(&self, name: &str) -> FileJob {
        let mut job = self.job(name);
        job.stat = Stat::regular_from_dirent(job.stat.dev, job.stat.ino);
        job
    }

    /// Names in the destination directory.
    pub fn dst_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dst.path())
            .unwrap()
            .map(|e| String::from_utf8_lossy(e.unwrap().file_name().as_bytes()).into_owned())
            .collect();
        names.sort();
        names
    }
}

/// `size` bytes of the shared test pattern, seeded by `name` so every file differs.
pub fn pattern(name: &str, size: usize) -> Vec<u8> {
    let seed = name
        .bytes()
        .fold(0x9e37_79b9_u64, |h, b| h.rotate_left(5) ^ u64::from(b));
    ucopy_test_support::pattern(seed, size)
}

/// Runs one batch through a fresh executor of `mode` with `tuning`.
pub fn run(
    mode: Mode,
    tuning: &Tuning,
    jobs: Vec<FileJob>,
    options: &Options,
) -> Vec<(FileJob, JobOutcome)> {
    let factory = UringFactory::with_tuning(mode, tuning.clone());
    let mut exec = make_executor(&factory, options);
    assert_eq!(exec.name(), mode.name());
    let n = jobs.len();
    let out = exec.copy_batch(jobs, options);
    assert_eq!(out.len(), n, "one outcome per job");
    out
}

/// An executor from `factory`, waiting out locked memory that closed rings still hold.
pub fn make_executor(factory: &UringFactory, options: &Options) -> Box<dyn ucopy_core::Executor> {
    settling(
        || factory.make(options),
        |made| {
            made.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::OutOfMemory)
        },
    )
    .expect("make executor")
}

/// The outcome for the job whose source is called `name`.
pub fn outcome_of<'a>(out: &'a [(FileJob, JobOutcome)], name: &str) -> &'a JobOutcome {
    &out.iter()
        .find(|(j, _)| j.src_name.to_bytes() == name.as_bytes())
        .unwrap_or_else(|| panic!("no outcome for {name}"))
        .1
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn main() {
    runner::main();
}
