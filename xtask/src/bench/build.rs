//! Finding the workspace and building what the bench runs (release builds only).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// Where things are: the workspace root and its cargo target directory.
#[derive(Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    pub fn discover() -> Result<Paths> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        // `cargo metadata` honours CARGO_TARGET_DIR, config files and all; the fallbacks cover
        // a workspace that does not load (e.g. a member still missing).
        let from_metadata = Command::new(cargo())
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(&root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
            .and_then(|v| v.get("target_directory")?.as_str().map(PathBuf::from));
        let target = from_metadata
            .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
            .unwrap_or_else(|| root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            std::env::current_dir()?.join(target)
        };
        Ok(Paths { root, target })
    }

    pub fn bench(&self) -> PathBuf {
        self.target.join("bench")
    }
}

pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build --release -p ucopy-cli`, or why there is no binary to run.
pub fn build_ucopy(paths: &Paths, explicit: Option<&Path>) -> Result<Result<PathBuf, String>> {
    if let Some(p) = explicit {
        anyhow::ensure!(p.is_file(), "--ucopy '{}' does not exist", p.display());
        return Ok(Ok(p.canonicalize()?));
    }
    if !paths.root.join("crates/ucopy-cli/Cargo.toml").is_file() {
        return Ok(Err("crates/ucopy-cli is not in this checkout".into()));
    }
    build_release(paths, "ucopy-cli", "ucopy")
}

/// `cargo build --release -p PACKAGE`, giving `target/release/BIN`. A build that fails is an
/// error, not a skip: silently benchmarking only the peers would hide a broken tree (pass
/// --contenders peers to do that on purpose).
pub fn build_release(paths: &Paths, package: &str, bin: &str) -> Result<Result<PathBuf, String>> {
    eprintln!("building {bin}: cargo build --release -p {package}");
    let status = Command::new(cargo())
        .args(["build", "--release", "-p", package])
        .current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", &paths.target)
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo build")?;
    anyhow::ensure!(
        status.success(),
        "cargo build --release -p {package} failed ({status})"
    );
    let path = paths.target.join("release").join(bin);
    anyhow::ensure!(
        path.is_file(),
        "cargo build succeeded but '{}' is missing",
        path.display()
    );
    Ok(Ok(path))
}
