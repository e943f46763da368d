//! Deterministic corpora: a [`CorpusSpec`] (shape + seed) is [planned](plan()) into the exact
//! list of entries in creation order, then [materialised](materialise()) on disk. Creation order
//! is shuffled so that inode order (which follows creation on ext4 and tmpfs) differs from name
//! order — otherwise `--order inode` would be indistinguishable from a name sort. The bench
//! (`xtask`) caches and verifies them; tests and the planner's criterion bench build them
//! directly.

mod materialise;
mod plan;

pub use materialise::materialise;
pub use plan::plan;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Shape {
    /// `files` files of `size` bytes spread round-robin over `dirs` directories.
    Uniform { files: u64, dirs: u64, size: u64 },
    /// A source-tree-like mix: sizes 0 … 1 MiB skewed small, a random tree up to 8 levels,
    /// one 16-level chain, one wide directory holding a tenth of the files, relative symlinks.
    Mixed { files: u64 },
    /// One file of incompressible data.
    Large { size: u64 },
    /// One file of apparent size `size` holding `extents` 64 KiB data extents; the rest is holes.
    Sparse { size: u64, extents: u64 },
    /// A real directory of the machine's own files (e.g. a Rust toolchain), copied as it is
    /// with GNU `cp -a`: not generated, so it has no [plan](plan()).
    Tree { from: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusSpec {
    pub name: String,
    pub seed: u64,
    pub shape: Shape,
}

impl CorpusSpec {
    /// Whether the corpus has many files, i.e. whether `--order` can make a difference.
    pub fn many_files(&self) -> bool {
        matches!(
            self.shape,
            Shape::Uniform { .. } | Shape::Mixed { .. } | Shape::Tree { .. }
        )
    }

    /// Apparent bytes a copy may have to write (sizing the destination filesystem).
    pub fn apparent_bytes(&self) -> u64 {
        match &self.shape {
            Shape::Uniform { files, size, .. } => files * size,
            Shape::Mixed { .. } => plan(self).iter().map(Entry::apparent).sum(),
            Shape::Large { size } | Shape::Sparse { size, .. } => *size,
            Shape::Tree { from } => tree_bytes(from),
        }
    }
}

/// Sizes of the regular files below `dir`, not following symlinks (unreadable parts count 0).
fn tree_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// One entry in creation order; paths are relative to the corpus root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir(PathBuf),
    File {
        path: PathBuf,
        size: u64,
        seed: u64,
    },
    Symlink {
        path: PathBuf,
        target: PathBuf,
    },
    Sparse {
        path: PathBuf,
        size: u64,
        extents: Vec<(u64, u64)>,
        seed: u64,
    },
}

impl Entry {
    /// Bytes of data a copy of this entry has (a sparse file's apparent size).
    pub fn apparent(&self) -> u64 {
        match self {
            Entry::File { size, .. } | Entry::Sparse { size, .. } => *size,
            _ => 0,
        }
    }
}
