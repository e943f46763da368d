//! [`Copier`]: one configured copy — options, backend, threads, progress — and running it.
//!
//! (Not named `Copy`: a type of that name would shadow the prelude's `Copy` trait in every
//! module that imports it.)

use std::path::{Path, PathBuf};

use ucopy_core::target::{ResolveOptions, TargetError};
use ucopy_core::{Cancel, NoProgress, Options, Progress, Report};
use ucopy_fs::operand::{copy_into_fifo, finish_parents, link_operand, make_parents};
use ucopy_fs::FdBudget;

use crate::plan::Planner;
use crate::{Backend, Error, Selection, Target};

/// A copy to run: build it, then [`run`](Copier::run) it, or take the steps one at a time
/// ([`targets`](Copier::targets), [`select`](Copier::select),
/// [`run_targets`](Copier::run_targets)) to show the choice before copying.
#[must_use]
pub struct Copier<'p> {
    options: Options,
    backend: Backend,
    threads: Option<usize>,
    resolve: ResolveOptions,
    progress: &'p dyn Progress,
}

impl std::fmt::Debug for Copier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Copier")
            .field("options", &self.options)
            .field("backend", &self.backend)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl Copier<'static> {
    /// A copy with these options, the `auto` backend, its default number of workers
    /// ([`Backend::workers_per_cpu`]) and no progress. Worker threads get descriptor tables of
    /// their own ([`ucopy_uring::private_fd_table`]; where the kernel cannot, they share the
    /// process's).
    pub fn new(mut options: Options) -> Copier<'static> {
        options.private_worker_fds = Some(ucopy_uring::private_fd_table);
        Copier {
            options,
            backend: Backend::Auto,
            threads: None,
            resolve: ResolveOptions::default(),
            progress: &NoProgress,
        }
    }
}

impl<'p> Copier<'p> {
    /// The backend to run ([`Backend::Auto`] unless set).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Worker threads copying files (at least 1). Unset: [`Backend::workers_per_cpu`] of the
    /// backend that runs, per CPU.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// How operands are read: `-T`, `--parents`, following command-line symlinks (`-H`).
    pub fn operands(mut self, resolve: ResolveOptions) -> Self {
        self.resolve = resolve;
        self
    }

    /// Receives an event per entry copied, failed or warned about, from the driving thread.
    pub fn progress<'q>(self, progress: &'q dyn Progress) -> Copier<'q> {
        Copier {
            options: self.options,
            backend: self.backend,
            threads: self.threads,
            resolve: self.resolve,
            progress,
        }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The flag that stops this copy: [`Cancel::cancel`] from a signal handler or another
    /// thread makes the copy stop promptly, removing partial files; the report then has
    /// `stopped` set.
    pub fn cancel_handle(&self) -> Cancel {
        self.options.cancel.clone()
    }

    /// The workers a copy runs: as set, or `per_cpu` per CPU as the selection prefers
    /// ([`Selection::workers_per_cpu`]) — except one per CPU under a limit the extra workers
    /// would share ([`resources_limited`]).
    fn worker_threads(&self, per_cpu: usize) -> usize {
        self.threads.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            if per_cpu > 1 && resources_limited() {
                cpus
            } else {
                cpus * per_cpu
            }
        })
    }

    /// cp's destination semantics: where each source's copy goes. `DEST` absent: it becomes the
    /// copy (one source only). `DEST` an existing directory: the copy lands in `DEST/<name>`,
    /// and `SRC/.` merges `SRC`'s contents into `DEST`. Refused before anything is created:
    /// several sources into a non-directory, a directory into itself, a file onto itself (by
    /// device and inode).
    pub fn targets(&self, sources: &[PathBuf], dest: &Path) -> Result<Vec<Target>, Error> {
        Ok(self
            .targets_each(sources, dest)?
            .into_iter()
            .collect::<Result<_, _>>()?)
    }

    /// Like [`targets`](Copier::targets), one result per source: an inner error refuses only
    /// that source ([`TargetError::is_per_source`] says whether cp would go on with the others).
    pub fn targets_each(
        &self,
        sources: &[PathBuf],
        dest: &Path,
    ) -> Result<Vec<Result<Target, TargetError>>, Error> {
        Ok(ucopy_core::target::resolve_each(
            sources,
            dest,
            self.resolve,
        )?)
    }

    /// Which backend runs for `sources`, and why ([`Backend::select`]).
    pub fn select(&self, sources: &[PathBuf]) -> Result<Selection, Error> {
        self.backend.select(sources)
    }

    /// The plan copying `target` follows, under the same descriptor budget as the copy (for
    /// `auto`, which chooses when the copy starts, the budget of its plain-syscall choice);
    /// reads the source, touches nothing at the destination.
    pub fn plan(&self, target: &Target) -> Result<Planner, Error> {
        let budget = FdBudget::from_rlimit(
            self.worker_threads(self.backend.workers_per_cpu()),
            self.options.queue_depth,
        );
        let mut plan = budget.plan_options(&self.options);
        // A plan that is shown states every file's size, so it stats every file.
        plan.stat_files = true;
        Ok(Planner::new(&target.source, &target.dest, plan)?)
    }

    /// Copies `sources` to `dest`: [`targets`](Copier::targets), then
    /// [`select`](Copier::select), then [`run_targets`](Copier::run_targets).
    pub fn run(&self, sources: &[PathBuf], dest: &Path) -> Result<Report, Error> {
        let targets = self.targets(sources, dest)?;
        let selection = self.select(sources)?;
        self.run_targets(&targets, &selection)
    }

    /// Copies each target with the selected backend, one after another, into one report;
    /// stops early when cancelled or when a copy stops on a fatal entry error.
    pub fn run_targets(&self, targets: &[Target], selection: &Selection) -> Result<Report, Error> {
        let factory = selection.factory(self.options.queue_depth);
        // A few files and no directory: copied on this thread (`copy_tree` starts no worker for a
        // source that is no directory), so the CPU count and quota are not read.
        let threads = match self.threads {
            None if selection.files_only() => 1,
            _ => self.worker_threads(selection.workers_per_cpu()),
        };
        // Under `ulimit -v`, worker threads must not each reserve a heap of their own.
        ucopy_uring::share_heap_under_address_limit();
        let mut report = Report::default();
        // Files named on the command line that are one inode stay one inode in the copy when
        // links are preserved (`cp -d a b dir/` with a and b hard links): the later names are
        // linked to the first one's copy.
        let mut first_copies: std::collections::HashMap<(u64, u64), PathBuf> =
            std::collections::HashMap::new();
        for target in targets {
            let linked_id = self.linked_operand(&target.source);
            let errors_before = report.errors.len();
            if self.options.cancel.is_cancelled() {
                report.stopped = true;
                break;
            }
            if target.nothing_to_do {
                continue;
            }
            if target.into_fifo {
                // A FIFO the user named as the destination is fed, as cp does.
                match copy_into_fifo(&target.source, &target.dest, &self.options) {
                    Ok(bytes) => {
                        report.files += 1;
                        report.bytes += bytes;
                    }
                    Err(e) => {
                        self.progress.failed(&e);
                        report.errors.push(e);
                    }
                }
                continue;
            }
            let parents = if let Some(dest_dir) = &target.parents_in {
                match make_parents(&target.source, dest_dir, &self.options) {
                    Ok(p) => p,
                    Err(e) => {
                        self.progress.failed(&e);
                        report.errors.push(e);
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            if let Some(first) = linked_id.and_then(|id| first_copies.get(&id)) {
                match link_operand(first, &target.source, &target.dest, &self.options) {
                    Ok(true) => {
                        report.hardlinks += 1;
                        self.progress.copied(
                            ucopy_core::Kind::File,
                            ucopy_core::CopiedPaths::new(&target.source, &target.dest),
                            0,
                        );
                    }
                    Ok(false) => report.skipped += 1,
                    Err(e) => {
                        self.progress.failed(&e);
                        report.errors.push(e);
                    }
                }
                for e in finish_parents(&parents, &self.options) {
                    self.progress.failed(&e);
                    report.errors.push(e);
                }
                continue;
            }
            // A cold source read around the page cache: its directories are read ahead of the
            // walk (warm.rs).
            let warmer = selection
                .reads_around_cache()
                .then(|| crate::warm::DirWarmer::start(&target.source))
                .flatten();
            let copied = ucopy_fs::copy_tree(
                &target.source,
                &target.dest,
                &self.options,
                factory.as_ref(),
                threads,
                self.progress,
            );
            if let Some(w) = warmer {
                w.stop();
            }
            for e in finish_parents(&parents, &self.options) {
                self.progress.failed(&e);
                report.errors.push(e);
            }
            report.merge(copied?);
            if let Some(id) = linked_id {
                if report.errors.len() == errors_before {
                    first_copies
                        .entry(id)
                        .or_insert_with(|| target.dest.clone());
                }
            }
            if report.stopped {
                break;
            }
        }
        Ok(report)
    }

    /// The inode of a command-line source that is a regular file, as the copy reads it (following a command-line symlink unless -P), when links are preserved.
    fn linked_operand(&self, source: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        if !self.options.preserved().links {
            return None;
        }
        let meta = if self.options.dereference == ucopy_core::Dereference::Never {
            std::fs::symlink_metadata(source)
        } else {
            std::fs::metadata(source)
        }
        .ok()?;
        // Not only files with several links: `-H a s` where s -> a reaches one file twice.
        meta.is_file().then(|| (meta.dev(), meta.ino()))
    }
}

/// Whether this process runs under a limit that a second io_uring worker per CPU would spend
/// for speed alone: an address-space limit (`ulimit -v`: every thread's stack comes out of what
/// the heap needs, and four workers ended in an allocation failure where two copied), or a
/// locked-memory limit without `CAP_IPC_LOCK` (a desktop's 8 MiB, shared by every process of the
/// user: each worker's ring and registered buffers take a share, and twice the workers made
/// other copies of the same user fail to set up their rings).
fn resources_limited() -> bool {
    // The probe's pin budget is `Some` exactly when locked memory is accounted (a limit, no
    // `CAP_IPC_LOCK`); the backend's selection has made the probe already.
    ucopy_fs::address_space_limited() || ucopy_uring::Probe::cached().pin_budget().is_some()
}
