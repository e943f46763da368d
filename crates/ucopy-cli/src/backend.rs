//! Choosing the copy engine: what the kernel offers (`--probe`), and which backend runs and why.

use serde::Serialize;
use ucopy_core::ExecutorFactory;
use ucopy_fallback::StdFactory;

use crate::args::BackendChoice;

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
    /// What it needs, or why it cannot run.
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

fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

const URING_MISSING: &str = "io_uring backends are not part of this build yet";

/// Probes the kernel and reports every backend.
pub fn probe() -> ProbeReport {
    let mut backends: Vec<BackendStatus> = ["splice", "rw", "fixed"]
        .into_iter()
        .map(|name| BackendStatus {
            name,
            available: false,
            reason: URING_MISSING.to_owned(),
        })
        .collect();
    backends.push(BackendStatus {
        name: "std",
        available: true,
        reason: "plain system calls: FICLONE, copy_file_range, read/write".to_owned(),
    });
    ProbeReport {
        io_uring: UringStatus {
            usable: false,
            reason: Some(URING_MISSING.to_owned()),
            kernel: kernel_release(),
        },
        backends,
        auto: AutoChoice {
            backend: "std",
            reason: format!("std: {URING_MISSING}"),
        },
    }
}

/// Picks the backend for `choice`; a backend the kernel cannot run is an error, never a silent
/// fallback.
pub fn select(choice: BackendChoice) -> Result<Selection, String> {
    match choice {
        BackendChoice::Auto => Ok(Selection {
            factory: Box::new(StdFactory),
            reason: probe().auto.reason,
        }),
        BackendChoice::Std => Ok(Selection {
            factory: Box::new(StdFactory),
            reason: "--backend std".to_owned(),
        }),
        BackendChoice::Splice | BackendChoice::Rw | BackendChoice::Fixed => Err(format!(
            "backend '{}' is unavailable: {URING_MISSING}",
            name_of(choice)
        )),
    }
}

fn name_of(choice: BackendChoice) -> &'static str {
    match choice {
        BackendChoice::Auto => "auto",
        BackendChoice::Splice => "splice",
        BackendChoice::Rw => "rw",
        BackendChoice::Fixed => "fixed",
        BackendChoice::Std => "std",
    }
}

/// `--probe` as text.
pub fn print_probe(report: &ProbeReport) {
    use crate::output::out_line;
    match &report.io_uring.reason {
        None => out_line(format_args!(
            "io_uring: usable (kernel {})",
            report.io_uring.kernel
        )),
        Some(r) => out_line(format_args!(
            "io_uring: unusable (kernel {}): {r}",
            report.io_uring.kernel
        )),
    }
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
