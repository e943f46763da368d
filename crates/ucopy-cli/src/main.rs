//! `ucopy`: the command line over the `ucopy` library — clap arguments → [`ucopy::Copier`] →
//! messages, `--json`, exit code. No copy policy lives here.
#![forbid(unsafe_code)]

mod args;
mod cp_options;
mod dry_run;
mod output;
mod progress;
mod prompt;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ucopy::Copier;

use args::Args;
use output::{err_line, out_line, print_probe, CliProgress, JsonReport};

/// Exit status: everything copied.
const EXIT_OK: u8 = 0;
/// Exit status: some entries failed.
const EXIT_PARTIAL: u8 = 1;
/// Exit status: usage error or fatal start-up error.
const EXIT_FATAL: u8 = 2;
/// Exit status after Ctrl-C, as a shell reports a SIGINT death (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = usage_error(e);
            return ExitCode::from(if output::is_cp() && code == EXIT_FATAL {
                EXIT_PARTIAL
            } else {
                code
            });
        }
    };
    let code = run(&args);
    // Run as `cp`, every failure is exit 1, as GNU cp's; as `ucopy`, 2 marks usage and fatal
    // start-up errors.
    ExitCode::from(if output::is_cp() && code == EXIT_FATAL {
        EXIT_PARTIAL
    } else {
        code
    })
}

/// Prints a clap error; an option ucopy lacks gets cp's wording and, where there is one, the
/// option that does the same.
fn usage_error(e: clap::Error) -> u8 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
            if arg.starts_with('-') {
                err_line(format_args!("unrecognized option '{arg}'"));
                if let Some(hint) = cp_options::hint_for(arg) {
                    err_line(format_args!("hint: {hint}"));
                }
                eprintln!(
                    "Try '{} --help' for more information.",
                    output::program_name()
                );
                return EXIT_FATAL;
            }
        }
    }
    let code = e.exit_code();
    let _ = e.print();
    if code == 0 {
        EXIT_OK
    } else {
        EXIT_FATAL
    }
}

fn run(args: &Args) -> u8 {
    if let Some(what) = args.generate {
        use clap::CommandFactory;
        let mut out = std::io::stdout().lock();
        return match what.write(&mut Args::command(), &mut out) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                err_line(format_args!("cannot write: {e}"));
                EXIT_FATAL
            }
        };
    }
    if args.probe {
        if let Some(p) = args.paths.first() {
            err_line(format_args!(
                "--probe takes no operands (got '{}')",
                output::quote(p)
            ));
            eprintln!("Try 'ucopy --help' for more information.");
            return EXIT_FATAL;
        }
        let report = ucopy::probe();
        if args.json {
            out_line(format_args!(
                "{}",
                serde_json::to_string(&report).expect("serializable")
            ));
        } else {
            print_probe(&report);
        }
        return EXIT_OK;
    }
    let mut plan = match cp_options::build(args) {
        Ok(p) => p,
        Err(u) => {
            err_line(format_args!("{}", u.message));
            return u.code;
        }
    };
    for w in &plan.warnings {
        err_line(format_args!("{w}"));
    }
    // `cp -bf foo foo` (the same name twice, a regular file): cp copies foo to the name its
    // backup would get, without backups, so foo stays and the backup appears.
    let mut dest = plan.dest.clone();
    if plan.options.force
        && plan.options.backup != ucopy::Backup::Off
        && plan.sources.len() == 1
        && plan.sources[0] == plan.dest
        && std::fs::metadata(&plan.dest).is_ok_and(|m| m.is_file())
    {
        match ucopy::backup_path(&plan.dest, &plan.options) {
            Ok(b) => {
                dest = b;
                plan.options.backup = ucopy::Backup::Off;
                plan.resolve.backup = false;
            }
            Err(e) => {
                err_line(format_args!(
                    "cannot back up '{}': {}",
                    plan.dest.display(),
                    ucopy::cause(&e)
                ));
                return EXIT_PARTIAL;
            }
        }
    }
    // `cp a a dir/` (the same source twice) is copied once with cp's warning: target
    // resolution reports the repeat (ucopy_core::target).
    let (sources, dest) = (&plan.sources[..], dest.as_path());
    // -i asks in order, one file at a time.
    let threads = if plan.options.confirm.is_some() {
        Some(1)
    } else {
        args.threads
    };
    let as_cp = output::is_cp();
    let mut copier = Copier::new(plan.options)
        .backend(args.backend.into())
        .operands(plan.resolve);
    if let Some(threads) = threads {
        copier = copier.threads(threads as usize);
    }

    let resolved = match copier.targets_each(sources, dest) {
        Ok(t) => t,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };
    // A source that cannot be copied at all (missing, into itself) stops the command before
    // anything is created; a per-source refusal (same file) is reported, the rest copied, exit 1;
    // a repeated source is a warning. Each is said in operand order, as cp says them.
    // `--json` lists them with the copy's own errors and warnings.
    let mut refused = false;
    let mut fatal = false;
    let mut targets = Vec::new();
    let (mut refusals, mut repeats) = (Vec::new(), Vec::new());
    for r in resolved {
        match r {
            Ok(t) => targets.push(t),
            Err(e) => {
                err_line(format_args!("{e}"));
                refused |= !e.is_warning();
                fatal |= !(e.is_per_source() || as_cp && cp_skips_source(&e));
                if e.is_warning() {
                    repeats.push(output::target_refusal(&e));
                } else {
                    refusals.push(output::target_refusal(&e));
                }
            }
        }
    }
    if fatal {
        return EXIT_FATAL;
    }

    if args.dry_run {
        let mut failed = false;
        for t in &targets {
            match dry_run::print_plan(&copier, t) {
                Ok(errors) => failed |= errors > 0,
                Err(e) => {
                    err_line(format_args!("{e}"));
                    return EXIT_FATAL;
                }
            }
        }
        return if failed || refused {
            EXIT_PARTIAL
        } else {
            EXIT_OK
        };
    }

    let selection = match copier.select(sources) {
        Ok(s) => s,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };
    // Run as cp, -v prints what cp's does (the `'src' -> 'dst'` lines) and nothing of ucopy's.
    if args.verbose && !as_cp {
        err_line(format_args!(
            "backend {}: {}",
            selection.backend(),
            selection.reason()
        ));
    }

    // Ctrl-C or SIGTERM: the first asks the copy to stop cleanly (partial files removed); a
    // second one exits at once.
    let cancel = copier.cancel_handle();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let flag = cancel.flag();
        let _ = signal_hook::flag::register_conditional_shutdown(
            signal,
            EXIT_INTERRUPTED.into(),
            flag.clone(),
        );
        let _ = signal_hook::flag::register(signal, flag);
    }

    let progress = CliProgress::new(
        args.verbose,
        args.quiet,
        !args.no_progress && !args.json,
        args.json,
    );
    progress.count_in_background(targets.iter().map(|t| t.source.clone()).collect());
    let copier = copier.progress(&progress);
    let started = Instant::now();
    let mut report = match copier.run_targets(&targets, &selection) {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };
    let elapsed = started.elapsed();
    progress.finish();
    let interrupted = cancel.is_cancelled() && !report.errors.iter().any(|e| e.is_fatal());
    let partial = output::partial_file_lines(&report.incomplete);
    if interrupted && partial.is_empty() {
        err_line(format_args!("interrupted; partial files were removed"));
    } else if interrupted {
        err_line(format_args!("interrupted"));
    }
    for line in &partial {
        err_line(format_args!("{line}"));
    }
    if args.json {
        report.errors.splice(0..0, refusals);
        report.warnings.splice(0..0, repeats);
        let json = JsonReport::new(&selection, &report, elapsed);
        out_line(format_args!(
            "{}",
            serde_json::to_string(&json).expect("serializable")
        ));
    } else if args.verbose && !as_cp {
        err_line(format_args!(
            "{} files, {} dirs, {} bytes in {:.3}s with {}",
            report.files,
            report.dirs,
            report.bytes,
            elapsed.as_secs_f64(),
            selection.backend()
        ));
    }
    if interrupted {
        EXIT_INTERRUPTED
    } else if report.is_success() && !refused {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }
}

/// Sources that stop a `ucopy` command before anything is created (exit 2) but, run as `cp`, are
/// that source's failure alone, as in cp: the other sources are still copied, exit 1. A source
/// that cannot be read (`cp a missing b d/`) and a directory into itself (of which ucopy, unlike
/// cp, makes no partial copy).
fn cp_skips_source(e: &ucopy::TargetError) -> bool {
    matches!(
        e,
        ucopy::TargetError::Source { .. } | ucopy::TargetError::IntoItself { .. }
    )
}
