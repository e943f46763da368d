//! Jobs for unit tests of the parts that hand jobs around (dispatch, worker descriptor tables):
//! directories opened read-only, files that are never opened.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use ucopy_core::{FileJob, JobOrigin, Stat};

/// A directory descriptor, as the driver holds them.
pub(crate) fn dir(path: &str) -> Arc<OwnedFd> {
    Arc::new(rustix::fs::open(path, rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap())
}

/// A job copying `f` in `src` to `f` in `dst`, told apart from others by its inode number `ino`.
pub(crate) fn job(src: &Arc<OwnedFd>, dst: &Arc<OwnedFd>, ino: u64) -> FileJob {
    FileJob {
        src_dir: Arc::clone(src),
        src_name: c"f".into(),
        dst_dir: Arc::clone(dst),
        dst_name: c"f".into(),
        origin: JobOrigin::Paths {
            path: PathBuf::from("f"),
            dst_path: PathBuf::from("f"),
        },
        stat: Stat::regular_from_dirent(0, ino),
    }
}
