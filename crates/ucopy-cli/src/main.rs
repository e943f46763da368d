//! `ucopy`: the command line over the `ucopy` library — clap arguments → [`ucopy::Copier`] →
//! messages, `--json`, exit code. No copy policy lives here.
#![forbid(unsafe_code)]

mod args;
mod dry_run;
mod output;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ucopy::{Copier, Options, Order};

use args::{Args, OrderChoice};
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
    let args = Args::parse();
    ExitCode::from(run(&args))
}

fn run(args: &Args) -> u8 {
    if args.probe {
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
    let (sources, dest) = args.operands();
    let options = Options::builder()
        .archive(args.archive)
        .no_clobber(args.no_clobber)
        .order(match args.order {
            OrderChoice::Inode => Order::Inode,
            OrderChoice::None => Order::None,
        })
        .queue_depth(args.queue_depth as usize)
        .build();
    let mut copier = Copier::new(options).backend(args.backend.into());
    if let Some(threads) = args.threads {
        copier = copier.threads(threads as usize);
    }

    let targets = match copier.targets(sources, dest) {
        Ok(t) => t,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };

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
        return if failed { EXIT_PARTIAL } else { EXIT_OK };
    }

    let selection = match copier.select(sources) {
        Ok(s) => s,
        Err(e) => {
            err_line(format_args!("{e}"));
            return EXIT_FATAL;
        }
    };
    if args.verbose {
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
    if let [only] = targets.as_slice() {
        progress.count_in_background(&only.source);
    }
    let copier = copier.progress(&progress);
    let started = Instant::now();
    let report = match copier.run_targets(&targets, &selection) {
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
    if interrupted {
        err_line(format_args!("interrupted; partial files were removed"));
    }
    if args.json {
        let json = JsonReport::new(&selection, &report, elapsed);
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
            selection.backend()
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
