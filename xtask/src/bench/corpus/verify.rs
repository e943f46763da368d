//! Verification: a tree's [`Summary`] (counts and one XXH64 digest over names, types, sizes,
//! symlink targets and contents, stored in the cache manifest), and [`verify_copy`], which holds
//! every destination to its source.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::HumanCount;
use serde::{Deserialize, Serialize};
use ucopy_test_support::compare::{tree_diffs, walk, Compare};
use ucopy_test_support::MIB;
use xxhash_rust::xxh64::Xxh64;

/// What a tree contains, with one digest over all of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub others: u64,
    /// Apparent bytes of regular files.
    pub bytes: u64,
    pub digest: String,
}

impl Summary {
    /// A one-line explanation of how `got` differs from `self` (empty when equal).
    pub fn explain_difference(&self, got: &Summary) -> String {
        let mut parts = Vec::new();
        for (what, want, have) in [
            ("files", self.files, got.files),
            ("dirs", self.dirs, got.dirs),
            ("symlinks", self.symlinks, got.symlinks),
            ("other entries", self.others, got.others),
            ("bytes", self.bytes, got.bytes),
        ] {
            if want != have {
                parts.push(format!(
                    "{what} {} (source {})",
                    HumanCount(have),
                    HumanCount(want)
                ));
            }
        }
        if parts.is_empty() && self.digest != got.digest {
            parts.push(format!(
                "same counts but names, symlink targets or contents differ (digest {} vs {})",
                got.digest, self.digest
            ));
        }
        parts.join(", ")
    }
}

/// Walks `root` in byte-wise name order and digests everything a copy must reproduce.
pub fn scan(root: &Path) -> Result<Summary> {
    let mut s = Summary::default();
    let mut tree = Xxh64::new(0);
    let mut buf = vec![0u8; MIB as usize];
    let mut stack = vec![PathBuf::new()];
    // Depth-first with an explicit stack; children are pushed in reverse name order so they
    // pop in name order, which keeps the digest independent of readdir order.
    while let Some(rel) = stack.pop() {
        let dir = if rel.as_os_str().is_empty() {
            if !root.is_dir() {
                bail!("'{}' was not created", root.display());
            }
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let mut names: Vec<_> = fs::read_dir(&dir)
            .with_context(|| format!("cannot read '{}'", dir.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot read '{}'", dir.display()))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut subdirs = Vec::new();
        for name in names {
            let rel = rel.join(&name);
            let path = root.join(&rel);
            let md = fs::symlink_metadata(&path)
                .with_context(|| format!("cannot stat '{}'", path.display()))?;
            tree.update(rel.as_os_str().as_bytes());
            tree.update(&[0]);
            let ft = md.file_type();
            if ft.is_dir() {
                s.dirs += 1;
                tree.update(b"d");
                subdirs.push(rel);
            } else if ft.is_file() {
                s.files += 1;
                s.bytes += md.len();
                let content = hash_file(&path, &mut buf)?;
                tree.update(b"f");
                tree.update(&md.len().to_le_bytes());
                tree.update(&content.to_le_bytes());
            } else if ft.is_symlink() {
                s.symlinks += 1;
                let target = fs::read_link(&path)
                    .with_context(|| format!("cannot readlink '{}'", path.display()))?;
                tree.update(b"l");
                tree.update(target.as_os_str().as_bytes());
                tree.update(&[0]);
            } else {
                s.others += 1;
                tree.update(b"o");
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    s.digest = format!("{:016x}", tree.digest());
    Ok(s)
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<u64> {
    let mut f = File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?;
    let mut h = Xxh64::new(0);
    loop {
        let n = f
            .read(buf)
            .with_context(|| format!("cannot read '{}'", path.display()))?;
        if n == 0 {
            return Ok(h.digest());
        }
        h.update(&buf[..n]);
    }
}

/// The result of checking one copy against its source.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Space the destination occupies (st_blocks × 512): shows whether holes survived.
    pub alloc_bytes: u64,
    /// `None` when the copy is right; otherwise the first difference, in one line.
    pub problem: Option<String>,
}

/// Checks that `dst` is a copy of `src` as `cp -r` defines one (the comparator the behaviour
/// tests use, without metadata: names, types, sizes, bytes, symlink targets), and that its
/// counts equal the corpus manifest's.
///
/// Contents are compared byte for byte against the source rather than hashed: slice equality
/// is libc's memcmp, fast even in xtask's unoptimized dev build, where hashing 1 GiB per round
/// would dominate. It also names the first differing file and offset, which a digest cannot.
pub fn verify_copy(src: &Path, dst: &Path, expected: &Summary) -> Verified {
    if fs::symlink_metadata(dst).is_err() {
        return Verified {
            alloc_bytes: 0,
            problem: Some(format!("'{}' was not created", dst.display())),
        };
    }
    let mut got = Summary::default();
    let mut alloc = 0;
    walk(dst, &mut |rel, _, _, st| {
        if rel.is_empty() {
            return;
        }
        match st.st_mode & 0o170000 {
            0o040000 => got.dirs += 1,
            0o100000 => {
                got.files += 1;
                got.bytes += st.st_size as u64;
                alloc += st.st_blocks as u64 * 512;
            }
            0o120000 => got.symlinks += 1,
            _ => got.others += 1,
        }
    });
    let problem = match tree_diffs(src, dst, &Compare::plain()).into_iter().next() {
        Some(diff) => Some(diff),
        None => {
            got.digest = expected.digest.clone();
            (got != *expected).then(|| expected.explain_difference(&got))
        }
    };
    Verified {
        alloc_bytes: alloc,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::corpus::{catalogue, materialise, Scale};
    use ucopy_test_support::corpus::{plan, Entry};

    #[test]
    fn xxh64_reference_vectors() {
        // From the xxHash specification; guards the digests stored in cached manifests.
        assert_eq!(xxhash_rust::xxh64::xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxhash_rust::xxh64::xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn generation_is_reproducible_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        for spec in catalogue(Scale::Smoke, Some(120), Some(MIB)) {
            let a = tmp.path().join(format!("{}-a", spec.name));
            let b = tmp.path().join(format!("{}-b", spec.name));
            materialise(&spec, &a).unwrap();
            materialise(&spec, &b).unwrap();
            let (sa, sb) = (scan(&a).unwrap(), scan(&b).unwrap());
            assert_eq!(sa, sb, "{}", spec.name);
            assert_eq!(sa.bytes, spec.apparent_bytes(), "{}", spec.name);
        }
        // A changed byte changes the digest.
        let a = tmp.path().join("small-4k-a");
        let before = scan(&a).unwrap();
        let victim = a.join("d0000/f00000");
        let mut data = fs::read(&victim).unwrap();
        data[100] ^= 1;
        fs::write(&victim, data).unwrap();
        let after = scan(&a).unwrap();
        assert_eq!((before.files, before.bytes), (after.files, after.bytes));
        assert_ne!(before.digest, after.digest);
        assert!(before
            .explain_difference(&after)
            .contains("contents differ"));
    }

    #[test]
    fn verify_copy_names_the_first_difference() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = &catalogue(Scale::Smoke, Some(50), None)[2];
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        materialise(spec, &src).unwrap();
        materialise(spec, &dst).unwrap();
        let expected = scan(&src).unwrap();
        assert_eq!(verify_copy(&src, &dst, &expected).problem, None);
        let missing = verify_copy(&src, &tmp.path().join("nope"), &expected)
            .problem
            .unwrap();
        assert!(missing.contains("was not created"), "{missing}");

        let file = plan(spec)
            .into_iter()
            .find_map(|e| match e {
                Entry::File { path, size, .. } if size > 10 => Some(path),
                _ => None,
            })
            .unwrap();
        let mut data = fs::read(dst.join(&file)).unwrap();
        data[3] ^= 0xff;
        fs::write(dst.join(&file), &data).unwrap();
        let p = verify_copy(&src, &dst, &expected).problem.unwrap();
        assert!(p.contains("content differs at 3"), "{p}");

        fs::remove_file(dst.join(&file)).unwrap();
        let p = verify_copy(&src, &dst, &expected).problem.unwrap();
        assert!(p.contains("missing in destination"), "{p}");

        // A copier that follows symlinks instead of copying them.
        let link = plan(spec)
            .into_iter()
            .find_map(|e| match e {
                Entry::Symlink { path, .. } => Some(path),
                _ => None,
            })
            .unwrap();
        fs::write(dst.join(&file), fs::read(src.join(&file)).unwrap()).unwrap();
        fs::remove_file(dst.join(&link)).unwrap();
        fs::write(dst.join(&link), b"followed").unwrap();
        let p = verify_copy(&src, &dst, &expected).problem.unwrap();
        assert!(
            p.contains("type Symlink in source, RegularFile in destination"),
            "{p}"
        );
    }
}
