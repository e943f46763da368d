//! What this kernel's io_uring can do for ucopy, asked once at start-up (`ucopy --probe` prints
//! it): can a ring be set up at all (and if not, why), which opcodes, features and setup flags
//! exist, whether direct descriptors and registered buffers work.
//!
//! Everything here goes through the `io-uring` crate's safe calls, except registering a scratch
//! buffer, which lives in the ring module with the rest of the `unsafe`.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use io_uring::{opcode, IoUring, Probe as KernelProbe};
use serde::Serialize;

use crate::ring;
use crate::Mode;

/// One opcode: does the kernel know it, since when does Linux have it, what ucopy uses it for.
#[derive(Debug, Clone, Serialize)]
pub struct Opcode {
    /// `IORING_OP_` name without the prefix.
    pub name: &'static str,
    /// Reported supported by `IORING_REGISTER_PROBE`.
    pub supported: bool,
    /// First Linux version with it.
    pub since: &'static str,
    /// Which executors need it.
    pub used_by: &'static str,
}

/// A feature bit, setup flag or registration: present or not, and since when.
#[derive(Debug, Clone, Serialize)]
pub struct Capability {
    /// The kernel's name for it.
    pub name: &'static str,
    /// Available here.
    pub present: bool,
    /// First Linux version with it.
    pub since: &'static str,
}

/// A kernel feature an executor asks the probe about, by type (the names in [`Probe::features`]
/// are for people and `--probe --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Feature {
    /// `IORING_FEAT_CQE_SKIP` (5.17): `IOSQE_CQE_SKIP_SUCCESS` on linked ops.
    CqeSkip,
}

impl Feature {
    /// The name this feature has in [`Probe::features`].
    pub fn name(self) -> &'static str {
        match self {
            Feature::CqeSkip => "CQE_SKIP",
        }
    }
}

/// Why `io_uring_setup` failed.
#[derive(Debug, Clone, Serialize)]
pub struct SetupFailure {
    /// The errno `io_uring_setup` returned.
    pub errno: Option<i32>,
    /// What it most likely means here.
    pub reason: String,
}

/// What io_uring offers on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// `uname -r`.
    pub kernel: Option<String>,
    /// `/proc/sys/kernel/io_uring_disabled` (absent before 6.6): 0 allowed, 1 only for
    /// `CAP_SYS_ADMIN` and `io_uring_group`, 2 nobody.
    pub io_uring_disabled: Option<u32>,
    /// Set when no ring could be created.
    pub setup_failure: Option<SetupFailure>,
    /// Opcodes ucopy uses (empty when no ring could be created).
    pub opcodes: Vec<Opcode>,
    /// `IORING_FEAT_*` bits from `io_uring_params`.
    pub features: Vec<Capability>,
    /// `IORING_SETUP_*` flags the kernel accepts.
    pub setup_flags: Vec<Capability>,
    /// A sparse direct descriptor table could be registered (5.19) and linked ops look up fixed
    /// files when issued (`IORING_FEAT_LINKED_FILE`, 5.17): chains can open into a slot and use
    /// it.
    pub direct_descriptors: bool,
    /// `RLIMIT_MEMLOCK` soft limit in bytes (`None`: unlimited). Registered buffers count
    /// against it unless the process has `CAP_IPC_LOCK`.
    pub memlock_limit: Option<u64>,
    /// The process has `CAP_IPC_LOCK` (registered buffers are not accounted).
    pub cap_ipc_lock: bool,
    /// Registering the fixed executor's default buffers (one executor) failed with this.
    pub fixed_buffers_error: Option<String>,
    /// Registering even one page failed with this: the fixed executor cannot run (unless the
    /// error was ENOMEM, see `fixed_buffers_enomem`).
    pub fixed_buffers_min_error: Option<String>,
    /// That failure was ENOMEM: the user's locked memory is used up for now; the fixed executor
    /// runs with unregistered buffers.
    pub fixed_buffers_enomem: bool,
    /// `/proc/sys/fs/pipe-max-size`: the largest pipe (splice chunk) without `CAP_SYS_RESOURCE`.
    pub pipe_max_size: Option<u64>,
}

const OPCODES: &[(u8, &str, &str, &str)] = &[
    (opcode::OpenAt::CODE, "OPENAT", "5.6", "all"),
    (opcode::Close::CODE, "CLOSE", "5.6", "all"),
    (opcode::Read::CODE, "READ", "5.6", "rw"),
    (
        opcode::Write::CODE,
        "WRITE",
        "5.6",
        "none (pwrite(2) measured faster)",
    ),
    (opcode::ReadFixed::CODE, "READ_FIXED", "5.1", "fixed"),
    (
        opcode::WriteFixed::CODE,
        "WRITE_FIXED",
        "5.1",
        "none (pwrite(2) measured faster)",
    ),
    (opcode::Splice::CODE, "SPLICE", "5.7", "splice"),
    (
        opcode::FixedFdInstall::CODE,
        "FIXED_FD_INSTALL",
        "6.8",
        "none (destinations are normal descriptors)",
    ),
    (
        opcode::Statx::CODE,
        "STATX",
        "5.6",
        "none (fstat is cheaper)",
    ),
];

impl Probe {
    /// Asks the kernel. Never fails: what cannot be found out is reported as absent.
    pub fn detect() -> Probe {
        Probe::detect_with(false)
    }

    /// The probe for a backend the user chose (or asked about, `--probe`): the cached one,
    /// unless its ring was refused for want of locked memory — then a fresh one, whose rings are
    /// asked for again for a moment (other rings of this user may be on their way out) before
    /// it says so. `auto` takes [`Probe::cached`] as it is: `std` serves it as well.
    pub fn for_chosen_backend() -> std::borrow::Cow<'static, Probe> {
        match Probe::cached() {
            cached if cached.short_of_locked_memory() => {
                std::borrow::Cow::Owned(Probe::detect_with(true))
            }
            cached => std::borrow::Cow::Borrowed(cached),
        }
    }

    fn detect_with(wait_for_locked_memory: bool) -> Probe {
        let disabled =
            read_trimmed("/proc/sys/kernel/io_uring_disabled").and_then(|s| s.parse().ok());
        let memlock = rustix::process::getrlimit(rustix::process::Resource::Memlock).current;
        let cap_ipc_lock = rustix::thread::capabilities(None)
            .map(|c| {
                c.effective
                    .contains(rustix::thread::CapabilitySet::IPC_LOCK)
            })
            .unwrap_or(false);
        let mut probe = Probe {
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            io_uring_disabled: disabled,
            setup_failure: None,
            opcodes: Vec::new(),
            features: Vec::new(),
            setup_flags: Vec::new(),
            direct_descriptors: false,
            memlock_limit: memlock,
            cap_ipc_lock,
            fixed_buffers_error: None,
            fixed_buffers_min_error: None,
            fixed_buffers_enomem: false,
            pipe_max_size: read_trimmed("/proc/sys/fs/pipe-max-size").and_then(|s| s.parse().ok()),
        };
        let accounted = wait_for_locked_memory && probe.pin_budget().is_some();
        let uring = match settling(accounted, || IoUring::new(8)) {
            Ok(u) => u,
            Err(e) => {
                probe.setup_failure = Some(SetupFailure {
                    errno: e.raw_os_error(),
                    reason: explain_setup_error(&e, disabled, memlock),
                });
                return probe;
            }
        };
        let mut kp = KernelProbe::new();
        let have_probe = uring.submitter().register_probe(&mut kp).is_ok();
        probe.opcodes = OPCODES
            .iter()
            .map(|&(code, name, since, used_by)| Opcode {
                name,
                supported: have_probe && kp.is_supported(code),
                since,
                used_by,
            })
            .collect();
        let p = uring.params();
        probe.features = vec![
            cap("NODROP", p.is_feature_nodrop(), "5.5"),
            cap("SUBMIT_STABLE", p.is_feature_submit_stable(), "5.5"),
            cap("EXT_ARG", p.is_feature_ext_arg(), "5.11"),
            cap("NATIVE_WORKERS", p.is_feature_native_workers(), "5.12"),
            cap("CQE_SKIP", p.is_feature_skip_cqe_on_success(), "5.17"),
            cap("LINKED_FILE", p.is_feature_linked_file(), "5.17"),
        ];
        let sparse = uring.submitter().register_files_sparse(4).is_ok();
        probe.direct_descriptors = sparse && p.is_feature_linked_file();
        drop(uring);
        probe.setup_flags = vec![
            cap(
                "R_DISABLED",
                setup_ok(accounted, |b| {
                    b.setup_r_disabled();
                }),
                "5.10",
            ),
            cap(
                "SUBMIT_ALL",
                setup_ok(accounted, |b| {
                    b.setup_submit_all();
                }),
                "5.18",
            ),
            cap(
                "COOP_TASKRUN",
                setup_ok(accounted, |b| {
                    b.setup_coop_taskrun();
                }),
                "5.19",
            ),
            cap(
                "SINGLE_ISSUER",
                setup_ok(accounted, |b| {
                    b.setup_single_issuer();
                }),
                "6.0",
            ),
            cap(
                "DEFER_TASKRUN",
                setup_ok(accounted, |b| {
                    b.setup_single_issuer().setup_defer_taskrun();
                }),
                "6.1",
            ),
        ];
        // One page proves registration works at all (cheap: registering pins, and pinning
        // faults every page in); whether the fixed executor's default buffers fit the memlock
        // limit is arithmetic. (The executor shrinks its buffers if they do not.)
        if let Err(e) = ring::try_register_buffers(1, 4096) {
            probe.fixed_buffers_min_error = Some(explain_register_error(&e, memlock));
            probe.fixed_buffers_enomem = e.raw_os_error() == Some(libc::ENOMEM);
            probe.fixed_buffers_error = probe.fixed_buffers_min_error.clone();
        } else {
            let wanted = (crate::DEFAULT_QUEUE_DEPTH * crate::Tuning::default().buffer_size) as u64;
            if let Some(budget) = probe.pin_budget().filter(|&b| (b as u64) < wanted) {
                probe.fixed_buffers_error = Some(format!(
                    "{} of registered buffers per executor would exceed its share of \
                     RLIMIT_MEMLOCK ({} of {}, without CAP_IPC_LOCK): the fixed backend uses \
                     smaller buffers, or fewer",
                    mib(Some(wanted)),
                    mib(Some(budget as u64)),
                    mib(memlock)
                ));
            }
        }
        probe
    }

    /// The probe of this process: detected on first use, then kept (the kernel does not change
    /// under a running copy). The executors use this one; callers should too, rather than
    /// probing twice.
    pub fn cached() -> &'static Probe {
        static PROBE: std::sync::OnceLock<Probe> = std::sync::OnceLock::new();
        PROBE.get_or_init(Probe::detect)
    }

    /// Bytes of registered buffers one `fixed` executor may pin: an eighth of
    /// `RLIMIT_MEMLOCK` (at least one page), or `None` when nothing is accounted (unlimited, or
    /// `CAP_IPC_LOCK`). The limit is per user, shared by every process of the user and by the
    /// rings themselves, so one copy with two workers leaves room for a few others.
    pub fn pin_budget(&self) -> Option<usize> {
        if self.cap_ipc_lock {
            return None;
        }
        self.memlock_limit
            .map(|l| usize::try_from(l / 8).unwrap_or(usize::MAX).max(4096))
    }

    /// Whether the probe's ring was refused for want of locked memory (ENOMEM with the limit
    /// accounted): the user's share was used up by other rings at that moment, which says
    /// nothing of what the kernel can do. A chosen backend probes again
    /// ([`Probe::for_chosen_backend`]).
    pub fn short_of_locked_memory(&self) -> bool {
        self.setup_failure
            .as_ref()
            .is_some_and(|f| f.errno == Some(libc::ENOMEM))
            && self.pin_budget().is_some()
    }

    /// Can io_uring be used at all? `Err` says why not.
    pub fn usable(&self) -> Result<(), String> {
        if let Some(f) = &self.setup_failure {
            return Err(f.reason.clone());
        }
        for needed in ["OPENAT", "CLOSE"] {
            self.need(needed)?;
        }
        Ok(())
    }

    /// Can the executor `mode` run here? `Err` names what it needs and is missing.
    pub fn check(&self, mode: Mode) -> Result<(), String> {
        self.usable()?;
        match mode {
            Mode::Rw => self.need("READ"),
            Mode::Fixed => {
                self.need("READ_FIXED")?;
                match &self.fixed_buffers_min_error {
                    // ENOMEM is the user's locked memory being used up right now, not something
                    // the kernel lacks: the executor then runs with unregistered buffers.
                    Some(e) if !self.fixed_buffers_enomem => {
                        Err(format!("the fixed backend cannot register buffers: {e}"))
                    }
                    _ => Ok(()),
                }
            }
            Mode::Splice => self.need("SPLICE"),
        }
    }

    /// Is `name` (as in [`Opcode::name`]) supported?
    pub fn supports(&self, name: &str) -> bool {
        self.opcodes.iter().any(|o| o.name == name && o.supported)
    }

    /// Is `feature` present?
    pub fn has_feature(&self, feature: Feature) -> bool {
        self.has(feature.name())
    }

    /// Is the feature or setup flag `name` present?
    pub fn has(&self, name: &str) -> bool {
        self.features
            .iter()
            .chain(&self.setup_flags)
            .any(|c| c.name == name && c.present)
    }

    fn need(&self, name: &str) -> Result<(), String> {
        if self.supports(name) {
            return Ok(());
        }
        let since = self
            .opcodes
            .iter()
            .find(|o| o.name == name)
            .map_or("?", |o| o.since);
        Err(format!(
            "the kernel{} does not support IORING_OP_{name} (Linux {since}+)",
            self.kernel
                .as_deref()
                .map(|k| format!(" ({k})"))
                .unwrap_or_default()
        ))
    }
}

fn cap(name: &'static str, present: bool, since: &'static str) -> Capability {
    Capability {
        name,
        present,
        since,
    }
}

/// Does a ring set up with these builder flags come up?
fn setup_ok(accounted: bool, configure: impl FnOnce(&mut io_uring::Builder)) -> bool {
    let mut b = IoUring::builder();
    configure(&mut b);
    settling(accounted, || b.build(4)).is_ok()
}

/// How long a ring refused for want of locked memory is asked for again. The kernel gives a
/// closed ring's memory back asynchronously (io_uring's exit work, after the last descriptor
/// closes), so a copy that starts as another of the same user's ends (a script's loop, a test
/// suite) can find the user's share used up for a few milliseconds.
const LOCKED_MEMORY_SETTLE: Duration = Duration::from_millis(250);

/// `attempt`, and again while it fails with ENOMEM, locked memory is `accounted` (a
/// `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`: otherwise ENOMEM is memory itself, and waiting is
/// no cure) and [`LOCKED_MEMORY_SETTLE`] has not passed.
pub(crate) fn settling<T>(
    accounted: bool,
    mut attempt: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match attempt() {
            Err(e)
                if accounted
                    && e.raw_os_error() == Some(libc::ENOMEM)
                    && start.elapsed() < LOCKED_MEMORY_SETTLE =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            done => return done,
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn mib(bytes: Option<u64>) -> String {
    match bytes {
        None => "unlimited".into(),
        Some(b) if b >= 1 << 20 => format!("{} MiB", b >> 20),
        Some(b) => format!("{} KiB", b >> 10),
    }
}

fn explain_setup_error(e: &io::Error, disabled: Option<u32>, memlock: Option<u64>) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => match disabled {
            Some(2) => {
                "io_uring is disabled system-wide (/proc/sys/kernel/io_uring_disabled = 2)".into()
            }
            Some(1) => "io_uring is limited to CAP_SYS_ADMIN and the io_uring_group \
                        (/proc/sys/kernel/io_uring_disabled = 1)"
                .into(),
            _ => "io_uring_setup was denied (EPERM) although io_uring_disabled allows it: \
                  a seccomp filter (such as a container runtime's default profile) or an LSM \
                  blocks it"
                .into(),
        },
        Some(libc::ENOSYS) => "this kernel has no io_uring (ENOSYS: built without \
                               CONFIG_IO_URING, or a seccomp filter answers ENOSYS)"
            .into(),
        // Ring memory is charged to the user's locked memory (`user->locked_vm`, the sum over
        // all of the user's processes) unless the caller has CAP_IPC_LOCK: on kernels before
        // 5.12, and again since rings moved to io_uring's memory regions (io_uring/memmap.c,
        // `io_create_region`). Registered buffers always are. So ENOMEM here means the user's
        // share is used up (other rings or registered buffers of this uid), or memory is short.
        Some(libc::ENOMEM) => format!(
            "io_uring_setup failed with ENOMEM: ring memory counts against this user's \
             locked-memory limit (RLIMIT_MEMLOCK = {}, shared by all of the user's processes), \
             and other io_uring instances of this user (rings, registered buffers) have used \
             it up, or the system is out of memory",
            mib(memlock)
        ),
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            format!(
                "no file descriptor left for an io_uring: {}",
                ucopy_core::cause(e)
            )
        }
        _ => format!("io_uring_setup failed: {}", ucopy_core::cause(e)),
    }
}

fn explain_register_error(e: &io::Error, memlock: Option<u64>) -> String {
    match e.raw_os_error() {
        Some(libc::ENOMEM) => format!(
            "registering buffers failed with ENOMEM: without CAP_IPC_LOCK they count against \
             this user's locked-memory limit (RLIMIT_MEMLOCK = {}, shared by all of the \
             user's processes), which is used up",
            mib(memlock)
        ),
        _ => format!("registering buffers failed: {}", ucopy_core::cause(e)),
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "kernel: {}", self.kernel.as_deref().unwrap_or("unknown"))?;
        match self.io_uring_disabled {
            Some(v) => writeln!(f, "io_uring_disabled: {v}")?,
            None => writeln!(f, "io_uring_disabled: (no such sysctl)")?,
        }
        match self.usable() {
            Ok(()) => writeln!(f, "io_uring: usable")?,
            Err(why) => {
                writeln!(f, "io_uring: unusable: {why}")?;
                if self.setup_failure.is_some() {
                    return Ok(());
                }
            }
        }
        writeln!(f, "opcodes:")?;
        for o in &self.opcodes {
            writeln!(
                f,
                "  {:<17} {:<3}  (Linux {}+; used by {})",
                o.name,
                yes(o.supported),
                o.since,
                o.used_by
            )?;
        }
        for (title, caps) in [
            ("features", &self.features),
            ("setup flags", &self.setup_flags),
        ] {
            writeln!(f, "{title}:")?;
            for c in caps {
                writeln!(
                    f,
                    "  {:<17} {:<3}  (Linux {}+)",
                    c.name,
                    yes(c.present),
                    c.since
                )?;
            }
        }
        writeln!(f, "direct descriptors: {}", yes(self.direct_descriptors))?;
        writeln!(
            f,
            "registered buffers: {} (RLIMIT_MEMLOCK {}, CAP_IPC_LOCK {})",
            match (&self.fixed_buffers_error, &self.fixed_buffers_min_error) {
                (None, _) => "yes".to_string(),
                (Some(e), None) => format!("smaller than the default only ({e})"),
                (Some(_), Some(e)) => format!("no ({e})"),
            },
            mib(self.memlock_limit),
            yes(self.cap_ipc_lock)
        )?;
        if let Some(p) = self.pipe_max_size {
            writeln!(f, "pipe-max-size: {}", mib(Some(p)))?;
        }
        writeln!(f, "executors:")?;
        for mode in [Mode::Splice, Mode::Rw, Mode::Fixed] {
            match self.check(mode) {
                Ok(()) => writeln!(f, "  {:<7} ok", mode.name())?,
                Err(why) => writeln!(f, "  {:<7} unavailable: {why}", mode.name())?,
            }
        }
        Ok(())
    }
}

/// How many pages of the `len` bytes at `off` in `fd` are in the page cache, without reading
/// anything (`cachestat(2)`, Linux 6.5; an error with `ENOSYS` before). `auto` asks this to learn
/// whether a source is cached: a `RWF_NOWAIT` read cannot tell reliably, because it starts the
/// read-ahead it reports on, and on a fast disk that read can complete before the check.
pub fn cached_pages(fd: std::os::fd::BorrowedFd<'_>, off: u64, len: u64) -> io::Result<u64> {
    ring::cached_pages(fd, off, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_short_of_locked_memory_is_asked_for_again_only_where_it_is_accounted() {
        let enomem = || Err::<(), _>(io::Error::from_raw_os_error(libc::ENOMEM));
        let mut tries = 0;
        let got = settling(true, || {
            tries += 1;
            if tries < 3 {
                enomem()
            } else {
                Ok(())
            }
        });
        assert!(got.is_ok() && tries == 3);
        let mut tries = 0;
        let got = settling(false, || {
            tries += 1;
            enomem()
        });
        assert!(
            got.is_err() && tries == 1,
            "not accounted: memory itself is short"
        );
        let start = Instant::now();
        assert!(settling(true, enomem).is_err());
        assert!(start.elapsed() >= LOCKED_MEMORY_SETTLE);
        let mut tries = 0;
        let got = settling(true, || {
            tries += 1;
            Err::<(), _>(io::Error::from_raw_os_error(libc::EPERM))
        });
        assert!(got.is_err() && tries == 1, "only ENOMEM is waited out");
    }

    #[test]
    fn explains_eperm_by_sysctl() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert!(explain_setup_error(&e, Some(2), None).contains("io_uring_disabled = 2"));
        assert!(explain_setup_error(&e, Some(1), None).contains("io_uring_group"));
        assert!(explain_setup_error(&e, Some(0), None).contains("seccomp"));
        let e = io::Error::from_raw_os_error(libc::ENOSYS);
        assert!(explain_setup_error(&e, Some(0), None).contains("no io_uring"));
        let e = io::Error::from_raw_os_error(libc::ENOMEM);
        assert!(explain_setup_error(&e, Some(0), Some(64 << 10)).contains("64 KiB"));
    }

    #[test]
    fn detect_is_consistent() {
        let p = Probe::detect();
        let text = p.to_string();
        assert!(text.contains("kernel:"));
        match p.usable() {
            Ok(()) => {
                assert!(p.supports("OPENAT"));
                assert!(text.contains("io_uring: usable"));
                assert!(text.contains("READ_FIXED"));
            }
            Err(why) => {
                eprintln!("io_uring unusable here: {why}");
                assert!(text.contains("unusable"));
                for m in [Mode::Splice, Mode::Rw, Mode::Fixed] {
                    assert!(p.check(m).is_err());
                }
            }
        }
    }
}
