//! Choosing the copy engine: the [`Backend`] a caller asks for, what the kernel offers
//! ([`probe`]), and which backend `auto` runs and why ([`Selection`]).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use ucopy_core::ExecutorFactory;
use ucopy_fallback::StdFactory;
use ucopy_uring::{Mode, Tuning, UringFactory};

pub use ucopy_uring::Probe;

use crate::cache::{self, CacheState};
use crate::direct;
use crate::syscall_cost::{syscall_cost, IN_MEMORY_RW_FROM};
use crate::Error;

/// The copy engine. Every backend copies the same tree with the same rules (they live in
/// `ucopy-fs`); they differ only in how file data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// The fastest backend for this source on this kernel, decided at run time (see
    /// [`Backend::select`]).
    #[default]
    Auto,
    /// Plain system calls: `FICLONE`, `copy_file_range`, `read`/`write`. Runs everywhere.
    Std,
    /// io_uring, file → pipe → file with `IORING_OP_SPLICE`; no userspace buffer.
    Splice,
    /// io_uring reads into buffers carved from one anonymous mapping; destinations written with
    /// `pwrite(2)`.
    Rw,
    /// io_uring reads into buffers registered with the ring (`READ_FIXED`).
    Fixed,
}

/// The io_uring backends `auto` tries for a cold source, fastest first, as measured by
/// `cargo xtask bench` on this class of machine (README "Performance", bench/runs/): the first
/// one the probe allows wins; `std` when none does. With the source's data cached and most
/// sampled files small enough for its ring, `auto` runs `rw` tuned for data in memory
/// ([`Tuning::in_memory`], one worker per CPU) where a system call is dear enough for its
/// batching to pay (see `syscall_cost`); otherwise, or where `rw` cannot run, `std` (see
/// `cache`).
const AUTO_PREFERENCE: [Mode; 3] = [Mode::Rw, Mode::Splice, Mode::Fixed];

impl Backend {
    /// Every backend, `Auto` first.
    pub const ALL: [Backend; 5] = [
        Backend::Auto,
        Backend::Std,
        Backend::Splice,
        Backend::Rw,
        Backend::Fixed,
    ];

    /// The name `ucopy --backend` uses.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Std => "std",
            Backend::Splice => "splice",
            Backend::Rw => "rw",
            Backend::Fixed => "fixed",
        }
    }

    /// Worker threads per CPU when `threads` is not set: two for the io_uring backends, one
    /// otherwise (`auto` before it has chosen: one). An io_uring worker spends much of a cold
    /// copy waiting on its ring, and a second worker per CPU creates files and writes data
    /// meanwhile; measured on 2 CPUs, caches dropped, into a fresh ext4 (PERF.md): 50,000 ×
    /// 4 KiB 2.35 → 1.85 s, 10,000 × 64 KiB 1.23 → 0.98 s, a Rust toolchain 3.28 → 2.94 s. The
    /// plain-syscall path already keeps its CPU busy when the data is cached. `auto`'s
    /// selection may ask for more ([`Selection::workers_per_cpu`]: four when a cold ring reads
    /// around the page cache). Under an address-space limit, or a locked-memory limit without
    /// `CAP_IPC_LOCK` (a normal user's session), a copy runs one per CPU whatever the backend
    /// (`Copier::threads`).
    pub fn workers_per_cpu(self) -> usize {
        if self.mode().is_some() {
            2
        } else {
            1
        }
    }

    fn mode(self) -> Option<Mode> {
        match self {
            Backend::Splice => Some(Mode::Splice),
            Backend::Rw => Some(Mode::Rw),
            Backend::Fixed => Some(Mode::Fixed),
            Backend::Auto | Backend::Std => None,
        }
    }

    fn of_mode(mode: Mode) -> Backend {
        match mode {
            Mode::Splice => Backend::Splice,
            Mode::Rw => Backend::Rw,
            Mode::Fixed => Backend::Fixed,
        }
    }

    /// `Ok` when this backend can run on this kernel (`Auto` and `Std` always can), else why not.
    pub fn check(self) -> Result<(), String> {
        self.check_with(Probe::cached())
    }

    /// [`Backend::check`] by what `probe` found.
    fn check_with(self, probe: &Probe) -> Result<(), String> {
        match self.mode() {
            Some(mode) => probe.check(mode),
            None => Ok(()),
        }
    }

    /// What it uses (for `--probe`).
    fn uses(self) -> &'static str {
        match self {
            Backend::Auto => "picks one of the others per run",
            Backend::Std => "plain system calls: FICLONE, copy_file_range, read/write",
            Backend::Splice => {
                "io_uring OPENAT/SPLICE/CLOSE for sources, file -> pipe -> file; \
                 destinations created with openat(2)"
            }
            Backend::Rw => {
                "io_uring OPENAT/READ/CLOSE for sources into buffers in an anonymous mapping; \
                 destinations created with openat(2), written with pwrite(2)"
            }
            Backend::Fixed => {
                "io_uring OPENAT/READ_FIXED/CLOSE for sources into registered buffers; \
                 destinations created with openat(2), written with pwrite(2)"
            }
        }
    }

    /// Decides which backend copies `sources`, and why. A forced backend the kernel cannot run
    /// is an error, never a silent fallback (one that lacks locked memory at the moment runs:
    /// its workers copy with plain system calls and say so). `Auto` runs `std` for a few files
    /// and no directory (fewer than 64 sources); otherwise it samples whether the sources' data
    /// is in the page cache (`cachestat(2)` on a few files, nothing read) and asks the probe.
    pub fn select(self, sources: &[PathBuf]) -> Result<Selection, Error> {
        match self {
            Backend::Auto => Ok(match few_files(sources) {
                Some(files) => Selection {
                    backend: Backend::Std,
                    reason: format!(
                        "{files} file{} and no directory: nothing to batch (plain system calls)",
                        if files == 1 { "" } else { "s" }
                    ),
                    in_memory: false,
                    files_only: true,
                    direct_reads: false,
                },
                None => {
                    let cache = cache::sample(sources);
                    let mut chosen = auto_choice(&Probe::cached, Some(cache), &syscall_cost);
                    if cache == CacheState::Cold {
                        chosen.read_around_cache(direct::measured_filesystem(sources));
                    }
                    chosen
                }
            }),
            Backend::Std => Ok(Selection {
                backend: Backend::Std,
                reason: "--backend std".to_owned(),
                in_memory: false,
                files_only: false,
                direct_reads: false,
            }),
            forced => {
                // Locked memory used up by other rings of this user at the probe's moment (the
                // kernel frees a closed ring's a moment later): ask again, waiting a little; if
                // it is still short the workers ask once more when they start, and copy with
                // plain system calls (saying so) if they must.
                let probe = Probe::for_chosen_backend();
                match forced.check_with(&probe) {
                    Err(_) if probe.short_of_locked_memory() => {}
                    Err(reason) => {
                        return Err(Error::Unavailable {
                            backend: forced,
                            reason,
                        })
                    }
                    Ok(()) => {}
                }
                Ok(Selection {
                    backend: forced,
                    reason: format!("--backend {}", forced.name()),
                    in_memory: false,
                    files_only: false,
                    direct_reads: false,
                })
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name no backend has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend '{0}' (auto, std, splice, rw, fixed)")]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Backend, UnknownBackend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBackend(s.to_owned()))
    }
}

/// The backend that runs (never [`Backend::Auto`]) and the reason it was chosen, as shown by
/// `ucopy -v`, `--json` and `--probe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    backend: Backend,
    reason: String,
    /// `auto` found the source's data in memory: an io_uring backend runs with
    /// [`Tuning::in_memory`] and one worker per CPU.
    #[serde(skip)]
    in_memory: bool,
    /// `auto` found the source's data not in memory, on a filesystem where reads that skip the
    /// page cache measured faster: the io_uring backend runs with [`Tuning::cold`].
    #[serde(skip)]
    direct_reads: bool,
    /// `auto` found no directory among a few sources ([`FEW_FILES`]): the copy needs no worker
    /// threads, so their number (the CPU count and quota, read from `/proc` and the cgroup
    /// files) is not asked for.
    #[serde(skip)]
    files_only: bool,
}

impl Selection {
    /// The backend that runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why it was chosen.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// No source is a directory (`auto` looked, for a few sources): each file is copied on the
    /// calling thread, and no worker is started ([`ucopy_fs::copy_tree`]).
    pub fn files_only(&self) -> bool {
        self.files_only
    }

    /// Worker threads per CPU: the backend's ([`Backend::workers_per_cpu`]), but one when the
    /// data is in memory (a second worker per CPU only helps while the first waits on the
    /// disk), and four when a cold ring reads around the page cache ([`Tuning::cold`]).
    pub fn workers_per_cpu(&self) -> usize {
        if self.in_memory {
            1
        } else if self.direct_reads {
            COLD_WORKERS_PER_CPU
        } else {
            self.backend.workers_per_cpu()
        }
    }

    /// A cold `rw` or `fixed` run on `filesystem` (one where reads that skip the page cache
    /// were measured faster; `None`: not one) reads with [`Tuning::cold`], and says so.
    fn read_around_cache(&mut self, filesystem: Option<&str>) {
        let cold_ring = matches!(self.backend, Backend::Rw | Backend::Fixed) && !self.in_memory;
        if let (true, Some(fs)) = (cold_ring, filesystem) {
            self.direct_reads = true;
            self.reason.push_str(&format!(
                "; its reads skip the page cache (O_DIRECT, {} workers per CPU with {} files \
                 in flight each unless a queue depth is given: the fastest measured cold on {fs})",
                COLD_WORKERS_PER_CPU,
                Tuning::cold()
                    .files_in_flight
                    .unwrap_or(ucopy_core::DEFAULT_QUEUE_DEPTH)
            ));
        }
    }

    /// `auto` found the source cold on a filesystem where reads that skip the page cache were
    /// measured faster ([`Tuning::cold`]); the copy then also reads its directories ahead of
    /// the walk.
    pub(crate) fn reads_around_cache(&self) -> bool {
        self.direct_reads
    }

    /// Makes one executor per worker thread, for copies of `queue_depth` files per batch: a
    /// depth other than the default is the caller's (`--queue-depth`), and a cold copy that
    /// reads around the cache keeps that many in flight instead of its own 16.
    pub(crate) fn factory(&self, queue_depth: usize) -> Box<dyn ExecutorFactory> {
        match self.backend.mode() {
            Some(mode) if self.in_memory => {
                Box::new(UringFactory::with_tuning(mode, Tuning::in_memory()))
            }
            Some(mode) if self.direct_reads => {
                Box::new(UringFactory::with_tuning(mode, cold_tuning(queue_depth)))
            }
            Some(mode) => Box::new(UringFactory::new(mode)),
            None => Box::new(StdFactory),
        }
    }
}

/// Worker threads per CPU for a cold copy whose ring reads around the page cache
/// ([`Tuning::cold`], 16 files in flight per worker): twice the two of other cold io_uring
/// copies, with half the files each. A worker creates its files and writes their data itself,
/// between its ring's waits; with four per CPU one of them has that work ready more often when
/// another starts waiting. Measured on 2 CPUs, caches dropped, into a fresh ext4, 6 rotated
/// rounds (PERF.md, "More workers per CPU, the same files in flight"): 50,000 × 4 KiB 1.164 →
/// 1.025 s, `node_modules` 0.291 → 0.279 s, a Rust toolchain 1.683 → 1.558 s, 10,000 × 64 KiB
/// and the mixed corpus level (the disk).
const COLD_WORKERS_PER_CPU: usize = 4;

/// [`Tuning::cold`] for batches of `queue_depth` files: its own cap on the files in flight,
/// unless the caller chose a depth other than the default.
fn cold_tuning(queue_depth: usize) -> Tuning {
    let mut tuning = Tuning::cold();
    if queue_depth != ucopy_core::DEFAULT_QUEUE_DEPTH {
        tuning.files_in_flight = None;
    }
    tuning
}

/// Sources fewer than this, none of them a directory, are copied with plain system calls
/// without sampling the cache or timing a system call: an io_uring executor keeps up to its
/// queue depth of files in flight, so fewer files than that are not batched anyway, and `auto`'s
/// measurements would cost a one-file copy more than the copy (PERF.md, "Start-up").
const FEW_FILES: usize = ucopy_core::DEFAULT_QUEUE_DEPTH;

/// How many sources there are, when there are fewer than [`FEW_FILES`] and none is a directory
/// (symlinks followed, as `-L` or `-H` would; one that cannot be stat'ed counts as a directory:
/// `auto` measures as before, and the copy says what is wrong with it).
fn few_files(sources: &[PathBuf]) -> Option<usize> {
    let few = !sources.is_empty() && sources.len() < FEW_FILES;
    (few && sources
        .iter()
        .all(|s| std::fs::metadata(s).is_ok_and(|m| !m.is_dir())))
    .then_some(sources.len())
}

/// `auto`'s choice given what the probe allows, when sampled, whether the source is cached
/// (`None`: not sampled, as for `--probe`'s cold-cache pick), and what a system call costs here
/// (which decides between `rw` and `std` with the data in memory). The probe and the cost are
/// asked only where they decide: a copy in memory that runs `std` sets up no ring to find out
/// what io_uring can do (a few hundred microseconds, paid by every small copy).
fn auto_choice<'p>(
    probe: &dyn Fn() -> &'p Probe,
    cache: Option<CacheState>,
    syscall: &dyn Fn() -> Duration,
) -> Selection {
    let std = |reason: String| Selection {
        backend: Backend::Std,
        reason,
        in_memory: false,
        files_only: false,
        direct_reads: false,
    };
    // With the data in memory, rw's batched opens, reads and closes of small files cost the
    // kernel less than plain system calls where entering the kernel is dear; where it is cheap,
    // rw's second copy of the bytes and its bookkeeping cost more than the calls it saves
    // (crate::syscall_cost). Larger files take the kernel copy either way.
    let in_memory = |what: &str| {
        let syscall = syscall();
        let cost = format!("a system call costs {} ns here", syscall.as_nanos());
        let from = IN_MEMORY_RW_FROM.as_nanos();
        if syscall < IN_MEMORY_RW_FROM {
            return std(format!(
                "{what}: plain system calls ({cost}, under {from} ns: batching them in io_uring \
                 saves less than rw's second copy of the data costs; copy_file_range copies \
                 each file once, in the kernel)"
            ));
        }
        match probe().check(Mode::Rw) {
            Ok(()) => Selection {
                backend: Backend::Rw,
                reason: format!(
                    "{what}: rw batches the opens, reads and closes of small files in io_uring \
                     ({cost}, {from} ns or more: fewer of them per file is the fastest measured \
                     in memory then); larger files take copy_file_range"
                ),
                in_memory: true,
                files_only: false,
                direct_reads: false,
            },
            Err(why) => std(format!(
                "{what}: plain system calls ({cost}; rw, the fastest measured in memory where \
                 they cost {from} ns or more, is unavailable: {why})"
            )),
        }
    };
    match cache {
        Some(CacheState::Warm { small_files: true }) => {
            return in_memory("the source's data is in the page cache")
        }
        Some(CacheState::Warm { small_files: false }) => {
            return std(format!(
                "the source's data is in the page cache and most files are larger than {} KiB: \
                 plain system calls (copy_file_range copies each file once, in the kernel)",
                Tuning::in_memory().ring_max >> 10
            ))
        }
        Some(CacheState::NoData) => {
            return in_memory("no file with data found to sample the source's cache state")
        }
        Some(CacheState::Unsupported) => {
            return std(
                "the source filesystem does not answer RWF_NOWAIT reads, so its cache state is \
                 unknown; plain system calls measured fastest with data in memory"
                    .to_owned(),
            )
        }
        Some(CacheState::Cold) | None => {}
    }
    let probe = probe();
    if let Err(why) = probe.usable() {
        return std(format!("io_uring is unusable: {why}"));
    }
    let mut refused = Vec::new();
    for mode in AUTO_PREFERENCE {
        match probe.check(mode) {
            Ok(()) => {
                let mut reason = format!(
                    "{}the source's data is not cached: {} keeps the most reads in flight, the \
                     fastest measured cold here",
                    if cache.is_none() { "if " } else { "" },
                    mode.name()
                );
                for (name, why) in &refused {
                    reason.push_str(&format!("; {name} unavailable: {why}"));
                }
                return Selection {
                    backend: Backend::of_mode(mode),
                    reason,
                    in_memory: false,
                    files_only: false,
                    direct_reads: false,
                };
            }
            Err(why) => refused.push((mode.name(), why)),
        }
    }
    std("no io_uring backend is usable here".to_owned())
}

/// One backend's availability, for `--probe`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    /// As `--backend` spells it.
    pub name: &'static str,
    /// Whether it can run here.
    pub available: bool,
    /// What it uses, or why it cannot run.
    pub reason: String,
}

/// io_uring's state, for `--probe`.
#[derive(Debug, Clone, Serialize)]
pub struct UringStatus {
    /// A ring can be set up.
    pub usable: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// `uname -r`.
    pub kernel: String,
    /// Opcodes, features, setup flags, limits.
    pub details: Probe,
}

/// `auto`'s pick when the source is not sampled.
#[derive(Debug, Clone, Serialize)]
pub struct AutoChoice {
    /// The backend `auto` runs.
    pub backend: &'static str,
    /// Why.
    pub reason: String,
}

/// What the kernel offers: every backend's availability and `auto`'s picks.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// io_uring's state.
    pub io_uring: UringStatus,
    /// Every backend but `auto`.
    pub backends: Vec<BackendStatus>,
    /// What `auto` picks for a source whose data is not cached.
    pub auto: AutoChoice,
    /// What `auto` picks for a source of small files whose data is in the page cache.
    pub auto_in_memory: AutoChoice,
    /// One system call's entry and exit on this machine, in nanoseconds (the fastest of a few
    /// timed rounds), which decides `auto_in_memory`.
    pub syscall_ns: u64,
}

/// Probes the kernel (once per process) and reports every backend.
pub fn probe() -> ProbeReport {
    // Asked what can run, a moment's want of locked memory is waited out as for a chosen
    // backend, not reported as the kernel's answer.
    let probe = Probe::for_chosen_backend().into_owned();
    let backends = [Backend::Splice, Backend::Rw, Backend::Fixed, Backend::Std]
        .into_iter()
        .map(|backend| match backend.check_with(&probe) {
            Ok(()) => BackendStatus {
                name: backend.name(),
                available: true,
                reason: backend.uses().to_owned(),
            },
            Err(why) => BackendStatus {
                name: backend.name(),
                available: false,
                reason: why,
            },
        })
        .collect();
    let auto = auto_choice(&|| &probe, None, &syscall_cost);
    let in_memory = auto_choice(
        &|| &probe,
        Some(CacheState::Warm { small_files: true }),
        &syscall_cost,
    );
    ProbeReport {
        io_uring: UringStatus {
            usable: probe.usable().is_ok(),
            reason: probe.usable().err(),
            kernel: probe.kernel.clone().unwrap_or_else(|| "unknown".to_owned()),
            details: probe,
        },
        backends,
        auto: AutoChoice {
            backend: auto.backend.name(),
            reason: auto.reason,
        },
        auto_in_memory: AutoChoice {
            backend: in_memory.backend.name(),
            reason: in_memory.reason,
        },
        syscall_ns: u64::try_from(syscall_cost().as_nanos()).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_uring_backends_run_two_workers_per_cpu() {
        for b in [Backend::Splice, Backend::Rw, Backend::Fixed] {
            assert_eq!(b.workers_per_cpu(), 2, "{}", b.name());
        }
        for b in [Backend::Std, Backend::Auto] {
            assert_eq!(b.workers_per_cpu(), 1, "{}", b.name());
        }
    }

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
            assert_eq!(b.to_string(), b.name());
        }
        assert!("uring".parse::<Backend>().is_err());
    }

    #[test]
    fn std_is_always_selectable_and_auto_never_runs_as_itself() {
        let s = Backend::Std.select(&[]).unwrap();
        assert_eq!(s.backend(), Backend::Std);
        let tmp = std::env::temp_dir();
        let auto = Backend::Auto.select(&[tmp]).unwrap();
        assert_ne!(auto.backend(), Backend::Auto);
        assert!(!auto.reason().is_empty());
    }

    #[test]
    fn a_few_files_run_std_unmeasured_and_a_directory_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"data").unwrap();
        let one = Backend::Auto.select(std::slice::from_ref(&file)).unwrap();
        assert_eq!(one.backend(), Backend::Std);
        assert_eq!(
            one.reason(),
            "1 file and no directory: nothing to batch (plain system calls)"
        );
        assert!(one.files_only(), "no worker threads to size");
        let many = vec![file.clone(); FEW_FILES];
        let tree = Backend::Auto.select(&[dir.path().to_path_buf()]).unwrap();
        for s in [Backend::Auto.select(&many).unwrap(), tree] {
            assert!(!s.reason().contains("nothing to batch"), "{}", s.reason());
            assert!(!s.files_only());
        }
        let missing = Backend::Auto.select(&[dir.path().join("missing")]).unwrap();
        assert!(!missing.reason().contains("nothing to batch"));
        assert!(!missing.files_only());
        assert!(!Backend::Std
            .select(std::slice::from_ref(&file))
            .unwrap()
            .files_only());
    }

    #[test]
    fn a_forced_backend_the_kernel_refuses_is_an_error() {
        for b in [Backend::Splice, Backend::Rw, Backend::Fixed] {
            match (b.check(), b.select(&[])) {
                (Ok(()), Ok(s)) => assert_eq!(s.backend(), b),
                (Err(why), Err(Error::Unavailable { backend, reason })) => {
                    assert_eq!((backend, reason), (b, why));
                }
                (check, select) => panic!("{b}: check {check:?} but select {select:?}"),
            }
        }
    }

    #[test]
    fn cached_small_files_run_rw_where_system_calls_are_dear_and_std_where_cheap() {
        let probe = Probe::cached();
        let warm = Some(CacheState::Warm { small_files: true });
        let dear = auto_choice(&|| probe, warm, &|| IN_MEMORY_RW_FROM);
        if probe.usable().is_ok() && probe.check(Mode::Rw).is_ok() {
            assert_eq!(dear.backend(), Backend::Rw, "{}", dear.reason());
            assert_eq!(dear.workers_per_cpu(), 1);
        } else {
            assert_eq!(dear.backend(), Backend::Std, "{}", dear.reason());
        }
        let cheap = auto_choice(&|| probe, warm, &|| {
            IN_MEMORY_RW_FROM - Duration::from_nanos(1)
        });
        assert_eq!(cheap.backend(), Backend::Std, "{}", cheap.reason());
        assert!(
            cheap
                .reason()
                .contains("a system call costs 189 ns here, under 190 ns"),
            "{}",
            cheap.reason()
        );
        let empty = auto_choice(&|| probe, Some(CacheState::NoData), &|| {
            Duration::from_nanos(75)
        });
        assert_eq!(empty.backend(), Backend::Std, "{}", empty.reason());
    }

    #[test]
    fn a_cold_ring_reads_around_the_cache_only_on_a_measured_filesystem() {
        let selection = |backend, in_memory| Selection {
            backend,
            reason: "r".to_owned(),
            in_memory,
            direct_reads: false,
            files_only: false,
        };
        let mut cold_rw = selection(Backend::Rw, false);
        cold_rw.read_around_cache(Some("ext4"));
        assert!(cold_rw.direct_reads);
        assert!(
            cold_rw.reason().starts_with(
                "r; its reads skip the page cache (O_DIRECT, 4 workers per CPU with 16 files \
                     in flight each"
            ),
            "{}",
            cold_rw.reason()
        );
        // Twice the workers of a cold ring that reads through the cache, half the files each.
        assert_eq!(cold_rw.workers_per_cpu(), 4);
        assert_eq!(selection(Backend::Rw, false).workers_per_cpu(), 2);
        assert_eq!(
            COLD_WORKERS_PER_CPU * Tuning::cold().files_in_flight.unwrap(),
            Backend::Rw.workers_per_cpu() * 32,
            "the same files in flight per CPU as two rings of 32"
        );
        // The default depth takes the cold cap; a depth the caller chose is kept.
        assert_eq!(
            cold_tuning(ucopy_core::DEFAULT_QUEUE_DEPTH).files_in_flight,
            Some(16)
        );
        assert_eq!(cold_tuning(128).files_in_flight, None);
        assert!(cold_tuning(128).direct_reads);
        let mut fixed = selection(Backend::Fixed, false);
        fixed.read_around_cache(Some("ext4"));
        assert!(fixed.direct_reads);
        // Elsewhere, in memory, or without a ring: nothing changes.
        for (backend, in_memory, fs) in [
            (Backend::Rw, false, None),
            (Backend::Rw, true, Some("ext4")),
            (Backend::Splice, false, Some("ext4")),
            (Backend::Std, false, Some("ext4")),
        ] {
            let mut s = selection(backend, in_memory);
            s.read_around_cache(fs);
            assert!(!s.direct_reads, "{backend} in memory {in_memory} on {fs:?}");
            assert_eq!(s.reason(), "r");
        }
    }

    #[test]
    fn a_copy_in_memory_that_runs_std_sets_up_no_ring_to_probe() {
        let unasked = || -> &'static Probe { panic!("the probe was asked") };
        let cheap = &|| Duration::from_nanos(75);
        for cache in [
            CacheState::Warm { small_files: true },
            CacheState::Warm { small_files: false },
            CacheState::NoData,
            CacheState::Unsupported,
        ] {
            let chosen = auto_choice(&unasked, Some(cache), cheap);
            assert_eq!(chosen.backend(), Backend::Std, "{}", chosen.reason());
        }
    }

    #[test]
    fn large_files_unknown_cache_and_cold_data_do_not_depend_on_the_system_call_cost() {
        let probe = Probe::cached();
        for cost in [Duration::from_nanos(75), Duration::from_nanos(230)] {
            let syscall = &move || cost;
            let unsupported = auto_choice(&|| probe, Some(CacheState::Unsupported), syscall);
            assert_eq!(unsupported.backend(), Backend::Std);
            let large = auto_choice(
                &|| probe,
                Some(CacheState::Warm { small_files: false }),
                syscall,
            );
            assert_eq!(large.backend(), Backend::Std);
            let cold = auto_choice(&|| probe, Some(CacheState::Cold), syscall);
            if probe.usable().is_ok() && AUTO_PREFERENCE.iter().any(|m| probe.check(*m).is_ok()) {
                assert_ne!(cold.backend(), Backend::Std, "{}", cold.reason());
                assert_eq!(cold.workers_per_cpu(), 2);
            } else {
                assert_eq!(cold.backend(), Backend::Std);
            }
        }
    }

    #[test]
    fn the_probe_report_names_both_picks_of_auto() {
        let report = probe();
        assert_ne!(report.auto.backend, "auto");
        assert_ne!(report.auto_in_memory.backend, "auto");
        assert!(report.syscall_ns > 0);
        let rw_in_memory = report.auto_in_memory.backend == "rw";
        assert_eq!(
            rw_in_memory,
            Duration::from_nanos(report.syscall_ns) >= IN_MEMORY_RW_FROM
                && Backend::Rw.check().is_ok(),
            "{}",
            report.auto_in_memory.reason
        );
    }
}
