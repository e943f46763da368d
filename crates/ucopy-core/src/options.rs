//! What the user asked for, in one struct shared by the planner and every executor.
//!
//! [`Options`] is `#[non_exhaustive]`: callers outside this crate build it with
//! [`Options::builder`], so a new option is a new builder method, never a breaking change.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use crate::exclude::Exclude;
use crate::EntryError;

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
    /// umask; a directory keeps the source's sticky bit, as with cp) rather than the source's mode
    /// less the umask.
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

/// The `WHEN` of GNU cp's `--reflink[=WHEN]` and `--sparse=WHEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// The default. Reflink: clone where the filesystem can, copy otherwise. Sparse: holes of
    /// the source stay holes.
    #[default]
    Auto,
    /// Reflink: clone or fail. Sparse: runs of zeros also become holes.
    Always,
    /// Reflink: never clone, the copy has its own data blocks. Sparse: every byte is written,
    /// no holes.
    Never,
}

/// `--reflink[=WHEN]`: whether the copy shares the source's data blocks.
pub type Reflink = When;

/// `--sparse=WHEN`: which zeros of the copy are holes.
pub type Sparse = When;

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

/// Copy settings. Read the fields; build with [`Options::builder`] (or start from
/// [`Options::default`] and [`Options::to_builder`]). The cp options that change *what* is
/// copied (`--update`, `--attributes-only`, `--reflink`, `--sparse`, `-l`, `-s`, `-L`, `-x`,
/// `--exclude`) live here so that the shared planner and `ucopy-fs` apply them the same way for
/// every backend.
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
    /// Attributes to keep when `archive` is off (`-p`, `--preserve`).
    pub preserve: Preserve,
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
    /// Files one executor keeps in flight: the unit of one io_uring submission.
    pub queue_depth: usize,
    /// The umask applied to new entries when not `archive` (as `cp -r` does); by default the
    /// process's own (see [`process_umask`]).
    pub umask: u32,
    /// Set by a signal handler (Ctrl-C) or another thread: stop promptly.
    pub cancel: Cancel,
    /// Where a destination file that could not be completed, and then not removed either (the
    /// filesystem went read-only under the copy), is recorded, so that the report names it.
    pub leftovers: Leftovers,
    /// How a worker thread gets a descriptor table of its own (`None`: workers share the
    /// process's table). See [`PrivateFdTable`].
    pub private_worker_fds: Option<PrivateFdTable>,
}

/// Gives the calling thread a file-descriptor table of its own, holding only descriptors 0, 1,
/// 2 and `keep` (a pidfd through which the thread fetches the directories it is handed).
///
/// Why: threads that share one table make every open and close take that table's lock, and
/// every use of a descriptor count a reference on it, both bouncing between cores: two threads
/// that only open and close files run 0.79× as long with tables of their own (`cargo xtask
/// fd-tables`, PERF.md), and the lock is process-wide, so more workers only make it worse.
/// Rust's descriptor-ownership rules cannot vouch for a thread with a table of its own (a
/// descriptor owned elsewhere and dropped on such a thread would close the wrong one), so the
/// call lives in the one module the design allows such code (`ucopy-uring`'s ring module) and
/// comes from the caller: the `ucopy` facade passes `ucopy_uring::private_fd_table`.
pub type PrivateFdTable = fn(keep: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()>;

impl Default for Options {
    /// Not archive, overwriting, inode order, [`DEFAULT_QUEUE_DEPTH`], the process's umask, a
    /// fresh [`Cancel`].
    fn default() -> Self {
        Options {
            archive: false,
            no_clobber: false,
            preserve: Preserve::default(),
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
            umask: process_umask(),
            cancel: Cancel::default(),
            leftovers: Leftovers::default(),
            private_worker_fds: None,
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

    /// Files one executor keeps in flight (at least 1).
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

    /// Attributes kept when not archiving (`-p`, `--preserve=LIST`).
    pub fn preserve(mut self, preserve: Preserve) -> Self {
        self.0.preserve = preserve;
        self
    }

    /// `-u`, `--update=WHEN`: which existing destination files are replaced.
    pub fn update(mut self, update: Update) -> Self {
        self.0.update = update;
        self
    }

    /// `-i`: asked before an existing destination is overwritten.
    pub fn confirm(mut self, confirm: Option<Confirm>) -> Self {
        self.0.confirm = confirm;
        self
    }

    /// `-b`, `--backup=CONTROL`, with the suffix of simple backups (`-S`).
    pub fn backup(mut self, backup: Backup, suffix: OsString) -> Self {
        self.0.backup = backup;
        self.0.backup_suffix = suffix;
        self
    }

    /// `--remove-destination`.
    pub fn remove_destination(mut self, yes: bool) -> Self {
        self.0.remove_destination = yes;
        self
    }

    /// `-f`: replace a destination file that cannot be opened.
    pub fn force(mut self, yes: bool) -> Self {
        self.0.force = yes;
        self
    }

    /// `--attributes-only`.
    pub fn attributes_only(mut self, yes: bool) -> Self {
        self.0.attributes_only = yes;
        self
    }

    /// `--reflink=WHEN`.
    pub fn reflink(mut self, reflink: Reflink) -> Self {
        self.0.reflink = reflink;
        self
    }

    /// `--sparse=WHEN`.
    pub fn sparse(mut self, sparse: Sparse) -> Self {
        self.0.sparse = sparse;
        self
    }

    /// `-l` / `-s`.
    pub fn link_mode(mut self, mode: LinkMode) -> Self {
        self.0.link_mode = mode;
        self
    }

    /// `-P` / `-H` / `-L`.
    pub fn dereference(mut self, dereference: Dereference) -> Self {
        self.0.dereference = dereference;
        self
    }

    /// `-x`.
    pub fn one_file_system(mut self, yes: bool) -> Self {
        self.0.one_file_system = yes;
        self
    }

    /// `--copy-contents`.
    pub fn copy_contents(mut self, yes: bool) -> Self {
        self.0.copy_contents = yes;
        self
    }

    /// `--keep-directory-symlink`.
    pub fn keep_directory_symlink(mut self, yes: bool) -> Self {
        self.0.keep_directory_symlink = yes;
        self
    }

    /// `--exclude`, `--exclude-from`.
    pub fn exclude(mut self, exclude: Option<Arc<Exclude>>) -> Self {
        self.0.exclude = exclude;
        self
    }

    /// Where incomplete files that could not be removed are recorded (see [`Leftovers`]).
    pub fn leftovers(mut self, leftovers: Leftovers) -> Self {
        self.0.leftovers = leftovers;
        self
    }

    /// Refuse to overwrite what this run created (set it when there are several sources).
    pub fn just_created(mut self, created: Option<Arc<JustCreated>>) -> Self {
        self.0.just_created = created;
        self
    }

    /// How worker threads get descriptor tables of their own ([`PrivateFdTable`]); `None`, the
    /// default, keeps one table for the whole process.
    pub fn private_worker_fds(mut self, private: Option<PrivateFdTable>) -> Self {
        self.0.private_worker_fds = private;
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

/// Incomplete destination files that could not be removed, shared by every thread of a run.
///
/// A file whose copy failed is removed, so that nothing truncated is left looking complete. When
/// the removal fails too (the destination went read-only, `EROFS`), the file stays, and the user
/// must be told which: the failure is recorded here and the driver moves it into
/// [`Report::incomplete`](crate::Report::incomplete).
#[derive(Debug, Clone, Default)]
pub struct Leftovers(Arc<Mutex<Vec<EntryError>>>);

impl Leftovers {
    /// Records that the incomplete file `error.path` could not be removed, and why.
    pub fn record(&self, error: EntryError) {
        self.lock().push(error);
    }

    /// Takes what was recorded so far.
    pub fn take(&self) -> Vec<EntryError> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<EntryError>> {
        // A panic while pushing cannot leave the vector inconsistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_umask_is_the_process_umask() {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        // The reference is what the umask does to a new directory asked for with 0777. Not a
        // umask(2) round trip: that sets the umask to 0 for a moment, and another test thread
        // reading it then (`process_umask` reads it once per process) kept 0.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::DirBuilder::new().mode(0o777).create(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        let umask = 0o777 & !mode;
        assert_eq!(Options::default().umask, umask);
        assert_eq!(process_umask(), umask);
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
