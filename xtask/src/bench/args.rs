//! What `cargo xtask bench` was asked to run: the flags ([`BenchArgs`]) resolved into a
//! [`Plan`] of corpora, scenarios, contenders and rounds.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::contenders;
use super::corpus::{self, CorpusSpec, Scale};
use super::scenario::{self, Scenario};

/// Reproduce ucopy's speed claims against cp, tar, rsync, cpz, xcp and fcp.
///
/// Without flags: all corpora at full size on tmpfs, ext4-warm and ext4-cold, 1 warm-up and 5
/// counted rounds (one to two hours on 2 cores). Results: tables on stdout, JSON and a copy of
/// the tables under target/bench/results/.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Tiny corpora, one round, tmpfs (or the temp dir) only; no root needed. Exits non-zero
    /// if any ucopy contender copied wrongly (what CI runs)
    #[arg(long, conflicts_with_all = ["quick", "seed_table"])]
    pub smoke: bool,
    /// Reduced corpora (10,000 × 4 KiB, …, 256 MiB) and 3 rounds on tmpfs and ext4-warm
    #[arg(long)]
    pub quick: bool,
    /// Print the founding note's table for this machine: 4 KiB and 64 KiB files,
    /// --backend rw vs --backend fixed, on tmpfs and ext4-warm
    #[arg(long)]
    pub seed_table: bool,
    /// Install the peers (cargo install --root target/peers cpz xcp fcp; apt-get install
    /// rsync when missing and root), then exit
    #[arg(long)]
    pub install_peers: bool,
    /// List corpora, scenarios and contenders with what would be skipped, then exit
    #[arg(long)]
    pub list: bool,
    /// Corpora to run (comma-separated): small-4k, small-64k, mixed, large, sparse, tiny-dirs,
    /// and `tree` when --tree names one
    #[arg(long, value_delimiter = ',')]
    pub corpora: Vec<String>,
    /// A real directory of this machine's own files to bench as the corpus `tree` (copied once
    /// into the corpus cache with `cp -a`), e.g. a Rust toolchain under ~/.rustup/toolchains
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,
    /// Scenarios to run (comma-separated): tmpfs, ext4-warm, ext4-cold, xfs, btrfs, and the
    /// re-syncs resync-warm, resync-cold, resync-1pct (`ucopy -a -u` vs `cp -au`, `rsync -a`)
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Contenders (comma-separated): names like cp-r or ucopy:rw:inode, a prefix like
    /// ucopy:rw or ucopy, or `peers`
    #[arg(long, value_delimiter = ',')]
    pub contenders: Vec<String>,
    /// Counted rounds per corpus × scenario (default 5; --quick 3; --smoke 1)
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Uncounted warm-up rounds (default 1; --smoke 0)
    #[arg(long)]
    pub warmup: Option<usize>,
    /// File count of small-4k, small-64k, mixed and tiny-dirs (200 files per directory for the
    /// small ones, 2 for tiny-dirs)
    #[arg(long)]
    pub files: Option<u64>,
    /// Size of the large file and apparent size of the sparse one (e.g. 256M, 1G)
    #[arg(long, value_parser = corpus::parse_size)]
    pub size: Option<u64>,
    /// Kill a copy still running after this many seconds and mark its contender failed
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Use this ucopy binary instead of building target/release/ucopy
    #[arg(long)]
    pub ucopy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Quick,
    Smoke,
    SeedTable,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
            Mode::SeedTable => "seed-table",
        }
    }
}

/// What to run, resolved from the flags.
#[derive(Debug)]
pub struct Plan {
    pub mode: Mode,
    pub corpora: Vec<CorpusSpec>,
    pub scenarios: Vec<Scenario>,
    pub contenders: Vec<String>,
    pub rounds: usize,
    pub warmup: usize,
    pub timeout: std::time::Duration,
}

impl Plan {
    pub fn from_args(a: &BenchArgs) -> Result<Plan> {
        let mode = match (a.smoke, a.quick, a.seed_table) {
            (true, ..) => Mode::Smoke,
            (_, _, true) => Mode::SeedTable,
            (_, true, _) => Mode::Quick,
            _ => Mode::Full,
        };
        let scale = match (mode, a.quick) {
            (Mode::Smoke, _) => Scale::Smoke,
            (_, true) => Scale::Quick,
            _ => Scale::Full,
        };
        let mut all = corpus::catalogue(scale, a.files, a.size);
        if let Some(dir) = &a.tree {
            all.push(corpus::real_tree(dir)?);
        }
        let (def_corpora, def_scenarios, def_contenders): (&[&str], &[&str], &[&str]) = match mode {
            Mode::Full => (&corpus::NAMES, &["tmpfs", "ext4-warm", "ext4-cold"], &[]),
            Mode::Quick => (&corpus::NAMES, &["tmpfs", "ext4-warm"], &[]),
            Mode::Smoke => (&corpus::NAMES, &["tmpfs"], &[]),
            Mode::SeedTable => (
                &["small-4k", "small-64k"],
                &["tmpfs", "ext4-warm"],
                &["ucopy:rw:inode", "ucopy:fixed:inode"],
            ),
        };
        let pick = |given: &[String], default: &[&str]| -> Vec<String> {
            if given.is_empty() {
                default.iter().map(|s| s.to_string()).collect()
            } else {
                given
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
        };
        let mut corpora = Vec::new();
        let mut wanted = pick(&a.corpora, def_corpora);
        if a.tree.is_some() && a.corpora.is_empty() {
            wanted.push("tree".into());
        }
        for name in wanted {
            match all.iter().find(|c| c.name == name) {
                Some(c) => corpora.push(c.clone()),
                None => bail!(
                    "unknown corpus '{name}' (known: {}{})",
                    corpus::NAMES.join(", "),
                    if a.tree.is_some() {
                        ", tree"
                    } else {
                        " (and tree with --tree DIR)"
                    }
                ),
            }
        }
        let mut scenarios = Vec::new();
        for name in pick(&a.scenarios, def_scenarios) {
            match Scenario::from_name(&name) {
                Some(s) => scenarios.push(s),
                None => bail!(
                    "unknown scenario '{name}' (known: {})",
                    scenario::NAMES.join(", ")
                ),
            }
        }
        let contenders = pick(&a.contenders, def_contenders);
        for p in &contenders {
            let any = [true, false]
                .iter()
                .flat_map(|&many| contenders::catalogue(many, &contenders))
                .chain(contenders::resync_catalogue())
                .any(|c| contenders::selected(std::slice::from_ref(p), &c));
            if !any {
                let names: Vec<String> = contenders::catalogue(true, &[])
                    .into_iter()
                    .chain(contenders::resync_catalogue())
                    .map(|c| c.name)
                    .collect();
                bail!(
                    "--contenders '{p}' matches nothing (known: peers, ucopy, {}; hidden: \
                     uring:MODE[:KNOB]..., knobs {})",
                    names.join(", "),
                    crate::uring_copy::KNOBS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let (def_rounds, def_warmup) = match mode {
            Mode::Smoke => (1, 0),
            _ if a.quick => (3, 1),
            _ => (5, 1),
        };
        let rounds = a.rounds.unwrap_or(def_rounds);
        anyhow::ensure!(rounds >= 1, "--rounds must be at least 1");
        Ok(Plan {
            mode,
            corpora,
            scenarios,
            contenders,
            rounds,
            warmup: a.warmup.unwrap_or(def_warmup),
            timeout: std::time::Duration::from_secs(a.timeout.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))?;
        Plan::from_args(&cli.bench)
    }

    #[test]
    fn modes_pick_their_defaults() {
        let smoke = plan(&["--smoke"]).unwrap();
        assert_eq!((smoke.rounds, smoke.warmup), (1, 0));
        assert_eq!(smoke.scenarios, [Scenario::Tmpfs]);
        assert_eq!(smoke.corpora.len(), corpus::NAMES.len());
        let quick = plan(&["--quick"]).unwrap();
        assert_eq!((quick.rounds, quick.warmup), (3, 1));
        let full = plan(&[]).unwrap();
        assert_eq!(full.rounds, 5);
        assert_eq!(
            full.scenarios,
            [Scenario::Tmpfs, Scenario::Ext4Warm, Scenario::Ext4Cold]
        );
        let seed = plan(&["--seed-table", "--quick"]).unwrap();
        assert_eq!(seed.contenders, ["ucopy:rw:inode", "ucopy:fixed:inode"]);
        assert_eq!(
            seed.corpora
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["small-4k", "small-64k"]
        );
    }

    #[test]
    fn selections_are_validated() {
        let p = plan(&[
            "--corpora",
            "mixed,large",
            "--scenarios",
            "ext4-cold",
            "--contenders",
            "cp-r,ucopy:rw",
        ])
        .unwrap();
        assert_eq!(p.corpora.len(), 2);
        assert_eq!(p.scenarios, [Scenario::Ext4Cold]);
        assert!(plan(&["--corpora", "huge"])
            .unwrap_err()
            .to_string()
            .contains("unknown corpus"));
        assert!(plan(&["--scenarios", "nfs"]).is_err());
        assert!(plan(&["--contenders", "robocopy"])
            .unwrap_err()
            .to_string()
            .contains("matches nothing"));
        assert!(plan(&["--smoke", "--quick"]).is_err());
    }
}
