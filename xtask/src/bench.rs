//! `cargo xtask bench`: builds ucopy, generates corpora, runs every contender in interleaved
//! rounds on fresh filesystems, verifies every copy, prints tables and writes JSON.
//!
//! Layout: [`corpus`] (deterministic trees, cache, digest), [`scenario`] (where copies go and
//! what happens around the timed region), [`contenders`] (the copiers and how they are run),
//! [`report`] (statistics, tables, JSON). This file is the plan and the loop.

mod contenders;
mod corpus;
mod report;
mod scenario;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use contenders::Tools;
use corpus::{Corpus, CorpusSpec, Scale};
use report::{Cell, ContenderRecord, RoundRecord, RunReport, SkipLine, Status};
use scenario::{Scenario, Workspace};

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
    smoke: bool,
    /// Reduced corpora (10,000 × 4 KiB, …, 256 MiB) and 3 rounds on tmpfs and ext4-warm
    #[arg(long)]
    quick: bool,
    /// Print the founding note's table for this machine: 4 KiB and 64 KiB files,
    /// --backend rw vs --backend fixed, on tmpfs and ext4-warm
    #[arg(long)]
    seed_table: bool,
    /// Install the peers (cargo install --root target/peers cpz xcp fcp; apt-get install
    /// rsync when missing and root), then exit
    #[arg(long)]
    install_peers: bool,
    /// List corpora, scenarios and contenders with what would be skipped, then exit
    #[arg(long)]
    list: bool,
    /// Corpora to run (comma-separated): small-4k, small-64k, mixed, large, sparse
    #[arg(long, value_delimiter = ',')]
    corpora: Vec<String>,
    /// Scenarios to run (comma-separated): tmpfs, ext4-warm, ext4-cold, xfs, btrfs
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Contenders (comma-separated): names like cp-r or ucopy:rw:inode, a prefix like
    /// ucopy:rw or ucopy, or `peers`
    #[arg(long, value_delimiter = ',')]
    contenders: Vec<String>,
    /// Counted rounds per corpus × scenario (default 5; --quick 3; --smoke 1)
    #[arg(long)]
    rounds: Option<usize>,
    /// Uncounted warm-up rounds (default 1; --smoke 0)
    #[arg(long)]
    warmup: Option<usize>,
    /// File count of small-4k, small-64k and mixed (200 files per directory for the small ones)
    #[arg(long)]
    files: Option<u64>,
    /// Size of the large file and apparent size of the sparse one (e.g. 256M, 1G)
    #[arg(long, value_parser = corpus::parse_size)]
    size: Option<u64>,
    /// Kill a copy still running after this many seconds and mark its contender failed
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Use this ucopy binary instead of building target/release/ucopy
    #[arg(long)]
    ucopy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Quick,
    Smoke,
    SeedTable,
}

impl Mode {
    fn name(self) -> &'static str {
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
struct Plan {
    mode: Mode,
    corpora: Vec<CorpusSpec>,
    scenarios: Vec<Scenario>,
    contenders: Vec<String>,
    rounds: usize,
    warmup: usize,
    timeout: std::time::Duration,
}

impl Plan {
    fn from_args(a: &BenchArgs) -> Result<Plan> {
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
        let all = corpus::catalogue(scale, a.files, a.size);
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
        for name in pick(&a.corpora, def_corpora) {
            match all.iter().find(|c| c.name == name) {
                Some(c) => corpora.push(c.clone()),
                None => bail!(
                    "unknown corpus '{name}' (known: {})",
                    corpus::NAMES.join(", ")
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
            let any = [true, false].iter().any(|&many| {
                contenders::catalogue(many)
                    .iter()
                    .any(|c| contenders::selected(std::slice::from_ref(p), c))
            });
            if !any {
                let names: Vec<String> = contenders::catalogue(true)
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                bail!(
                    "--contenders '{p}' matches nothing (known: peers, ucopy, {})",
                    names.join(", ")
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

/// Where things are: the workspace root and its cargo target directory.
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) root: PathBuf,
    pub(crate) target: PathBuf,
}

impl Paths {
    pub(crate) fn discover() -> Result<Paths> {
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

    fn bench(&self) -> PathBuf {
        self.target.join("bench")
    }
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build --release -p ucopy-cli`, or why there is no binary to run.
pub(crate) fn build_ucopy(
    paths: &Paths,
    explicit: Option<&Path>,
) -> Result<Result<PathBuf, String>> {
    if let Some(p) = explicit {
        anyhow::ensure!(p.is_file(), "--ucopy '{}' does not exist", p.display());
        return Ok(Ok(p.canonicalize()?));
    }
    if !paths.root.join("crates/ucopy-cli/Cargo.toml").is_file() {
        return Ok(Err("crates/ucopy-cli is not in this checkout".into()));
    }
    eprintln!("building ucopy: cargo build --release -p ucopy-cli");
    let status = Command::new(cargo())
        .args(["build", "--release", "-p", "ucopy-cli"])
        .current_dir(&paths.root)
        .env("CARGO_TARGET_DIR", &paths.target)
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo build")?;
    // A build that fails is an error, not a skip: silently benchmarking only the peers would
    // hide a broken tree (pass --contenders peers to do that on purpose).
    anyhow::ensure!(
        status.success(),
        "cargo build --release -p ucopy-cli failed ({status})"
    );
    let bin = paths.target.join("release/ucopy");
    anyhow::ensure!(
        bin.is_file(),
        "cargo build succeeded but '{}' is missing",
        bin.display()
    );
    Ok(Ok(bin))
}

/// The order of contenders in round `round`: rotated by one each round (A B C, B C A, C A B),
/// so no contender always runs first (cache state) or right after the same rival.
fn rotated<T: Clone>(items: &[T], round: usize) -> Vec<T> {
    if items.is_empty() {
        return Vec::new();
    }
    let k = round % items.len();
    items[k..].iter().chain(&items[..k]).cloned().collect()
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let paths = Paths::discover()?;
    let is_root = rustix::process::geteuid().is_root();
    if args.install_peers {
        contenders::install_peers(&paths.target, is_root)?;
        println!(
            "peers installed under {}; now run cargo xtask bench",
            paths.target.join("peers").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let plan = Plan::from_args(&args)?;
    let ws = Workspace {
        bench: paths.bench(),
        tmp: scenario::TmpRoot::new()?,
        is_root,
    };
    std::fs::create_dir_all(&ws.bench)
        .with_context(|| format!("cannot create '{}'", ws.bench.display()))?;
    scenario::unmount_stale(&ws)?;

    let wants_ucopy = [true, false].iter().any(|&many| {
        contenders::catalogue(many)
            .iter()
            .any(|c| !c.is_peer() && contenders::selected(&plan.contenders, c))
    });
    let built = paths.target.join("release/ucopy");
    let ucopy = if let (true, Some(p)) = (args.list, &args.ucopy) {
        Ok(p.clone())
    } else if args.list && built.is_file() {
        // --list only looks: it probes whatever binary is there rather than building one.
        Ok(built)
    } else if args.list {
        Err("not built yet (a run builds it)".into())
    } else if wants_ucopy {
        build_ucopy(&paths, args.ucopy.as_deref())?
    } else {
        Err("not selected".into())
    };
    let tools = Tools::discover(ucopy, &paths.target.join("peers/bin"));

    let mut skipped = Vec::new();
    let mut scenarios = Vec::new();
    for &s in &plan.scenarios {
        match s.unavailable(is_root, &ws.tmp) {
            // --smoke promises to run anywhere: off tmpfs it uses the temp dir instead.
            Some(reason) if !(s == Scenario::Tmpfs && plan.mode == Mode::Smoke) => {
                println!("{}: skipped: {reason}", s.name());
                skipped.push(SkipLine {
                    what: format!("scenario {}", s.name()),
                    reason,
                });
            }
            Some(reason) => {
                println!("{}: note: {reason}", s.name());
                scenarios.push(s);
            }
            None => scenarios.push(s),
        }
    }

    if args.list {
        print_list(&plan, &tools, &scenarios);
        return Ok(ExitCode::SUCCESS);
    }

    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let machine = machine_info(&ws);
    println!(
        "machine: Linux {}, {} cores, {} RAM, {}; {} mode, {} counted round(s) + {} warm-up",
        machine.kernel,
        machine.cores,
        corpus::human_bytes(machine.mem_total_bytes),
        if is_root { "root" } else { "not root" },
        plan.mode.name(),
        plan.rounds,
        plan.warmup
    );
    let load1: f64 = machine
        .loadavg_at_start
        .split(' ')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0);
    if load1 > 0.5 * machine.cores as f64 {
        println!(
            "warning: load average {} on {} cores: something else is running, numbers will be noisy",
            machine.loadavg_at_start, machine.cores
        );
    }
    for (name, v) in &tools.versions {
        println!("  {name}: {v}");
    }

    println!("{}", report::LEGEND);

    let mut cells = Vec::new();
    let mut manifests = Vec::new();
    let mut tables = String::new();
    for spec in &plan.corpora {
        eprint!("corpus {}: {} … ", spec.name, spec.describe());
        let (corpus, fresh) = corpus::ensure_cached(spec, &ws.bench.join("corpora"))?;
        eprintln!("{}", if fresh { "generated" } else { "cached" });
        manifests.push(corpus::Manifest {
            generator_version: corpus::GENERATOR_VERSION,
            spec: spec.clone(),
            summary: corpus.summary.clone(),
        });
        for &s in &scenarios {
            let cell = run_cell(&plan, &corpus, s, &ws, &tools, &mut skipped)?;
            let table = cell.render();
            println!("\n{table}");
            tables += &format!("\n{table}");
            cells.push(cell);
        }
    }
    if plan.mode == Mode::SeedTable {
        for s in &scenarios {
            if let Some(t) = report::render_seed_table(&cells, s.name()) {
                println!("\n{t}");
                tables += &format!("\n{t}");
            }
        }
    }

    let report = RunReport {
        schema: 1,
        started_utc: report::utc_timestamp(started),
        // As typed: `cargo xtask bench …` (argv[0] is the xtask binary's path).
        command: ["cargo", "xtask"]
            .into_iter()
            .map(String::from)
            .chain(std::env::args().skip(1))
            .collect(),
        mode: plan.mode.name().into(),
        rounds: plan.rounds,
        warmup: plan.warmup,
        git_commit: git_commit(&paths.root),
        machine,
        versions: tools.versions.clone(),
        ucopy_probe: tools.probe_json.clone(),
        corpora: manifests,
        skipped,
        cells,
    };
    let results = ws.bench.join("results");
    std::fs::create_dir_all(&results)?;
    let stem = format!(
        "{}-{}",
        report.started_utc.replace(':', ""),
        plan.mode.name()
    );
    let json_path = results.join(format!("{stem}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(results.join(format!("{stem}.txt")), tables.trim_start())?;
    std::fs::copy(&json_path, ws.bench.join("latest.json"))?;
    println!("\nJSON: {}", json_path.display());

    let ucopy_runs = report
        .cells
        .iter()
        .flat_map(|c| &c.contenders)
        .filter(|c| !c.peer)
        .count();
    let mut wrong = report.cells.iter().flat_map(|cell| {
        cell.contenders
            .iter()
            .filter(|c| !c.peer && c.status == Status::Failed)
            .map(move |c| (cell, c))
    });
    if let Some((cell, c)) = wrong.next() {
        eprintln!(
            "error: ucopy copied wrongly in {} of {ucopy_runs} contender × corpus × scenario runs; \
             first: {} on {}/{}: {}",
            1 + wrong.count(),
            c.name,
            cell.corpus,
            cell.scenario,
            c.reason.as_deref().unwrap_or("")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One corpus × scenario: interleaved rounds over every available contender.
fn run_cell(
    plan: &Plan,
    corpus: &Corpus,
    s: Scenario,
    ws: &Workspace,
    tools: &Tools,
    skipped: &mut Vec<SkipLine>,
) -> Result<Cell> {
    let spec = &corpus.spec;
    let mut cell = Cell {
        corpus: spec.name.clone(),
        corpus_description: spec.describe(),
        files: corpus.summary.files,
        bytes: corpus.summary.bytes,
        scenario: s.name().into(),
        scenario_description: s.describe().into(),
        cold: s.is_cold(),
        src: String::new(),
        src_fs: String::new(),
        dst_fs: s.dst_fs(&ws.tmp),
        rounds: plan.rounds,
        warmup: plan.warmup,
        error: None,
        contenders: Vec::new(),
    };
    let mut ready = Vec::new();
    for c in contenders::catalogue(spec.many_files()) {
        if !contenders::selected(&plan.contenders, &c) {
            continue;
        }
        match tools.resolve(&c) {
            Ok(launch) => {
                cell.contenders
                    .push(ContenderRecord::new(&c.name, c.display(), c.is_peer()));
                ready.push((cell.contenders.len() - 1, c, launch));
            }
            Err(reason) => {
                if !skipped.iter().any(|l| l.what == c.name) {
                    skipped.push(SkipLine {
                        what: c.name.clone(),
                        reason: reason.clone(),
                    });
                }
                cell.contenders.push(ContenderRecord::skipped(
                    &c.name,
                    c.display(),
                    c.is_peer(),
                    reason,
                ));
            }
        }
    }
    let staged = match scenario::stage(s, corpus, ws) {
        Ok(st) => st,
        Err(e) => {
            cell.error = Some(format!("{e:#}"));
            return Ok(cell);
        }
    };
    cell.src = staged
        .src
        .as_ref()
        .map_or("per-round, on the destination filesystem".into(), |p| {
            p.display().to_string()
        });
    cell.src_fs = staged.src_fs.clone();
    let logs = ws.bench.join("logs");
    let total = plan.warmup + plan.rounds;
    let order: Vec<usize> = (0..ready.len()).collect();
    for round in 0..total {
        let warm = round < plan.warmup;
        eprint!(
            "  {} · {} · {} {}/{}:",
            spec.name,
            s.name(),
            if warm { "warm-up" } else { "round" },
            if warm {
                round + 1
            } else {
                round - plan.warmup + 1
            },
            if warm { plan.warmup } else { plan.rounds }
        );
        for (position, &i) in rotated(&order, round).iter().enumerate() {
            let (idx, c, launch) = &ready[i];
            if cell.contenders[*idx].status != Status::Ok {
                continue;
            }
            eprint!(" {}", c.name);
            let _ = std::io::stderr().flush();
            let slot = match scenario::prepare_slot(s, &staged, corpus, ws) {
                Ok(slot) => slot,
                Err(e) => {
                    // Setup broke (mkfs, mount, …): nothing after this would be comparable.
                    eprintln!();
                    cell.error = Some(format!("{e:#}"));
                    return Ok(cell);
                }
            };
            launch.prepare(&slot.dst)?;
            scenario::settle(s)?;
            if s.is_cold() {
                launch.prewarm();
            }
            let disk0 = staged.src_dev.and_then(scenario::disk_counters);
            let out = launch.run_timed(&slot.src, &slot.dst, &logs, plan.timeout)?;
            let disk1 = staged.src_dev.and_then(scenario::disk_counters);
            let rec = &mut cell.contenders[*idx];
            if let Err(e) = out.result {
                eprint!(" (FAILED)");
                rec.fail(e);
                continue;
            }
            if let Some((backend, reason)) = contenders::ucopy_choice(&out.stdout) {
                rec.ucopy_backend = Some(backend);
                rec.ucopy_reason = Some(reason);
            }
            // Verification is outside the timed region and before the slot is torn down.
            let verified = corpus::verify_copy(&slot.src, &slot.dst, &corpus.summary);
            if let Some(problem) = verified.problem {
                eprint!(" (FAILED)");
                rec.fail(format!("wrong copy: {problem}"));
                continue;
            }
            drop(slot);
            let ms = out.secs * 1e3;
            let (read_qd, weighted_qd, reads) = match (disk0, disk1, s.is_cold()) {
                (Some(a), Some(b), true) => (
                    Some((b.read_ms - a.read_ms) as f64 / ms),
                    Some((b.weighted_ms - a.weighted_ms) as f64 / ms),
                    Some(b.reads - a.reads),
                ),
                _ => (None, None, None),
            };
            let r = RoundRecord {
                round,
                position,
                secs: out.secs,
                user_secs: out.user_secs,
                sys_secs: out.sys_secs,
                dst_alloc_bytes: verified.alloc_bytes,
                read_queue_depth: read_qd,
                weighted_queue_depth: weighted_qd,
                disk_reads: reads,
            };
            if warm {
                rec.warmup.push(r);
            } else {
                rec.rounds.push(r);
            }
        }
        eprintln!();
    }
    cell.finalize();
    Ok(cell)
}

fn print_list(plan: &Plan, tools: &Tools, scenarios: &[Scenario]) {
    println!("corpora ({} mode):", plan.mode.name());
    for c in &plan.corpora {
        println!("  {:10} {}", c.name, c.describe());
    }
    println!(
        "scenarios: {}",
        scenarios
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("contenders:");
    let mut seen = std::collections::BTreeSet::new();
    for c in contenders::catalogue(true)
        .into_iter()
        .chain(contenders::catalogue(false))
    {
        if !contenders::selected(&plan.contenders, &c) || !seen.insert(c.name.clone()) {
            continue;
        }
        match tools.resolve(&c) {
            Ok(_) => println!("  {:18} {}", c.name, c.display()),
            Err(e) => println!("  {:18} skipped: {e}", c.name),
        }
    }
}

fn machine_info(ws: &Workspace) -> report::Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    report::Machine {
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total_bytes: mem_kib * 1024,
        cpu_model,
        is_root: ws.is_root,
        loadavg_at_start: read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        bench_dir: ws.bench.display().to_string(),
        bench_fs: scenario::fs_type(&ws.bench).unwrap_or_default(),
        tmp_dir: ws.tmp.base.display().to_string(),
        tmp_fs: ws
            .tmp
            .base
            .parent()
            .and_then(scenario::fs_type)
            .unwrap_or_default(),
    }
}

fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    let head = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    (!head.is_empty()).then(|| if dirty { format!("{head}-dirty") } else { head })
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
    fn rotation_interleaves() {
        let v = ["a", "b", "c"];
        assert_eq!(rotated(&v, 0), ["a", "b", "c"]);
        assert_eq!(rotated(&v, 1), ["b", "c", "a"]);
        assert_eq!(rotated(&v, 2), ["c", "a", "b"]);
        assert_eq!(rotated(&v, 3), ["a", "b", "c"]);
        assert!(rotated::<u8>(&[], 5).is_empty());
    }

    #[test]
    fn modes_pick_their_defaults() {
        let smoke = plan(&["--smoke"]).unwrap();
        assert_eq!((smoke.rounds, smoke.warmup), (1, 0));
        assert_eq!(smoke.scenarios, [Scenario::Tmpfs]);
        assert_eq!(smoke.corpora.len(), 5);
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
