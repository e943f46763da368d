//! Materialising: writes a planned corpus to disk, entry by entry in creation order.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use super::{plan, CorpusSpec, Entry, Shape};
use crate::rng::Rng;
use crate::MIB;

/// `err` with the path it happened at (io errors carry none).
fn at<'p>(path: &'p Path, what: &'static str) -> impl FnOnce(io::Error) -> io::Error + 'p {
    move |e| io::Error::new(e.kind(), format!("cannot {what} '{}': {e}", path.display()))
}

/// Writes `spec` under `root` (which must not exist yet) in creation order. A
/// [`Shape::Tree`] is copied with GNU `cp -a` (its creation order is then the source's
/// directory order, which is not name order either).
pub fn materialise(spec: &CorpusSpec, root: &Path) -> io::Result<()> {
    if let Shape::Tree { from } = &spec.shape {
        return copy_real_tree(from, root);
    }
    fs::create_dir(root).map_err(at(root, "create"))?;
    let mut buf = vec![0u8; MIB as usize];
    for entry in plan(spec) {
        match entry {
            Entry::Dir(p) => {
                let p = root.join(p);
                fs::create_dir(&p).map_err(at(&p, "create"))?
            }
            Entry::File { path, size, seed } => {
                let path = root.join(path);
                let mut f = File::create(&path).map_err(at(&path, "create"))?;
                let mut rng = Rng::new(seed);
                let mut left = size;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    rng.fill(&mut buf[..n]);
                    f.write_all(&buf[..n]).map_err(at(&path, "write"))?;
                    left -= n as u64;
                }
            }
            Entry::Symlink { path, target } => {
                let path = root.join(path);
                std::os::unix::fs::symlink(&target, &path).map_err(at(&path, "symlink"))?
            }
            Entry::Sparse {
                path,
                size,
                extents,
                seed,
            } => {
                let path = root.join(path);
                let mut f = File::create(&path).map_err(at(&path, "create"))?;
                let mut rng = Rng::new(seed);
                for (off, len) in extents {
                    rng.fill(&mut buf[..len as usize]);
                    f.seek(SeekFrom::Start(off))
                        .and_then(|_| f.write_all(&buf[..len as usize]))
                        .map_err(at(&path, "write"))?;
                }
                // Ends in a hole: set_len extends without allocating.
                f.set_len(size).map_err(at(&path, "extend"))?;
            }
        }
    }
    Ok(())
}

/// `cp -a --reflink=never FROM ROOT`: a real tree, byte for byte, with its modes and times.
fn copy_real_tree(from: &Path, root: &Path) -> io::Result<()> {
    let status = std::process::Command::new("cp")
        .args(["-a", "--reflink=never", "--"])
        .arg(from)
        .arg(root)
        .status()
        .map_err(at(from, "run cp -a to copy"))?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "cp -a '{}' '{}' failed: {status}",
            from.display(),
            root.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_corpus_on_disk_matches_its_plan() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = CorpusSpec {
            name: "t".into(),
            seed: 3,
            shape: Shape::Uniform {
                files: 30,
                dirs: 4,
                size: 100,
            },
        };
        let root = tmp.path().join("c");
        materialise(&spec, &root).unwrap();
        let mut files = 0;
        for d in fs::read_dir(&root).unwrap() {
            for f in fs::read_dir(d.unwrap().path()).unwrap() {
                assert_eq!(f.unwrap().metadata().unwrap().len(), 100);
                files += 1;
            }
        }
        assert_eq!(files, 30);
        assert!(materialise(&spec, &root).is_err(), "root must not exist");
    }
}
