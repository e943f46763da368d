//! Running one contender: the command lines of a resolved contender ([`Launch`]), its untimed
//! preparation, and the timed run with a watchdog ([`Launch::run_timed`] → [`Outcome`]).

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::contenders::{ucopy_flags, uring_args, Tool};

/// A resolved contender: its programs, ready to build the command lines.
#[derive(Debug, Clone)]
pub struct Launch {
    pub(super) tool: Tool,
    pub(super) programs: Vec<PathBuf>,
}

/// One timed run.
#[derive(Debug)]
pub struct Outcome {
    pub secs: f64,
    pub user_secs: f64,
    pub sys_secs: f64,
    /// `Err` carries one line: the exit status and the tool's last stderr line.
    pub result: Result<(), String>,
    pub stdout: String,
}

impl Launch {
    /// Pipeline stages (one command, or two for tar) copying `src` to the absent `dst`.
    fn stages(&self, src: &Path, dst: &Path) -> Vec<Command> {
        let p = &self.programs[0];
        let cmd = |args: &[&std::ffi::OsStr]| {
            let mut c = Command::new(p);
            c.args(args);
            c
        };
        let (s, d) = (src.as_os_str(), dst.as_os_str());
        match &self.tool {
            Tool::Ucopy {
                backend,
                order,
                archive,
            } => {
                let mut c = Command::new(p);
                c.args(ucopy_flags(backend, *order, *archive))
                    .arg(src)
                    .arg(dst);
                vec![c]
            }
            Tool::Uring { mode, knobs } => {
                let mut c = Command::new(p);
                c.args(uring_args(mode, knobs)).arg(src).arg(dst);
                vec![c]
            }
            Tool::UcopyUpdate | Tool::CpUpdate => {
                let mut dot = OsString::from(s);
                dot.push("/.");
                let flags: &[&str] = if self.tool == Tool::UcopyUpdate {
                    &["-a", "-u", "--json"]
                } else {
                    &["-au"]
                };
                let mut c = Command::new(p);
                c.args(flags).arg(&dot).arg(d);
                vec![c]
            }
            Tool::RsyncUpdate => {
                let mut slash = OsString::from(s);
                slash.push("/");
                let mut dslash = OsString::from(d);
                dslash.push("/");
                vec![cmd(&["-a".as_ref(), &slash, &dslash])]
            }
            Tool::CpR => vec![cmd(&["-r".as_ref(), s, d])],
            Tool::CpA => vec![cmd(&["-a".as_ref(), s, d])],
            Tool::Tar => vec![
                cmd(&["-C".as_ref(), s, "-cf".as_ref(), "-".as_ref(), ".".as_ref()]),
                cmd(&["-C".as_ref(), d, "-xf".as_ref(), "-".as_ref()]),
            ],
            Tool::Rsync => {
                let mut slash = OsString::from(s);
                slash.push("/");
                vec![cmd(&["-a".as_ref(), &slash, d])]
            }
            Tool::Cpz | Tool::Fcp => vec![cmd(&[s, d])],
            Tool::Xcp => vec![cmd(&["-r".as_ref(), "--no-progress".as_ref(), s, d])],
            Tool::Floor => vec![cmd(&["floor".as_ref(), s, d])],
        }
    }

    /// Untimed preparation of `dst`.
    pub fn prepare(&self, dst: &Path) -> Result<()> {
        if self.tool == Tool::Tar {
            fs::create_dir(dst).with_context(|| format!("cannot create '{}'", dst.display()))?;
        }
        Ok(())
    }

    /// After `drop_caches`, load the copier's own binary and libraries back (untimed): the
    /// cold rounds measure reading the *corpus*, not paging in a few MiB of executable.
    pub fn prewarm(&self) {
        for p in &self.programs {
            let _ = Command::new(p)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Runs the copy and times it: from before the first spawn to after the last exit.
    /// Output goes to files under `log_dir` (a pipe could fill up and stall the copier).
    ///
    /// A copier still running after `timeout` is killed (SIGKILL) and fails the round, so one
    /// hung copier cannot hang the whole run (or CI). The watchdog thread exists before the
    /// clock starts; arming it only sends the pids over a channel.
    pub fn run_timed(
        &self,
        src: &Path,
        dst: &Path,
        log_dir: &Path,
        timeout: Duration,
    ) -> Result<Outcome> {
        fs::create_dir_all(log_dir)?;
        let out_path = log_dir.join("stdout.txt");
        let err_path = log_dir.join("stderr.txt");
        let stdout = File::create(&out_path)?;
        let stderr = File::create(&err_path)?;
        let mut stages = self.stages(src, dst);
        let last = stages.len() - 1;
        let (arm, armed) = mpsc::channel::<Option<Vec<i32>>>();
        let watchdog = std::thread::spawn(move || {
            let Ok(Some(pids)) = armed.recv() else {
                return false;
            };
            match armed.recv_timeout(timeout) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    for pid in pids {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    true
                }
                _ => false,
            }
        });
        let cpu0 = children_cpu();
        let start = Instant::now();
        let mut children = Vec::new();
        let mut spawn_error = None;
        let mut pipe: Option<Stdio> = None;
        for (i, cmd) in stages.iter_mut().enumerate() {
            cmd.stdin(pipe.take().unwrap_or_else(Stdio::null))
                .stderr(stderr.try_clone()?);
            if i == last {
                cmd.stdout(stdout.try_clone()?);
            } else {
                cmd.stdout(Stdio::piped());
            }
            match cmd.spawn() {
                Ok(mut child) => {
                    pipe = child.stdout.take().map(Stdio::from);
                    children.push((cmd.get_program().to_owned(), child));
                }
                Err(e) => {
                    spawn_error = Some(format!(
                        "cannot run {}: {e}",
                        cmd.get_program().to_string_lossy()
                    ));
                    break;
                }
            }
        }
        let pids = children.iter().map(|(_, c)| c.id() as i32).collect();
        let _ = arm.send(Some(pids));
        let mut failure = spawn_error;
        for (prog, mut child) in children {
            let status = child.wait()?;
            if !status.success() && failure.is_none() {
                let name = Path::new(&prog)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                failure = Some(format!("{name} exited with {status}"));
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu1 = children_cpu();
        let _ = arm.send(None);
        if watchdog.join().unwrap_or(false) {
            failure = Some(format!(
                "still running after {} s, killed",
                timeout.as_secs()
            ));
        }
        let result = match failure {
            None => Ok(()),
            Some(f) => {
                let err = fs::read_to_string(&err_path).unwrap_or_default();
                let last = err.lines().map(str::trim).rfind(|l| !l.is_empty());
                Err(match last {
                    Some(l) => format!("{f}: {l}"),
                    None => f,
                })
            }
        };
        Ok(Outcome {
            secs,
            user_secs: cpu1.0 - cpu0.0,
            sys_secs: cpu1.1 - cpu0.1,
            result,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        })
    }
}

/// User and system CPU seconds of all reaped children (`getrusage(RUSAGE_CHILDREN)`). The
/// difference around one run is that run's CPU time, io-wq worker threads included (they are
/// threads of the copier's process), in microseconds rather than /proc's 10 ms ticks.
fn children_cpu() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike;
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => (
            u.user_time().num_microseconds() as f64 / 1e6,
            u.system_time().num_microseconds() as f64 / 1e6,
        ),
        Err(_) => (0.0, 0.0),
    }
}
