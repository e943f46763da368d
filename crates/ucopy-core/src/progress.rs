//! Progress callbacks, so a front end can draw a bar, print `-v` lines and report errors as they
//! happen, without the engine knowing how.

use std::borrow::Cow;
use std::path::Path;

use crate::{DirNode, Entry, EntryError, FileJob, Kind};

/// The source and destination paths of a copied entry, built only when asked for: most runs
/// print no line per file, and building two full paths per file is measurable work there.
#[derive(Debug, Clone, Copy)]
pub struct CopiedPaths<'a>(Paths<'a>);

#[derive(Debug, Clone, Copy)]
enum Paths<'a> {
    Given(&'a Path, &'a Path),
    Entry(&'a Entry),
    Job(&'a FileJob),
    Dir(&'a DirNode),
}

impl<'a> CopiedPaths<'a> {
    /// Paths at hand.
    pub fn new(src: &'a Path, dst: &'a Path) -> Self {
        CopiedPaths(Paths::Given(src, dst))
    }

    /// The paths of a planned entry.
    pub fn entry(entry: &'a Entry) -> Self {
        CopiedPaths(Paths::Entry(entry))
    }

    /// The paths of a copied regular file.
    pub fn job(job: &'a FileJob) -> Self {
        CopiedPaths(Paths::Job(job))
    }

    /// The paths of a created directory.
    pub fn dir(node: &'a DirNode) -> Self {
        CopiedPaths(Paths::Dir(node))
    }

    /// The source path.
    pub fn src(&self) -> Cow<'a, Path> {
        match self.0 {
            Paths::Given(src, _) => Cow::Borrowed(src),
            Paths::Entry(e) => Cow::Owned(e.path()),
            Paths::Job(j) => Cow::Owned(j.path()),
            Paths::Dir(d) => Cow::Borrowed(d.path()),
        }
    }

    /// The destination path.
    pub fn dst(&self) -> Cow<'a, Path> {
        match self.0 {
            Paths::Given(_, dst) => Cow::Borrowed(dst),
            Paths::Entry(e) => Cow::Owned(e.dst_path()),
            Paths::Job(j) => Cow::Owned(j.dst_path()),
            Paths::Dir(d) => Cow::Borrowed(d.dst_path()),
        }
    }
}

/// Receives events as a copy runs, from the thread that drives it. Keep calls cheap.
pub trait Progress: Send + Sync {
    /// An entry was copied: `bytes` of data for a regular file, 0 otherwise. `kind` is what was
    /// made (`File` also for a hard link); `paths` builds its paths if they are wanted.
    fn copied(&self, _kind: Kind, _paths: CopiedPaths<'_>, _bytes: u64) {}
    /// An entry failed; the error is also kept in the report.
    fn failed(&self, _error: &EntryError) {}
    /// A warning (a source entry vanished during the copy); also kept in the report.
    fn warned(&self, _warning: &EntryError) {}
    /// The run adapted to a limit of this machine (fewer threads, a backend that fell back to
    /// plain system calls); also kept in the report's `notes`.
    fn noted(&self, _note: &str) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
