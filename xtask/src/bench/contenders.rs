//! The copiers being compared: how each is found, named, invoked and timed.
//!
//! Every contender is run as `TOOL … SRC DST` with `DST` absent, and must leave `DST` as a copy
//! of `SRC` (not `DST/SRC`). Checked by hand on this machine: `cp -r`/`cp -a`, `cpz 3.2` and
//! `fcp 0.2` create `DST` like that; `xcp 0.24` needs `-r` for directories (without it: "Source
//! is directory and --recursive not specified"); rsync needs `SRC/` (trailing slash) to copy the
//! contents; the tar pipeline needs `DST` to exist, which is made before the timed region.
//! cpz refuses an existing `DST` ("use the path DST/ to copy into") and fcp copies *into* an
//! existing one — another reason every round starts with `DST` absent.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::scenario::find_program;

pub const UCOPY_BACKENDS: [&str; 5] = ["auto", "splice", "rw", "fixed", "std"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    Ucopy {
        backend: &'static str,
        order: Option<&'static str>,
        archive: bool,
    },
    CpR,
    CpA,
    Tar,
    Rsync,
    Cpz,
    Xcp,
    Fcp,
    /// `cargo xtask floor`: the least a synchronous copier can do per file (xtask/src/floor.rs).
    Floor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contender {
    pub name: String,
    pub tool: Tool,
}

impl Contender {
    pub fn is_peer(&self) -> bool {
        !matches!(self.tool, Tool::Ucopy { .. } | Tool::Floor)
    }

    /// How the command line looks, for tables and JSON.
    pub fn display(&self) -> String {
        match &self.tool {
            Tool::Ucopy {
                backend,
                order,
                archive,
            } => format!(
                "ucopy {} SRC DST",
                ucopy_flags(backend, *order, *archive).join(" ")
            ),
            Tool::CpR => "cp -r SRC DST".into(),
            Tool::CpA => "cp -a SRC DST".into(),
            Tool::Tar => "mkdir DST (untimed); tar -C SRC -cf - . | tar -C DST -xf -".into(),
            Tool::Rsync => "rsync -a SRC/ DST".into(),
            Tool::Cpz => "cpz SRC DST".into(),
            Tool::Xcp => "xcp -r --no-progress SRC DST".into(),
            Tool::Fcp => "fcp SRC DST".into(),
            Tool::Floor => "cargo xtask floor SRC DST (per file: openat, openat O_CREAT, \
                            copy_file_range, close, close; whole dirs per thread)"
                .into(),
        }
    }
}

/// ucopy's flags for a contender: one list serves both the command that runs and the line the
/// tables show, so they cannot disagree.
fn ucopy_flags<'a>(backend: &'a str, order: Option<&'a str>, archive: bool) -> Vec<&'a str> {
    let mut flags = vec!["--backend", backend];
    if let Some(o) = order {
        flags.extend(["--order", o]);
    }
    if archive {
        flags.push("-a");
    }
    flags.push("--json");
    flags
}

/// Every contender for a corpus. `--order` only matters when there are many files, so
/// single-file corpora get one ucopy contender per backend.
pub fn catalogue(many_files: bool) -> Vec<Contender> {
    let mut out = Vec::new();
    for backend in UCOPY_BACKENDS {
        if many_files {
            for order in ["inode", "none"] {
                out.push(Contender {
                    name: format!("ucopy:{backend}:{order}"),
                    tool: Tool::Ucopy {
                        backend,
                        order: Some(order),
                        archive: false,
                    },
                });
            }
        } else {
            out.push(Contender {
                name: format!("ucopy:{backend}"),
                tool: Tool::Ucopy {
                    backend,
                    order: None,
                    archive: false,
                },
            });
        }
    }
    // `ucopy -a` is the like-for-like rival of `cp -a`, `rsync -a` and tar.
    out.push(Contender {
        name: "ucopy-a".into(),
        tool: Tool::Ucopy {
            backend: "auto",
            order: None,
            archive: true,
        },
    });
    for (name, tool) in [
        ("cp-r", Tool::CpR),
        ("cp-a", Tool::CpA),
        ("tar", Tool::Tar),
        ("rsync", Tool::Rsync),
        ("cpz", Tool::Cpz),
        ("xcp", Tool::Xcp),
        ("fcp", Tool::Fcp),
        ("floor", Tool::Floor),
    ] {
        out.push(Contender {
            name: name.into(),
            tool,
        });
    }
    out
}

/// `--contenders` matching: an exact name, a `:`-prefix (`ucopy:rw` = both orders, `ucopy` =
/// all of ucopy), a longer name naming a single-file variant (`ucopy:rw:inode` also selects
/// `ucopy:rw` on `large`), or `peers`. An empty list selects everything.
pub fn selected(patterns: &[String], c: &Contender) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            let p = p.trim();
            p == c.name
                || (p == "peers" && c.is_peer())
                || c.name.starts_with(&format!("{p}:"))
                || (matches!(
                    c.tool,
                    Tool::Ucopy {
                        order: None,
                        archive: false,
                        ..
                    }
                ) && p.starts_with(&format!("{}:", c.name)))
        })
}

/// What `ucopy --probe --json` says about one backend.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeBackend {
    pub name: String,
    pub available: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Probe {
    pub backends: Vec<ProbeBackend>,
}

pub fn parse_probe(text: &str) -> Result<(Probe, serde_json::Value)> {
    let value: serde_json::Value = serde_json::from_str(text.trim())?;
    Ok((serde_json::from_value(value.clone())?, value))
}

/// The programs found on this machine, with their versions.
#[derive(Debug)]
pub struct Tools {
    ucopy: Result<PathBuf, String>,
    probe: Option<Probe>,
    pub probe_json: Option<serde_json::Value>,
    programs: BTreeMap<&'static str, Result<PathBuf, String>>,
    pub versions: BTreeMap<String, String>,
}

impl Tools {
    /// Finds cp, tar, rsync on PATH and cpz, xcp, fcp in `target/peers/bin` (then PATH), and
    /// asks ucopy for its probe.
    pub fn discover(ucopy: Result<PathBuf, String>, peers_bin: &Path) -> Tools {
        let mut programs = BTreeMap::new();
        for name in ["cp", "tar"] {
            programs.insert(
                name,
                find_program(name).ok_or_else(|| format!("{name} not in PATH")),
            );
        }
        programs.insert(
            "rsync",
            find_program("rsync").ok_or_else(|| {
                "not installed (apt-get install rsync, or cargo xtask bench --install-peers as root)"
                    .to_string()
            }),
        );
        for name in ["cpz", "xcp", "fcp"] {
            let local = peers_bin.join(name);
            let found = if local.is_file() {
                Some(local)
            } else {
                find_program(name)
            };
            programs.insert(
                name,
                found.ok_or_else(|| "not installed (cargo xtask bench --install-peers)".into()),
            );
        }
        let mut versions = BTreeMap::new();
        for (name, path) in &programs {
            if let Ok(p) = path {
                versions.insert(name.to_string(), version_of(name, p));
            }
        }
        let (mut probe, mut probe_json) = (None, None);
        if let Ok(u) = &ucopy {
            versions.insert("ucopy".into(), version_of("ucopy", u));
            match Command::new(u)
                .args(["--probe", "--json"])
                .stdin(Stdio::null())
                .output()
            {
                Ok(out) if out.status.success() => {
                    match parse_probe(&String::from_utf8_lossy(&out.stdout)) {
                        Ok((p, v)) => (probe, probe_json) = (Some(p), Some(v)),
                        Err(e) => eprintln!("warning: cannot parse ucopy --probe --json: {e}"),
                    }
                }
                Ok(out) => eprintln!(
                    "warning: ucopy --probe --json failed ({}); running every backend anyway",
                    out.status
                ),
                Err(e) => eprintln!("warning: cannot run ucopy --probe --json: {e}"),
            }
        }
        Tools {
            ucopy,
            probe,
            probe_json,
            programs,
            versions,
        }
    }

    /// The program paths to run `c`, or why it is skipped.
    pub fn resolve(&self, c: &Contender) -> Result<Launch, String> {
        let prog = |name: &str| -> Result<PathBuf, String> {
            self.programs[name]
                .clone()
                .map_err(|e| format!("{name}: {e}"))
        };
        let programs = match &c.tool {
            Tool::Ucopy { backend, .. } => {
                let u = self
                    .ucopy
                    .clone()
                    .map_err(|e| format!("binary not built: {e}"))?;
                let listed = self
                    .probe
                    .as_ref()
                    .and_then(|p| p.backends.iter().find(|b| b.name == *backend));
                if let Some(b) = listed.filter(|b| !b.available) {
                    return Err(format!(
                        "ucopy --probe: {backend} unavailable: {}",
                        b.reason.as_deref().unwrap_or("no reason given")
                    ));
                }
                vec![u]
            }
            Tool::CpR | Tool::CpA => vec![prog("cp")?],
            Tool::Tar => vec![prog("tar")?],
            Tool::Rsync => vec![prog("rsync")?],
            Tool::Cpz => vec![prog("cpz")?],
            Tool::Xcp => vec![prog("xcp")?],
            Tool::Fcp => vec![prog("fcp")?],
            Tool::Floor => vec![std::env::current_exe()
                .map_err(|e| format!("cannot find the xtask binary: {e}"))?],
        };
        Ok(Launch {
            tool: c.tool.clone(),
            programs,
        })
    }
}

/// First line of `PROG --version` (stdout, else stderr: fcp prints there), whitespace
/// collapsed, prefixed with the name when the tool omits it (fcp does).
fn version_of(name: &str, path: &Path) -> String {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let first_line = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|l| !l.is_empty())
    };
    let line = out
        .ok()
        .and_then(|o| first_line(&o.stdout).or_else(|| first_line(&o.stderr)))
        .unwrap_or_else(|| "unknown version".into());
    if line.contains(name) {
        line
    } else {
        format!("{name} {line}")
    }
}

/// A resolved contender: its programs, ready to build the command lines.
#[derive(Debug, Clone)]
pub struct Launch {
    tool: Tool,
    programs: Vec<PathBuf>,
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

/// The backend and reason ucopy reports in its `--json` line, if it printed one.
pub fn ucopy_choice(stdout: &str) -> Option<(String, String)> {
    let v: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
        .or_else(|| serde_json::from_str(stdout.trim()).ok())?;
    let backend = v.get("backend")?.as_str()?.to_string();
    let reason = v
        .get("reason")
        .and_then(|r| r.as_str())
        .unwrap_or("")
        .to_string();
    Some((backend, reason))
}

/// `--install-peers`: `cargo install --root target/peers cpz xcp fcp`, and rsync from Debian
/// when missing and root.
pub fn install_peers(target: &Path, is_root: bool) -> Result<()> {
    let root = target.join("peers");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("installing cpz, xcp, fcp into {}", root.display());
    let status = Command::new(&cargo)
        .args(["install", "--locked", "--root"])
        .arg(&root)
        .args(["cpz", "xcp", "fcp"])
        .status()
        .context("cannot run cargo install")?;
    anyhow::ensure!(
        status.success(),
        "cargo install --root {} cpz xcp fcp failed ({status})",
        root.display()
    );
    if find_program("rsync").is_some() {
        println!("rsync: already installed");
    } else if !is_root {
        println!("rsync: not installed; not root, so not running apt-get (install it yourself)");
    } else {
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "rsync"])
                .status()
        };
        let mut ok = install().map(|s| s.success()).unwrap_or(false);
        if !ok {
            // A fresh machine may have no package lists yet.
            let _ = Command::new("apt-get").arg("update").status();
            ok = install().map(|s| s.success()).unwrap_or(false);
        }
        anyhow::ensure!(ok, "apt-get install -y rsync failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(many: bool, patterns: &[&str]) -> Vec<String> {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        catalogue(many)
            .into_iter()
            .filter(|c| selected(&p, c))
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn selection_patterns() {
        assert_eq!(
            names(true, &["ucopy:rw"]),
            ["ucopy:rw:inode", "ucopy:rw:none"]
        );
        assert_eq!(names(false, &["ucopy:rw:inode"]), ["ucopy:rw"]);
        assert_eq!(names(true, &["cp-r", "cpz"]), ["cp-r", "cpz"]);
        assert_eq!(names(true, &["peers"]).len(), 7);
        assert_eq!(names(true, &["ucopy"]).len(), 10);
        assert_eq!(names(true, &[]).len(), 19);
        assert_eq!(names(true, &["floor"]), ["floor"]);
        assert!(
            names(true, &["cp"]).is_empty(),
            "no accidental prefix matches"
        );
    }

    #[test]
    fn probe_json_from_the_cli_contract() {
        let text = r#"{"io_uring":{"usable":true,"reason":null,"kernel":"6.18.44"},
           "backends":[{"name":"splice","available":true,"reason":"ok"},
                       {"name":"fixed","available":false,"reason":"no IORING_REGISTER_BUFFERS"},
                       {"name":"std","available":true,"reason":"always"}],
           "auto":{"backend":"splice","reason":"..."}}"#;
        let (probe, _) = parse_probe(text).unwrap();
        let tools = Tools {
            ucopy: Ok("/bin/true".into()),
            probe: Some(probe),
            probe_json: None,
            programs: BTreeMap::new(),
            versions: BTreeMap::new(),
        };
        let all = catalogue(true);
        let fixed = all.iter().find(|c| c.name == "ucopy:fixed:none").unwrap();
        assert_eq!(
            tools.resolve(fixed).unwrap_err(),
            "ucopy --probe: fixed unavailable: no IORING_REGISTER_BUFFERS"
        );
        assert!(tools
            .resolve(all.iter().find(|c| c.name == "ucopy:splice:inode").unwrap())
            .is_ok());
    }

    #[test]
    fn ucopy_json_choice() {
        let out = r#"{"backend":"splice","reason":"io_uring usable","files":3}"#;
        assert_eq!(
            ucopy_choice(out),
            Some(("splice".into(), "io_uring usable".into()))
        );
        assert_eq!(ucopy_choice("not json"), None);
    }
}
