//! `ucopy`: glue between the command line and the copy engine — clap arguments → options →
//! probe → backend → run → report and exit code.
#![forbid(unsafe_code)]

mod args;
mod backend;
mod cache;
mod dry_run;
mod output;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ucopy_core::{Options, Order, PlanOptions, Report};
use ucopy_fs::FdBudget;

use args::{Args, OrderChoice};
use output::{err_line, out_line, CliProgress, JsonReport};

/// Exit status: everything copied.
const EXIT_OK: u8 = 0;
/// Exit status: some entries failed.
const EXIT_PARTIAL: u8 = 1;
/// Exit status: usage error or fatal start-up error.
const EXIT_FATAL: u8 = 2;
/// Exit status after Ctrl-C, as a shell reports a SIGINT death (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let args = Args::parse();
    ExitCode::from(run(&args))
}

fn current_umask() -> u32 {
    use rustix::fs::Mode;
    let old = rustix::process::umask(Mode::empty());
    rustix::process::umask(old);
    old.bits()
}

fn run(args: &Args) -> u8 {
    if args.probe {
        let report = backend::probe();
        if args.json {
            out_line(format_args!(
                "{}",
                serde_json::to_string(&report).expect("serializable")
            ));
        } else {
            backend::print_probe(&report);
        }
        return EXIT_OK;
    }
    let (sources, dest) = args.operands();
    let options = Options {
        archive: args.archive,
        no_clobber: args.no_clobber,
        order: match args.order {
            OrderChoice::Inode => Order::Inode,
            OrderChoice::None => Order::None,
        },
        queue_depth: args.queue_depth as usize,
        umask: current_umask(),
        ..Options::default()
    };
    let threads = args
        .threads
        .map(|t| t as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));

    let targets = match ucopy_core::target::resolve(sources, dest) {
        Ok(t) => t,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };

    if args.dry_run {
        let budget = FdBudget::from_rlimit(threads, options.queue_depth);
        let mut failed = false;
        for t in &targets {
            let plan = PlanOptions {
                order: options.order,
                queue_depth: budget.queue_depth,
                preserve_links: options.archive,
                max_open_dirs: budget.max_open_src_dirs,
                max_dirs_per_batch: budget.queue_depth,
                // The plan shows sizes.
                stat_files: true,
            };
            match dry_run::print_plan(&t.source, &t.dest, plan) {
                Ok(errors) => failed |= errors > 0,
                Err(e) => {
                    err_line(format_args!("{e}"));
                    return EXIT_FATAL;
                }
            }
        }
        return if failed { EXIT_PARTIAL } else { EXIT_OK };
    }

    let selection = match backend::select(args.backend, sources) {
        Ok(s) => s,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };
    if args.verbose {
        err_line(format_args!(
            "backend {}: {}",
            selection.factory.name(),
            selection.reason
        ));
    }

    // Ctrl-C or SIGTERM: the first asks the copy to stop cleanly (partial files removed); a
    // second one exits at once.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let flag = options.cancel.flag();
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
    if let [only] = targets.as_slice() {
        progress.count_in_background(&only.source);
    }
    let started = Instant::now();
    let mut report = Report::default();
    for target in &targets {
        if options.cancel.is_cancelled() {
            break;
        }
        match ucopy_fs::copy_tree(
            &target.source,
            &target.dest,
            &options,
            selection.factory.as_ref(),
            threads,
            &progress,
        ) {
            Ok(r) => report.merge(r),
            Err(e) => {
                progress.finish();
                err_line(format_args!("{e}"));
                return EXIT_FATAL;
            }
        }
        if report.stopped {
            break;
        }
    }
    let elapsed = started.elapsed();
    progress.finish();
    let interrupted = options.cancel.is_cancelled() && !report.errors.iter().any(|e| e.is_fatal());
    if interrupted {
        err_line(format_args!("interrupted; partial files were removed"));
    }
    if args.json {
        let json = JsonReport::new(
            selection.factory.name(),
            &selection.reason,
            &report,
            elapsed,
        );
        out_line(format_args!(
            "{}",
            serde_json::to_string(&json).expect("serializable")
        ));
    } else if args.verbose {
        err_line(format_args!(
            "{} files, {} dirs, {} bytes in {:.3}s with {}",
            report.files,
            report.dirs,
            report.bytes,
            elapsed.as_secs_f64(),
            selection.factory.name()
        ));
    }
    if interrupted {
        EXIT_INTERRUPTED
    } else if report.is_success() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }
}
