//! Running the `ucopy` binary: once per backend, always under a timeout, as root or as an
//! unprivileged user, and skipping io_uring backends the kernel cannot run (with a printed
//! reason, unless `UCOPY_REQUIRE_URING=1` turns the skip into a failure, as CI does).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The binary under test, built by cargo for this integration test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ucopy");

/// uid/gid of `nobody`, used for the rows that need an unprivileged copier.
pub const NOBODY: u32 = 65534;

/// Every run gets a deadline so that a hang (a FIFO opened for writing, a lost completion) fails
/// the test instead of stalling the suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One test body per backend: `backend_test!(name, |b| { ... })` registers four tests,
/// `<module>::name::{std,splice,rw,fixed}`, with the runner (`crate::runner`). An optional
/// `#[ignore = "why"]` before the name marks all four ignored (run them with `--ignored`).
macro_rules! backend_test {
    ($(#[ignore = $why:literal])? $name:ident, |$b:ident $(: $t:ty)?| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            // The closure's type annotation, if written (it is always `Backend`).
            $(#[allow(dead_code)] type Annotated = $t;)?

            fn body($b: $crate::harness::Backend) $body

            ::inventory::submit! {
                $crate::runner::Test::backends(
                    module_path!(),
                    body,
                    $crate::runner::ignored(&[$($why)?]),
                )
            }
        }
    };
}

/// A test without backends: `plain_test!(name);` next to `fn name() { ... }`.
macro_rules! plain_test {
    ($name:ident) => {
        ::inventory::submit! {
            $crate::runner::Test::plain(concat!(module_path!(), "::", stringify!($name)), $name)
        }
    };
}

/// Ends the current test as *skipped* with a printed reason: the runner reports it ignored,
/// with the reason, never passed.
macro_rules! skip {
    ($($arg:tt)*) => {
        $crate::runner::skip(format!($($arg)*))
    };
}

/// Skips the current test unless the test process is root.
macro_rules! require_root {
    () => {
        if !$crate::harness::is_root() {
            skip!("needs root");
        }
    };
}

/// `Vec<OsString>` from a mix of `&str`, `PathBuf`, `&Path`, `OsString`: `args!["-a", src, dst]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        vec![$(::std::ffi::OsString::from(::std::ffi::OsStr::new(&$x))),*]
    };
}

/// The copy backends of the contract (`--backend <name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Std,
    Splice,
    Rw,
    Fixed,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Std => "std",
            Backend::Splice => "splice",
            Backend::Rw => "rw",
            Backend::Fixed => "fixed",
        }
    }

    pub fn is_uring(self) -> bool {
        self != Backend::Std
    }

    /// `--backend <name>`, for command lines built by hand (shell wrappers, setpriv, time).
    pub fn args(self) -> [&'static str; 2] {
        ["--backend", self.name()]
    }

    /// `ucopy --backend <name>` as root (or whoever runs the tests).
    pub fn cmd(self) -> Command {
        let mut c = ucopy();
        c.args(self.args());
        c
    }

    /// Runs `ucopy --backend <name> ARGS` with the default timeout.
    #[track_caller]
    pub fn run<I, S>(self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.cmd();
        c.args(args);
        run(c, DEFAULT_TIMEOUT)
    }

    /// Like [`Backend::run`], as the unprivileged user `nobody` (when the tests run as root;
    /// otherwise as the current, already unprivileged user).
    #[track_caller]
    pub fn run_unprivileged<I, S>(self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = unprivileged(bin_for_nobody());
        c.args(self.args()).args(args);
        run(c, DEFAULT_TIMEOUT)
    }

    /// `sh -c '<prelude>; exec "$@"' sh ucopy --backend <name> ARGS`: for `ulimit`, `umask`,
    /// `trap`, without a `pre_exec` hook in the test process. Arguments are passed as positional
    /// parameters, never spliced into the script, so any name survives byte-exact.
    #[track_caller]
    pub fn run_sh<I, S>(self, prelude: &str, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run(self.sh_cmd(prelude, args), DEFAULT_TIMEOUT)
    }

    /// The command [`Backend::run_sh`] runs, for [`spawn`].
    pub fn sh_cmd<I, S>(self, prelude: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = sh(prelude, [OsStr::new(BIN)]);
        c.args(self.args()).args(args);
        c
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ucopy` with a stable environment (C locale, so error texts do not depend on the machine).
pub fn ucopy() -> Command {
    let mut c = Command::new(BIN);
    c.env("LC_ALL", "C");
    c
}

/// `sh -c '<prelude>; exec "$@"' sh PROGRAM...`.
pub fn sh<I, S>(prelude: &str, program_and_args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new("sh");
    c.env("LC_ALL", "C")
        .arg("-c")
        .arg(format!("{prelude}\nexec \"$@\""))
        .arg("sh")
        .args(program_and_args);
    c
}

/// A command that runs `program` as `nobody` with no supplementary groups when we are root.
pub fn unprivileged(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".to_string(),
            "--".to_string(),
        ])
        .arg(program);
        c.env("LC_ALL", "C");
        c
    } else {
        let mut c = Command::new(program);
        c.env("LC_ALL", "C");
        c
    }
}

/// Held by the tests that build trees of 50,000+ entries or 2,000 levels (rows 28, 33, 35), so that at most one
/// of them runs at a time: four backends' copies at once need over a million inodes on tmpfs
/// (a smaller machine's /dev/shm has fewer) and, under nofile 1024, hundreds of descriptors.
pub fn bulky_tree_lock() -> std::sync::MutexGuard<'static, ()> {
    static BULKY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    BULKY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `UCOPY_REQUIRE_URING=1` (set by CI) turns "io_uring backend unavailable" into a failure.
pub fn require_uring() -> bool {
    std::env::var_os("UCOPY_REQUIRE_URING").is_some_and(|v| v == "1")
}

/// Runs one test body for one backend, skipping io_uring backends the probe says are missing
/// (a failure instead under `UCOPY_REQUIRE_URING=1`).
pub fn run_for(b: Backend, body: fn(Backend)) {
    if b.is_uring() {
        if let Err(reason) = availability(b) {
            if require_uring() {
                panic!("UCOPY_REQUIRE_URING=1 but backend {b} is unavailable: {reason}");
            }
            skip!("{b} unavailable: {reason}");
        }
    }
    body(b)
}

/// What `ucopy --probe --json` says about `b`: `Ok(())` when it can run, else the reason.
/// The probe runs once per test process. A probe that does not answer in the contract's shape is
/// a failure of the binary, not a reason to skip.
pub fn availability(b: Backend) -> Result<(), String> {
    static PROBE: OnceLock<serde_json::Value> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        let mut c = ucopy();
        c.args(["--probe", "--json"]);
        let out = run(c, Duration::from_secs(30));
        out.assert_success();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("`ucopy --probe --json` printed no JSON object ({e}):\n{out}")
        })
    });
    let backends = probe["backends"]
        .as_array()
        .unwrap_or_else(|| panic!("probe JSON has no \"backends\" array: {probe}"));
    let entry = backends
        .iter()
        .find(|e| e["name"] == b.name())
        .unwrap_or_else(|| panic!("probe JSON does not list backend {b}: {probe}"));
    match entry["available"].as_bool() {
        Some(true) => Ok(()),
        Some(false) => Err(entry["reason"]
            .as_str()
            .unwrap_or("(probe gave no reason)")
            .to_string()),
        None => panic!("probe JSON: backend {b} has no boolean \"available\": {probe}"),
    }
}

/// The binary, at a path `nobody` can execute. The build directory may sit below a dir that only
/// root can enter (CI clones anywhere), so when needed it is copied once to a world-readable
/// temp dir.
pub fn bin_for_nobody() -> &'static Path {
    static BIN_COPY: OnceLock<PathBuf> = OnceLock::new();
    BIN_COPY.get_or_init(|| {
        let bin = Path::new(BIN);
        if !is_root() || world_executable(bin) {
            return bin.to_path_buf();
        }
        // Leaked on purpose: the copy must live as long as the test process. It is one file
        // in one dir per test run, named after the pid.
        let dir = std::env::temp_dir().join(format!("ucopy-it-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = dir.join("ucopy");
        std::fs::copy(bin, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    })
}

fn world_executable(path: &Path) -> bool {
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}

/// The outcome of one run.
pub struct Out {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stderr lines of the contract's error form `ucopy: cannot <verb> '<path>': <cause>`.
    pub fn error_lines(&self) -> Vec<Vec<u8>> {
        self.stderr
            .split(|&c| c == b'\n')
            .filter(|l| l.starts_with(b"ucopy: cannot "))
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// Error lines that name an entry whose path ends with `suffix` (`.../suffix'`).
    pub fn errors_naming(&self, suffix: &[u8]) -> Vec<Vec<u8>> {
        let mut quoted = suffix.to_vec();
        quoted.push(b'\'');
        self.error_lines()
            .into_iter()
            .filter(|l| {
                l.windows(quoted.len()).enumerate().any(|(i, w)| {
                    // The match must start a path component (after `'` or `/`).
                    w == quoted.as_slice() && i > 0 && matches!(l[i - 1], b'\'' | b'/')
                })
            })
            .collect()
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "expected exit 0:\n{self}");
        assert!(
            self.error_lines().is_empty(),
            "exit 0 but error lines were printed:\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "expected exit {code}:\n{self}");
        self
    }

    /// Exited by itself (no signal, no crash) with a non-zero code.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert!(
            matches!(self.code(), Some(c) if c != 0),
            "expected a non-zero exit code:\n{self}"
        );
        self
    }

    /// Exactly one error line names `suffix`.
    #[track_caller]
    pub fn assert_one_error_naming(&self, suffix: &[u8]) -> &Self {
        let n = self.errors_naming(suffix).len();
        assert_eq!(
            n,
            1,
            "expected exactly one `ucopy: cannot ... '...{}'` line:\n{self}",
            String::from_utf8_lossy(suffix)
        );
        self
    }

    /// Every error line is in the contract's form `ucopy: cannot <verb> '<path>': <cause>`.
    #[track_caller]
    pub fn assert_error_format(&self) -> &Self {
        for l in self
            .stderr
            .split(|&c| c == b'\n')
            .filter(|l| l.starts_with(b"ucopy:") && !l.starts_with(b"ucopy: warning"))
        {
            let s = String::from_utf8_lossy(l);
            let rest = s.strip_prefix("ucopy: cannot ");
            let ok = rest.is_some_and(|r| {
                r.split_once(" '")
                    .is_some_and(|(verb, tail)| !verb.is_empty() && tail.contains("': "))
            });
            assert!(
                ok,
                "stderr line not of the form `ucopy: cannot <verb> '<path>': <cause>`: {s:?}\n{self}"
            );
        }
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{self}"))
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 6000;
        let cut = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            if s.len() > MAX {
                let mut end = MAX;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}… ({} bytes)", &s[..end], s.len())
            } else {
                s.into_owned()
            }
        };
        write!(
            f,
            "command: {}\nstatus: {} after {:.2?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.what,
            self.status,
            self.elapsed,
            cut(&self.stderr),
            cut(&self.stdout)
        )
    }
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A started child with its output being collected.
pub struct Running {
    pub what: String,
    pub child: Child,
    started: Instant,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// Starts `cmd` with stdin closed and stdout/stderr collected.
pub fn spawn(mut cmd: Command) -> Running {
    let what = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = Some(reader(Box::new(child.stdout.take().unwrap())));
    let stderr = Some(reader(Box::new(child.stderr.take().unwrap())));
    Running {
        what,
        child,
        started: Instant::now(),
        stdout,
        stderr,
    }
}

impl Running {
    pub fn pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_child(&self.child)
    }

    /// Waits up to `timeout`; `None` if still running (the child is left running).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Out> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stdout = self.stdout.take().unwrap().join().unwrap();
                let stderr = self.stderr.take().unwrap().join().unwrap();
                return Some(Out {
                    what: self.what.clone(),
                    status,
                    stdout,
                    stderr,
                    elapsed: self.started.elapsed(),
                });
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `timeout`; on expiry kills the child and fails the test as a hang.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Out {
        match self.wait_timeout(timeout) {
            Some(out) => out,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                // The output readers are not joined: a grandchild could still hold the pipes.
                panic!("hang: {} still running after {timeout:?}", self.what);
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panicked mid-run must not leave a copier running behind it.
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion; a run longer than `timeout` fails the test as a hang.
#[track_caller]
pub fn run(cmd: Command, timeout: Duration) -> Out {
    spawn(cmd).finish(timeout)
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&format!("{:?}", a.to_string_lossy()));
    }
    s
}

/// `p` with `suffix` appended byte-exact (`"/"`, `"/."`), for operator-written paths.
pub fn suffixed(p: &Path, suffix: &str) -> OsString {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    s
}

/// `OsString` from raw bytes, for names that are not UTF-8.
pub fn os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes).to_os_string()
}
