//! Planning: a spec becomes the exact list of entries, in creation order. Pure: the same spec
//! always gives the same list.

use std::path::{Path, PathBuf};

use super::{CorpusSpec, Entry, Shape};
use crate::rng::Rng;
use crate::{KIB, MIB};

/// A per-entry seed, so one file's content does not depend on how many bytes came before it.
fn sub_seed(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// The entries of a corpus in creation order. Pure: the same spec always gives the same list.
///
/// # Panics
///
/// For [`Shape::Tree`]: a real tree is copied, not generated (see [`materialise`](super::materialise)).
pub fn plan(spec: &CorpusSpec) -> Vec<Entry> {
    let mut rng = Rng::new(spec.seed);
    match spec.shape {
        Shape::Tree { ref from } => {
            panic!(
                "corpus '{}' is the real tree '{}': it is copied, not planned",
                spec.name,
                from.display()
            )
        }
        Shape::Uniform { files, dirs, size } => {
            plan_uniform(&mut rng, spec.seed, files, dirs, size)
        }
        Shape::Mixed { files } => plan_mixed(&mut rng, spec.seed, files),
        Shape::Large { size } => {
            vec![Entry::File {
                path: "large.bin".into(),
                size,
                seed: sub_seed(spec.seed, 0),
            }]
        }
        Shape::Sparse { size, extents } => {
            // One extent per equal slot at a random 4 KiB-aligned offset inside it: distinct,
            // non-overlapping, deterministic. Tiny sizes get fewer extents rather than overlaps.
            let len = 64 * KIB;
            let extents = extents.min(size / len).max(1);
            let slot = size / extents;
            let ext = (0..extents)
                .map(|k| {
                    let room = slot.saturating_sub(len) / (4 * KIB);
                    let off = k * slot + rng.below(room + 1) * 4 * KIB;
                    (off, len.min(size - off))
                })
                .collect();
            vec![Entry::Sparse {
                path: "sparse.img".into(),
                size,
                extents: ext,
                seed: sub_seed(spec.seed, 0),
            }]
        }
    }
}

fn plan_uniform(rng: &mut Rng, seed: u64, files: u64, dirs: u64, size: u64) -> Vec<Entry> {
    let dirs = dirs.max(1);
    let mut dir_order: Vec<u64> = (0..dirs).collect();
    rng.shuffle(&mut dir_order);
    let mut file_order: Vec<u64> = (0..files).collect();
    rng.shuffle(&mut file_order);
    let dir_name = |d: u64| PathBuf::from(format!("d{d:04}"));
    let mut out: Vec<Entry> = dir_order.iter().map(|&d| Entry::Dir(dir_name(d))).collect();
    out.extend(file_order.iter().map(|&i| Entry::File {
        path: dir_name(i % dirs).join(format!("f{:05}", i / dirs)),
        size,
        seed: sub_seed(seed, i),
    }));
    out
}

fn plan_mixed(rng: &mut Rng, seed: u64, files: u64) -> Vec<Entry> {
    const DIR_WORDS: [&str; 8] = ["src", "lib", "tests", "util", "net", "fs", "docs", "gen"];
    const EXTS: [&str; 8] = ["rs", "c", "h", "txt", "md", "json", "o", "png"];
    // (path, depth); index 0 is the root itself and never emitted.
    let mut dirs: Vec<(PathBuf, u32)> = vec![(PathBuf::new(), 0)];
    for i in 0..(files / 12).max(1) {
        let parent = loop {
            let p = &dirs[rng.below(dirs.len() as u64) as usize];
            if p.1 < 7 {
                break p.clone();
            }
        };
        let word = DIR_WORDS[rng.below(DIR_WORDS.len() as u64) as usize];
        dirs.push((parent.0.join(format!("{word}{i:04}")), parent.1 + 1));
    }
    // A 16-level chain (deep paths) and one wide directory (a tenth of all files).
    let mut chain = PathBuf::from("deep");
    dirs.push((chain.clone(), 1));
    for level in 1..16 {
        chain.push(format!("l{level:02}"));
        dirs.push((chain.clone(), level + 1));
    }
    let wide = PathBuf::from("wide");
    dirs.push((wide.clone(), 1));

    let mut file_paths = Vec::with_capacity(files as usize);
    let mut file_entries = Vec::with_capacity(files as usize);
    for i in 0..files {
        let dir = match i {
            0 => chain.clone(),
            _ if i % 10 == 5 => wide.clone(),
            _ => dirs[1 + rng.below(dirs.len() as u64 - 1) as usize]
                .0
                .clone(),
        };
        let ext = EXTS[rng.below(EXTS.len() as u64) as usize];
        let path = dir.join(format!("file{i:05}.{ext}"));
        // 3% empty; otherwise 2^(6 + 14·u³) bytes: mostly a few KiB, a tail up to 1 MiB
        // (mean ≈ 37 KiB, close to a real source tree's).
        let size = if rng.below(100) < 3 {
            0
        } else {
            let u = rng.unit();
            (2f64.powf(6.0 + 14.0 * u * u * u) as u64).min(MIB)
        };
        file_paths.push(path.clone());
        file_entries.push(Entry::File {
            path,
            size,
            seed: sub_seed(seed, i),
        });
    }
    let mut links = Vec::new();
    for i in 0..(files / 50).max(1) {
        let at = dirs[rng.below(dirs.len() as u64) as usize].0.clone();
        let target = if i % 4 == 3 {
            dirs[1 + rng.below(dirs.len() as u64 - 1) as usize]
                .0
                .clone()
        } else {
            file_paths[rng.below(file_paths.len() as u64) as usize].clone()
        };
        links.push(Entry::Symlink {
            path: at.join(format!("link{i:04}")),
            target: relative(&at, &target),
        });
    }

    // Creation order: directories shuffled (each after its parent), then files, then links,
    // each shuffled, so inode order matches neither name order nor generation order.
    let mut dir_order: Vec<usize> = (1..dirs.len()).collect();
    rng.shuffle(&mut dir_order);
    let mut made = std::collections::HashSet::new();
    let mut out = Vec::new();
    for d in dir_order {
        let path = &dirs[d].0;
        let mut ancestors: Vec<&Path> = path
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        ancestors.reverse();
        for a in ancestors {
            if made.insert(a.to_path_buf()) {
                out.push(Entry::Dir(a.to_path_buf()));
            }
        }
    }
    rng.shuffle(&mut file_entries);
    rng.shuffle(&mut links);
    out.extend(file_entries);
    out.extend(links);
    out
}

/// The relative path from directory `from` to `to` (both relative to the same root).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixed(files: u64) -> CorpusSpec {
        CorpusSpec {
            name: "mixed".into(),
            seed: 9,
            shape: Shape::Mixed { files },
        }
    }

    #[test]
    fn mixed_has_symlinks_empty_files_deep_and_wide_dirs() {
        let entries = plan(&mixed(300));
        assert_eq!(entries, plan(&mixed(300)), "deterministic");
        assert!(entries.iter().any(|e| matches!(e, Entry::Symlink { .. })));
        assert!(entries
            .iter()
            .any(|e| matches!(e, Entry::File { size: 0, .. })));
        let deepest = entries
            .iter()
            .map(|e| match e {
                Entry::Dir(p) => p.components().count(),
                _ => 0,
            })
            .max();
        assert_eq!(deepest, Some(16));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("a/b"), Path::new("a/c/f")),
            PathBuf::from("../c/f")
        );
        assert_eq!(
            relative(Path::new(""), Path::new("x/f")),
            PathBuf::from("x/f")
        );
        assert_eq!(relative(Path::new("a"), Path::new("a")), PathBuf::from("."));
    }
}
