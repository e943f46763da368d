//! What the user asked for, in one struct shared by the planner and every executor.
//!
//! [`Options`] is `#[non_exhaustive]`: callers outside this crate build it with
//! [`Options::builder`], so a new option is a new builder method, never a breaking change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::Serialize;

/// The order files are handed to executors in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Sorted by inode number within each directory (from the directory entry, no extra stat),
    /// so that reads of inode tables and, on most filesystems, data are close to sequential.
    #[default]
    Inode,
    /// Directory order, as `getdents` returns it.
    None,
}

/// Files in flight per executor submission unless told otherwise (the founding note's 64).
pub const DEFAULT_QUEUE_DEPTH: usize = 64;

/// Copy settings. Read the fields; build with [`Options::builder`] (or start from
/// [`Options::default`] and [`Options::to_builder`]).
///
/// ```
/// let options = ucopy_core::Options::builder().archive(true).queue_depth(32).build();
/// assert!(options.archive);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// `-a`: keep mode exactly, owner, times (ns), xattrs, hard links; like `cp -a`.
    pub archive: bool,
    /// `-n`: never overwrite an existing destination entry.
    pub no_clobber: bool,
    /// File order within a directory.
    pub order: Order,
    /// Files per batch: the unit one executor submission handles.
    pub queue_depth: usize,
    /// The umask applied to new entries when not `archive` (as `cp -r` does); by default the
    /// process's own (see [`process_umask`]).
    pub umask: u32,
    /// Set by a signal handler (Ctrl-C) or another thread: stop promptly.
    pub cancel: Cancel,
}

impl Default for Options {
    /// Not archive, overwriting, inode order, [`DEFAULT_QUEUE_DEPTH`], the process's umask, a
    /// fresh [`Cancel`].
    fn default() -> Self {
        Options {
            archive: false,
            no_clobber: false,
            order: Order::Inode,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            umask: process_umask(),
            cancel: Cancel::default(),
        }
    }
}

impl Options {
    /// A builder starting from [`Options::default`].
    pub fn builder() -> OptionsBuilder {
        OptionsBuilder(Options::default())
    }

    /// A builder starting from these options.
    pub fn to_builder(&self) -> OptionsBuilder {
        OptionsBuilder(self.clone())
    }
}

/// Builds [`Options`]; every method sets one field.
#[derive(Debug, Clone)]
#[must_use]
pub struct OptionsBuilder(Options);

impl OptionsBuilder {
    /// `-a`: keep mode, owner (as root), times to the nanosecond, xattrs and hard links.
    pub fn archive(mut self, yes: bool) -> Self {
        self.0.archive = yes;
        self
    }

    /// `-n`: never overwrite an existing destination entry.
    pub fn no_clobber(mut self, yes: bool) -> Self {
        self.0.no_clobber = yes;
        self
    }

    /// File order within a directory.
    pub fn order(mut self, order: Order) -> Self {
        self.0.order = order;
        self
    }

    /// Files per batch (at least 1).
    pub fn queue_depth(mut self, files: usize) -> Self {
        self.0.queue_depth = files.max(1);
        self
    }

    /// The umask applied to new entries when not archiving (only the permission bits count).
    pub fn umask(mut self, umask: u32) -> Self {
        self.0.umask = umask & 0o7777;
        self
    }

    /// The flag that stops the copy; share it with a signal handler or another thread.
    pub fn cancel(mut self, cancel: Cancel) -> Self {
        self.0.cancel = cancel;
        self
    }

    /// The options.
    pub fn build(self) -> Options {
        self.0
    }
}

/// The process's umask, read once: from `/proc/self/status` (`Umask:`, Linux 4.7+), which
/// changes nothing, else by setting and restoring it at the first call (a round trip another
/// thread could observe, so only when procfs cannot answer).
pub fn process_umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| parse_status_umask(&status))
            .unwrap_or_else(|| {
                use rustix::fs::Mode;
                let old = rustix::process::umask(Mode::empty());
                rustix::process::umask(old);
                old.bits()
            })
    })
}

fn parse_status_umask(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// A shared "stop now" flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks every holder to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for `signal_hook`-style registration.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_umask_is_the_process_umask() {
        use rustix::fs::Mode;
        // The round trip is the reference; the test binary's other threads create no files.
        let old = rustix::process::umask(Mode::empty());
        rustix::process::umask(old);
        assert_eq!(Options::default().umask, old.bits());
        assert_eq!(process_umask(), old.bits());
    }

    #[test]
    fn status_umask_parses_octal() {
        let status = "Name:\tucopy\nUmask:\t0027\nState:\tR (running)\n";
        assert_eq!(parse_status_umask(status), Some(0o027));
        assert_eq!(parse_status_umask("Name:\tx\n"), None);
    }

    #[test]
    fn builder_sets_each_field() {
        let cancel = Cancel::default();
        let o = Options::builder()
            .archive(true)
            .no_clobber(true)
            .order(Order::None)
            .queue_depth(0)
            .umask(0o077)
            .cancel(cancel.clone())
            .build();
        assert!(o.archive && o.no_clobber);
        assert_eq!(o.order, Order::None);
        assert_eq!(o.queue_depth, 1, "a batch holds at least one file");
        assert_eq!(o.umask, 0o077);
        cancel.cancel();
        assert!(o.cancel.is_cancelled());
        assert!(!o.to_builder().archive(false).build().archive);
    }
}
