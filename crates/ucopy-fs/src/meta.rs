//! Applying metadata to destination objects: owner, xattrs, mode, times — in that order.
//!
//! Order matters: `chown` clears setuid/setgid and file capabilities, so ownership goes first;
//! user xattrs need write permission on the inode, so they go before a read-only mode; times go
//! last because every other change touches ctime only, but writing xattrs or data would not be
//! allowed after a read-only mode anyway.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timestamps};
use rustix::io::Errno;
use ucopy_core::{Op, Options, Stat};

use crate::dest::{created_at_final_mode, final_mode};

/// What a metadata step failed at.
#[derive(Debug)]
pub struct MetaError {
    /// Which step.
    pub op: Op,
    /// Why.
    pub error: io::Error,
}

impl MetaError {
    fn new(op: Op, e: impl Into<io::Error>) -> Self {
        MetaError {
            op,
            error: e.into(),
        }
    }
}

/// Is this process allowed to set arbitrary owners? Asked once; a non-root `chown` failure is not
/// an error (docs/behaviour-table.md, row 18).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn times_of(stat: &Stat) -> Timestamps {
    Timestamps {
        last_access: stat.atime.to_timespec(),
        last_modification: stat.mtime.to_timespec(),
    }
}

/// A chown's result as the copy sees it: as non-root, giving a file away fails with EPERM and
/// cp -a carries on silently (docs/behaviour-table.md, row 18).
fn chown_checked(result: rustix::io::Result<()>) -> Result<(), MetaError> {
    match result {
        Err(e) if e != Errno::PERM || is_root() => Err(MetaError::new(Op::Chown, e)),
        _ => Ok(()),
    }
}

/// Gives `obj` (an fd, or an `O_PATH` fd with `AT_EMPTY_PATH`) the source's owner and group. When
/// both cannot be set (EPERM: not root, or a group the user is not in), the group alone is tried,
/// as cp does: a user in the source's group keeps at least that.
fn chown_obj(obj: BorrowedFd<'_>, stat: &Stat) -> Result<(), MetaError> {
    let set = |uid: Option<u32>| {
        rfs::chownat(
            obj,
            c"",
            uid.map(rustix::process::Uid::from_raw),
            Some(rustix::process::Gid::from_raw(stat.gid)),
            AtFlags::EMPTY_PATH,
        )
    };
    match set(Some(stat.uid)) {
        Err(Errno::PERM) => {
            let _ = set(None);
            chown_checked(Err(Errno::PERM))
        }
        other => chown_checked(other),
    }
}

/// The mode to apply: [`final_mode`], less setuid, setgid and sticky when ownership is preserved
/// but `obj` did not get the source's owner and group (a non-root copy of root's setuid file
/// must not become a setuid file of the user's), as cp does.
fn mode_for(obj: BorrowedFd<'_>, stat: &Stat, options: &Options) -> Result<u32, MetaError> {
    let mode = final_mode(stat, options);
    if mode & 0o7000 == 0 || !options.preserved().ownership {
        return Ok(mode);
    }
    let st = rfs::fstat(obj).map_err(|e| MetaError::new(Op::Stat, e))?;
    if (st.st_uid, st.st_gid) == (stat.uid, stat.gid) {
        Ok(mode)
    } else {
        Ok(mode & !0o7000)
    }
}

/// Finishes a regular file through its open fd: [`own_fd`] then [`mode_and_times_fd`].
pub fn finish_fd(
    dst: BorrowedFd<'_>,
    src: Option<BorrowedFd<'_>>,
    stat: &Stat,
    options: &Options,
    created: bool,
) -> Result<(), MetaError> {
    own_fd(dst, src, stat, options)?;
    // A file created by this run without `-a` already has its final mode.
    let needs_mode = created && !created_at_final_mode(options);
    mode_and_times_fd(dst, stat, options, needs_mode)
}

/// Owner, then xattrs (read from `src`), as far as they are preserved (`-a`, `--preserve`). Directories get this when they are created,
/// so their children are created inside a directory that already has its owner.
pub fn own_fd(
    dst: BorrowedFd<'_>,
    src: Option<BorrowedFd<'_>>,
    stat: &Stat,
    options: &Options,
) -> Result<(), MetaError> {
    let keep = options.preserved();
    if keep.ownership {
        chown_obj(dst, stat)?;
    }
    if let (true, Some(src)) = (keep.xattr, src) {
        copy_xattrs_fd(src, dst).map_err(|e| MetaError::new(Op::Xattr, e))?;
    } else if let (true, Some(src)) = (keep.mode, src) {
        write_xattrs(dst, &read_acls(src)?).map_err(|e| MetaError::new(Op::Xattr, e))?;
    }
    Ok(())
}

/// The POSIX ACLs stored as xattrs: part of the mode for `cp -p`/`--preserve=mode`, which copies
/// them without the other xattrs.
const ACL_NAMES: [&CStr; 2] = [c"system.posix_acl_access", c"system.posix_acl_default"];

/// Reads an object's ACLs (empty where it has none or the filesystem has no ACLs).
pub fn read_acls(src: BorrowedFd<'_>) -> Result<Xattrs, MetaError> {
    let mut out = Vec::new();
    for name in ACL_NAMES {
        match list(|buf| rfs::fgetxattr(src, name, buf)) {
            Ok(v) => out.push((name.to_owned(), v)),
            Err(Errno::NODATA | Errno::OPNOTSUPP) => {}
            Err(e) => return Err(MetaError::new(Op::Xattr, e)),
        }
    }
    Ok(out)
}

/// The final mode and, under `-a`, times. Without `-a` only a newly created object gets its mode
/// (cp -r keeps an existing file's or directory's mode) and times are left as the copy made them.
/// Directories get this last, after everything inside them was written.
pub fn mode_and_times_fd(
    dst: BorrowedFd<'_>,
    stat: &Stat,
    options: &Options,
    created: bool,
) -> Result<(), MetaError> {
    let keep = options.preserved();
    if keep.mode || created {
        let mode = Mode::from_raw_mode(mode_for(dst, stat, options)?);
        rfs::fchmod(dst, mode).map_err(|e| MetaError::new(Op::Chmod, e))?;
    }
    if keep.timestamps {
        rfs::futimens(dst, &times_of(stat)).map_err(|e| MetaError::new(Op::SetTimes, e))?;
    }
    Ok(())
}

/// Finishes an object by name relative to its directory: symlinks and special files (which are
/// never opened for I/O), and files written through io_uring direct descriptors. `src_dir` /
/// `src_name` locate the source object for its xattrs.
///
/// Anyone who can write the destination directory can rename another object over the name
/// between its creation and this call. So nothing here acts on the name: the object is opened
/// `O_PATH | O_NOFOLLOW` (which never follows a symlink and never opens a FIFO or device for
/// I/O), checked to be what was created — same file type, one link (a hard link to somebody
/// else's file has two), owned by this process — and every change goes through that descriptor.
#[allow(clippy::too_many_arguments)]
pub fn finish_at(
    dst_dir: BorrowedFd<'_>,
    dst_name: &CStr,
    src_dir: BorrowedFd<'_>,
    src_name: &CStr,
    stat: &Stat,
    options: &Options,
    created: bool,
    is_symlink: bool,
) -> Result<(), MetaError> {
    let keep = options.preserved();
    // A created object already has its final mode unless something changes it later
    // (dest::created_at_final_mode).
    let wants_mode = !is_symlink && (keep.mode || (created && !created_at_final_mode(options)));
    if !keep.any_fd_meta() && !wants_mode {
        return Ok(());
    }
    let obj = open_created(dst_dir, dst_name, stat.mode, created)?;
    let by_fd = proc_fd_path(obj.as_fd());
    if keep.ownership {
        chown_obj(obj.as_fd(), stat)?;
    }
    if keep.xattr {
        // A symlink's xattrs go by name without following (`l*xattr`): the magic link of an
        // `O_PATH` symlink descriptor cannot be followed to the symlink itself.
        let dst = if is_symlink {
            XattrTarget::NoFollow(proc_path(dst_dir, dst_name))
        } else {
            XattrTarget::Follow(by_fd.clone())
        };
        copy_xattrs_at(src_dir, src_name, &dst).map_err(|e| MetaError::new(Op::Xattr, e))?;
    } else if keep.mode && !is_symlink {
        let src = proc_path(src_dir, src_name);
        for name in ACL_NAMES {
            let value = match list(|buf| rfs::lgetxattr(src.as_c_str(), name, buf)) {
                Ok(v) => v,
                Err(Errno::NODATA | Errno::OPNOTSUPP) => continue,
                Err(e) => return Err(MetaError::new(Op::Xattr, e)),
            };
            match rfs::setxattr(by_fd.as_c_str(), name, &value, rfs::XattrFlags::empty()) {
                Ok(()) => {}
                Err(e) if xattr_unsupported(e) => {}
                Err(e) => return Err(MetaError::new(Op::Xattr, e)),
            }
        }
    }
    if wants_mode {
        // `/proc/self/fd/N` resolves to the checked object itself, never to a path that could
        // have been swapped; the kernel has no fchmod for `O_PATH` descriptors.
        let mode = mode_for(obj.as_fd(), stat, options)?;
        rfs::chmod(by_fd.as_c_str(), Mode::from_raw_mode(mode))
            .map_err(|e| MetaError::new(Op::Chmod, e))?;
    }
    if keep.timestamps {
        let times = times_of(stat);
        let set = if is_symlink {
            rfs::utimensat(obj.as_fd(), c"", &times, AtFlags::EMPTY_PATH)
        } else {
            rfs::utimensat(rfs::CWD, by_fd.as_c_str(), &times, AtFlags::empty())
        };
        set.map_err(|e| MetaError::new(Op::SetTimes, e))?;
    }
    Ok(())
}

/// Opens the object this copy just created at `dir/name` without following or opening it for
/// I/O, and checks that it still is that object (see [`finish_at`]).
fn open_created(
    dir: BorrowedFd<'_>,
    name: &CStr,
    src_mode: u32,
    created: bool,
) -> Result<OwnedFd, MetaError> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| MetaError::new(Op::Open, e))?;
    let st = rfs::fstat(&fd).map_err(|e| MetaError::new(Op::Stat, e))?;
    let same_type = FileType::from_raw_mode(st.st_mode) == FileType::from_raw_mode(src_mode);
    // An existing file that was overwritten in place may belong to anyone (an earlier `-a` copy
    // gave it to the source's owner); one this copy created belongs to this process.
    let ours = !created || st.st_uid == rustix::process::geteuid().as_raw();
    if !same_type || st.st_nlink != 1 || !ours {
        return Err(MetaError::new(
            Op::Changed,
            io::Error::other("replaced by another object during the copy; metadata not applied"),
        ));
    }
    Ok(fd)
}

/// `/proc/self/fd/N`: a path that resolves to exactly the object `fd` refers to.
fn proc_fd_path(fd: BorrowedFd<'_>) -> CString {
    use std::os::fd::AsRawFd;
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("digits have no NUL")
}

/// Errors from writing an xattr that mean "this destination cannot hold it": not a per-file error
/// under `-a` (docs/behaviour-table.md, row 19), as with cp.
fn xattr_unsupported(e: Errno) -> bool {
    e == Errno::OPNOTSUPP || (e == Errno::PERM && !is_root())
}

fn copy_xattrs_fd(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    write_xattrs(dst, &read_xattrs(src)?)
}

/// Extended attributes read from one object, to be written to another later.
pub type Xattrs = Vec<(CString, Vec<u8>)>;

/// Reads every xattr of an open object (empty where the filesystem has none).
pub fn read_xattrs(src: BorrowedFd<'_>) -> io::Result<Xattrs> {
    let names = match list(|buf| rfs::flistxattr(src, buf)) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in split_names(&names) {
        if name == crate::dest::UNFINISHED_XATTR {
            continue;
        }
        match list(|buf| rfs::fgetxattr(src, name, buf)) {
            Ok(v) => out.push((name.to_owned(), v)),
            Err(Errno::NODATA) => continue, // removed meanwhile
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Writes xattrs to an open object; a destination that cannot hold them is not an error.
pub fn write_xattrs(dst: BorrowedFd<'_>, xattrs: &Xattrs) -> io::Result<()> {
    for (name, value) in xattrs {
        match rfs::fsetxattr(dst, name, value, rfs::XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if xattr_unsupported(e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The `l*xattr` calls take a path; `/proc/self/fd/<dirfd>/<name>` names an entry relative to a
/// directory we hold open without re-resolving a long path (the kernel has no `*xattrat` before
/// 6.13).
fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    use std::os::fd::AsRawFd;
    let mut bytes = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    bytes.extend_from_slice(name.to_bytes());
    CString::new(bytes).expect("a CStr has no interior NUL")
}

/// Where xattrs are written by path: following the final component (a `/proc/self/fd/N` magic
/// link to a checked object) or not (a symlink's own name).
enum XattrTarget {
    Follow(CString),
    NoFollow(CString),
}

fn copy_xattrs_at(src_dir: BorrowedFd<'_>, src_name: &CStr, dst: &XattrTarget) -> io::Result<()> {
    let src = proc_path(src_dir, src_name);
    let names = match list(|buf| rfs::llistxattr(src.as_c_str(), buf)) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in split_names(&names) {
        if name == crate::dest::UNFINISHED_XATTR {
            continue;
        }
        let value = match list(|buf| rfs::lgetxattr(src.as_c_str(), name, buf)) {
            Ok(v) => v,
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(e.into()),
        };
        let set = match dst {
            XattrTarget::Follow(p) => {
                rfs::setxattr(p.as_c_str(), name, &value, rfs::XattrFlags::empty())
            }
            XattrTarget::NoFollow(p) => {
                rfs::lsetxattr(p.as_c_str(), name, &value, rfs::XattrFlags::empty())
            }
        };
        match set {
            Ok(()) => {}
            Err(e) if xattr_unsupported(e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Calls an xattr getter with a buffer that grows until the value fits. Starting at 4 KiB means
/// one call in the common case (no xattrs, or small ones) instead of a size query plus a read.
fn list(
    mut call: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    loop {
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            // Too small: xattr values and lists are at most 64 KiB on Linux; grow past that and
            // the kernel answers E2BIG instead.
            Err(Errno::RANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

fn split_names(list: &[u8]) -> impl Iterator<Item = &CStr> {
    list.split_inclusive(|b| *b == 0)
        .filter_map(|n| CStr::from_bytes_with_nul(n).ok())
        .filter(|n| !n.is_empty())
}
