//! Destination work that depends on how the user named the operands rather than on the tree:
//! `--parents` directories, and a FIFO named as the destination.

use std::ffi::CString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, FileType, Mode, OFlags};
use rustix::io::Errno;
use ucopy_core::{EntryError, Op, Options, Stat};

use crate::dest::{create_making_room, Room};
use crate::meta::{mode_and_times_fd, own_fd};

/// A directory `--parents` created, to finish once the copy inside it is done.
#[derive(Debug)]
pub struct MadeParent {
    /// The destination directory.
    pub dst: PathBuf,
    /// The source directory it stands for.
    pub stat: Stat,
    /// True when this run created it.
    pub created: bool,
}

/// `--parents`: creates `dest_dir/a/b` for a source `a/b/c` (each missing directory private
/// while the copy runs), returning them innermost last. Existing ones are left as they are.
pub fn make_parents(
    source: &Path,
    dest_dir: &Path,
    options: &Options,
) -> Result<Vec<MadeParent>, EntryError> {
    let Some(parent) = source.parent() else {
        return Ok(Vec::new());
    };
    let mut src = PathBuf::new();
    let mut dst = dest_dir.to_path_buf();
    let mut made = Vec::new();
    for comp in parent.components() {
        match comp {
            Component::RootDir => {
                src.push("/");
                continue;
            }
            Component::CurDir => continue,
            Component::ParentDir | Component::Prefix(_) => {
                src.push(comp.as_os_str());
                dst.push(comp.as_os_str());
                continue;
            }
            Component::Normal(name) => {
                src.push(name);
                dst.push(name);
            }
        }
        let st = rfs::stat(&src).map_err(|e| EntryError::new(&src, Op::Stat, e))?;
        let stat = Stat::from(&st);
        let created = match rfs::mkdir(&dst, Mode::from_raw_mode(0o700)) {
            Ok(()) => true,
            Err(Errno::EXIST) => {
                let here = rfs::stat(&dst).map_err(|e| EntryError::new(&dst, Op::Stat, e))?;
                if FileType::from_raw_mode(here.st_mode) != FileType::Directory {
                    return Err(EntryError::new(
                        &dst,
                        Op::Conflict,
                        io::Error::other("a non-directory is in the way of a directory"),
                    ));
                }
                false
            }
            Err(e) => return Err(EntryError::new(&dst, Op::Mkdir, e)),
        };
        if created {
            let fd = open_dir(&dst)?;
            own_fd(fd.as_fd(), None, &stat, options)
                .map_err(|e| EntryError::new(&dst, e.op, e.error))?;
        }
        made.push(MadeParent {
            dst: dst.clone(),
            stat,
            created,
        });
    }
    Ok(made)
}

/// Applies the final mode (and preserved times) to the `--parents` directories, innermost
/// first, after everything inside them was copied.
pub fn finish_parents(made: &[MadeParent], options: &Options) -> Vec<EntryError> {
    let mut errors = Vec::new();
    for p in made.iter().rev() {
        let result = open_dir(&p.dst).and_then(|fd| {
            mode_and_times_fd(fd.as_fd(), &p.stat, options, p.created)
                .map_err(|e| EntryError::new(&p.dst, e.op, e.error))
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    errors
}

fn open_dir(path: &Path) -> Result<std::os::fd::OwnedFd, EntryError> {
    rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EntryError::new(path, Op::Open, e))
}

/// Writes the data of the regular file `source` into the FIFO `dest` the user named (opening it
/// blocks until a reader comes, as with cp). Returns the bytes written.
pub fn copy_into_fifo(source: &Path, dest: &Path, options: &Options) -> Result<u64, EntryError> {
    let src = rfs::open(source, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| EntryError::new(source, Op::Open, e))?;
    let dst_name = CString::new(dest.as_os_str().as_bytes())
        .map_err(|_| EntryError::new(dest, Op::Open, io::Error::from(Errno::INVAL)))?;
    let dst = rfs::openat(
        rfs::CWD,
        dst_name.as_c_str(),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EntryError::new(dest, Op::Open, e))?;
    // Only ever a FIFO here: what the user named, checked again on the open descriptor.
    let st = rfs::fstat(&dst).map_err(|e| EntryError::new(dest, Op::Stat, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
        return Err(EntryError::new(
            dest,
            Op::Changed,
            io::Error::other("changed type during the copy"),
        ));
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        if options.cancel.is_cancelled() {
            return Err(EntryError::new(
                dest,
                Op::Interrupted,
                io::Error::from(Errno::INTR),
            ));
        }
        let n = match rustix::io::read(&src, &mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(EntryError::new(source, Op::Read, e)),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            match rustix::io::write(&dst, data) {
                Ok(w) => data = &data[w..],
                Err(Errno::INTR) => continue,
                Err(e) => return Err(EntryError::new(dest, Op::Write, e)),
            }
        }
        total += n as u64;
    }
}

/// Links links-kept operands: `cp --preserve=links a b dir/` with `a` and `b` one file makes
/// `dir/b` a hard link to `first` (the copy of the earlier operand, `dir/a`), as cp does. Whatever
/// is at `dest` gets the same treatment as in a tree ([`crate::existing::decide`]: kept under
/// `-n` or a "no" to `-i`, backed up, refused if just created, otherwise replaced), except that
/// `--update` does not keep a newer one: the names of one source file stay one file.
/// Returns false when what is at `dest` was kept.
pub fn link_operand(
    first: &Path,
    source: &Path,
    dest: &Path,
    options: &Options,
) -> Result<bool, EntryError> {
    let follow = options.dereference != ucopy_core::Dereference::Never;
    let src = if follow {
        rfs::stat(source)
    } else {
        rfs::lstat(source)
    };
    let src = Stat::from(&src.map_err(|e| EntryError::new(source, Op::Stat, e))?);
    let first_id =
        ucopy_core::file_id(&rfs::lstat(first).map_err(|e| EntryError::new(first, Op::Stat, e))?);
    let (dir, name) = ucopy_core::split_operand(dest);
    let dir = ucopy_core::open_operand_dir(&dir).map_err(|e| EntryError::new(dest, Op::Open, e))?;
    let incoming = || crate::existing::Incoming {
        path: source,
        stat: &src,
        resolves_to: None,
        keeps_link: true,
    };
    let room = create_making_room(
        (&dir, &name),
        dest,
        Op::Link,
        options,
        Some(first_id),
        incoming,
        |dir, name| rfs::linkat(rfs::CWD, first, dir, name, rfs::AtFlags::empty()),
    )?;
    if room == Room::Free {
        if let Some(created) = &options.just_created {
            created.record(dest);
        }
    }
    Ok(room != Room::Keep)
}
