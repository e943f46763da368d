//! What the user sees while and after copying: `-v` lines, error lines as they happen, the
//! progress bar (terminal only), and the `--json` summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use ucopy::{EntryError, Kind, ProbeReport, Progress, Report, Selection};

/// Writes a line to stdout, ignoring a closed pipe (`ucopy -v … | head` is not an error).
pub fn out_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
}

/// The name messages start with: the basename of argv[0], as GNU tools do, so that `ucopy`
/// installed or linked as `cp` speaks as `cp` to the scripts that parse its messages.
pub fn program_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::args_os()
            .next()
            .as_deref()
            .map(Path::new)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "ucopy".to_owned())
    })
}

/// True when run under cp's name: exit statuses follow cp (1 for every failure).
pub fn is_cp() -> bool {
    program_name() == "cp"
}

/// Writes `<program>: <message>` to stderr (`ucopy: …`, or `cp: …` when run as `cp`).
pub fn err_line(message: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}: {message}", program_name());
}

/// The CLI's [`Progress`]: prints and counts.
pub struct CliProgress {
    verbose: bool,
    quiet: bool,
    verbose_to_stderr: bool,
    bar: Option<ProgressBar>,
    files_total: Arc<AtomicU64>,
}

impl std::fmt::Debug for CliProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliProgress")
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl CliProgress {
    /// `bar` is drawn only when asked for and stderr is a terminal; `verbose_to_stderr` keeps
    /// stdout clean for `--json`.
    pub fn new(verbose: bool, quiet: bool, bar: bool, verbose_to_stderr: bool) -> CliProgress {
        let bar = (bar && !quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} files  {msg}  {per_sec}  elapsed {elapsed}  eta {eta}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(125));
            bar
        });
        CliProgress {
            verbose,
            quiet,
            verbose_to_stderr,
            bar,
            files_total: Arc::default(),
        }
    }

    /// Counts the files and bytes below `source` on a background thread, so the bar can show a
    /// total and an ETA without delaying the copy. Only when a bar is drawn.
    pub fn count_in_background(&self, source: &Path) {
        let Some(bar) = self.bar.clone() else { return };
        let source = source.to_path_buf();
        let total = Arc::clone(&self.files_total);
        std::thread::spawn(move || {
            let mut stack: Vec<PathBuf> = vec![source];
            let mut files = 0u64;
            while let Some(p) = stack.pop() {
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if meta.is_dir() {
                    if let Ok(rd) = std::fs::read_dir(&p) {
                        stack.extend(rd.flatten().map(|e| e.path()));
                    }
                } else if meta.is_file() {
                    files += 1;
                    if files % 4096 == 0 {
                        bar.set_length(files);
                    }
                }
            }
            total.store(files, Ordering::Relaxed);
            bar.set_length(files);
        });
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn print_err(&self, line: std::fmt::Arguments<'_>) {
        match &self.bar {
            Some(bar) => bar.suspend(|| err_line(line)),
            None => err_line(line),
        }
    }
}

impl Progress for CliProgress {
    fn copied(&self, kind: Kind, src: &Path, dst: &Path, bytes: u64) {
        if self.verbose {
            let line = format_args!("'{}' -> '{}'", src.display(), dst.display());
            if self.verbose_to_stderr {
                self.print_err(line);
            } else {
                out_line(line);
            }
        }
        if let Some(bar) = &self.bar {
            if kind == Kind::File {
                bar.inc(1);
                if bytes > 0 {
                    bar.set_message(format!("{}", indicatif::HumanBytes(bytes)));
                }
            }
        }
    }

    fn failed(&self, error: &EntryError) {
        self.print_err(format_args!("{error}"));
    }

    fn warned(&self, warning: &EntryError) {
        if !self.quiet {
            self.print_err(format_args!("warning: {warning}"));
        }
    }
}

/// `--probe` as text.
pub fn print_probe(report: &ProbeReport) {
    out_line(format_args!(
        "{}",
        report.io_uring.details.to_string().trim_end()
    ));
    out_line(format_args!("backends:"));
    for b in &report.backends {
        let state = if b.available {
            "available"
        } else {
            "unavailable"
        };
        out_line(format_args!("  {:<7} {:<12} {}", b.name, state, b.reason));
    }
    out_line(format_args!(
        "auto: {} ({})",
        report.auto.backend, report.auto.reason
    ));
}

/// The `--json` summary of a copy run: the report's counts, errors and warnings, plus which
/// backend ran, why, and how fast.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Backend that ran.
    pub backend: ucopy::Backend,
    /// Why it was chosen.
    pub reason: &'a str,
    /// Counts, `stopped`, `errors` and `warnings`, as fields of this object.
    #[serde(flatten)]
    pub report: &'a Report,
    /// Wall time of the copy.
    pub elapsed_secs: f64,
    /// Regular files per second.
    pub files_per_sec: f64,
}

impl<'a> JsonReport<'a> {
    /// Builds the summary.
    pub fn new(selection: &'a Selection, report: &'a Report, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64();
        let files_per_sec = if secs > 0.0 {
            report.files as f64 / secs
        } else {
            0.0
        };
        JsonReport {
            backend: selection.backend(),
            reason: selection.reason(),
            report,
            elapsed_secs: secs,
            files_per_sec,
        }
    }
}
