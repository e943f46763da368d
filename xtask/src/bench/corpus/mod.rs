//! The bench's corpora: which ones exist at each scale, their on-disk cache, and checking a
//! regenerated tree against it. Planning and writing a corpus are `ucopy_test_support::corpus`'s
//! (shared with the tests); the digest and copy verification are [`verify`]'s.

mod verify;

pub use ucopy_test_support::corpus::{materialise, CorpusSpec, Shape};
pub use verify::{scan, verify_copy, Summary};

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{HumanBytes, HumanCount};
use serde::{Deserialize, Serialize};
use ucopy_test_support::{GIB, KIB, MIB};

/// Bump whenever the planner or materialiser (`ucopy_test_support::corpus`) would put different
/// bytes on disk, so that cached corpora from an older generator are regenerated instead of
/// silently reused.
pub const GENERATOR_VERSION: u32 = 1;

/// The fixed seed every corpus derives from (arbitrary, but never changes without a version bump).
const SEED: u64 = 0x75c0_5eed_2025_0001;

/// Files per directory for the uniform corpora, matching 50,000 files in 250 dirs.
const FILES_PER_DIR: u64 = 200;

/// How big the default corpora are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Full,
    Quick,
    Smoke,
}

pub const NAMES: [&str; 6] = [
    "small-4k",
    "small-64k",
    "mixed",
    "large",
    "sparse",
    "tiny-dirs",
];

/// Files per directory of `tiny-dirs`: a tree whose directories hold almost nothing (the shape of
/// a `node_modules` or a source checkout's leaves), where work per directory, not per file, sets
/// the pace.
const TINY_DIR_FILES: u64 = 2;

/// The corpus catalogue at a scale, with `--files` / `--size` overrides applied.
pub fn catalogue(scale: Scale, files: Option<u64>, size: Option<u64>) -> Vec<CorpusSpec> {
    let (n4k, n64k, nmixed, big, sparse_extents, ntiny) = match scale {
        Scale::Full => (50_000, 10_000, 20_000, GIB, 16, 20_000),
        Scale::Quick => (10_000, 2_000, 4_000, 256 * MIB, 16, 4_000),
        Scale::Smoke => (300, 60, 300, 8 * MIB, 4, 60),
    };
    let uniform = |n: u64, size, per_dir: u64| {
        let n = files.unwrap_or(n).max(1);
        Shape::Uniform {
            files: n,
            dirs: n.div_ceil(per_dir),
            size,
        }
    };
    let big = size.unwrap_or(big);
    let shapes = [
        uniform(n4k, 4 * KIB, FILES_PER_DIR),
        uniform(n64k, 64 * KIB, FILES_PER_DIR),
        Shape::Mixed {
            files: files.unwrap_or(nmixed).max(1),
        },
        Shape::Large { size: big },
        Shape::Sparse {
            size: big,
            extents: sparse_extents,
        },
        uniform(ntiny, KIB, TINY_DIR_FILES),
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

/// The corpus `tree`: a real directory, by its absolute path.
pub fn real_tree(dir: &Path) -> Result<CorpusSpec> {
    let from = fs::canonicalize(dir)
        .with_context(|| format!("--tree: cannot resolve '{}'", dir.display()))?;
    if !from.is_dir() {
        bail!("--tree: '{}' is not a directory", from.display());
    }
    Ok(CorpusSpec {
        name: "tree".into(),
        seed: SEED,
        shape: Shape::Tree { from },
    })
}

/// One line describing a corpus for the tables.
pub fn describe(spec: &CorpusSpec) -> String {
    match &spec.shape {
        Shape::Uniform { files, dirs, size } => {
            format!(
                "{} files × {} in {} dir{}",
                HumanCount(*files),
                HumanBytes(*size),
                dirs,
                if *dirs == 1 { "" } else { "s" }
            )
        }
        Shape::Mixed { files } => {
            format!(
                "{} files of 0 … 1 MiB, deep and wide dirs, symlinks",
                HumanCount(*files)
            )
        }
        Shape::Large { size } => format!("one {} file", HumanBytes(*size)),
        Shape::Sparse { size, extents } => {
            format!(
                "one {} file, {} × 64 KiB data, rest holes",
                HumanBytes(*size),
                extents
            )
        }
        Shape::Tree { from } => format!("the real tree {}", from.display()),
    }
}

/// A short key of the generator parameters, so corpora of different sizes cache side by side.
fn cache_key(spec: &CorpusSpec) -> String {
    let json = serde_json::to_vec(spec).expect("spec serializes");
    let h = xxhash_rust::xxh64::xxh64(&json, u64::from(GENERATOR_VERSION));
    format!("{}.{:08x}", spec.name, h as u32)
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
    let dir = cache_dir.join(cache_key(spec));
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
    materialise(spec, &tree)?;
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
pub fn materialise_verified(corpus: &Corpus, root: &Path) -> Result<()> {
    materialise(&corpus.spec, root)?;
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
        assert_ne!(cache_key(&full[0]), cache_key(&c[0]));
    }

    #[test]
    fn smoke_corpora_plan_deterministically_with_files_out_of_name_order() {
        use ucopy_test_support::corpus::{plan, Entry};
        for spec in catalogue(Scale::Smoke, None, None) {
            let entries = plan(&spec);
            assert_eq!(entries, plan(&spec), "{}", spec.name);
            if spec.many_files() {
                let files: Vec<_> = entries
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
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("64K"), Ok(64 * KIB));
        assert_eq!(parse_size("1GiB"), Ok(GIB));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12Q").is_err());
        let spec = &catalogue(Scale::Full, None, None)[0];
        assert_eq!(describe(spec), "50,000 files × 4.00 KiB in 250 dirs");
    }
}
