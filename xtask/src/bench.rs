//! `cargo xtask bench`: builds ucopy, generates corpora, runs every contender in interleaved
//! rounds on fresh filesystems, verifies every copy, prints tables and writes JSON.
//!
//! Layout: [`args`] (flags → plan), [`build`] (workspace, release builds), [`corpus`]
//! (which corpora, their cache and verification), [`scenario`] (where copies go and
//! what happens around the timed region), [`contenders`] (the copiers, found and named), [`launch`] (running and timing one),
//! [`report`] (statistics, tables, JSON). This file is the plan and the loop.

mod args;
pub(crate) mod build;
mod contenders;
mod corpus;
mod launch;
mod report;
mod scenario;

pub use corpus::parse_size;

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

pub use args::BenchArgs;

use args::{Mode, Plan};
use build::{build_release, build_ucopy, Paths};
use contenders::Tools;
use corpus::Corpus;
use report::{Cell, ContenderRecord, RoundRecord, RunReport, SkipLine, Status};
use scenario::{Scenario, Workspace};

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
    // The commit the timed binary is built from: taken before the build, not when the JSON is
    // written (a branch can move during an hour-long run).
    let git_commit = git_commit(&paths.root);
    let ws = Workspace {
        bench: paths.bench(),
        tmp: scenario::TmpRoot::new()?,
        is_root,
    };
    std::fs::create_dir_all(&ws.bench)
        .with_context(|| format!("cannot create '{}'", ws.bench.display()))?;
    scenario::unmount_stale(&ws)?;

    let wants_ucopy = [true, false]
        .iter()
        .flat_map(|&many| contenders::catalogue(many, &plan.contenders))
        .chain(
            plan.scenarios
                .iter()
                .any(|s| s.is_resync())
                .then(contenders::resync_catalogue)
                .into_iter()
                .flatten(),
        )
        .any(|c| !c.is_peer() && contenders::selected(&plan.contenders, &c));
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
    let wants_xtask = contenders::catalogue(true, &plan.contenders)
        .iter()
        .any(|c| matches!(c.tool, contenders::Tool::Uring { .. }));
    let xtask = if wants_xtask && !args.list {
        build_release(&paths, "xtask", "xtask")?
    } else {
        Err("no hidden contender selected".into())
    };
    let tools = Tools::discover(ucopy, xtask, &paths.target.join("peers/bin"));

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
        indicatif::HumanBytes(machine.mem_total_bytes),
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
        eprint!("corpus {}: {} … ", spec.name, corpus::describe(spec));
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
        git_commit,
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
        corpus_description: corpus::describe(spec),
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
    let catalogue = if s.is_resync() {
        contenders::resync_catalogue()
    } else {
        contenders::catalogue(spec.many_files(), &plan.contenders)
    };
    for c in catalogue {
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
        println!("  {:10} {}", c.name, corpus::describe(c));
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
    for c in contenders::catalogue(true, &plan.contenders)
        .into_iter()
        .chain(contenders::catalogue(false, &plan.contenders))
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

    #[test]
    fn rotation_interleaves() {
        let v = ["a", "b", "c"];
        assert_eq!(rotated(&v, 0), ["a", "b", "c"]);
        assert_eq!(rotated(&v, 1), ["b", "c", "a"]);
        assert_eq!(rotated(&v, 2), ["c", "a", "b"]);
        assert_eq!(rotated(&v, 3), ["a", "b", "c"]);
        assert!(rotated::<u8>(&[], 5).is_empty());
    }
}
