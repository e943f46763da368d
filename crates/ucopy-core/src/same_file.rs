//! GNU cp's "are the same file" decision for a source named on the command line and the
//! existing destination it would replace, with cp's exceptions: a destination symlink may be
//! replaced when it is unlinked first (`--remove-destination`, `-b`, `-l`, `-s`); a hard link onto
//! the very file is nothing to do; two distinct symlinks to one file may replace each other when
//! copied as symlinks; a backup makes most replacements safe. The rules follow the outcomes GNU
//! cp 9.1 gives for every combination of `-d -f -b -l -s --remove-destination` over a file, a
//! symlink to it, a hard link to it and two symlinks to it.
//!
//! Inside trees ucopy keeps its stricter rule (`ucopy-fs`'s `existing::decide`).

use std::ffi::CStr;
use std::os::fd::BorrowedFd;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType};

use crate::file_id;
use crate::target::ResolveOptions;

/// What to do with one source and the existing destination it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameFile {
    /// Not the same file, or replacing it is safe: copy.
    Proceed,
    /// A hard link onto the file it already is: succeed without doing anything.
    NothingToDo,
    /// The copy would destroy the source's data: refuse.
    Refuse,
}

fn is_link(st: &rfs::Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Symlink
}

/// Decides for `source` (whose stat as the copy reads it, following command-line symlinks when
/// `opts.follow`, is `src_sb`) and `dest_dir`/`dest_name`.
pub fn decide(
    source: &Path,
    src_sb: &rfs::Stat,
    dest_dir: BorrowedFd<'_>,
    dest_name: &CStr,
    dest: &Path,
    opts: ResolveOptions,
) -> SameFile {
    use SameFile::{NothingToDo, Proceed, Refuse};
    let Ok(dst_l) = rfs::statat(dest_dir, dest_name, AtFlags::SYMLINK_NOFOLLOW) else {
        return Proceed;
    };
    let src_regular = FileType::from_raw_mode(src_sb.st_mode) == FileType::RegularFile;
    // A regular file would be written through a destination symlink unless the name is freed
    // first; everything else replaces the name, so it is compared without following.
    let use_lstat = !src_regular
        || opts.symbolic_link
        || opts.hard_link
        || opts.backup
        || opts.remove_destination;
    let dst_sb = if use_lstat {
        dst_l
    } else {
        match rfs::statat(dest_dir, dest_name, AtFlags::empty()) {
            Ok(st) => st,
            Err(_) => return Proceed,
        }
    };
    let same = file_id(src_sb) == file_id(&dst_sb);
    if same && opts.hard_link {
        return NothingToDo;
    }
    // The same directory entry: the same name in the same directory (by identity).
    let same_name = || {
        let dir_of = |p: &Path| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
            rfs::stat(parent.unwrap_or(Path::new("."))).map(|st| file_id(&st))
        };
        matches!((dir_of(source), dir_of(dest)), (Ok(a), Ok(b)) if a == b)
            && source.file_name() == dest.file_name()
    };
    let (src_l, same_link) = if !opts.follow {
        if is_link(src_sb) && is_link(&dst_sb) {
            if same_name() {
                return Refuse;
            }
            if opts.backup {
                return Proceed;
            }
            return if same { NothingToDo } else { Proceed };
        }
        (*src_sb, same)
    } else {
        if !same {
            return Proceed;
        }
        let Ok(src_l) = rfs::lstat(source) else {
            return Proceed;
        };
        if is_link(&src_l) && is_link(&dst_l) && opts.remove_destination {
            return Proceed;
        }
        (src_l, file_id(&src_l) == file_id(&dst_l))
    };
    let dst_l = if opts.follow { dst_l } else { dst_sb };
    if opts.backup {
        if !same_link {
            if opts.follow && is_link(&src_l) && !is_link(&dst_l) {
                return Refuse;
            }
            return Proceed;
        }
        return if same_name() { Refuse } else { Proceed };
    }
    if !is_link(&src_l) && !is_link(&dst_l) {
        if file_id(&src_l) != file_id(&dst_l) {
            return Proceed;
        }
        if opts.hard_link {
            return NothingToDo;
        }
        if opts.remove_destination && !same_name() {
            return Proceed;
        }
        return Refuse;
    }
    if opts.symbolic_link && is_link(&dst_l) {
        return Proceed;
    }
    if !opts.follow {
        let t_src = if is_link(&src_l) {
            match rfs::stat(source) {
                Ok(st) => st,
                Err(_) => return Proceed,
            }
        } else {
            src_l
        };
        let t_dst = if is_link(&dst_l) {
            match rfs::statat(dest_dir, dest_name, AtFlags::empty()) {
                Ok(st) => st,
                Err(_) => return Proceed,
            }
        } else {
            dst_l
        };
        if file_id(&t_src) != file_id(&t_dst) {
            return Proceed;
        }
        if opts.hard_link {
            return if is_link(&dst_l) {
                Proceed
            } else {
                NothingToDo
            };
        }
    }
    Refuse
}
