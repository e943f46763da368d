//! File metadata as the planner reads it from the source, once per entry.

use rustix::fs::{FileType, Stat as RawStat, Timespec};
use serde::Serialize;

/// What kind of object an entry is. Decided once, from `fstatat(AT_SYMLINK_NOFOLLOW)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed inside a tree).
    Symlink,
    /// A FIFO, socket, character or block device: recreated, never opened.
    Special,
}

/// A timestamp with nanoseconds, as the kernel keeps it (may be before 1970). Ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Time {
    /// Seconds since the epoch (negative before 1970).
    pub sec: i64,
    /// Nanoseconds, 0..1_000_000_000.
    pub nsec: u32,
}

impl Time {
    /// As the `timespec` the kernel takes in `utimensat`.
    pub fn to_timespec(self) -> Timespec {
        Timespec {
            tv_sec: self.sec,
            tv_nsec: self.nsec.into(),
        }
    }
}

/// The metadata of one source entry that a copy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Device of the filesystem holding the entry.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Full `st_mode`: type bits and permission bits including setuid/setgid/sticky.
    pub mode: u32,
    /// Number of hard links.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number, for character and block devices.
    pub rdev: u64,
    /// Size in bytes (may be 0 for procfs-like files that still have content).
    pub size: u64,
    /// Allocated 512-byte blocks: fewer than `size / 512` hints at holes.
    pub blocks: u64,
    /// Last access.
    pub atime: Time,
    /// Last modification.
    pub mtime: Time,
}

impl Stat {
    /// The entry's kind, from its type bits.
    pub fn kind(&self) -> Kind {
        match FileType::from_raw_mode(self.mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Special,
        }
    }

    /// Permission bits, including setuid, setgid and sticky (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    /// A regular file known only from its directory entry (`d_type`), planned without a stat
    /// (see `PlanOptions::stat_files`): its type, device and inode. Its size reads 0 and its
    /// mode has no permission bits, so nothing may be taken from it: whoever opens the file takes
    /// its metadata from the descriptor (`fstat`), as for any file planned with size 0.
    pub fn regular_from_dirent(dev: u64, ino: u64) -> Stat {
        Stat {
            dev,
            ino,
            mode: FileType::RegularFile.as_raw_mode(),
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blocks: 0,
            atime: Time::default(),
            mtime: Time::default(),
        }
    }

    /// True when the file may have holes worth preserving.
    pub fn maybe_sparse(&self) -> bool {
        self.blocks.saturating_mul(512) < self.size
    }
}

impl From<&RawStat> for Stat {
    fn from(st: &RawStat) -> Self {
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        Stat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            rdev: st.st_rdev as u64,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: Time {
                sec: st.st_atime as i64,
                nsec: st.st_atime_nsec as u32,
            },
            mtime: Time {
                sec: st.st_mtime as i64,
                nsec: st.st_mtime_nsec as u32,
            },
        }
    }
}

/// `(st_dev, st_ino)`: what identifies a file, for same-file, into-itself and swap checks.
#[allow(clippy::unnecessary_cast)]
pub fn file_id(st: &RawStat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}
