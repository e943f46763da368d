//! [`Snapshot`]: the state of a small tree, for "nothing was created or modified" assertions.

use std::collections::BTreeMap;
use std::path::Path;

use rustix::fs::FileType;

use crate::fsat::{hash_file, readlink, show, walk, xattrs};

/// One entry of a [`Snapshot`]: everything that a modification would change, ctime included
/// (a chmod, chown, utimes or xattr change that was undone still moves ctime).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snap {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: i64,
    pub nlink: u64,
    pub ino: u64,
    pub mtime: (i64, u64),
    pub ctime: (i64, u64),
    pub content: u64,
    pub target: Vec<u8>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The state of a (small) tree, for "nothing was created/modified" assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<Vec<u8>, Snap>);

impl Snapshot {
    /// Takes the snapshot of `root` (any type, not followed if a symlink).
    pub fn take(root: &Path) -> Self {
        let mut map = BTreeMap::new();
        walk(root, &mut |rel, parent, name, st| {
            let kind = FileType::from_raw_mode(st.st_mode);
            let content = if kind == FileType::RegularFile {
                hash_file(parent, name)
            } else {
                0
            };
            let target = if kind == FileType::Symlink {
                readlink(parent, name)
            } else {
                Vec::new()
            };
            map.insert(
                rel.to_vec(),
                Snap {
                    kind: st.st_mode & libc_s_ifmt(),
                    mode: st.st_mode & 0o7777,
                    uid: st.st_uid,
                    gid: st.st_gid,
                    size: if kind == FileType::Directory {
                        0
                    } else {
                        st.st_size
                    },
                    nlink: if kind == FileType::Directory {
                        0
                    } else {
                        st.st_nlink
                    },
                    ino: st.st_ino,
                    mtime: (st.st_mtime, st.st_mtime_nsec),
                    ctime: (st.st_ctime, st.st_ctime_nsec),
                    content,
                    target,
                    xattrs: xattrs(parent, name),
                },
            );
        });
        Snapshot(map)
    }

    /// Fails with the differences when `self` (before) and `after` differ.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, what: &str) {
        let mut diffs = Vec::new();
        for (k, v) in &self.0 {
            match after.0.get(k) {
                None => diffs.push(format!("{}: removed", show(k))),
                Some(a) if a != v => diffs.push(format!("{}: {v:?}\n    -> {a:?}", show(k))),
                _ => {}
            }
        }
        for k in after.0.keys().filter(|k| !self.0.contains_key(*k)) {
            diffs.push(format!("{}: created", show(k)));
        }
        assert!(
            diffs.is_empty(),
            "{what} changed:\n  {}",
            diffs
                .iter()
                .take(30)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}

fn libc_s_ifmt() -> u32 {
    0o170000
}
