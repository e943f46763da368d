//! Applying metadata to destination objects: owner, xattrs, mode, times — in that order.
//!
//! Order matters: `chown` clears setuid/setgid and file capabilities, so ownership goes first;
//! user xattrs need write permission on the inode, so they go before a read-only mode; times go
//! last because every other change touches ctime only, but writing xattrs or data would not be
//! allowed after a read-only mode anyway.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{self as rfs, AtFlags, Mode, Timestamps};
use rustix::io::Errno;
use ucopy_core::{Options, Stat};

use crate::dest::final_mode;

/// What a metadata step failed at.
#[derive(Debug)]
pub struct MetaError {
    /// Which step.
    pub op: ucopy_core::Op,
    /// Why.
    pub error: io::Error,
}

impl MetaError {
    fn new(op: ucopy_core::Op, e: impl Into<io::Error>) -> Self {
        MetaError {
            op,
            error: e.into(),
        }
    }
}

/// Is this process allowed to set arbitrary owners? Asked once; a non-root `chown` failure is not
/// an error (behaviours.md row 18).
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
/// cp -a carries on silently (behaviours.md row 18).
fn chown_checked(result: rustix::io::Result<()>) -> Result<(), MetaError> {
    match result {
        Err(e) if e != Errno::PERM || is_root() => Err(MetaError::new(ucopy_core::Op::Chown, e)),
        _ => Ok(()),
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
    mode_and_times_fd(dst, stat, options, created)
}

/// Owner, then xattrs, as far as they are preserved (`-a`, `--preserve`) (read from `src`). Directories get this when they are created,
/// so their children are created inside a directory that already has its owner.
pub fn own_fd(
    dst: BorrowedFd<'_>,
    src: Option<BorrowedFd<'_>>,
    stat: &Stat,
    options: &Options,
) -> Result<(), MetaError> {
    let keep = options.preserved();
    if keep.ownership {
        chown_checked(rfs::fchown(
            dst,
            Some(rustix::process::Uid::from_raw(stat.uid)),
            Some(rustix::process::Gid::from_raw(stat.gid)),
        ))?;
    }
    if let (true, Some(src)) = (keep.xattr, src) {
        copy_xattrs_fd(src, dst).map_err(|e| MetaError::new(ucopy_core::Op::Xattr, e))?;
    }
    Ok(())
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
        let mode = Mode::from_raw_mode(final_mode(stat, options));
        rfs::fchmod(dst, mode).map_err(|e| MetaError::new(ucopy_core::Op::Chmod, e))?;
    }
    if keep.timestamps {
        rfs::futimens(dst, &times_of(stat))
            .map_err(|e| MetaError::new(ucopy_core::Op::SetTimes, e))?;
    }
    Ok(())
}

/// Finishes an object by name relative to its directory, without following a final symlink:
/// symlinks and special files (which are never opened), and files written through io_uring
/// direct descriptors. `src_dir`/`src_name` locate the source object for its xattrs.
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
    if keep.ownership {
        chown_checked(rfs::chownat(
            dst_dir,
            dst_name,
            Some(rustix::process::Uid::from_raw(stat.uid)),
            Some(rustix::process::Gid::from_raw(stat.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        ))?;
    }
    if keep.xattr {
        copy_xattrs_at(src_dir, src_name, dst_dir, dst_name)
            .map_err(|e| MetaError::new(ucopy_core::Op::Xattr, e))?;
    }
    if !is_symlink && (keep.mode || created) {
        // fchmodat has no "don't follow"; the name was created by us a moment ago inside a
        // directory we hold open, and is not a symlink.
        let mode = final_mode(stat, options);
        rfs::chmodat(
            dst_dir,
            dst_name,
            Mode::from_raw_mode(mode),
            AtFlags::empty(),
        )
        .map_err(|e| MetaError::new(ucopy_core::Op::Chmod, e))?;
    }
    if keep.timestamps {
        rfs::utimensat(
            dst_dir,
            dst_name,
            &times_of(stat),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| MetaError::new(ucopy_core::Op::SetTimes, e))?;
    }
    Ok(())
}

/// Errors from writing an xattr that mean "this destination cannot hold it": not a per-file error
/// under `-a` (behaviours.md row 19), as with cp.
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

fn copy_xattrs_at(
    src_dir: BorrowedFd<'_>,
    src_name: &CStr,
    dst_dir: BorrowedFd<'_>,
    dst_name: &CStr,
) -> io::Result<()> {
    let src = proc_path(src_dir, src_name);
    let names = match list(|buf| rfs::llistxattr(src.as_c_str(), buf)) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if names.is_empty() {
        return Ok(());
    }
    let dst = proc_path(dst_dir, dst_name);
    for name in split_names(&names) {
        let value = match list(|buf| rfs::lgetxattr(src.as_c_str(), name, buf)) {
            Ok(v) => v,
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(e.into()),
        };
        match rfs::lsetxattr(dst.as_c_str(), name, &value, rfs::XattrFlags::empty()) {
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
