//! Creating destination objects without ever writing through something that is in the way.
//!
//! The rules (docs/behaviour-table.md, rows 3–6 and 20): a new file
//! is created with `O_EXCL | O_NOFOLLOW`, at its final mode without `-a`, and under `-a` (where
//! owner and mode change later) at a mode no wider than `0600` (or the final mode, if narrower);
//! an existing symlink, FIFO, socket or device at the destination name is removed and replaced,
//! never opened; an existing directory is a type conflict; under `-a` a regular file with other
//! hard links is unlinked first so the other names keep their data.
//!
//! **Resuming an interrupted copy** (docs/behaviour-table.md, row 41).
//! Directories, and under `-a` files, are private while they are written (files `0600` or narrower, directories
//! `0700`) and get their final mode when complete — except a directory that, without `-a`, can be
//! made at its final mode ([`dir_final_at_creation`]: as `cp -r` makes it, when that mode lets its
//! owner fill it and nobody else write): it has no mark and nothing changes it after `mkdir`.
//! (Without `-a` a file is created at its final mode and nothing changes it: like any complete
//! existing file, a partial one a killed run left is rewritten by a re-run and kept by `-n`, as
//! with `cp -r`.) A copy killed midway (SIGKILL, power loss) leaves the private ones private, and
//! partial. So that running the same command again converges to what an uninterrupted run gives,
//! a private directory carries a mark no finished copy has while it fills: the xattr
//! [`UNFINISHED_XATTR`], set right after `mkdir` and
//! removed just before the final mode is applied (where the filesystem refuses user xattrs there
//! is no mark, which is `cp -r`'s behaviour) — see [`is_left_unfinished`]. A directory found with
//! it is treated as this run's own creation: it gets its final mode when it is finished, with or
//! without `-a`. Files carry no mark: the permission bits must stay exactly what `cp` shows while
//! it writes (no group or other access, no special bits), and a re-run overwrites an existing file
//! anyway (under `-a`/`-p` re-applying its metadata). Any other existing entry keeps its mode
//! without `-a`, as with `cp -r`: a user's own `0600` file or `0700` directory is never widened.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::existing::{decide, Decision, Incoming};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use ucopy_core::{EntryError, FileJob, Op, Options, Stat};

/// Flags for the fast-path create of a regular destination file (`openat` with these flags and
/// [`create_mode`] must fail with `EEXIST` rather than touch anything that already exists; on
/// `EEXIST` the existing object is examined instead).
pub(crate) const CREATE_FLAGS: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Flags for opening a source file: never follow a symlink swapped in, never block on a FIFO
/// swapped in, never become a controlling terminal.
pub const SOURCE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);

/// The permission bits the destination ends with: exactly the source's when the mode is
/// preserved (`-a`, `-p`); otherwise, as `cp -r` does, the source's bits less the umask — rwx
/// for files, rwx and the sticky bit for directories (mkdir keeps it: `cp -r` of a 1777
/// directory gives 1755 under umask 022); with `--no-preserve=mode`, 0666 or 0777 less the umask,
/// and a directory keeps the source's sticky bit (as `cp -r --no-preserve=mode` does).
pub fn final_mode(stat: &Stat, options: &Options) -> u32 {
    let keep = options.preserved();
    let is_dir = stat.kind() == ucopy_core::Kind::Dir;
    if keep.mode {
        stat.permissions()
    } else if keep.default_mode {
        if is_dir {
            (0o777 & !options.umask) | (stat.mode & 0o1000)
        } else {
            0o666 & !options.umask
        }
    } else if is_dir {
        stat.mode & 0o1777 & !options.umask
    } else {
        stat.mode & 0o777 & !options.umask
    }
}

/// True when a new file or special file is created with its final mode and nothing changes its
/// owner or mode afterwards: every copy that keeps neither mode, owner nor xattrs (`cp -r`
/// without `-p`/`-a`, and cpz). There is then no
/// moment at which the file is wider than its final mode, and one `fchmod` per file is saved.
/// The kernel applies the process umask at creation, which is what [`final_mode`] applies
/// (`Options::umask` is the process umask).
pub fn created_at_final_mode(options: &Options) -> bool {
    let keep = options.preserved();
    !(keep.mode || keep.ownership || keep.xattr)
}

/// The mode a new file (or special file) is created with. Without `-a`, its final mode (see
/// [`created_at_final_mode`]). Under `-a`, where owner and mode change after creation, a private
/// mode while its data is written: no group or other bits and no special bits (so nobody else
/// can read a partial file), owner read only if the final mode has it, and owner write always —
/// a non-root owner needs it to set `user.*` xattrs on a file whose final mode is read-only; the
/// final `chmod` takes it away again.
pub fn create_mode(stat: &Stat, options: &Options) -> Mode {
    let mode = final_mode(stat, options);
    if created_at_final_mode(options) {
        Mode::from_raw_mode(mode)
    } else {
        Mode::from_raw_mode((mode & 0o400) | 0o200)
    }
}

/// The xattr marking a directory still being filled by ucopy (see the module docs). It is never
/// copied from a source (`meta::read_xattrs` skips it) and never left on a finished directory.
pub const UNFINISHED_XATTR: &CStr = c"user.ucopy.unfinished";

/// The mode a new regular file is created with: [`create_mode`].
pub fn private_file_mode(stat: &Stat, options: &Options) -> Mode {
    create_mode(stat, options)
}

/// The mode a destination directory is created with while it fills (its final mode is applied
/// once everything in it is written).
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The mode a new directory is made with when it is made at its final mode, as `cp -r` makes it:
/// without a kept mode, owner or xattrs ([`created_at_final_mode`]), when that mode lets its owner
/// fill it (`rwx`) and gives nobody else write access (row 20: a half-made directory is never
/// group- or other-writable). Such a directory carries no unfinished mark and gets no `chmod`
/// when finished: nothing about it changes after `mkdir`, so a killed run leaves it exactly as an
/// uninterrupted one would, and a re-run merges into it. `None`: it is made private
/// ([`PRIVATE_DIR_MODE`]) and marked, and gets its final mode when finished.
pub fn dir_final_at_creation(stat: &Stat, options: &Options) -> Option<Mode> {
    let mode = final_mode(stat, options);
    (created_at_final_mode(options) && mode & 0o700 == 0o700 && mode & 0o022 == 0)
        .then(|| Mode::from_raw_mode(mode))
}

/// Gives a directory this run made its final mode when the mode is not kept (`-a`/`-p` apply the
/// source's exactly): [`final_mode`], and the set-group-ID bit it inherited from a set-group-ID
/// parent, which `cp -r` leaves on a directory it makes.
pub fn chmod_made_dir(
    dir: BorrowedFd<'_>,
    stat: &Stat,
    options: &Options,
) -> Result<(), (Op, io::Error)> {
    let inherited = rfs::fstat(dir).map_err(|e| (Op::Stat, e.into()))?.st_mode & 0o2000;
    let mode = Mode::from_raw_mode(final_mode(stat, options) | inherited);
    rfs::fchmod(dir, mode).map_err(|e| (Op::Chmod, e.into()))
}

/// Marks a directory this run just created as unfinished; a filesystem without user xattrs
/// (or one refusing them) gets no mark.
pub fn mark_unfinished(dir: BorrowedFd<'_>) {
    let _ = rfs::fsetxattr(dir, UNFINISHED_XATTR, b"", rfs::XattrFlags::empty());
}

/// Removes the unfinished mark before a directory gets its final mode (absent is fine).
pub fn clear_unfinished(dir: BorrowedFd<'_>) -> io::Result<()> {
    match rfs::fremovexattr(dir, UNFINISHED_XATTR) {
        Ok(()) | Err(Errno::NODATA) | Err(Errno::OPNOTSUPP) => Ok(()),
        Err(Errno::PERM) | Err(Errno::ACCESS) if !crate::meta::is_root() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// True when an existing destination directory carries the unfinished mark: left by a run that
/// was killed before it finished this directory.
pub fn is_left_unfinished(dir: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 1];
    rfs::fgetxattr(dir, UNFINISHED_XATTR, &mut buf).is_ok()
}

/// A destination file ready for data (wrapped by [`crate::NewFile`], the only way executors get
/// one, so that its life's rules cannot be skipped).
#[derive(Debug)]
pub(crate) struct DestFile {
    /// Open for writing, empty.
    pub fd: OwnedFd,
    /// True when this run created it (false when an existing file was truncated); only such a
    /// file gets the final mode applied without `-a`, as with cp.
    pub created: bool,
}

/// Creates (or, for an existing regular file, truncates) the destination of `job`.
/// `Ok(None)` means "exists and is kept" (`-n`, `--update`, `-i`). `src` is the opened source's
/// stat: a destination that is the very same inode is refused, so the source can never be
/// truncated. What happens to an existing object is [`crate::existing::decide`]'s call.
pub(crate) fn create_file(
    job: &FileJob,
    src: &Stat,
    options: &Options,
) -> Result<Option<DestFile>, EntryError> {
    let dir = job.dst_dir.as_fd();
    let mode = private_file_mode(src, options);
    // Two rounds: a replaced object may be recreated by someone else in between; after that we
    // report instead of looping.
    for _ in 0..2 {
        match rfs::openat(dir, &*job.dst_name, CREATE_FLAGS, mode) {
            Ok(fd) => return Ok(Some(DestFile { fd, created: true })),
            Err(Errno::EXIST) => {}
            Err(e) => return Err(EntryError::new(job.dst_path(), Op::Create, e)),
        }
        let existing = match rfs::statat(dir, &*job.dst_name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Stat::from(&st),
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(EntryError::new(job.dst_path(), Op::Stat, e)),
        };
        let src_path = job.path();
        let incoming = Incoming {
            path: &src_path,
            stat: src,
            resolves_to: None,
            keeps_link: false,
        };
        let decision = decide(
            dir,
            &job.dst_name,
            &job.dst_path(),
            &existing,
            incoming,
            options,
            true,
        )?;
        match decision {
            Decision::Keep => return Ok(None),
            Decision::Freed => continue,
            Decision::Overwrite => match open_existing(job, !options.attributes_only) {
                Ok(Some(fd)) => return Ok(Some(DestFile { fd, created: false })),
                Ok(None) => continue,
                // -f: a destination that cannot be opened is removed and made again.
                Err(e) if options.force && e.raw_os_error().is_some() => {
                    remove_entry(dir, &*job.dst_name, false)
                        .map_err(|e| EntryError::new(job.dst_path(), Op::Remove, e))?;
                }
                Err(e) => return Err(EntryError::new(job.dst_path(), Op::Create, e)),
            },
        }
    }
    Err(EntryError::new(
        job.dst_path(),
        Op::Create,
        io::Error::other("destination keeps changing while it is replaced"),
    ))
}

/// Opens an existing regular destination file for overwriting (truncated unless `truncate` is
/// false: `--attributes-only` keeps its data). `Ok(None)` when it turned out not to be a
/// regular file any more (raced): the caller goes round again.
fn open_existing(job: &FileJob, truncate: bool) -> io::Result<Option<OwnedFd>> {
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = match rfs::openat(job.dst_dir.as_fd(), &*job.dst_name, flags, Mode::empty()) {
        Ok(fd) => fd,
        // ELOOP: a symlink appeared. ENXIO: a FIFO without reader appeared. Go round again.
        Err(Errno::LOOP | Errno::NXIO | Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let st = rfs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        remove_entry(job.dst_dir.as_fd(), &*job.dst_name, false)?;
        return Ok(None);
    }
    if truncate {
        rfs::ftruncate(&fd, 0)?;
    }
    Ok(Some(fd))
}

/// Removes a destination entry that is in the way (or a partial file), tolerating its absence.
pub fn remove_entry<Fd: AsFd, P: rustix::path::Arg>(
    dir: Fd,
    name: P,
    is_dir: bool,
) -> io::Result<()> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    match rfs::unlinkat(dir, name, flags) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What is at a destination name that a symlink, special file or hard link is about to take.
#[derive(Debug, PartialEq, Eq)]
pub enum Room {
    /// The name is free now (it was, or what was there was removed).
    Free,
    /// Something is there and is kept (`-n`, `--update`, `-i`).
    Keep,
    /// The object there already is the wanted inode (a hard link made by an earlier run).
    Same,
}

/// Frees `name` in `dir` for a new non-directory object (`incoming`): what is there is kept,
/// moved aside or removed as [`crate::existing::decide`] says — never opened. `wanted` is the
/// inode a hard link should reach: if it is already there, nothing is done. Called after a
/// create failed with `EEXIST`, so the common case costs nothing.
pub fn make_room(
    dir: BorrowedFd<'_>,
    name: &CStr,
    dst_path: &Path,
    options: &Options,
    wanted: Option<(u64, u64)>,
    incoming: Incoming<'_>,
) -> Result<Room, EntryError> {
    let existing = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Stat::from(&st),
        Err(Errno::NOENT) => return Ok(Room::Free),
        Err(e) => return Err(EntryError::new(dst_path, Op::Stat, e)),
    };
    if wanted == Some((existing.dev, existing.ino)) {
        return Ok(Room::Same);
    }
    match decide(dir, name, dst_path, &existing, incoming, options, false)? {
        Decision::Keep => Ok(Room::Keep),
        Decision::Freed | Decision::Overwrite => Ok(Room::Free),
    }
}

/// Makes a non-directory object at `(dir, name)` with `create` (a link, symlink or special file); if
/// something is there, frees the name with [`make_room`] (what to do with it is decided from
/// `incoming()`, asked only then) and tries once more. `Room::Free` when the object was made;
/// `Keep` or `Same` when what is there stays. The step the driver's entries and a linked operand
/// share.
pub fn create_making_room<'a>(
    (dir, name): (&OwnedFd, &CStr),
    dst_path: &Path,
    op: Op,
    options: &Options,
    wanted: Option<(u64, u64)>,
    incoming: impl Fn() -> Incoming<'a>,
    create: impl Fn(&OwnedFd, &CStr) -> rustix::io::Result<()>,
) -> Result<Room, EntryError> {
    for _ in 0..2 {
        match create(dir, name) {
            Ok(()) => return Ok(Room::Free),
            Err(Errno::EXIST) => {
                match make_room(dir.as_fd(), name, dst_path, options, wanted, incoming())? {
                    Room::Free => continue,
                    other => return Ok(other),
                }
            }
            Err(e) => return Err(EntryError::new(dst_path, op, e)),
        }
    }
    Err(EntryError::new(dst_path, op, io::Error::from(Errno::EXIST)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(mode: u32) -> Stat {
        let mut st = Stat::regular_from_dirent(0, 0);
        st.mode = FileType::Directory.as_raw_mode() | mode;
        st
    }

    fn plain(umask: u32) -> Options {
        Options::builder().umask(umask).build()
    }

    #[test]
    fn a_directory_is_made_at_its_final_mode_only_when_nothing_changes_it_and_nobody_else_can_write(
    ) {
        let made = |st: &Stat, o: &Options| dir_final_at_creation(st, o).map(Mode::as_raw_mode);
        // cp -r's mode, owner rwx, no group/other write: made at it.
        assert_eq!(made(&dir(0o755), &plain(0o022)), Some(0o755));
        assert_eq!(made(&dir(0o1777), &plain(0o022)), Some(0o1755));
        assert_eq!(made(&dir(0o700), &plain(0o077)), Some(0o700));
        // Group-writable once finished (umask 002): private while it fills (row 20).
        assert_eq!(made(&dir(0o775), &plain(0o002)), None);
        // Its owner could not fill it: private, final mode applied when finished.
        assert_eq!(made(&dir(0o555), &plain(0o022)), None);
        // --no-preserve=mode: the default mode less the umask, and the source's sticky bit.
        let default_mode = Options::builder()
            .umask(0o022)
            .preserve(ucopy_core::Preserve {
                default_mode: true,
                ..Default::default()
            })
            .build();
        assert_eq!(made(&dir(0o7700), &default_mode), Some(0o1755));
        assert_eq!(made(&dir(0o2700), &default_mode), Some(0o755));
        // Mode, owner or xattrs kept: they change after mkdir.
        assert_eq!(
            made(&dir(0o755), &Options::builder().archive(true).build()),
            None
        );
    }
}
