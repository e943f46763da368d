//! Choosing the copy engine: what the kernel offers (`--probe`), and which backend runs and why.

use serde::Serialize;
use ucopy_core::ExecutorFactory;
use ucopy_fallback::StdFactory;
use ucopy_uring::{Mode, Probe, UringFactory};

use crate::args::BackendChoice;
use crate::cache::{self, CacheState};

/// The io_uring backends `auto` tries for a cold source, fastest first, as measured by
/// `cargo xtask bench` on this class of machine (README "Performance", bench/runs/): the first
/// one the probe allows wins; `std` when none does. With the source's data cached, `std` measured
/// fastest, so `auto` runs it (see `cache`).
const AUTO_PREFERENCE: [Mode; 3] = [Mode::Rw, Mode::Splice, Mode::Fixed];

/// The chosen backend, with the reason shown by `--probe`, `-v` and `--json`.
pub struct Selection {
    /// Makes one executor per worker thread.
    pub factory: Box<dyn ExecutorFactory>,
    /// Why this backend.
    pub reason: String,
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("backend", &self.factory.name())
            .field("reason", &self.reason)
            .finish()
    }
}

/// One backend's availability, for `--probe`.
#[derive(Debug, Serialize)]
pub struct BackendStatus {
    /// As `--backend` spells it.
    pub name: &'static str,
    /// Whether it can run here.
    pub available: bool,
    /// What it uses, or why it cannot run.
    pub reason: String,
}

/// io_uring's state, for `--probe`.
#[derive(Debug, Serialize)]
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

/// `auto`'s pick.
#[derive(Debug, Serialize)]
pub struct AutoChoice {
    /// The backend `auto` runs.
    pub backend: &'static str,
    /// Why.
    pub reason: String,
}

/// Everything `--probe` prints.
#[derive(Debug, Serialize)]
pub struct ProbeReport {
    /// io_uring's state.
    pub io_uring: UringStatus,
    /// Every backend.
    pub backends: Vec<BackendStatus>,
    /// What `auto` picks.
    pub auto: AutoChoice,
}

fn uses(mode: Mode) -> &'static str {
    match mode {
        Mode::Splice => "io_uring OPENAT/SPLICE/CLOSE chains, file -> pipe -> file",
        Mode::Rw => "io_uring OPENAT/READ/WRITE/CLOSE chains with heap buffers",
        Mode::Fixed => {
            "io_uring OPENAT/READ_FIXED/WRITE_FIXED/CLOSE chains with registered buffers"
        }
    }
}

/// `auto`'s choice given what the probe allows and, when sampled, whether the source is cached
/// (`None`: not sampled, as for `--probe`, which names the cold-cache pick).
fn auto_choice(probe: &Probe, cache: Option<CacheState>) -> AutoChoice {
    if let Err(why) = probe.usable() {
        return AutoChoice {
            backend: "std",
            reason: format!("io_uring is unusable: {why}"),
        };
    }
    match cache {
        Some(CacheState::Warm) => return AutoChoice {
            backend: "std",
            reason:
                "the source's data is in the page cache, where plain system calls measured fastest"
                    .to_owned(),
        },
        Some(CacheState::NoData) => {
            return AutoChoice {
                backend: "std",
                reason: "no file with data found to sample the source's cache state; \
                     plain system calls measured fastest with data in memory"
                    .to_owned(),
            }
        }
        Some(CacheState::Unsupported) => {
            return AutoChoice {
                backend: "std",
                reason:
                    "the source filesystem does not answer RWF_NOWAIT reads, so its cache state \
                     is unknown; plain system calls measured fastest with data in memory"
                        .to_owned(),
            }
        }
        Some(CacheState::Cold) | None => {}
    }
    let mut refused = Vec::new();
    for mode in AUTO_PREFERENCE {
        match probe.check(mode) {
            Ok(()) => {
                let mut reason = format!(
                    "{}the source's data is not cached: {} keeps the most reads in flight, the fastest measured cold here",
                    if cache.is_none() { "if " } else { "" },
                    mode.name()
                );
                for (name, why) in &refused {
                    reason.push_str(&format!("; {name} unavailable: {why}"));
                }
                return AutoChoice {
                    backend: mode.name(),
                    reason,
                };
            }
            Err(why) => refused.push((mode.name(), why)),
        }
    }
    AutoChoice {
        backend: "std",
        reason: "no io_uring backend is usable here".to_owned(),
    }
}

/// Probes the kernel and reports every backend.
pub fn probe() -> ProbeReport {
    let probe = Probe::cached().clone();
    let mut backends: Vec<BackendStatus> = Mode::ALL
        .into_iter()
        .map(|mode| match probe.check(mode) {
            Ok(()) => BackendStatus {
                name: mode.name(),
                available: true,
                reason: uses(mode).to_owned(),
            },
            Err(why) => BackendStatus {
                name: mode.name(),
                available: false,
                reason: why,
            },
        })
        .collect();
    backends.push(BackendStatus {
        name: "std",
        available: true,
        reason: "plain system calls: FICLONE, copy_file_range, read/write".to_owned(),
    });
    let auto = auto_choice(&probe, None);
    ProbeReport {
        io_uring: UringStatus {
            usable: probe.usable().is_ok(),
            reason: probe.usable().err(),
            kernel: probe.kernel.clone().unwrap_or_else(|| "unknown".to_owned()),
            details: probe,
        },
        backends,
        auto,
    }
}

fn factory_for(name: &str) -> Box<dyn ExecutorFactory> {
    match Mode::from_name(name) {
        Some(mode) => Box::new(UringFactory::new(mode)),
        None => Box::new(StdFactory),
    }
}

/// Picks the backend for `choice` (copying `sources`); a backend the kernel cannot run is an
/// error, never a silent fallback.
pub fn select(choice: BackendChoice, sources: &[std::path::PathBuf]) -> Result<Selection, String> {
    let mode = match choice {
        BackendChoice::Std => {
            return Ok(Selection {
                factory: Box::new(StdFactory),
                reason: "--backend std".to_owned(),
            })
        }
        BackendChoice::Auto => {
            let auto = auto_choice(Probe::cached(), Some(cache::sample(sources)));
            return Ok(Selection {
                factory: factory_for(auto.backend),
                reason: auto.reason,
            });
        }
        BackendChoice::Splice => Mode::Splice,
        BackendChoice::Rw => Mode::Rw,
        BackendChoice::Fixed => Mode::Fixed,
    };
    Probe::cached()
        .check(mode)
        .map_err(|why| format!("backend '{}' is unavailable: {why}", mode.name()))?;
    Ok(Selection {
        factory: Box::new(UringFactory::new(mode)),
        reason: format!("--backend {}", mode.name()),
    })
}

/// `--probe` as text.
pub fn print_probe(report: &ProbeReport) {
    use crate::output::out_line;
    out_line(format_args!(
        "{}",
        report.io_uring.details.to_string().trim_end()
    ));
    out_line(format_args!("backends:"));
    for b in &report.backends {
        let state = if b.available {
            "available"
        } else {
            "unavailable"
        };
        out_line(format_args!("  {:<7} {:<12} {}", b.name, state, b.reason));
    }
    out_line(format_args!(
        "auto: {} ({})",
        report.auto.backend, report.auto.reason
    ));
}
