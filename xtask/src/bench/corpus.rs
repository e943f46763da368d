//! Deterministic corpora, their on-disk cache, and the tree digest used to verify every copy.
//!
//! A corpus is described by a [`CorpusSpec`] (shape + seed). [`plan`] turns it into the exact
//! list of entries in *creation order*; [`materialize`] writes them. Creation order is shuffled
//! so that inode order (which follows creation on ext4 and tmpfs) differs from name order —
//! otherwise `--order inode` would be indistinguishable from a name sort.
//!
//! [`scan`] walks a tree in name order and folds paths, types, sizes, symlink targets and
//! contents into one XXH64 digest. The source's digest is stored in the cache manifest; every
//! destination must reproduce it.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Bump whenever [`plan`] or [`materialize`] would put different bytes on disk, so that cached
/// corpora from an older generator are regenerated instead of silently reused.
pub const GENERATOR_VERSION: u32 = 1;

/// The fixed seed every corpus derives from (arbitrary, but never changes without a version bump).
const SEED: u64 = 0x75c0_5eed_2025_0001;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Files per directory for the uniform corpora, matching 50,000 files in 250 dirs.
const FILES_PER_DIR: u64 = 200;

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusSpec {
    pub name: String,
    pub seed: u64,
    pub shape: Shape,
}

/// How big the default corpora are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Full,
    Quick,
    Smoke,
}

pub const NAMES: [&str; 5] = ["small-4k", "small-64k", "mixed", "large", "sparse"];

/// The corpus catalogue at a scale, with `--files` / `--size` overrides applied.
pub fn catalogue(scale: Scale, files: Option<u64>, size: Option<u64>) -> Vec<CorpusSpec> {
    let (n4k, n64k, nmixed, big, sparse_extents) = match scale {
        Scale::Full => (50_000, 10_000, 20_000, GIB, 16),
        Scale::Quick => (10_000, 2_000, 4_000, 256 * MIB, 16),
        Scale::Smoke => (300, 60, 300, 8 * MIB, 4),
    };
    let uniform = |n: u64, size| {
        let n = files.unwrap_or(n).max(1);
        Shape::Uniform {
            files: n,
            dirs: n.div_ceil(FILES_PER_DIR),
            size,
        }
    };
    let big = size.unwrap_or(big);
    let shapes = [
        uniform(n4k, 4 * KIB),
        uniform(n64k, 64 * KIB),
        Shape::Mixed {
            files: files.unwrap_or(nmixed).max(1),
        },
        Shape::Large { size: big },
        Shape::Sparse {
            size: big,
            extents: sparse_extents,
        },
    ];
    NAMES
        .iter()
        .zip(shapes)
        .map(|(name, shape)| CorpusSpec {
            name: name.to_string(),
            seed: SEED,
            shape,
        })
        .collect()
}

impl CorpusSpec {
    /// Whether the corpus has many files, i.e. whether `--order` can make a difference.
    pub fn many_files(&self) -> bool {
        matches!(self.shape, Shape::Uniform { .. } | Shape::Mixed { .. })
    }

    /// Apparent bytes a copy may have to write (sizing the destination filesystem).
    pub fn apparent_bytes(&self) -> u64 {
        match self.shape {
            Shape::Uniform { files, size, .. } => files * size,
            Shape::Mixed { .. } => plan(self).iter().map(Entry::apparent).sum(),
            Shape::Large { size } | Shape::Sparse { size, .. } => size,
        }
    }

    pub fn describe(&self) -> String {
        match self.shape {
            Shape::Uniform { files, dirs, size } => {
                format!(
                    "{} files × {} in {} dir{}",
                    thousands(files),
                    human_bytes(size),
                    dirs,
                    if dirs == 1 { "" } else { "s" }
                )
            }
            Shape::Mixed { files } => {
                format!(
                    "{} files of 0 … 1 MiB, deep and wide dirs, symlinks",
                    thousands(files)
                )
            }
            Shape::Large { size } => format!("one {} file", human_bytes(size)),
            Shape::Sparse { size, extents } => {
                format!(
                    "one {} file, {} × 64 KiB data, rest holes",
                    human_bytes(size),
                    extents
                )
            }
        }
    }

    /// A short key of the generator parameters, so corpora of different sizes cache side by side.
    fn cache_key(&self) -> String {
        let json = serde_json::to_vec(self).expect("spec serializes");
        let mut h = Xxh64::new(u64::from(GENERATOR_VERSION));
        h.update(&json);
        format!("{}.{:08x}", self.name, h.digest() as u32)
    }
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
    fn apparent(&self) -> u64 {
        match self {
            Entry::File { size, .. } | Entry::Sparse { size, .. } => *size,
            _ => 0,
        }
    }
}

/// SplitMix64: tiny, fast, and fully specified, so corpora are identical on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-high; the bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Fills `buf` with the stream's next bytes (8 at a time; callers use multiples of 8 except
    /// for the final chunk, so chunked and one-shot fills agree).
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// A per-entry seed, so one file's content does not depend on how many bytes came before it.
fn sub_seed(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// The entries of a corpus in creation order. Pure: the same spec always gives the same list.
pub fn plan(spec: &CorpusSpec) -> Vec<Entry> {
    let mut rng = Rng::new(spec.seed);
    match spec.shape {
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

/// Writes `spec` under `root` (which must not exist yet) in creation order.
pub fn materialize(spec: &CorpusSpec, root: &Path) -> Result<()> {
    fs::create_dir(root).with_context(|| format!("cannot create '{}'", root.display()))?;
    let mut buf = vec![0u8; MIB as usize];
    for entry in plan(spec) {
        match entry {
            Entry::Dir(p) => fs::create_dir(root.join(&p))
                .with_context(|| format!("cannot create '{}'", root.join(&p).display()))?,
            Entry::File { path, size, seed } => {
                let path = root.join(path);
                let mut f = File::create(&path)
                    .with_context(|| format!("cannot create '{}'", path.display()))?;
                let mut rng = Rng::new(seed);
                let mut left = size;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    rng.fill(&mut buf[..n]);
                    f.write_all(&buf[..n])?;
                    left -= n as u64;
                }
            }
            Entry::Symlink { path, target } => {
                std::os::unix::fs::symlink(&target, root.join(&path))
                    .with_context(|| format!("cannot symlink '{}'", path.display()))?
            }
            Entry::Sparse {
                path,
                size,
                extents,
                seed,
            } => {
                let path = root.join(path);
                let mut f = File::create(&path)
                    .with_context(|| format!("cannot create '{}'", path.display()))?;
                let mut rng = Rng::new(seed);
                for (off, len) in extents {
                    rng.fill(&mut buf[..len as usize]);
                    f.seek(SeekFrom::Start(off))?;
                    f.write_all(&buf[..len as usize])?;
                }
                // Ends in a hole: set_len extends without allocating.
                f.set_len(size)?;
            }
        }
    }
    Ok(())
}

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
                    thousands(have),
                    thousands(want)
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

/// The result of checking one copy against its source.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Space the destination occupies (st_blocks × 512): shows whether holes survived.
    pub alloc_bytes: u64,
    /// `None` when the copy is right; otherwise the first difference, in one line.
    pub problem: Option<String>,
}

/// Checks that `dst` is a copy of `src`: the same names in every directory, the same types,
/// symlink targets, sizes and bytes, and file/dir/symlink counts equal to the corpus manifest.
///
/// Contents are compared byte for byte against the source rather than hashed: slice equality
/// is libc's memcmp, fast even in xtask's unoptimized dev build, where a hash written in Rust
/// runs at a few hundred MB/s — too slow to check 1 GiB per round. It also names the first
/// differing file and offset, which a digest cannot.
pub fn verify_copy(src: &Path, dst: &Path, expected: &Summary) -> Verified {
    let mut got = Summary::default();
    let mut alloc = 0;
    let problem = match compare_trees(src, dst, &mut got, &mut alloc) {
        Err(e) => Some(format!("{e:#}")),
        Ok(Some(diff)) => Some(diff),
        Ok(None) => {
            got.digest = expected.digest.clone();
            (got != *expected).then(|| expected.explain_difference(&got))
        }
    };
    Verified {
        alloc_bytes: alloc,
        problem,
    }
}

fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read '{}'", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read '{}'", dir.display()))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// `Ok(Some(difference))` for a wrong copy, `Err` when something could not be read.
fn compare_trees(
    src: &Path,
    dst: &Path,
    got: &mut Summary,
    alloc: &mut u64,
) -> Result<Option<String>> {
    if !dst.is_dir() {
        return Ok(Some(format!("'{}' was not created", dst.display())));
    }
    let (mut a, mut b) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let (sd, dd) = (src.join(&rel), dst.join(&rel));
        let (sn, dn) = (sorted_names(&sd)?, sorted_names(&dd)?);
        if sn != dn {
            let missing = sn.iter().find(|n| !dn.contains(n));
            let extra = dn.iter().find(|n| !sn.contains(n));
            return Ok(Some(match (missing, extra) {
                (Some(m), _) => format!("missing in the copy: '{}'", rel.join(m).display()),
                (None, Some(x)) => format!("not in the source: '{}'", rel.join(x).display()),
                (None, None) => format!("different entries in '{}'", rel.display()),
            }));
        }
        let mut subdirs = Vec::new();
        for name in sn {
            let rel = rel.join(&name);
            let (sp, dp) = (src.join(&rel), dst.join(&rel));
            let sm = fs::symlink_metadata(&sp)
                .with_context(|| format!("cannot stat '{}'", sp.display()))?;
            let dm = fs::symlink_metadata(&dp)
                .with_context(|| format!("cannot stat '{}'", dp.display()))?;
            let (st, dt) = (sm.file_type(), dm.file_type());
            let kind = |t: fs::FileType| {
                if t.is_dir() {
                    "directory"
                } else if t.is_file() {
                    "file"
                } else if t.is_symlink() {
                    "symlink"
                } else {
                    "special file"
                }
            };
            if kind(st) != kind(dt) {
                return Ok(Some(format!(
                    "'{}' is a {} in the copy, a {} in the source",
                    rel.display(),
                    kind(dt),
                    kind(st)
                )));
            }
            if st.is_dir() {
                got.dirs += 1;
                subdirs.push(rel);
            } else if st.is_symlink() {
                got.symlinks += 1;
                if fs::read_link(&sp)? != fs::read_link(&dp)? {
                    return Ok(Some(format!(
                        "symlink '{}' points elsewhere",
                        rel.display()
                    )));
                }
            } else if st.is_file() {
                got.files += 1;
                got.bytes += dm.len();
                *alloc += dm.blocks() * 512;
                if sm.len() != dm.len() {
                    return Ok(Some(format!(
                        "'{}' has {} bytes, the source {}",
                        rel.display(),
                        thousands(dm.len()),
                        thousands(sm.len())
                    )));
                }
                if let Some(off) = first_difference(&sp, &dp, &mut a, &mut b)? {
                    return Ok(Some(format!(
                        "'{}' differs from the source near byte {}",
                        rel.display(),
                        thousands(off)
                    )));
                }
            } else {
                got.others += 1;
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(None)
}

/// Offset of the first differing chunk of two files, or `None` when they are identical.
fn first_difference(a: &Path, b: &Path, ba: &mut [u8], bb: &mut [u8]) -> Result<Option<u64>> {
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot open '{}'", p.display()));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let mut off = 0u64;
    loop {
        let na = fill(&mut fa, ba).with_context(|| format!("cannot read '{}'", a.display()))?;
        let nb = fill(&mut fb, bb).with_context(|| format!("cannot read '{}'", b.display()))?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(Some(off));
        }
        if na == 0 {
            return Ok(None);
        }
        off += na as u64;
    }
}

/// Reads until `buf` is full or the file ends (a plain `read` may return short counts).
fn fill(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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

/// What the cache stores next to a generated tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator_version: u32,
    pub spec: CorpusSpec,
    pub summary: Summary,
}

/// A corpus ready on disk under the cache.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub spec: CorpusSpec,
    pub tree: PathBuf,
    pub summary: Summary,
}

/// Returns the cached corpus for `spec` under `cache_dir`, generating it when the manifest is
/// missing or was written for other parameters or another generator version.
pub fn ensure_cached(spec: &CorpusSpec, cache_dir: &Path) -> Result<(Corpus, bool)> {
    let dir = cache_dir.join(spec.cache_key());
    let tree = dir.join("tree");
    let manifest_path = dir.join("manifest.json");
    if let Ok(text) = fs::read_to_string(&manifest_path) {
        if let Ok(m) = serde_json::from_str::<Manifest>(&text) {
            if m.generator_version == GENERATOR_VERSION && &m.spec == spec && tree.is_dir() {
                return Ok((
                    Corpus {
                        spec: spec.clone(),
                        tree,
                        summary: m.summary,
                    },
                    false,
                ));
            }
        }
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot remove '{}'", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    materialize(spec, &tree)?;
    let summary = scan(&tree)?;
    let manifest = Manifest {
        generator_version: GENERATOR_VERSION,
        spec: spec.clone(),
        summary,
    };
    // Written last: a half-generated tree has no manifest and is regenerated next time.
    fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok((
        Corpus {
            spec: spec.clone(),
            tree,
            summary: manifest.summary,
        },
        true,
    ))
}

/// Generates `corpus` again at `root` (e.g. on tmpfs, keeping the shuffled creation order that
/// a plain `cp -a` of the cache would lose) and checks it matches the cached digest.
pub fn materialize_verified(corpus: &Corpus, root: &Path) -> Result<()> {
    materialize(&corpus.spec, root)?;
    let got = scan(root)?;
    if got != corpus.summary {
        bail!(
            "regenerated corpus '{}' at '{}' differs from the cache: {}",
            corpus.spec.name,
            root.display(),
            corpus.summary.explain_difference(&got)
        );
    }
    Ok(())
}

/// XXH64 (Yann Collet's xxHash, 64-bit), streaming. Not cryptographic: it only has to catch a
/// copier that wrote the wrong bytes, and it is fast enough to check 1 GiB per round.
#[derive(Debug, Clone)]
pub struct Xxh64 {
    seed: u64,
    total: u64,
    v: [u64; 4],
    mem: [u8; 32],
    mem_len: usize,
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn xxh_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn xxh_merge(acc: u64, val: u64) -> u64 {
    (acc ^ xxh_round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

impl Xxh64 {
    pub fn new(seed: u64) -> Self {
        Xxh64 {
            seed,
            total: 0,
            v: [
                seed.wrapping_add(P1).wrapping_add(P2),
                seed.wrapping_add(P2),
                seed,
                seed.wrapping_sub(P1),
            ],
            mem: [0; 32],
            mem_len: 0,
        }
    }

    fn stripe(v: &mut [u64; 4], block: &[u8]) {
        for (lane, word) in v.iter_mut().zip(block.chunks_exact(8)) {
            *lane = xxh_round(*lane, le64(word));
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.mem_len + data.len() < 32 {
            self.mem[self.mem_len..self.mem_len + data.len()].copy_from_slice(data);
            self.mem_len += data.len();
            return;
        }
        if self.mem_len > 0 {
            let take = 32 - self.mem_len;
            self.mem[self.mem_len..].copy_from_slice(&data[..take]);
            let mem = self.mem;
            Self::stripe(&mut self.v, &mem);
            data = &data[take..];
            self.mem_len = 0;
        }
        let mut blocks = data.chunks_exact(32);
        for block in &mut blocks {
            Self::stripe(&mut self.v, block);
        }
        let rest = blocks.remainder();
        self.mem[..rest.len()].copy_from_slice(rest);
        self.mem_len = rest.len();
    }

    pub fn digest(&self) -> u64 {
        let [v1, v2, v3, v4] = self.v;
        let mut h = if self.total >= 32 {
            let h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            [v1, v2, v3, v4].into_iter().fold(h, xxh_merge)
        } else {
            self.seed.wrapping_add(P5)
        };
        h = h.wrapping_add(self.total);
        let mut rest = &self.mem[..self.mem_len];
        while rest.len() >= 8 {
            h ^= xxh_round(0, le64(rest));
            h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
            rest = &rest[8..];
        }
        if rest.len() >= 4 {
            let w = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            h ^= u64::from(w).wrapping_mul(P1);
            h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
            rest = &rest[4..];
        }
        for &b in rest {
            h ^= u64::from(b).wrapping_mul(P5);
            h = h.rotate_left(11).wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

/// `50000` → `50,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Binary units for sizes: `4096` → `4 KiB`, `1073741824` → `1 GiB`, odd sizes with a decimal.
pub fn human_bytes(n: u64) -> String {
    let units = [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];
    for (unit, name) in units {
        if n >= unit {
            return if n % unit == 0 {
                format!("{} {name}", n / unit)
            } else {
                format!("{:.1} {name}", n as f64 / unit as f64)
            };
        }
    }
    format!("{n} B")
}

/// Parses `4096`, `64K`, `256M`, `1G`, `1GiB` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: u64 = num
        .parse()
        .map_err(|_| format!("not a size: '{s}' (try 64K, 256M, 1G)"))?;
    let mult = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 1,
        "k" => KIB,
        "m" => MIB,
        "g" => GIB,
        "t" => 1024 * GIB,
        _ => return Err(format!("unknown unit in '{s}' (use K, M, G)")),
    };
    num.checked_mul(mult)
        .ok_or_else(|| format!("size too large: '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xxh(data: &[u8]) -> u64 {
        let mut h = Xxh64::new(0);
        h.update(data);
        h.digest()
    }

    #[test]
    fn xxh64_matches_reference_vectors() {
        assert_eq!(xxh(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh(b"abc"), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn xxh64_streaming_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = xxh(&data);
        for split in [1, 7, 31, 32, 33, 500, 999] {
            let mut h = Xxh64::new(0);
            for chunk in data.chunks(split) {
                h.update(chunk);
            }
            assert_eq!(h.digest(), whole, "chunk size {split}");
        }
    }

    #[test]
    fn plans_are_deterministic() {
        for spec in catalogue(Scale::Smoke, None, None) {
            assert_eq!(plan(&spec), plan(&spec), "{}", spec.name);
        }
    }

    #[test]
    fn creation_order_differs_from_name_order() {
        for spec in catalogue(Scale::Smoke, None, None)
            .into_iter()
            .filter(|s| s.many_files())
        {
            let files: Vec<_> = plan(&spec)
                .into_iter()
                .filter_map(|e| match e {
                    Entry::File { path, .. } => Some(path),
                    _ => None,
                })
                .collect();
            let mut sorted = files.clone();
            sorted.sort();
            assert_ne!(files, sorted, "{}", spec.name);
        }
    }

    #[test]
    fn overrides_scale_the_catalogue() {
        let c = catalogue(Scale::Full, Some(1000), Some(4 * MIB));
        assert_eq!(
            c[0].shape,
            Shape::Uniform {
                files: 1000,
                dirs: 5,
                size: 4 * KIB
            }
        );
        assert_eq!(c[2].shape, Shape::Mixed { files: 1000 });
        assert_eq!(c[3].shape, Shape::Large { size: 4 * MIB });
        let full = catalogue(Scale::Full, None, None);
        assert_eq!(
            full[0].shape,
            Shape::Uniform {
                files: 50_000,
                dirs: 250,
                size: 4 * KIB
            }
        );
        assert_ne!(full[0].cache_key(), c[0].cache_key());
    }

    #[test]
    fn generation_is_reproducible_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        for spec in catalogue(Scale::Smoke, Some(120), Some(MIB)) {
            let a = tmp.path().join(format!("{}-a", spec.name));
            let b = tmp.path().join(format!("{}-b", spec.name));
            materialize(&spec, &a).unwrap();
            materialize(&spec, &b).unwrap();
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
        materialize(spec, &src).unwrap();
        materialize(spec, &dst).unwrap();
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
        assert!(p.contains("differs from the source near byte 0"), "{p}");

        fs::remove_file(dst.join(&file)).unwrap();
        let p = verify_copy(&src, &dst, &expected).problem.unwrap();
        assert!(p.starts_with("missing in the copy"), "{p}");

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
            p.contains("is a file in the copy, a symlink in the source"),
            "{p}"
        );
    }

    #[test]
    fn mixed_has_symlinks_deep_and_wide_dirs() {
        let spec = &catalogue(Scale::Smoke, None, None)[2];
        let entries = plan(spec);
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

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("64K"), Ok(64 * KIB));
        assert_eq!(parse_size("1GiB"), Ok(GIB));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12Q").is_err());
        assert_eq!(human_bytes(4 * KIB), "4 KiB");
        assert_eq!(human_bytes(1536 * KIB), "1.5 MiB");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
