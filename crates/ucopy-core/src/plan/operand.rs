//! What the user named: splitting an operand into its directory and name, opening that
//! directory, following a symlink operand (or a `-L` entry) to the object it resolves to.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::file_id;

/// Splits an operator-named path into the directory to open and the name within it, keeping a
/// display form of the directory (empty when the path has no directory part). `a/.`, `.` and
/// `/` name the directory itself (`a/.` merges contents), so their name is `.`.
pub fn split_operand(path: &Path) -> (PathBuf, CString) {
    let bytes = path.as_os_str().as_bytes();
    let mut end = bytes.len();
    while end > 1 && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &bytes[..end];
    let (dir, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|b| *b == b'/') {
        _ if trimmed == b"/" => (trimmed, b"."),
        Some(i) => (&trimmed[..i.max(usize::from(i == 0))], &trimmed[i + 1..]),
        None => (b"", trimmed),
    };
    let (dir, name) = if name == b"." || name == b".." {
        (trimmed, &b"."[..])
    } else {
        (dir, name)
    };
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir));
    (dir, CString::new(name).expect("paths have no NUL"))
}

/// Opens an operator-named directory (following symlinks, as cp does for operands).
pub fn open_operand_dir(dir: &Path) -> io::Result<OwnedFd> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok(rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Follows the symlink `name` in `dir` to the last object of its chain, returning that object's
/// directory (opened) and name, so it can be opened with `O_NOFOLLOW` like any other entry.
pub fn resolve_symlink(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<(OwnedFd, CString)> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = rfs::openat(dir, c".", dir_flags, Mode::empty())?;
    let mut name = name.to_owned();
    for _ in 0..40 {
        let st = rfs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            return Ok((dir, name));
        }
        let target = rfs::readlinkat(&dir, &name, Vec::new())?.into_bytes();
        match target.iter().rposition(|b| *b == b'/') {
            None => name = CString::new(target).expect("readlink has no NUL"),
            Some(i) => {
                let dir_part: &[u8] = if i == 0 { b"/" } else { &target[..i] };
                let last = &target[i + 1..];
                if last.is_empty() || last == b"." || last == b".." {
                    return Err(Errno::ISDIR.into());
                }
                dir = rfs::openat(
                    &dir,
                    std::ffi::OsStr::from_bytes(dir_part),
                    dir_flags,
                    Mode::empty(),
                )?;
                name = CString::new(last).expect("readlink has no NUL");
            }
        }
    }
    Err(Errno::LOOP.into())
}

/// True when two directory fds are the same directory.
pub(super) fn is_same_dir(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (rfs::fstat(a), rfs::fstat(b)) {
        (Ok(x), Ok(y)) => file_id(&x) == file_id(&y),
        _ => false,
    }
}

/// The name bytes of a C string, as an `OsStr` for display.
pub fn name_os(name: &CStr) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(name.to_bytes())
}
