//! Statistics, the printed tables and the JSON record of a run. (About 600 lines, a fifth of
//! them tests: the record types, the table that prints them and its golden output are one idea.)

use std::collections::BTreeMap;

use indicatif::{HumanBytes, HumanCount};
use serde::Serialize;

use super::corpus::Manifest;

/// One timed copy.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRecord {
    /// 0-based; warm-up rounds come first and are listed separately.
    pub round: usize,
    /// Position of this contender within the round's rotated order.
    pub position: usize,
    pub secs: f64,
    pub user_secs: f64,
    pub sys_secs: f64,
    /// Space the destination occupies (st_blocks), which shows whether holes survived.
    pub dst_alloc_bytes: u64,
    /// Cold rounds: average reads in flight on the source disk (field 4 / elapsed ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_queue_depth: Option<f64>,
    /// Cold rounds: field 11 (weighted ms doing I/O, reads and writes) / elapsed ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_queue_depth: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_reads: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub median_secs: f64,
    pub min_secs: f64,
    pub mean_secs: f64,
    pub max_secs: f64,
    /// Regular files per second at the median time.
    pub files_per_sec: f64,
    /// Apparent bytes (10^6) per second at the median time.
    pub mb_per_sec: f64,
    /// cp -r's median ÷ this median: above 1 is faster than cp -r.
    pub vs_cp_r: Option<f64>,
    /// The fastest peer's median ÷ this median.
    pub vs_best_peer: Option<f64>,
    /// cpz's median ÷ this median (issue 9's targets are stated against cpz).
    pub vs_cpz: Option<f64>,
    /// The synchronous floor's median ÷ this median: above 1 beats what blocking system calls
    /// can do per file (xtask/src/floor.rs).
    pub vs_floor: Option<f64>,
    pub median_cpu_secs: f64,
    pub median_read_queue_depth: Option<f64>,
    pub dst_alloc_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContenderRecord {
    pub name: String,
    pub command: String,
    pub peer: bool,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What ucopy's `--json` said it ran (tells what `auto` picked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ucopy_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ucopy_reason: Option<String>,
    pub warmup: Vec<RoundRecord>,
    pub rounds: Vec<RoundRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

impl ContenderRecord {
    pub fn new(name: &str, command: String, peer: bool) -> Self {
        ContenderRecord {
            name: name.into(),
            command,
            peer,
            status: Status::Ok,
            reason: None,
            ucopy_backend: None,
            ucopy_reason: None,
            warmup: Vec::new(),
            rounds: Vec::new(),
            stats: None,
        }
    }

    pub fn skipped(name: &str, command: String, peer: bool, reason: String) -> Self {
        ContenderRecord {
            status: Status::Skipped,
            reason: Some(reason),
            ..Self::new(name, command, peer)
        }
    }

    /// A wrong copy: its times are dropped, it is not timed again.
    pub fn fail(&mut self, reason: String) {
        self.status = Status::Failed;
        self.reason = Some(reason);
        self.rounds.clear();
        self.warmup.clear();
    }
}

/// One corpus × scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub corpus: String,
    pub corpus_description: String,
    pub files: u64,
    pub bytes: u64,
    pub scenario: String,
    pub scenario_description: String,
    pub cold: bool,
    pub src: String,
    pub src_fs: String,
    pub dst_fs: String,
    pub rounds: usize,
    pub warmup: usize,
    /// Set when the scenario could not be set up; contenders are then all skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub contenders: Vec<ContenderRecord>,
}

pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

pub fn min(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().min_by(f64::total_cmp)
}

impl Cell {
    /// Fills in every successful contender's statistics and ratios.
    pub fn finalize(&mut self) {
        let (files, bytes) = (self.files as f64, self.bytes as f64);
        for c in &mut self.contenders {
            if c.status != Status::Ok || c.rounds.is_empty() {
                continue;
            }
            let t: Vec<f64> = c.rounds.iter().map(|r| r.secs).collect();
            let med = median(&t).expect("non-empty");
            let cpu: Vec<f64> = c.rounds.iter().map(|r| r.user_secs + r.sys_secs).collect();
            let qd: Vec<f64> = c.rounds.iter().filter_map(|r| r.read_queue_depth).collect();
            c.stats = Some(Stats {
                median_secs: med,
                min_secs: min(&t).expect("non-empty"),
                mean_secs: t.iter().sum::<f64>() / t.len() as f64,
                max_secs: t.iter().copied().max_by(f64::total_cmp).expect("non-empty"),
                files_per_sec: files / med,
                mb_per_sec: bytes / med / 1e6,
                vs_cp_r: None,
                vs_best_peer: None,
                vs_cpz: None,
                vs_floor: None,
                median_cpu_secs: median(&cpu).expect("non-empty"),
                median_read_queue_depth: median(&qd),
                dst_alloc_bytes: c.rounds.last().map_or(0, |r| r.dst_alloc_bytes),
            });
        }
        let med_of = |c: &ContenderRecord| c.stats.as_ref().map(|s| s.median_secs);
        let named = |name: &str| {
            self.contenders
                .iter()
                .find(|c| c.name == name)
                .and_then(med_of)
        };
        let (cp_r, cpz, floor) = (named("cp-r"), named("cpz"), named("floor"));
        let best_peer = self
            .contenders
            .iter()
            .filter(|c| c.peer)
            .filter_map(med_of)
            .min_by(f64::total_cmp);
        for c in &mut self.contenders {
            if let Some(s) = &mut c.stats {
                s.vs_cp_r = cp_r.map(|b| b / s.median_secs);
                s.vs_best_peer = best_peer.map(|b| b / s.median_secs);
                s.vs_cpz = cpz.map(|b| b / s.median_secs);
                s.vs_floor = floor.map(|b| b / s.median_secs);
            }
        }
    }

    /// The fastest successful peer's name.
    pub fn best_peer(&self) -> Option<&str> {
        self.contenders
            .iter()
            .filter(|c| c.peer)
            .filter_map(|c| c.stats.as_ref().map(|s| (s.median_secs, c.name.as_str())))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n)
    }

    pub fn title(&self) -> String {
        format!(
            "{} × {}: {} ({}); {}\n  source {} ({}) → destination {}; {} round{} + {} warm-up, \
             interleaved\n",
            self.corpus,
            self.scenario,
            self.corpus_description,
            HumanBytes(self.bytes),
            self.scenario_description,
            self.src,
            self.src_fs,
            self.dst_fs,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.warmup
        )
    }

    /// The hyperfine-like table: fastest first, then failures, then skips.
    pub fn render(&self) -> String {
        let mut out = self.title();
        if let Some(e) = &self.error {
            out += &format!("  scenario not run: {e}\n");
            return out;
        }
        let show_qd = self.cold;
        let show_alloc = self.corpus == "sparse";
        let mut header = vec![
            "contender",
            "median",
            "min",
            "files/s",
            "MB/s",
            "vs cp -r",
            "vs best peer",
            "vs cpz",
            "vs floor",
            "cpu",
        ];
        if show_qd {
            header.push("read QD");
        }
        if show_alloc {
            header.push("dst alloc");
        }
        let best = self.best_peer();
        let mut timed: Vec<&ContenderRecord> = self
            .contenders
            .iter()
            .filter(|c| c.stats.is_some())
            .collect();
        timed.sort_by(|a, b| {
            let (x, y) = (
                a.stats.as_ref().expect("timed"),
                b.stats.as_ref().expect("timed"),
            );
            x.median_secs.total_cmp(&y.median_secs)
        });
        let mut rows: Vec<(Vec<String>, String)> = Vec::new();
        for c in &timed {
            let s = c.stats.as_ref().expect("timed");
            let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}×"));
            let mut row = vec![
                c.name.clone(),
                fmt_secs(s.median_secs),
                fmt_secs(s.min_secs),
                HumanCount(s.files_per_sec.round() as u64).to_string(),
                format!("{:.1}", s.mb_per_sec),
                ratio(s.vs_cp_r),
                ratio(s.vs_best_peer),
                ratio(s.vs_cpz),
                ratio(s.vs_floor),
                fmt_secs(s.median_cpu_secs),
            ];
            if show_qd {
                row.push(
                    s.median_read_queue_depth
                        .map_or("-".into(), |q| format!("{q:.1}")),
                );
            }
            if show_alloc {
                row.push(HumanBytes(s.dst_alloc_bytes).to_string());
            }
            let mut notes = Vec::new();
            if Some(c.name.as_str()) == best {
                notes.push("best peer".to_string());
            }
            if let Some(b) = &c.ucopy_backend {
                if !c.name.contains(&format!(":{b}")) {
                    notes.push(format!("ran {b}"));
                }
            }
            rows.push((row, notes.join(", ")));
        }
        let mut widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|(r, _)| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Failed and skipped contenders are listed under the first column too.
        widths[0] = self
            .contenders
            .iter()
            .map(|c| c.name.chars().count())
            .fold(widths[0], usize::max);
        let line = |cells: &[String], note: &str| {
            let mut l = String::from(" ");
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i == 0 {
                    l += &format!(" {cell}{}", " ".repeat(pad));
                } else {
                    l += &format!("  {}{cell}", " ".repeat(pad));
                }
            }
            if !note.is_empty() {
                l += &format!("  {note}");
            }
            l.trim_end().to_string() + "\n"
        };
        // With nothing timed, the failure and skip lines below say why; no empty header.
        if !rows.is_empty() {
            out += &line(
                &header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "",
            );
            for (row, note) in &rows {
                out += &line(row, note);
            }
        }
        // Failures and skips often share a reason (every ucopy contender when the binary is
        // missing or broken): one line per reason keeps the table readable.
        for (status, label) in [(Status::Failed, "FAILED"), (Status::Skipped, "skipped")] {
            let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
            for c in self.contenders.iter().filter(|c| c.status == status) {
                let reason = c.reason.as_deref().unwrap_or("");
                match reasons.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, names)) => names.push(&c.name),
                    None => reasons.push((reason, vec![&c.name])),
                }
            }
            for (reason, names) in reasons {
                if let [one] = names[..] {
                    out += &format!("  {one:w$}  {label}: {reason}\n", w = widths[0]);
                } else {
                    out += &format!("  {label}: {reason}: {}\n", names.join(" "));
                }
            }
        }
        out
    }
}

/// What the table columns mean, printed once per run.
pub const LEGEND: &str = "\
columns: median and min = wall time of the copy alone (setup, mkfs, drop_caches and the check \
are outside it); files/s and MB/s at the median (MB = 10^6 bytes, apparent size); \
vs X = X's median ÷ this median (above 1 = faster than X); cpu = the copier's user + system \
time, all its threads (median); read QD = average reads in flight on the source disk \
(/proc/diskstats, cold only); dst alloc = space the copy occupies (sparse only). \
Every copy is compared with its source byte for byte; a wrong copy is FAILED, not timed.";

/// `0.1523` → `152.3 ms`, `1.5234` → `1.523 s`.
pub fn fmt_secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

/// The founding note's table (README, "Registered buffers"; `bench/runs/2026-11-26/seed-table.*`)
/// for one scenario: `--backend rw` ("normal buffers") against `--backend fixed` ("registered
/// buffers"), in files/s.
pub fn render_seed_table(cells: &[Cell], scenario: &str) -> Option<String> {
    let rows: Vec<&Cell> = cells.iter().filter(|c| c.scenario == scenario).collect();
    let first = rows.first()?;
    let label = |corpus: &str| match corpus {
        "small-4k" => "4KB".to_string(),
        "small-64k" => "64KB".to_string(),
        other => other.to_string(),
    };
    let sizes: Vec<String> = rows
        .iter()
        .map(|c| format!("{} = {}", label(&c.corpus), c.corpus_description))
        .collect();
    let mut out = format!(
        "Founding note's table on this machine, scenario {}: {}; ucopy --backend rw (normal \
         buffers) vs --backend fixed (registered buffers), --order inode, medians of {} rounds; \
         {}\n\n",
        first.scenario,
        first.scenario_description,
        first.rounds,
        sizes.join(", ")
    );
    out += "| File Size | Normal Buffers | Registered Buffers | Difference |\n";
    out += "|-----------|----------------|-------------------|------------|\n";
    for cell in rows {
        let label = label(&cell.corpus);
        let get = |name: &str| cell.contenders.iter().find(|c| c.name == name);
        let rate = |c: Option<&ContenderRecord>| match c {
            Some(ContenderRecord { stats: Some(s), .. }) => Ok(s.files_per_sec),
            Some(c) => Err(format!(
                "{} {}",
                if c.status == Status::Failed {
                    "failed:"
                } else {
                    "skipped:"
                },
                c.reason.as_deref().unwrap_or("")
            )),
            None => Err("not run".into()),
        };
        let (rw, fixed) = (rate(get("ucopy:rw:inode")), rate(get("ucopy:fixed:inode")));
        let show = |r: &Result<f64, String>| match r {
            Ok(v) => format!("{} files/s", HumanCount(v.round() as u64)),
            Err(e) => e.clone(),
        };
        let diff = match (&rw, &fixed) {
            (Ok(a), Ok(b)) => format!("**{:+.1}%**", (b - a) / a * 100.0),
            _ => "-".into(),
        };
        out += &format!("| {label} | {} | {} | {diff} |\n", show(&rw), show(&fixed));
    }
    Some(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cores: usize,
    pub mem_total_bytes: u64,
    pub cpu_model: String,
    pub is_root: bool,
    /// /proc/loadavg when the run started: other work on the machine makes numbers noisy.
    pub loadavg_at_start: String,
    pub bench_dir: String,
    pub bench_fs: String,
    pub tmp_dir: String,
    pub tmp_fs: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkipLine {
    pub what: String,
    pub reason: String,
}

/// Everything a run measured; written to target/bench/results/.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub schema: u32,
    pub started_utc: String,
    pub command: Vec<String>,
    pub mode: String,
    pub rounds: usize,
    pub warmup: usize,
    pub git_commit: Option<String>,
    pub machine: Machine,
    pub versions: BTreeMap<String, String>,
    pub ucopy_probe: Option<serde_json::Value>,
    pub corpora: Vec<Manifest>,
    pub skipped: Vec<SkipLine>,
    pub cells: Vec<Cell>,
}

/// `YYYY-MM-DDTHH:MM:SSZ` from Unix seconds (Howard Hinnant's civil-from-days).
pub fn utc_timestamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(secs: f64) -> RoundRecord {
        RoundRecord {
            round: 0,
            position: 0,
            secs,
            user_secs: 0.01,
            sys_secs: 0.02,
            dst_alloc_bytes: 4096,
            read_queue_depth: None,
            weighted_queue_depth: None,
            disk_reads: None,
        }
    }

    fn record(name: &str, peer: bool, times: &[f64]) -> ContenderRecord {
        let mut c = ContenderRecord::new(name, format!("{name} SRC DST"), peer);
        c.rounds = times.iter().map(|&t| round(t)).collect();
        c
    }

    fn cell() -> Cell {
        let mut failed = record("xcp", true, &[0.1]);
        failed.fail("destination differs: symlinks 0 (source 6)".into());
        let mut auto = record("ucopy:auto:inode", false, &[0.05, 0.07, 0.06]);
        auto.ucopy_backend = Some("splice".into());
        let mut c = Cell {
            corpus: "small-4k".into(),
            corpus_description: "1,000 files × 4 KiB in 5 dirs".into(),
            files: 1000,
            bytes: 4_096_000,
            scenario: "tmpfs".into(),
            scenario_description: "tmpfs → tmpfs (/dev/shm)".into(),
            cold: false,
            src: "/dev/shm/x/src".into(),
            src_fs: "tmpfs".into(),
            dst_fs: "tmpfs".into(),
            rounds: 3,
            warmup: 1,
            error: None,
            contenders: vec![
                record("cp-r", true, &[0.2, 0.3, 0.1]),
                record("cpz", true, &[0.1, 0.12, 0.08]),
                auto,
                failed,
                ContenderRecord::skipped("fcp", "fcp SRC DST".into(), true, "not installed".into()),
            ],
        };
        c.finalize();
        c
    }

    #[test]
    fn median_and_min() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(min(&[3.0, 1.5, 2.0]), Some(1.5));
    }

    #[test]
    fn ratios_use_cp_r_and_the_best_peer() {
        let c = cell();
        let auto = c.contenders[2].stats.as_ref().unwrap();
        assert!((auto.vs_cp_r.unwrap() - 0.2 / 0.06).abs() < 1e-9);
        assert!((auto.vs_best_peer.unwrap() - 0.1 / 0.06).abs() < 1e-9);
        assert_eq!(c.best_peer(), Some("cpz"));
        assert!(
            c.contenders[3].rounds.is_empty(),
            "a failed contender keeps no times"
        );
    }

    #[test]
    fn table_layout() {
        let expected = "\
small-4k × tmpfs: 1,000 files × 4 KiB in 5 dirs (3.91 MiB); tmpfs → tmpfs (/dev/shm)
  source /dev/shm/x/src (tmpfs) → destination tmpfs; 3 rounds + 1 warm-up, interleaved
  contender           median       min  files/s  MB/s  vs cp -r  vs best peer  vs cpz  vs floor      cpu
  ucopy:auto:inode   60.0 ms   50.0 ms   16,667  68.3     3.33×         1.67×   1.67×         -  30.0 ms  ran splice
  cpz               100.0 ms   80.0 ms   10,000  41.0     2.00×         1.00×   1.00×         -  30.0 ms  best peer
  cp-r              200.0 ms  100.0 ms    5,000  20.5     1.00×         0.50×   0.50×         -  30.0 ms
  xcp               FAILED: destination differs: symlinks 0 (source 6)
  fcp               skipped: not installed
";
        assert_eq!(cell().render(), expected);
    }

    #[test]
    fn seed_table_shape() {
        let mut c = cell();
        c.contenders = vec![
            record("ucopy:rw:inode", false, &[0.02]),
            record("ucopy:fixed:inode", false, &[0.025]),
        ];
        c.finalize();
        let t = render_seed_table(&[c], "tmpfs").unwrap();
        assert!(
            t.contains("| 4KB | 50,000 files/s | 40,000 files/s | **-20.0%** |"),
            "{t}"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
