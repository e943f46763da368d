//! The progress bar on a terminal: one bar over all sources, files and bytes done against
//! totals counted on a background thread, rates with units, and an ETA only once the count is
//! final (a total that still grows makes any ETA a guess that jumps).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Counts shared by the copy (done), the counting thread (totals) and the bar's formatters.
#[derive(Debug)]
struct Counts {
    files_done: AtomicU64,
    files_total: AtomicU64,
    bytes_total: AtomicU64,
    counted: AtomicBool,
    started: Instant,
}

/// The bar. Its position is bytes copied; its length is set once the count is final.
#[derive(Debug, Clone)]
pub struct Bar {
    bar: ProgressBar,
    counts: Arc<Counts>,
}

impl Bar {
    /// A bar drawn on stderr (the caller checks that stderr is a terminal).
    pub fn new() -> Bar {
        let counts = Arc::new(Counts {
            files_done: AtomicU64::new(0),
            files_total: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            counted: AtomicBool::new(false),
            started: Instant::now(),
        });
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        let b = Bar { bar, counts };
        b.bar.set_style(b.style(false));
        b.bar.enable_steady_tick(Duration::from_millis(125));
        b
    }

    fn style(&self, counted: bool) -> ProgressStyle {
        let template = if counted {
            "{spinner} [{bar:20}] {files} files, {bytes}/{total_bytes}  {binary_bytes_per_sec}, \
             {file_rate}  {elapsed}, eta {eta_mixed}"
        } else {
            "{spinner} {files} files, {bytes}  {binary_bytes_per_sec}, {file_rate}  {elapsed}  \
             (counting)"
        };
        let files = {
            let c = Arc::clone(&self.counts);
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let done = c.files_done.load(Ordering::Relaxed);
                let total = c.files_total.load(Ordering::Relaxed);
                let _ = if c.counted.load(Ordering::Relaxed) {
                    write!(w, "{}/{}", HumanCount(done), HumanCount(total))
                } else {
                    write!(w, "{}/{}+", HumanCount(done), HumanCount(total.max(done)))
                };
            }
        };
        let file_rate = {
            let c = Arc::clone(&self.counts);
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let secs = c.started.elapsed().as_secs_f64();
                let done = c.files_done.load(Ordering::Relaxed) as f64;
                let rate = if secs > 0.0 { done / secs } else { 0.0 };
                let _ = write!(w, "{} files/s", HumanCount(rate as u64));
            }
        };
        // Bytes alone make a poor clock when a big file comes last (a tree of small files
        // "done" in hours), files alone when it comes first: the ETA uses the mean of both
        // fractions.
        let eta = {
            let c = Arc::clone(&self.counts);
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let frac = |done: u64, total: u64| {
                    if total == 0 {
                        1.0
                    } else {
                        (done as f64 / total as f64).min(1.0)
                    }
                };
                let files = frac(
                    c.files_done.load(Ordering::Relaxed),
                    c.files_total.load(Ordering::Relaxed),
                );
                let bytes = frac(state.pos(), state.len().unwrap_or(0));
                let done = (files + bytes) / 2.0;
                let secs = c.started.elapsed().as_secs_f64();
                let left = if done > 0.0 {
                    secs * (1.0 - done) / done
                } else {
                    0.0
                };
                let _ = write!(
                    w,
                    "{}",
                    indicatif::HumanDuration(Duration::from_secs_f64(left))
                );
            }
        };
        ProgressStyle::with_template(template)
            .expect("valid template")
            .with_key("eta_mixed", eta)
            .with_key("files", files)
            .with_key("file_rate", file_rate)
            .progress_chars("=> ")
    }

    /// A regular file (or hard link) of `bytes` bytes is done.
    pub fn file_done(&self, bytes: u64) {
        self.counts.files_done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(bytes);
    }

    /// Counts files and bytes below every source on a background thread; the bar shows the
    /// totals as they grow and switches to a bar with an ETA once they are final. The walk
    /// holds one directory open at a time and remembers only directories still to visit —
    /// never the files it has counted — so a million entries in one directory cost nothing.
    pub fn count_in_background(&self, sources: Vec<PathBuf>) {
        let me = self.clone();
        // Without a thread (RLIMIT_NPROC, RLIMIT_AS) the bar simply has no total.
        let _ = std::thread::Builder::new()
            .name("ucopy-count".into())
            .spawn(move || me.count(&sources));
    }

    fn count(&self, sources: &[PathBuf]) {
        let c = &self.counts;
        let add = |len: u64| {
            c.files_total.fetch_add(1, Ordering::Relaxed);
            c.bytes_total.fetch_add(len, Ordering::Relaxed);
        };
        for source in sources {
            let Ok(meta) = std::fs::metadata(source).or_else(|_| std::fs::symlink_metadata(source))
            else {
                continue;
            };
            if meta.is_file() {
                add(meta.len());
            }
            if !meta.is_dir() {
                continue;
            }
            let mut dirs: Vec<PathBuf> = vec![source.clone()];
            while let Some(dir) = dirs.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => dirs.push(entry.path()),
                        Ok(t) if t.is_file() => add(entry.metadata().map_or(0, |m| m.len())),
                        _ => {}
                    }
                }
            }
        }
        self.counts.counted.store(true, Ordering::Relaxed);
        self.bar
            .set_length(self.counts.bytes_total.load(Ordering::Relaxed));
        self.bar.set_style(self.style(true));
    }

    /// Leaves the bar's last state on the terminal (what was copied, how fast).
    pub fn finish(&self) {
        self.bar.finish();
    }

    /// Runs `f` with the bar hidden, for a line printed above it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}
