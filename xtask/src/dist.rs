//! `cargo xtask dist`: what a package of ucopy ships besides the binary — shell completions and
//! the man page, generated from the command line's clap definition (so they never drift from
//! `--help`), written under `target/dist/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// `cargo xtask dist`.
#[derive(Debug, clap::Args)]
pub struct DistArgs {
    /// Where to write (default: target/dist under the workspace)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// What is generated: `ucopy --generate <what>` → file under the output directory.
const FILES: &[(&str, &str)] = &[
    ("bash", "completions/ucopy.bash"),
    ("zsh", "completions/_ucopy"),
    ("fish", "completions/ucopy.fish"),
    ("elvish", "completions/ucopy.elv"),
    ("powershell", "completions/_ucopy.ps1"),
    ("man", "man/ucopy.1"),
];

pub fn run(args: DistArgs) -> Result<std::process::ExitCode> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the workspace")?
        .to_path_buf();
    let out = args.out.unwrap_or_else(|| root.join("target/dist"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "ucopy-cli"])
        .current_dir(&root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p ucopy-cli failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/ucopy");
    std::fs::copy(&bin, {
        std::fs::create_dir_all(out.join("bin"))?;
        out.join("bin/ucopy")
    })
    .with_context(|| format!("copying {}", bin.display()))?;
    for (what, file) in FILES {
        let path = out.join(file);
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        let output = Command::new(&bin)
            .args(["--generate", what])
            .output()
            .with_context(|| format!("running {} --generate {what}", bin.display()))?;
        if !output.status.success() || output.stdout.is_empty() {
            bail!(
                "ucopy --generate {what} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::write(&path, &output.stdout)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}
