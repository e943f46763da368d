//! Where `auto` reads a cold source around the page cache (`O_DIRECT`,
//! [`ucopy_uring::Tuning::cold`]): only on filesystems where that was measured faster than
//! buffered reads (the repository's PERF.md, "Cold reads around the page cache"). Elsewhere —
//! network and FUSE filesystems, where `O_DIRECT` can mean a round trip per read, or filesystems
//! nobody timed — a cold copy reads through the page cache as before.

use std::path::{Path, PathBuf};

/// Filesystem magic numbers (`statfs(2)`'s `f_type`) with the name a reason shows. ext4's is
/// ext2's and ext3's too (the ext4 driver serves all three).
const MEASURED: [(i64, &str); 3] = [
    (0xEF53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
];

/// The filesystem every source is on, when it is one of [`MEASURED`] (all sources on such
/// filesystems, the first one's name); `None` if any is not, or cannot be asked.
pub(crate) fn measured_filesystem(sources: &[PathBuf]) -> Option<&'static str> {
    let mut names = sources.iter().map(|s| filesystem(s));
    let first = names.next()??;
    names.all(|n| n.is_some()).then_some(first)
}

fn filesystem(path: &Path) -> Option<&'static str> {
    let fs = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let magic = fs.f_type as i64;
    MEASURED
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_measured_filesystems_read_around_the_cache() {
        // procfs is never one of them; nor is a path that does not exist.
        assert_eq!(measured_filesystem(&["/proc/self".into()]), None);
        assert_eq!(measured_filesystem(&["/nonexistent/x".into()]), None);
        assert_eq!(measured_filesystem(&[]), None);
        // A temporary directory is whatever this machine has; its answer agrees with statfs.
        let tmp = tempfile::tempdir().expect("tempdir");
        let magic = rustix::fs::statfs(tmp.path()).expect("statfs").f_type as i64;
        let expected = MEASURED.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n);
        let one = vec![tmp.path().to_path_buf()];
        assert_eq!(measured_filesystem(&one), expected);
        let mixed = vec![tmp.path().to_path_buf(), "/proc/self".into()];
        assert_eq!(
            measured_filesystem(&mixed),
            None,
            "every source must qualify"
        );
    }
}
