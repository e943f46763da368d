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
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::launch::Launch;
use super::scenario::find_program;

pub const UCOPY_BACKENDS: [&str; 5] = ["auto", "splice", "rw", "fixed", "std"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    Ucopy {
        backend: &'static str,
        order: Option<&'static str>,
        archive: bool,
    },
    /// A hidden contender: `cargo xtask uring-copy MODE --knobs ...` (an io_uring executor with
    /// knobs the product does not expose; PERF.md's design comparisons).
    Uring {
        mode: String,
        knobs: Vec<String>,
    },
    CpR,
    CpA,
    /// Re-sync contenders: the destination already holds a copy.
    UcopyUpdate,
    CpUpdate,
    RsyncUpdate,
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
        !matches!(
            self.tool,
            Tool::Ucopy { .. } | Tool::Uring { .. } | Tool::UcopyUpdate | Tool::Floor
        )
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
            Tool::Uring { mode, knobs } => {
                format!("xtask {} SRC DST", uring_args(mode, knobs).join(" "))
            }
            Tool::UcopyUpdate => "ucopy -a -u --json SRC/. DST".into(),
            Tool::CpUpdate => "cp -au SRC/. DST".into(),
            Tool::RsyncUpdate => "rsync -a SRC/ DST/".into(),
            Tool::CpR => "cp -r SRC DST".into(),
            Tool::CpA => "cp -a SRC DST".into(),
            Tool::Tar => "mkdir DST (untimed); tar -C SRC -cf - . | tar -C DST -xf -".into(),
            Tool::Rsync => "rsync -a SRC/ DST".into(),
            Tool::Cpz => "cpz SRC DST".into(),
            Tool::Xcp => "xcp -r --no-progress SRC DST".into(),
            Tool::Fcp => "fcp SRC DST".into(),
            Tool::Floor => "cargo xtask floor SRC DST (per file: openat, openat O_CREAT, \
                            copy_file_range, close, close; threads with descriptor tables \
                            of their own take whole directories, the walk among them)"
                .into(),
        }
    }
}

/// ucopy's flags for a contender: one list serves both the command that runs and the line the
/// tables show, so they cannot disagree.
pub(super) fn ucopy_flags<'a>(
    backend: &'a str,
    order: Option<&'a str>,
    archive: bool,
) -> Vec<&'a str> {
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

/// `cargo xtask uring-copy`'s arguments for a hidden contender (before SRC DST): one list for
/// the command that runs and the line the tables show.
pub(super) fn uring_args(mode: &str, knobs: &[String]) -> Vec<String> {
    let mut args = vec!["uring-copy".to_string(), mode.to_string()];
    if !knobs.is_empty() {
        args.push(format!("--knobs={}", knobs.join(",")));
    }
    args
}

/// The hidden contenders named in `patterns`: `uring:MODE[:KNOB]...` (knobs as
/// `cargo xtask uring-copy --knobs` takes them, e.g. `uring:rw:no-skip:iowq=64/64`). They are
/// never part of a default run; they reproduce PERF.md's design comparisons.
fn hidden(patterns: &[String]) -> Vec<Contender> {
    patterns
        .iter()
        .filter_map(|p| {
            let mut parts = p.trim().strip_prefix("uring:")?.split(':');
            let mode = parts
                .next()
                .filter(|m| ["splice", "rw", "fixed"].contains(m))?;
            Some(Contender {
                name: p.trim().to_string(),
                tool: Tool::Uring {
                    mode: mode.to_string(),
                    knobs: parts.map(str::to_string).collect(),
                },
            })
        })
        .collect()
}

/// Every contender for a corpus, plus the hidden ones `patterns` names. `--order` only
/// matters when there are many files, so single-file corpora get one ucopy contender per
/// backend.
pub fn catalogue(many_files: bool, patterns: &[String]) -> Vec<Contender> {
    let mut out = hidden(patterns);
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

/// The re-sync scenarios' contenders: ucopy's `-a -u` against `cp -au` and `rsync -a`, each
/// re-syncing a destination that already holds a copy.
pub fn resync_catalogue() -> Vec<Contender> {
    [
        ("ucopy-au", Tool::UcopyUpdate),
        ("cp-au", Tool::CpUpdate),
        ("rsync-a", Tool::RsyncUpdate),
    ]
    .into_iter()
    .map(|(name, tool)| Contender {
        name: name.into(),
        tool,
    })
    .collect()
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
    /// The release xtask binary, for hidden contenders.
    xtask: Result<PathBuf, String>,
    probe: Option<Probe>,
    pub probe_json: Option<serde_json::Value>,
    programs: BTreeMap<&'static str, Result<PathBuf, String>>,
    pub versions: BTreeMap<String, String>,
}

impl Tools {
    /// Finds cp, tar, rsync on PATH and cpz, xcp, fcp in `target/peers/bin` (then PATH), and
    /// asks ucopy for its probe.
    pub fn discover(
        ucopy: Result<PathBuf, String>,
        xtask: Result<PathBuf, String>,
        peers_bin: &Path,
    ) -> Tools {
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
            xtask,
            probe,
            probe_json,
            programs,
            versions,
        }
    }

    /// `Err` with ucopy's reason when `ucopy --probe` says `backend` cannot run here.
    fn refused_by_probe(&self, backend: &str) -> Result<(), String> {
        let listed = self
            .probe
            .as_ref()
            .and_then(|p| p.backends.iter().find(|b| b.name == backend));
        match listed.filter(|b| !b.available) {
            Some(b) => Err(format!(
                "ucopy --probe: {backend} unavailable: {}",
                b.reason.as_deref().unwrap_or("no reason given")
            )),
            None => Ok(()),
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
                self.refused_by_probe(backend)?;
                vec![self
                    .ucopy
                    .clone()
                    .map_err(|e| format!("binary not built: {e}"))?]
            }
            Tool::Uring { mode, .. } => {
                self.refused_by_probe(mode)?;
                vec![self
                    .xtask
                    .clone()
                    .map_err(|e| format!("xtask binary not built: {e}"))?]
            }
            Tool::CpR | Tool::CpA | Tool::CpUpdate => vec![prog("cp")?],
            Tool::UcopyUpdate => vec![self
                .ucopy
                .clone()
                .map_err(|e| format!("binary not built: {e}"))?],
            Tool::RsyncUpdate => vec![prog("rsync")?],
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
        catalogue(many, &p)
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
    fn hidden_contenders_only_when_named() {
        assert!(names(true, &[]).iter().all(|n| !n.starts_with("uring:")));
        let p = vec!["uring:rw:no-skip:no-coop".to_string(), "uring:nope".into()];
        let hidden: Vec<_> = catalogue(true, &p)
            .into_iter()
            .filter(|c| selected(&p, c))
            .collect();
        assert_eq!(hidden.len(), 1);
        assert_eq!(
            hidden[0].tool,
            Tool::Uring {
                mode: "rw".into(),
                knobs: vec!["no-skip".into(), "no-coop".into()]
            }
        );
        assert_eq!(
            hidden[0].display(),
            "xtask uring-copy rw --knobs=no-skip,no-coop SRC DST"
        );
        assert!(!hidden[0].is_peer());
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
            xtask: Err("not built".into()),
            probe: Some(probe),
            probe_json: None,
            programs: BTreeMap::new(),
            versions: BTreeMap::new(),
        };
        let all = catalogue(true, &[]);
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
