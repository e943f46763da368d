//! What to do with an object already at a destination name, for every kind of entry and every
//! backend: the cp options that decide it (`-n`, `-u`/`--update`, `-i`, `-b`/`--backup`,
//! `--remove-destination`) and the refusals that protect data ("are the same file", "will not
//! overwrite just-created").
//!
//! Called only after a create failed with `EEXIST`, from whichever thread creates the entry (the
//! executors' workers for regular files), so a re-sync's per-file decision costs one `fstatat`
//! of the destination in the parallel part of the copy and nothing when the name is free.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, FileType, Mode, OFlags, RawDir};
use ucopy_core::{Backup, EntryError, Op, Options, Stat, Update};

/// The entry about to take a destination name.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Its source path, for messages.
    pub path: &'a Path,
    /// Its source metadata (for `--update=older`: its mtime).
    pub stat: &'a Stat,
    /// The object its copy would refer to, when that differs from the source itself: what a
    /// symlink source resolves to. Replacing that object with the copy would destroy it (a
    /// symlink `s -> f` copied over `f` leaves `f -> f`), so it is refused.
    pub resolves_to: Option<(u64, u64)>,
    /// It is a hard link to the copy of another name of the same source inode (links kept):
    /// under `--update` it replaces even a newer destination, as cp does, so that the names of
    /// one source file stay one file in the copy.
    pub keeps_link: bool,
}

/// The decision about an existing destination object.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Leave it (`-n`, `--update`, a "no" to `-i`).
    Keep,
    /// It was moved aside (backup) or removed: the name is free.
    Freed,
    /// A regular file the caller may open and overwrite in place (as cp does).
    Overwrite,
}

/// Decides about `existing` at `name` in `dir` for `incoming`. `in_place` says whether the
/// caller can overwrite a regular file in place (regular-file copies can; symlinks, special
/// files and links always need the name freed).
pub fn decide(
    dir: BorrowedFd<'_>,
    name: &CStr,
    dst_path: &Path,
    existing: &Stat,
    incoming: Incoming<'_>,
    options: &Options,
    in_place: bool,
) -> Result<Decision, EntryError> {
    let id = (existing.dev, existing.ino);
    let src_id = (incoming.stat.dev, incoming.stat.ino);
    // Moved aside by a backup, or unlinked first (another name of the source): not lost, as
    // cp allows (`cp -b foo hardlink`, `cp --remove-destination foo hardlink`, `cp -bd symlink
    // foo`). The command-line operands were checked against cp's full rules before
    // (`ucopy_core::target`).
    let unlinked_first = options.backup != Backup::Off || options.remove_destination;
    if (id == src_id && !unlinked_first)
        || (incoming.resolves_to == Some(id) && options.backup == Backup::Off)
    {
        return Err(same_file(incoming.path, dst_path));
    }
    // What this run just made is not replaced by another source (`cp a/f b/f c/`), except that
    // numbered backups keep both, as with cp; a just-made symlink is never copied through.
    if let Some(created) = &options.just_created {
        if created.contains(dst_path) {
            let message = if existing.kind() == ucopy_core::Kind::Symlink {
                format!(
                    "will not copy '{}' through just-created symlink '{}'",
                    incoming.path.display(),
                    dst_path.display()
                )
            } else if options.backup == Backup::Numbered {
                String::new()
            } else {
                format!(
                    "will not overwrite just-created '{}' with '{}'",
                    dst_path.display(),
                    incoming.path.display()
                )
            };
            if !message.is_empty() {
                return Err(EntryError::new(
                    dst_path,
                    Op::Refused,
                    io::Error::other(message),
                ));
            }
        }
    }
    if options.keeps_existing() {
        return Ok(Decision::Keep);
    }
    if options.update == Update::Older
        && existing.mtime >= incoming.stat.mtime
        && !incoming.keeps_link
    {
        return Ok(Decision::Keep);
    }
    if let Some(confirm) = &options.confirm {
        if !(confirm.0)(dst_path) {
            return Ok(Decision::Keep);
        }
    }
    // After -n, -u and -i, as cp: a "no" to the question leaves the directory, no error.
    if existing.kind() == ucopy_core::Kind::Dir {
        return Err(EntryError::new(
            dst_path,
            Op::Conflict,
            io::Error::other("a directory is in the way of a non-directory"),
        ));
    }
    if options.backup != Backup::Off {
        let backup = backup_name(dir, name, options)
            .map_err(|e| EntryError::new(dst_path, Op::Remove, e))?;
        // `cp -b a~ a`: the backup name is the source itself; renaming onto it would destroy it.
        if let Ok(b) = rfs::statat(dir, backup.as_c_str(), rfs::AtFlags::SYMLINK_NOFOLLOW) {
            if crate::file_id_of(&b) == src_id {
                return Err(EntryError::new(
                    dst_path,
                    Op::Refused,
                    io::Error::other(format!(
                        "backing up '{}' might destroy source;  '{}' not copied",
                        dst_path.display(),
                        incoming.path.display()
                    )),
                ));
            }
        }
        rfs::renameat(dir, name, dir, backup.as_c_str())
            .map_err(|e| EntryError::new(dst_path, Op::Remove, e))?;
        return Ok(Decision::Freed);
    }
    // --attributes-only writes no data, so it never removes a destination to make room for a
    // symlink or special file: as with cp, the name is taken only with -f or
    // --remove-destination (which unlinks it before this point).
    if options.attributes_only && !options.force && !options.remove_destination {
        let what = match incoming.stat.kind() {
            ucopy_core::Kind::Symlink => Some("symbolic link"),
            ucopy_core::Kind::Special => Some("special file"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(EntryError::new(
                dst_path,
                Op::Refused,
                io::Error::other(format!(
                    "cannot create {what} '{}': File exists",
                    dst_path.display()
                )),
            ));
        }
    }
    // Under -a a file with other names is unlinked first so they keep their data; with
    // --attributes-only no data is written, so it keeps its inode (and its links), as with cp.
    let hard_linked = options.preserved().links && existing.nlink > 1 && !options.attributes_only;
    if in_place
        && FileType::from_raw_mode(existing.mode) == FileType::RegularFile
        && !hard_linked
        && !options.remove_destination
    {
        return Ok(Decision::Overwrite);
    }
    crate::dest::remove_entry(dir, name, false)
        .map_err(|e| EntryError::new(dst_path, Op::Remove, e))?;
    Ok(Decision::Freed)
}

/// The re-sync fast path (`-u`, `-n`, `--update=none`): true when the destination of `job`
/// exists and would be kept anyway, decided from one `fstatat` of the destination and the
/// planner's stat of the source, before the source is even opened. Anything unusual (absent, a
/// directory, the source itself, just created by this
/// run, `-i`) is left to the normal path, which decides with the opened source.
pub fn kept_as_is(job: &ucopy_core::FileJob, options: &Options) -> bool {
    let keeps = options.keeps_existing();
    if !keeps && options.update != Update::Older {
        return false;
    }
    if options.confirm.is_some() || options.just_created.is_some() {
        return false;
    }
    let Ok(st) = rfs::statat(
        std::os::fd::AsFd::as_fd(&*job.dst_dir),
        &*job.dst_name,
        rfs::AtFlags::SYMLINK_NOFOLLOW,
    ) else {
        return false;
    };
    let existing = Stat::from(&st);
    if existing.kind() == ucopy_core::Kind::Dir
        || (existing.dev, existing.ino) == (job.stat.dev, job.stat.ino)
    {
        return false;
    }
    keeps || existing.mtime >= job.stat.mtime
}

/// GNU cp's refusal to copy a file onto itself.
pub fn same_file(src: &Path, dst: &Path) -> EntryError {
    EntryError::new(
        dst,
        Op::Refused,
        io::Error::other(format!(
            "'{}' and '{}' are the same file",
            src.display(),
            dst.display()
        )),
    )
}

/// The name an existing `name` is renamed to under `--backup`: `name~` (or `-S` suffix), or
/// `name.~N~` with N one more than the highest numbered backup present (GNU's rules, including
/// `existing`: numbered only if numbered backups exist already).
pub fn backup_name(dir: BorrowedFd<'_>, name: &CStr, options: &Options) -> io::Result<CString> {
    let simple = || {
        let mut v = name.to_bytes().to_vec();
        v.extend_from_slice(options.backup_suffix.as_bytes());
        CString::new(v).map_err(|_| io::Error::other("backup suffix contains NUL"))
    };
    if options.backup == Backup::Simple {
        return simple();
    }
    let highest = highest_numbered(dir, name.to_bytes())?;
    if options.backup == Backup::Existing && highest == 0 {
        return simple();
    }
    let mut v = name.to_bytes().to_vec();
    v.extend_from_slice(format!(".~{}~", highest + 1).as_bytes());
    Ok(CString::new(v).expect("no NUL"))
}

/// The highest N of `name.~N~` entries in `dir` (0 when there are none). Lists through a fresh
/// descriptor so the shared directory fd's offset is never moved.
fn highest_numbered(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<u64> {
    let fd = rfs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = vec![MaybeUninit::uninit(); 32 << 10];
    let mut listing = RawDir::new(&fd, &mut buf);
    let mut highest = 0;
    while let Some(entry) = listing.next() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        let Some(rest) = n.strip_prefix(name).and_then(|r| r.strip_prefix(b".~")) else {
            continue;
        };
        let Some(digits) = rest.strip_suffix(b"~") else {
            continue;
        };
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            if let Ok(k) = std::str::from_utf8(digits).unwrap_or("0").parse::<u64>() {
                highest = highest.max(k);
            }
        }
    }
    Ok(highest)
}
