//! `--exclude GLOB` and `--exclude-from FILE`: gitignore syntax (`*.o` at any depth, `build/` for
//! directories only, `/x` anchored at the top of each source, `!keep` to re-include), matched
//! by the `ignore` crate against paths relative to the source being copied. The planner asks
//! before it stats or opens an entry, so an excluded directory is never walked.

use std::io;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A compiled set of exclude patterns.
#[derive(Debug, Clone)]
pub struct Exclude {
    matcher: Gitignore,
}

/// A pattern that does not compile, or a pattern file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ExcludeError {
    /// A pattern is not valid gitignore syntax.
    #[error("invalid exclude pattern '{pattern}': {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// `--exclude-from` could not be read.
    #[error("cannot read '{}': {}", .path.display(), crate::cause(.source))]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl Exclude {
    /// Compiles `patterns` (each one gitignore line) and the lines of `files`.
    pub fn new(patterns: &[String], files: &[PathBuf]) -> Result<Exclude, ExcludeError> {
        let mut b = GitignoreBuilder::new("/");
        for p in patterns {
            b.add_line(None, p).map_err(|e| ExcludeError::Pattern {
                pattern: p.clone(),
                reason: e.to_string(),
            })?;
        }
        for f in files {
            let text = std::fs::read(f).map_err(|e| ExcludeError::File {
                path: f.clone(),
                source: e,
            })?;
            for line in String::from_utf8_lossy(&text).lines() {
                b.add_line(Some(f.clone()), line)
                    .map_err(|e| ExcludeError::Pattern {
                        pattern: line.to_owned(),
                        reason: e.to_string(),
                    })?;
            }
        }
        let matcher = b.build().map_err(|e| ExcludeError::Pattern {
            pattern: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Exclude { matcher })
    }

    /// True when the entry at `rel` (relative to the top of the source) is excluded.
    pub fn excludes(&self, rel: &Path, is_dir: bool) -> bool {
        let path = Path::new("/").join(rel);
        self.matcher.matched(&path, is_dir).is_ignore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(p: &[&str]) -> Exclude {
        Exclude::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &[]).unwrap()
    }

    #[test]
    fn gitignore_semantics() {
        let e = ex(&["*.o", "build/", "/top", "!keep.o"]);
        assert!(e.excludes(Path::new("a.o"), false));
        assert!(e.excludes(Path::new("x/y/a.o"), false));
        assert!(!e.excludes(Path::new("x/keep.o"), false));
        assert!(e.excludes(Path::new("x/build"), true));
        assert!(
            !e.excludes(Path::new("x/build"), false),
            "build/ is for directories"
        );
        assert!(e.excludes(Path::new("top"), true));
        assert!(!e.excludes(Path::new("x/top"), true), "/top is anchored");
        assert!(!e.excludes(Path::new("a.c"), false));
    }
}
