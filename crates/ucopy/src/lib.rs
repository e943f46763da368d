//! ucopy as a library: copy directory trees on Linux, keeping everything `cp -a` keeps, with a
//! backend chosen per run.
//!
//! This is the crate a downstream user imports (the `ucopy` binary is built on it and on nothing
//! else of ucopy's). It gathers what the engine crates split by job — planning
//! (`ucopy-core`), the destination rules (`ucopy-fs`), the executors (`ucopy-uring`,
//! `ucopy-fallback`) — behind one entry point:
//!
//! - [`Backend`]: `Auto`, `Std`, `Splice`, `Rw`, `Fixed`; [`Backend::select`] says which one
//!   runs and why ([`Selection`]), [`probe`] what the kernel offers;
//! - [`Options`] (built with [`Options::builder`]; the process's umask by default);
//! - [`Copier`]: cp's destination semantics ([`Copier::targets`]), progress ([`Progress`]) and
//!   cancel ([`Cancel`]) hooks, and [`Copier::run`] → [`Report`];
//! - [`copy`]: all defaults, `auto` backend.
//!
//! ```
//! use ucopy::{Backend, Copier, Options};
//!
//! let tmp = tempfile::tempdir()?;
//! let src = tmp.path().join("src");
//! std::fs::create_dir_all(src.join("sub"))?;
//! std::fs::write(src.join("sub/hello.txt"), b"hello")?;
//!
//! // `auto`, like `cp -r src copy-auto`.
//! let report = ucopy::copy(&[src.clone()], &tmp.path().join("copy-auto"))?;
//! assert!(report.is_success());
//!
//! // A forced backend, keeping metadata like `cp -a`.
//! let copy = Copier::new(Options::builder().archive(true).build()).backend(Backend::Std);
//! let report = copy.run(&[src], &tmp.path().join("copy-std"))?;
//! assert_eq!(report.files, 1);
//! assert_eq!(std::fs::read(tmp.path().join("copy-std/sub/hello.txt"))?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/copy_tree.rs` is the same as a program.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod cache;
mod direct;
mod run;
mod syscall_cost;
mod warm;

use std::path::{Path, PathBuf};

pub use backend::{
    probe, AutoChoice, Backend, BackendStatus, Probe, ProbeReport, Selection, UnknownBackend,
    UringStatus,
};
pub use run::Copier;
pub use ucopy_core::target::{ResolveOptions, Target, TargetError};
pub use ucopy_core::{
    cause, process_umask, quote_inner, Backup, Cancel, Confirm, CopiedPaths, Dereference,
    EntryError, Exclude, ExcludeError, JustCreated, Kind, Leftovers, LinkMode, NoProgress, Op,
    Options, OptionsBuilder, Order, Preserve, PrivateFdTable, Progress, Reflink, Report, Sparse,
    Update, When, DEFAULT_QUEUE_DEPTH,
};
pub use ucopy_fs::FatalError;

/// The plan a copy follows, step by step (what `ucopy --dry-run` prints); from [`Copier::plan`].
pub mod plan {
    pub use ucopy_core::{
        name_os, Entry, LinkGroup, PlanError, PlanOptions, PlannedFile, Planner, Step,
    };
}

/// Why a copy could not run at all. Per-entry failures are not errors: they are in the
/// [`Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operands cannot be copied (missing source, several sources into a non-directory, a
    /// directory into itself, a file onto itself); nothing was created.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The forced backend cannot run on this kernel.
    #[error("backend '{backend}' is unavailable: {reason}")]
    Unavailable {
        /// The backend asked for.
        backend: Backend,
        /// What the kernel lacks.
        reason: String,
    },
    /// A source could not be planned (missing, unreadable).
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The copy could not start or go on (destination parent, backend set-up); the report of the
    /// entries done so far is lost with it.
    #[error(transparent)]
    Fatal(#[from] FatalError),
}

/// Copies `sources` to `dest` as `cp -r SOURCE... DEST` does (see [`Copier::targets`]), with
/// default [`Options`] and the `auto` backend.
pub fn copy(sources: &[PathBuf], dest: &Path) -> Result<Report, Error> {
    Copier::new(Options::default()).run(sources, dest)
}

/// The name `--backup` (as set in `options`) would move the existing `path` to: `path~` (or the
/// `--suffix`), or `path.~N~`. For `cp -bf foo foo`, where cp copies foo to its backup name.
pub fn backup_path(path: &Path, options: &Options) -> std::io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name to back up"))?;
    let dir = std::fs::File::open(parent)?;
    let cname = std::ffi::CString::new(name.as_bytes())
        .map_err(|_| std::io::Error::other("file name contains NUL"))?;
    let backup = ucopy_fs::existing::backup_name(std::os::fd::AsFd::as_fd(&dir), &cname, options)?;
    Ok(parent.join(std::ffi::OsStr::from_bytes(backup.to_bytes())))
}
