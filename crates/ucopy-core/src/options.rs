//! What the user asked for, in one plain struct shared by the planner and every executor.
//!
//! The cp options that change *what* is copied (`--update`, `--attributes-only`, `--reflink`,
//! `--sparse`, `-l`, `-s`, `-L`, `-x`, `--exclude`) live here so that the shared planner and
//! `ucopy-fs` apply them the same way for every backend.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::exclude::Exclude;

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

/// Which attributes a copy keeps (`--preserve=LIST`; `-a` keeps all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Preserve {
    /// Permission bits exactly, including setuid/setgid/sticky, also on existing entries.
    pub mode: bool,
    /// Owner and group (as root; as non-root a failed chown is silent).
    pub ownership: bool,
    /// Access and modification times, to the nanosecond.
    pub timestamps: bool,
    /// Hard links inside the tree stay hard links.
    pub links: bool,
    /// Extended attributes (and with them ACLs and file capabilities).
    pub xattr: bool,
    /// `--no-preserve=mode` was given: new entries get the default mode (0666 or 0777, less the
    /// umask) rather than the source's mode less the umask.
    pub default_mode: bool,
}

impl Preserve {
    /// True when anything beyond the data is applied to a file after it is written (owner,
    /// xattrs, mode of an existing file, times).
    pub fn any_fd_meta(&self) -> bool {
        self.mode || self.ownership || self.timestamps || self.xattr
    }

    /// Everything `cp -a` keeps.
    pub const ALL: Preserve = Preserve {
        mode: true,
        ownership: true,
        timestamps: true,
        links: true,
        xattr: true,
        default_mode: false,
    };

    /// `-p`: mode, ownership, timestamps.
    pub const P: Preserve = Preserve {
        mode: true,
        ownership: true,
        timestamps: true,
        links: false,
        xattr: false,
        default_mode: false,
    };
}

/// `--update[=WHEN]`: which existing destination files are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Update {
    /// Every one (the default).
    #[default]
    All,
    /// None: existing entries are skipped (like `-n`, but never an error).
    None,
    /// Only those older than the source (`-u`).
    Older,
}

/// `--backup[=CONTROL]`: what happens to a destination file before it is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backup {
    /// No backup (the default).
    #[default]
    Off,
    /// `NAME` + suffix.
    Simple,
    /// `NAME.~N~`, N one more than the highest existing.
    Numbered,
    /// Numbered if numbered backups exist already, simple otherwise.
    Existing,
}

/// `--reflink[=WHEN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reflink {
    /// Clone where the filesystem can, copy otherwise (the default).
    #[default]
    Auto,
    /// Clone or fail.
    Always,
    /// Never clone: the copy has its own data blocks.
    Never,
}

/// `--sparse=WHEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sparse {
    /// Holes of the source stay holes (the default).
    #[default]
    Auto,
    /// Runs of zeros also become holes.
    Always,
    /// Every byte is written: no holes.
    Never,
}

/// What becomes of each non-directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// A copy (the default).
    #[default]
    Copy,
    /// `-l`: a hard link to the source.
    Hard,
    /// `-s`: a symbolic link to the source.
    Symbolic,
}

/// Which symlinks in the source are followed (`-P`, `-H`, `-L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dereference {
    /// `-P`: symlinks are copied as symlinks (a trailing `/` on a source still follows it).
    #[default]
    Never,
    /// `-H`: symlinks named on the command line are followed, those inside a tree are not.
    CommandLine,
    /// `-L`: every symlink is followed.
    Always,
}

/// Asks whether an existing destination may be overwritten (`-i`).
#[derive(Clone)]
pub struct Confirm(pub Arc<dyn Fn(&Path) -> bool + Send + Sync>);

impl std::fmt::Debug for Confirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Confirm(..)")
    }
}

/// Destination paths of non-directories this run created, so that a second source landing on
/// the same name is refused rather than silently overwriting the first (GNU cp's "will not
/// overwrite just-created"). Only kept when there are several sources.
#[derive(Debug, Default)]
pub struct JustCreated(Mutex<HashSet<PathBuf>>);

impl JustCreated {
    /// Records a created destination.
    pub fn record(&self, path: &Path) {
        self.0.lock().expect("lock").insert(path.to_path_buf());
    }

    /// True when `path` was created by this run.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.lock().expect("lock").contains(path)
    }
}

/// Copy settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-a`: keep mode exactly, owner, times (ns), xattrs, hard links; like `cp -a`. Implies
    /// [`Preserve::ALL`] whatever `preserve` says.
    pub archive: bool,
    /// Attributes to keep when `archive` is off (`-p`, `--preserve`).
    pub preserve: Preserve,
    /// `-n`: never overwrite an existing destination entry.
    pub no_clobber: bool,
    /// `-u`, `--update=WHEN`.
    pub update: Update,
    /// `-i`: asked before an existing destination is overwritten.
    pub confirm: Option<Confirm>,
    /// `-b`, `--backup`.
    pub backup: Backup,
    /// `-S`: the suffix of simple backups.
    pub backup_suffix: OsString,
    /// `--remove-destination`: remove an existing destination file before creating the copy.
    pub remove_destination: bool,
    /// `-f`: an existing destination file that cannot be opened is removed and created again.
    pub force: bool,
    /// `--attributes-only`: create files and apply metadata, copy no data.
    pub attributes_only: bool,
    /// `--reflink`.
    pub reflink: Reflink,
    /// `--sparse`.
    pub sparse: Sparse,
    /// `-l` / `-s`.
    pub link_mode: LinkMode,
    /// `-P` / `-H` / `-L`.
    pub dereference: Dereference,
    /// `-x`: do not descend into directories on other filesystems (their mount points are
    /// created, empty).
    pub one_file_system: bool,
    /// `--copy-contents`: FIFOs and devices inside a tree are read like files.
    pub copy_contents: bool,
    /// `--keep-directory-symlink`: a symlink to a directory in the destination where the source
    /// has a directory is followed (merged into) instead of refused.
    pub keep_directory_symlink: bool,
    /// `--exclude`, `--exclude-from`: entries never walked.
    pub exclude: Option<Arc<Exclude>>,
    /// Non-directories created so far, when several sources may land on one name.
    pub just_created: Option<Arc<JustCreated>>,
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
            preserve: Preserve::default(),
            no_clobber: false,
            update: Update::All,
            confirm: None,
            backup: Backup::Off,
            backup_suffix: OsString::from("~"),
            remove_destination: false,
            force: false,
            attributes_only: false,
            reflink: Reflink::Auto,
            sparse: Sparse::Auto,
            link_mode: LinkMode::Copy,
            dereference: Dereference::Never,
            one_file_system: false,
            copy_contents: false,
            keep_directory_symlink: false,
            exclude: None,
            just_created: None,
            order: Order::Inode,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            umask: 0o022,
            cancel: Cancel::default(),
        }
    }
}

impl Options {
    /// The attributes this copy keeps.
    pub fn preserved(&self) -> Preserve {
        if self.archive {
            Preserve::ALL
        } else {
            self.preserve
        }
    }

    /// True when an existing destination must never be replaced (`-n`, `--update=none`).
    pub fn keeps_existing(&self) -> bool {
        self.no_clobber || self.update == Update::None
    }

    /// True when files must take the plain-syscall path in every backend, because what is
    /// written depends on an option the io_uring data path does not implement (no data, clone
    /// or fail, holes from zeros, no holes at all).
    pub fn needs_std_data_path(&self) -> bool {
        self.attributes_only || self.reflink == Reflink::Always || self.sparse != Sparse::Auto
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
