//! What the user sees while and after copying: `-v` lines, error lines as they happen, the
//! progress bar (terminal only), and the `--json` summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use ucopy::{
    CopiedPaths, EntryError, Kind, Op, ProbeReport, Progress, Report, Selection, TargetError,
};

use crate::progress::Bar;

/// Writes a line to stdout, ignoring a closed pipe (`ucopy -v … | head` is not an error).
pub fn out_line(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
}

/// `path` for use between single quotes in a message, escaped as cp's shell-escape quoting
/// does (control bytes never reach the terminal raw).
pub fn quote(path: &Path) -> String {
    ucopy::quote_inner(path)
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

/// The CLI's [`Progress`]: prints lines and feeds the bar.
pub struct CliProgress {
    verbose: bool,
    quiet: bool,
    verbose_to_stderr: bool,
    bar: Option<Bar>,
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
        let bar = (bar && !quiet && std::io::stderr().is_terminal()).then(Bar::new);
        CliProgress {
            verbose,
            quiet,
            verbose_to_stderr,
            bar,
        }
    }

    /// Counts what the sources hold in the background, for the bar's totals (only when a bar is
    /// drawn).
    pub fn count_in_background(&self, sources: Vec<PathBuf>) {
        if let Some(bar) = &self.bar {
            bar.count_in_background(sources);
        }
    }

    /// Leaves the bar's final state before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
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
    fn copied(&self, kind: Kind, paths: CopiedPaths<'_>, bytes: u64) {
        if self.verbose {
            // Bound first: a `format_args!` kept in a `let` may not hold temporaries before
            // Rust 1.89 (E0716), and the MSRV is older.
            let (src, dst) = (paths.src(), paths.dst());
            let (src, dst) = (quote(&src), quote(&dst));
            let line = format_args!("'{src}' -> '{dst}'");
            if self.verbose_to_stderr {
                self.print_err(line);
            } else {
                out_line(line);
            }
        }
        if let Some(bar) = &self.bar {
            if kind == Kind::File {
                bar.file_done(bytes);
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

    fn noted(&self, note: &str) {
        if !self.quiet {
            self.print_err(format_args!("warning: {note}"));
        }
    }
}

/// The lines naming partial files the copy could not remove (the destination went read-only
/// under it): one per cause, each listing its files, so that a truncated file never passes for
/// a copy and the run still says it in a line or two, not one per file.
pub fn partial_file_lines(incomplete: &[EntryError]) -> Vec<String> {
    let mut by_cause: Vec<(String, Vec<String>)> = Vec::new();
    for e in incomplete {
        let cause = ucopy::cause(&e.error);
        let name = format!("'{}'", quote(&e.path));
        match by_cause.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, names)) => names.push(name),
            None => by_cause.push((cause, vec![name])),
        }
    }
    by_cause
        .into_iter()
        .map(|(cause, mut names)| {
            names.sort();
            names.dedup();
            if let [name] = names.as_slice() {
                format!("cannot remove partial file {name}: {cause}")
            } else {
                format!(
                    "cannot remove {} partial files ({cause}): {}",
                    names.len(),
                    names.join(", ")
                )
            }
        })
        .collect()
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
    out_line(format_args!(
        "auto, small files in memory: {} ({})",
        report.auto_in_memory.backend, report.auto_in_memory.reason
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

/// A [`TargetError`] that did not stop the command, for `--json`'s `errors` or `warnings`: its
/// message as the cause (`op` "refused"), except that a source that cannot be read keeps its
/// cause ("No such file or directory") and `stat` as the step that failed.
pub fn target_refusal(e: &TargetError) -> EntryError {
    match e {
        TargetError::Source { path, source } => {
            let cause = match source.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::new(source.kind(), ucopy::cause(source)),
            };
            EntryError::new(path, Op::Stat, cause)
        }
        TargetError::SameFile { src: path, .. }
        | TargetError::IntoItself { src: path, .. }
        | TargetError::Repeated { path, .. }
        | TargetError::DestStat { path, .. }
        | TargetError::Dangling(path)
        | TargetError::OmittedDirectory(path)
        | TargetError::NotADirectory(path)
        | TargetError::DestParent { path, .. }
        | TargetError::ExtraOperand(path) => {
            let message = e.to_string();
            // In `warnings` the word is the array's name already.
            let message = match message.strip_prefix("warning: ") {
                Some(rest) => rest.to_owned(),
                None => message,
            };
            refused(path, message)
        }
        _ => refused(Path::new(""), e.to_string()),
    }
}

fn refused(source: &Path, message: String) -> EntryError {
    EntryError::new(source, Op::Refused, std::io::Error::other(message))
}

#[cfg(test)]
mod tests {
    use super::partial_file_lines;
    use std::io;
    use ucopy::{EntryError, Op};

    fn left(path: &str, e: io::Error) -> EntryError {
        EntryError::new(path, Op::Remove, e)
    }

    #[test]
    fn partial_files_one_line_per_cause() {
        let rofs = || io::Error::from_raw_os_error(30);
        assert_eq!(
            partial_file_lines(&[left("d/b", rofs())]),
            ["cannot remove partial file 'd/b': Read-only file system"]
        );
        let lines = partial_file_lines(&[
            left("d/b", rofs()),
            left("d/a", rofs()),
            left("d/c", io::Error::from_raw_os_error(5)),
        ]);
        assert_eq!(
            lines,
            [
                "cannot remove 2 partial files (Read-only file system): 'd/a', 'd/b'",
                "cannot remove partial file 'd/c': Input/output error",
            ]
        );
        assert!(partial_file_lines(&[]).is_empty());
    }
}
