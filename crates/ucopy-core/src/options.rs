//! What the user asked for, in one plain struct shared by the planner and every executor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Copy settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-a`: keep mode exactly, owner, times (ns), xattrs, hard links; like `cp -a`.
    pub archive: bool,
    /// `-n`: never overwrite an existing destination entry.
    pub no_clobber: bool,
    /// File order within a directory.
    pub order: Order,
    /// Files per batch: the unit one executor submission handles.
    pub queue_depth: usize,
    /// The process umask, applied to new entries when not `archive` (as `cp -r` does).
    pub umask: u32,
    /// Set by a signal handler (Ctrl-C): stop promptly.
    pub cancel: Cancel,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            archive: false,
            no_clobber: false,
            order: Order::Inode,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            umask: 0o022,
            cancel: Cancel::default(),
        }
    }
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
