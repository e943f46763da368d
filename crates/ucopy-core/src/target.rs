//! cp's destination semantics, decided before anything is created (docs/behaviour-table.md rows 1, 7, 8,
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
use crate::same_file::{self, SameFile};

/// One source and the exact path its copy gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The source as the user named it.
    pub source: PathBuf,
    /// Where its copy goes.
    pub dest: PathBuf,
    /// The destination operand is an existing FIFO the user named and the source is a file:
    /// the data is written into the FIFO (a reader is waiting on it), as cp does. Inside a tree
    /// a FIFO in the way is replaced instead, never opened.
    pub into_fifo: bool,
    /// With `--parents`: the destination directory the source's path is appended to (its
    /// missing directories are made before the copy).
    pub parents_in: Option<PathBuf>,
    /// A hard link (`-l`) onto the file it already is: nothing to do, and not an error.
    pub nothing_to_do: bool,
}

/// How operands are read (`-T`, `-t`, `--parents`, `-H`/`-L`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// `-T`: the destination is never a directory to copy into.
    pub no_target_directory: bool,
    /// `--parents`: each source's path is appended to the destination directory.
    pub parents: bool,
    /// Command-line symlinks are followed (`-H`, `-L`, or no `-r`/`-a`).
    pub follow: bool,
    /// `-l`: hard links instead of copies.
    pub hard_link: bool,
    /// `-s`: symbolic links instead of copies.
    pub symbolic_link: bool,
    /// `-b`: existing destinations are backed up.
    pub backup: bool,
    /// `--remove-destination` (or `-f` with `-l`/`-s`): existing destinations are unlinked first.
    pub remove_destination: bool,
    /// A directory source is refused ([`TargetError::OmittedDirectory`]), as by cp without
    /// `-r`; ucopy's own rule copies it.
    pub omit_directories: bool,
}

/// Why the operands cannot be copied at all.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A source does not exist or cannot be examined.
    #[error("cannot stat '{}': {}", .path.display(), crate::cause(.source))]
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
    #[error("cannot create '{}': {}", .path.display(), crate::cause(.source))]
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
    /// A file copied onto itself (same inode by another name), or a symlink copied over the
    /// file it points to.
    #[error("'{}' and '{}' are the same file", .src.display(), .dest.display())]
    SameFile {
        /// The source.
        src: PathBuf,
        /// The destination.
        dest: PathBuf,
    },
    /// The destination operand exists (a symlink) but cannot be examined: copying would
    /// replace what the user may have meant to write through.
    #[error("cannot stat '{}': {}", .path.display(), crate::cause(.source))]
    DestStat {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The destination operand is a dangling symlink.
    #[error("not writing through dangling symlink '{}'", .0.display())]
    Dangling(PathBuf),
    /// `--parents` needs a directory destination.
    #[error("with --parents, the destination must be a directory")]
    ParentsNeedDir,
    /// `-T` with a directory source and a non-directory destination, or with several sources.
    #[error("extra operand '{}'", .0.display())]
    ExtraOperand(PathBuf),
    /// A directory source where directories are not copied ([`ResolveOptions::omit_directories`]).
    #[error("-r not specified; omitting directory '{}'", .0.display())]
    OmittedDirectory(PathBuf),
    /// A source named again (the same file by the same name, `a` and `./a`): a warning, not a
    /// failure; it is copied once, as cp does.
    #[error("warning: source {} '{}' specified more than once", if *.directory { "directory" } else { "file" }, .path.display())]
    Repeated {
        /// The source as named the second time.
        path: PathBuf,
        /// True for a directory.
        directory: bool,
    },
}

impl TargetError {
    /// True for refusals that concern one source only: the others are still copied and the
    /// exit status is 1, as with cp. The rest mean nothing sensible can be done (exit 2).
    pub fn is_per_source(&self) -> bool {
        matches!(
            self,
            TargetError::SameFile { .. }
                | TargetError::OmittedDirectory(_)
                | TargetError::DestStat { .. }
                | TargetError::Dangling(_)
                | TargetError::Repeated { .. }
        )
    }

    /// True for a warning only: that source is skipped, and that is not a failure.
    pub fn is_warning(&self) -> bool {
        matches!(self, TargetError::Repeated { .. })
    }
}

/// What makes two operands "the same source named twice": the file's identity, its last name
/// and its directory's identity (`a` and `./a`; hard links `a` and `b` are two sources, as with
/// cp). A file is only a repeat when no backups are made: with them the second copy backs up
/// the first (cp's rule); a directory always is.
fn repeat_key(source: &Path, opts: ResolveOptions) -> Option<(Id, Vec<u8>, Id, bool)> {
    let st = stat_source(source, opts.follow).ok()?;
    let directory = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    if opts.backup && !directory {
        return None;
    }
    let (dir, name) = split_operand(source);
    let dir = rfs::fstat(open_operand_dir(&dir).ok()?).ok()?;
    Some((file_id(&st), name.into_bytes(), file_id(&dir), directory))
}

type Id = (u64, u64);

/// Source metadata the way the copy will see it: a trailing `/` (or `follow`) dereferences.
fn stat_source(source: &Path, follow: bool) -> Result<rfs::Stat, TargetError> {
    let err = |e: io::Error| TargetError::Source {
        path: source.to_path_buf(),
        source: e,
    };
    let (dir, name) = split_operand(source);
    let dir = open_operand_dir(&dir).map_err(err)?;
    let follow = follow || source.as_os_str().as_bytes().ends_with(b"/");
    let flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    rfs::statat(&dir, &name, flags).map_err(|e| err(e.into()))
}

/// Resolves `ucopy SOURCE... DEST` into one [`Target`] per source, or refuses the whole command.
pub fn resolve(sources: &[PathBuf], dest: &Path) -> Result<Vec<Target>, TargetError> {
    resolve_each(sources, dest, ResolveOptions::default())?
        .into_iter()
        .collect()
}

/// True when `source`, as the copy reads it (following a symlink when `follow`), is a regular
/// file.
fn source_is_file(source: &Path, follow: bool) -> bool {
    let st = if follow {
        rfs::stat(source)
    } else {
        rfs::lstat(source)
    };
    st.is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

/// Resolves each source separately: the outer error refuses the whole command (several sources
/// into a non-directory), an inner one only that source.
pub fn resolve_each(
    sources: &[PathBuf],
    dest: &Path,
    opts: ResolveOptions,
) -> Result<Vec<Result<Target, TargetError>>, TargetError> {
    let dangling =
        || rfs::lstat(dest).is_ok_and(|l| FileType::from_raw_mode(l.st_mode) == FileType::Symlink);
    let dest_stat = match rfs::stat(dest) {
        Ok(st) => Some(st),
        // A dangling symlink named as the destination: cp will not write through it (that
        // would create a file wherever it points); replacing it needs --remove-destination.
        // Only a regular file would be written through it (cp's copy_reg); a symlink copied as
        // a symlink (-P), a link (-l, -s) or a directory replaces or misses the name.
        Err(Errno::NOENT)
            if dangling()
                && sources.len() == 1
                && !opts.remove_destination
                && !opts.backup
                && !opts.hard_link
                && !opts.symbolic_link
                && source_is_file(&sources[0], opts.follow) =>
        {
            // POSIXLY_CORRECT: POSIX says write through, and cp then creates the file the
            // symlink points to; so does ucopy.
            if std::env::var_os("POSIXLY_CORRECT").is_some() {
                if let Ok(to) = std::fs::read_link(dest) {
                    let parent = dest.parent().unwrap_or(Path::new(""));
                    return resolve_each(sources, &parent.join(to), opts);
                }
            }
            return Ok(vec![Err(TargetError::Dangling(dest.to_path_buf()))]);
        }
        Err(Errno::NOENT) => None,
        // A symlink loop exists as a name: it is replaced like any symlink in the way.
        Err(Errno::LOOP) => None,
        // A destination that exists but cannot be examined (a symlink into a directory we may
        // not search): refuse rather than replace it.
        Err(e) => {
            return Ok(sources
                .iter()
                .map(|_| {
                    Err(TargetError::DestStat {
                        path: dest.to_path_buf(),
                        source: e.into(),
                    })
                })
                .collect())
        }
    };
    let dest_is_dir = dest_stat
        .as_ref()
        .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
        && !opts.no_target_directory;
    if opts.no_target_directory && sources.len() > 1 {
        return Err(TargetError::ExtraOperand(sources[1].clone()));
    }
    if opts.parents && !dest_is_dir {
        return Err(TargetError::ParentsNeedDir);
    }
    if sources.len() > 1 && !dest_is_dir {
        return Err(TargetError::NotADirectory(dest.to_path_buf()));
    }
    let mut targets = Vec::with_capacity(sources.len());
    let mut seen = std::collections::HashSet::new();
    for source in sources {
        // Every operand counts as seen, even one refused below (`cp -a ./b b b/`: the first is
        // "into itself", the second a repeat of it).
        if let Some(key) = repeat_key(source, opts).filter(|_| sources.len() > 1) {
            let directory = key.3;
            if !seen.insert(key) {
                targets.push(Err(TargetError::Repeated {
                    path: source.to_path_buf(),
                    directory,
                }));
                continue;
            }
        }
        targets.push(resolve_one(source, dest, dest_is_dir, &dest_stat, opts));
    }
    Ok(targets)
}

fn resolve_one(
    source: &Path,
    dest: &Path,
    dest_is_dir: bool,
    dest_stat: &Option<rfs::Stat>,
    opts: ResolveOptions,
) -> Result<Target, TargetError> {
    let st = stat_source(source, opts.follow)?;
    if opts.omit_directories && FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        return Err(TargetError::OmittedDirectory(source.to_path_buf()));
    }
    let (_, name) = split_operand(source);
    let into = if opts.parents {
        let rel = source.strip_prefix("/").unwrap_or(source);
        dest.join(rel)
    } else if dest_is_dir {
        // `SRC/.` merges into DEST itself; naming it `DEST/.` makes the planner open DEST
        // (following a symlink the operator named, row 8) instead of creating an entry.
        dest.join(OsStr::from_bytes(name.to_bytes()))
    } else {
        dest.to_path_buf()
    };
    let nothing_to_do = if opts.parents {
        false
    } else {
        check(source, &st, &into, opts)?
    };
    let is_file = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile;
    let into_fifo = !dest_is_dir
        && is_file
        && dest_stat
            .as_ref()
            .is_some_and(|d| FileType::from_raw_mode(d.st_mode) == FileType::Fifo);
    Ok(Target {
        source: source.to_path_buf(),
        dest: into,
        into_fifo,
        parents_in: opts.parents.then(|| dest.to_path_buf()),
        nothing_to_do,
    })
}

/// The refusals for one source and its final destination; `Ok(true)` when there is nothing
/// to do (a hard link onto itself).
fn check(
    source: &Path,
    st: &rfs::Stat,
    dest: &Path,
    opts: ResolveOptions,
) -> Result<bool, TargetError> {
    let (dir, name) = split_operand(dest);
    let parent = open_operand_dir(&dir).map_err(|e| TargetError::DestParent {
        path: dest.to_path_buf(),
        source: e,
    })?;
    let src_id = file_id(st);
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let existing = rfs::statat(&parent, &name, AtFlags::empty()).ok();
        let into_itself = existing.as_ref().is_some_and(|d| file_id(d) == src_id)
            || has_ancestor(parent, src_id).unwrap_or(false);
        if into_itself {
            return Err(TargetError::IntoItself {
                src: source.to_path_buf(),
                dest: dest.to_path_buf(),
            });
        }
        return Ok(false);
    }
    match same_file::decide(source, st, parent.as_fd(), &name, dest, opts) {
        SameFile::Proceed => Ok(false),
        SameFile::NothingToDo => Ok(true),
        SameFile::Refuse => Err(TargetError::SameFile {
            src: source.to_path_buf(),
            dest: dest.to_path_buf(),
        }),
    }
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
        assert!(!r[0].into_fifo);
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

    #[test]
    fn symlink_onto_its_target_fifo_operand_and_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::write(d.join("foo"), b"data").unwrap();
        std::os::unix::fs::symlink("foo", d.join("symlink")).unwrap();
        for follow in [false, true] {
            let opts = ResolveOptions {
                follow,
                ..ResolveOptions::default()
            };
            let r = resolve_each(&[d.join("symlink")], &d.join("foo"), opts).unwrap();
            assert!(
                matches!(r[0], Err(TargetError::SameFile { .. })),
                "follow={follow}: {r:?}"
            );
            assert!(r[0].as_ref().unwrap_err().is_per_source());
        }
        rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("pipe"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let r = resolve_each(&[d.join("foo")], &d.join("pipe"), ResolveOptions::default()).unwrap();
        assert!(r[0].as_ref().unwrap().into_fifo);
        fs::create_dir(d.join("out")).unwrap();
        let opts = ResolveOptions {
            parents: true,
            ..ResolveOptions::default()
        };
        let r = resolve_each(&[d.join("foo")], &d.join("out"), opts).unwrap();
        let target = r[0].as_ref().unwrap();
        assert_eq!(
            target.dest,
            d.join("out").join(d.join("foo").strip_prefix("/").unwrap())
        );
        assert_eq!(target.parents_in.as_deref(), Some(d.join("out").as_path()));
        assert!(matches!(
            resolve_each(&[d.join("foo")], &d.join("foo2"), opts),
            Err(TargetError::ParentsNeedDir)
        ));
    }

    #[test]
    fn directories_omitted_as_by_cp_without_recursion() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir(d.join("dir")).unwrap();
        fs::create_dir(d.join("out")).unwrap();
        fs::write(d.join("f"), b"f").unwrap();
        std::os::unix::fs::symlink("dir", d.join("dirlink")).unwrap();
        let sources = [d.join("dir"), d.join("f"), d.join("dirlink")];
        for follow in [false, true] {
            let opts = ResolveOptions {
                follow,
                omit_directories: true,
                ..ResolveOptions::default()
            };
            let r = resolve_each(&sources, &d.join("out"), opts).unwrap();
            assert!(matches!(&r[0], Err(TargetError::OmittedDirectory(p)) if *p == sources[0]));
            assert!(r[0].as_ref().unwrap_err().is_per_source());
            assert!(r[1].is_ok());
            // A symlink to a directory is one where named symlinks are followed.
            assert_eq!(r[2].is_err(), follow, "follow={follow}: {r:?}");
        }
        let r = resolve_each(&sources, &d.join("out"), ResolveOptions::default()).unwrap();
        assert!(r.iter().all(Result::is_ok), "{r:?}");
    }
}
