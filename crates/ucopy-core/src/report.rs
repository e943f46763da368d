//! What a copy did: counts, bytes, and every per-entry failure with its path.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

/// The operation that failed on an entry; shown in messages and in `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Reading a file or directory's metadata.
    Stat,
    /// Opening a source file or directory.
    Open,
    /// Listing a directory.
    ReadDir,
    /// Reading a symlink's target.
    ReadLink,
    /// Reading file data.
    Read,
    /// Creating a destination file.
    Create,
    /// Writing file data.
    Write,
    /// Creating a destination directory.
    Mkdir,
    /// Creating a symlink.
    Symlink,
    /// Creating a hard link.
    Link,
    /// Creating a FIFO, socket or device node.
    Mknod,
    /// Removing a destination object that is being replaced or a partial file.
    Remove,
    /// Setting owner and group.
    Chown,
    /// Setting permission bits.
    Chmod,
    /// Setting times.
    SetTimes,
    /// Copying extended attributes.
    Xattr,
    /// A destination object of another type is in the way.
    Conflict,
    /// The source changed while it was copied (vanished, changed type).
    Changed,
    /// The copy was interrupted (Ctrl-C).
    Interrupted,
    /// A refusal whose message says it all ("'a' and 'b' are the same file", "will not
    /// overwrite just-created ..."): shown as the cause alone.
    Refused,
    /// A source directory is the destination of itself or of an ancestor (a bind mount of the
    /// destination inside the source): copying it would never end.
    IntoItself,
}

impl Op {
    /// The verb phrase used in messages: `cannot <verb> '<path>'`.
    pub fn verb(self) -> &'static str {
        match self {
            Op::Stat => "stat",
            Op::Open => "open",
            Op::ReadDir => "read directory",
            Op::ReadLink => "read symlink",
            Op::Read => "read",
            Op::Create => "create",
            Op::Write => "write",
            Op::Mkdir => "create directory",
            Op::Symlink => "create symlink",
            Op::Link => "create hard link",
            Op::Mknod => "create special file",
            Op::Remove => "remove",
            Op::Chown => "preserve ownership of",
            Op::Chmod => "preserve permissions of",
            Op::SetTimes => "preserve times of",
            Op::Xattr => "preserve xattrs of",
            Op::Conflict => "replace",
            Op::Changed => "copy",
            Op::Interrupted => "finish",
            Op::Refused => "copy",
            Op::IntoItself => "copy",
        }
    }
}

/// One entry that could not be copied (or whose metadata could not be kept).
///
/// Serialized as `{"path": ..., "op": ..., "error": ...}`. A path that is not UTF-8 is given
/// twice: lossy in `path` (U+FFFD for each invalid sequence, for people) and byte-exact in
/// `path_bytes` (an array of numbers, for programs), so JSON carries any name.
#[derive(Debug)]
pub struct EntryError {
    /// The path as the user would name it (source path, or destination for destination-side
    /// failures).
    pub path: PathBuf,
    /// What was being done.
    pub op: Op,
    /// Why it failed.
    pub error: io::Error,
}

impl Serialize for EntryError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        use std::os::unix::ffi::OsStrExt;
        let bytes = self.path.as_os_str().as_bytes();
        let exact = std::str::from_utf8(bytes).is_ok();
        let mut st = s.serialize_struct("EntryError", if exact { 3 } else { 4 })?;
        st.serialize_field("path", &String::from_utf8_lossy(bytes))?;
        if !exact {
            st.serialize_field("path_bytes", bytes)?;
        }
        st.serialize_field("op", &self.op)?;
        st.serialize_field("error", &cause(&self.error))?;
        st.end()
    }
}

/// An I/O error as cp prints it: the cause alone ("No such file or directory"), without the
/// " (os error 2)" that Rust's `Display` appends.
pub fn cause(e: &io::Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.rfind(" (os error ") {
        if s.ends_with(')') {
            s.truncate(i);
        }
    }
    s
}

impl EntryError {
    /// A failure of `op` on `path`.
    pub fn new(path: impl Into<PathBuf>, op: Op, error: impl Into<io::Error>) -> Self {
        EntryError {
            path: path.into(),
            op,
            error: error.into(),
        }
    }

    /// Failures after which copying more entries is pointless: the destination is full or gone
    /// read-only. The run stops promptly instead of failing once per remaining file.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.error.raw_os_error(),
            Some(code) if code == libc_errno::ENOSPC
                || code == libc_errno::EDQUOT
                || code == libc_errno::EROFS
        ) || self.op == Op::Interrupted
    }

    /// The path this failure names.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Op::Refused {
            return write!(f, "{}", cause(&self.error));
        }
        write!(
            f,
            "cannot {} '{}': {}",
            self.op.verb(),
            crate::quote_inner(&self.path),
            cause(&self.error)
        )
    }
}

impl std::error::Error for EntryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

mod libc_errno {
    use rustix::io::Errno;
    pub const ENOSPC: i32 = Errno::NOSPC.raw_os_error();
    pub const EDQUOT: i32 = Errno::DQUOT.raw_os_error();
    pub const EROFS: i32 = Errno::ROFS.raw_os_error();
}

/// Totals of a finished (or stopped) copy.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Regular files copied (a hard-linked group counts each name).
    pub files: u64,
    /// Directories created or merged into.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Hard links created instead of copies.
    pub hardlinks: u64,
    /// FIFOs, sockets and device nodes created.
    pub specials: u64,
    /// File bytes copied.
    pub bytes: u64,
    /// Entries skipped because they existed and `--no-clobber` was given.
    pub skipped: u64,
    /// Every per-entry failure, in the order they happened.
    pub errors: Vec<EntryError>,
    /// Entries that vanished from the source during the copy (warnings, not failures).
    pub warnings: Vec<EntryError>,
    /// True when the run stopped early (a fatal error such as ENOSPC, or Ctrl-C).
    pub stopped: bool,
    /// Destination files left incomplete because they could not be removed (the filesystem
    /// went read-only under the copy): each names the file and why the removal failed. Their
    /// copies failed too, so they are also behind an entry of `errors` (or that entry was one
    /// of the echoes of a fatal error, see [`EntryError::is_fatal`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<EntryError>,
    /// How the run adapted to this machine's limits (e.g. a worker that could not set up its
    /// io_uring copied with plain system calls): said once each, not failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// True when every entry and its metadata was copied.
    pub fn is_success(&self) -> bool {
        self.errors.is_empty() && self.incomplete.is_empty() && !self.stopped
    }

    /// Adds another report's counts and errors to this one.
    pub fn merge(&mut self, other: Report) {
        self.files += other.files;
        self.dirs += other.dirs;
        self.symlinks += other.symlinks;
        self.hardlinks += other.hardlinks;
        self.specials += other.specials;
        self.bytes += other.bytes;
        self.skipped += other.skipped;
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        self.incomplete.extend(other.incomplete);
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
        self.stopped |= other.stopped;
    }
}
