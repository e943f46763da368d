//! cp's destination semantics, decided before anything is created (docs/behaviours.md rows 1, 7, 8,
//! 25): where each source lands, and the refusals — several sources into a non-directory, a
//! directory into itself, a file onto itself — by device and inode, never by comparing strings.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::file_id;
use crate::plan::{open_operand_dir, split_operand};

/// One source and the exact path its copy gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The source as the user named it.
    pub source: PathBuf,
    /// Where its copy goes.
    pub dest: PathBuf,
}

/// Why the operands cannot be copied at all.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A source does not exist or cannot be examined.
    #[error("cannot stat '{}': {source}", .path.display())]
    Source {
        /// The source.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Several sources need an existing directory.
    #[error("target '{}' is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The destination's parent does not exist.
    #[error("cannot create '{}': {source}", .path.display())]
    DestParent {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A directory copied into itself or below itself.
    #[error("cannot copy a directory, '{}', into itself, '{}'", .src.display(), .dest.display())]
    IntoItself {
        /// The source directory.
        src: PathBuf,
        /// The destination inside it.
        dest: PathBuf,
    },
    /// A file copied onto itself (same inode by another name).
    #[error("'{}' and '{}' are the same file", .src.display(), .dest.display())]
    SameFile {
        /// The source.
        src: PathBuf,
        /// The destination.
        dest: PathBuf,
    },
}

type Id = (u64, u64);

/// Source metadata the way the copy will see it: a trailing `/` dereferences.
fn stat_source(source: &Path) -> Result<rfs::Stat, TargetError> {
    let err = |e: io::Error| TargetError::Source {
        path: source.to_path_buf(),
        source: e,
    };
    let (dir, name) = split_operand(source);
    let dir = open_operand_dir(&dir).map_err(err)?;
    let follow = source.as_os_str().as_bytes().ends_with(b"/");
    let flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    rfs::statat(&dir, &name, flags).map_err(|e| err(e.into()))
}

/// Resolves `ucopy SOURCE... DEST` into one [`Target`] per source, or refuses the whole command.
pub fn resolve(sources: &[PathBuf], dest: &Path) -> Result<Vec<Target>, TargetError> {
    let dest_is_dir =
        rfs::stat(dest).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
    if sources.len() > 1 && !dest_is_dir {
        return Err(TargetError::NotADirectory(dest.to_path_buf()));
    }
    let mut targets = Vec::with_capacity(sources.len());
    for source in sources {
        let st = stat_source(source)?;
        let (_, name) = split_operand(source);
        let into = if dest_is_dir {
            // `SRC/.` merges into DEST itself; naming it `DEST/.` makes the planner open DEST
            // (following a symlink the operator named, row 8) instead of creating an entry.
            dest.join(OsStr::from_bytes(name.to_bytes()))
        } else {
            dest.to_path_buf()
        };
        check(source, &st, &into)?;
        targets.push(Target {
            source: source.clone(),
            dest: into,
        });
    }
    Ok(targets)
}

/// The refusals for one source and its final destination.
fn check(source: &Path, st: &rfs::Stat, dest: &Path) -> Result<(), TargetError> {
    let (dir, name) = split_operand(dest);
    let parent = open_operand_dir(&dir).map_err(|e| TargetError::DestParent {
        path: dest.to_path_buf(),
        source: e,
    })?;
    let src_id = file_id(st);
    let existing = rfs::statat(&parent, &name, AtFlags::empty()).ok();
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let into_itself = existing.as_ref().is_some_and(|d| file_id(d) == src_id)
            || has_ancestor(parent, src_id).unwrap_or(false);
        if into_itself {
            return Err(TargetError::IntoItself {
                src: source.to_path_buf(),
                dest: dest.to_path_buf(),
            });
        }
    } else if existing.as_ref().is_some_and(|d| file_id(d) == src_id) {
        return Err(TargetError::SameFile {
            src: source.to_path_buf(),
            dest: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// True when `dir` or one of its ancestors (walking `..` to the root) has identity `id`.
fn has_ancestor(dir: OwnedFd, id: Id) -> io::Result<bool> {
    let mut current = dir;
    loop {
        let st = rfs::fstat(&current)?;
        if file_id(&st) == id {
            return Ok(true);
        }
        let parent = match rfs::openat(
            current.as_fd(),
            c"..",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(p) => p,
            Err(Errno::ACCESS) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if file_id(&rfs::fstat(&parent)?) == file_id(&st) {
            return Ok(false); // `..` of the root is the root
        }
        current = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn t(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn lands_inside_an_existing_dir_and_merges_with_dot() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dst = tmp.path().join("dst");
        fs::create_dir(&src).unwrap();
        fs::create_dir(&dst).unwrap();
        let r = resolve(std::slice::from_ref(&src), &dst).unwrap();
        assert_eq!(r[0].dest, dst.join("src"));
        let mut slash = src.clone().into_os_string();
        slash.push("/");
        let r = resolve(&[PathBuf::from(slash)], &dst).unwrap();
        assert_eq!(
            r[0].dest,
            dst.join("src"),
            "a trailing slash does not merge"
        );
        let r = resolve(&[src.join(".")], &dst).unwrap();
        assert_eq!(r[0].dest, dst.join("."), "SRC/. merges");
        let absent = tmp.path().join("new");
        assert_eq!(
            resolve(std::slice::from_ref(&src), &absent).unwrap()[0].dest,
            absent
        );
    }

    #[test]
    fn refuses_into_itself_and_same_file() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("f"), b"x").unwrap();
        assert!(matches!(
            resolve(std::slice::from_ref(&d), &d),
            Err(TargetError::IntoItself { .. })
        ));
        assert!(matches!(
            resolve(std::slice::from_ref(&d), &d.join("sub")),
            Err(TargetError::IntoItself { .. })
        ));
        assert!(matches!(
            resolve(&[d.join("f")], &d.join("./f")),
            Err(TargetError::SameFile { .. })
        ));
        fs::hard_link(d.join("f"), d.join("g")).unwrap();
        assert!(matches!(
            resolve(&[d.join("f")], &d.join("g")),
            Err(TargetError::SameFile { .. })
        ));
        assert!(matches!(
            resolve(&[t("/nonexistent-ucopy")], &d),
            Err(TargetError::Source { .. })
        ));
        assert!(matches!(
            resolve(&[d.join("f"), d.join("g")], &d.join("f")),
            Err(TargetError::NotADirectory(_))
        ));
    }
}
