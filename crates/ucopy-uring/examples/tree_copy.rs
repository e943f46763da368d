//! Copies one tree with an io_uring executor and every [`Tuning`] knob exposed, for measuring
//! (see PERF.md). The CLI (`ucopy --backend rw`) runs the same driver with the default knobs.
//!
//! ```text
//! cargo run --release -p ucopy-uring --example tree_copy -- --mode rw [knobs] SRC DST
//!   --threads N        worker threads (2)
//!   --qd N             files per batch (64)
//!   --buffer BYTES     buffer / pipe size per file in flight
//!   --ring-max BYTES   larger files take copy_file_range
//!   --no-skip          no IOSQE_CQE_SKIP_SUCCESS
//!   --no-single-issuer / --no-defer / --no-coop
//!   --iowq B,U         IORING_REGISTER_IOWQ_MAX_WORKERS
//!   --archive          -a
//! ```

use std::process::ExitCode;
use std::time::Instant;

use ucopy_core::{NoProgress, Options};
use ucopy_uring::{Mode, Tuning, UringFactory};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut tuning = Tuning::default();
    let mut mode = Mode::Rw;
    let mut threads = 2;
    let mut options = Options::default();
    let mut paths = Vec::new();
    let num = |v: Option<String>| -> u64 { v.and_then(|v| v.parse().ok()).expect("a number") };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mode" => {
                mode = args
                    .next()
                    .and_then(|m| Mode::from_name(&m))
                    .expect("--mode splice|rw|fixed")
            }
            "--threads" => threads = num(args.next()) as usize,
            "--qd" => options.queue_depth = num(args.next()) as usize,
            "--buffer" => tuning.buffer_size = num(args.next()) as usize,
            "--ring-max" => tuning.ring_max = num(args.next()),
            "--no-skip" => tuning.skip_success = false,
            "--no-single-issuer" => {
                tuning.single_issuer = false;
                tuning.defer_taskrun = false;
            }
            "--no-defer" => tuning.defer_taskrun = false,
            "--no-coop" => tuning.coop_taskrun = false,
            "--iowq" => {
                let v = args.next().expect("--iowq B,U");
                let (b, u) = v.split_once(',').expect("--iowq B,U");
                tuning.iowq_max_workers = Some([b.parse().unwrap(), u.parse().unwrap()]);
            }
            "--archive" | "-a" => options.archive = true,
            _ => paths.push(a),
        }
    }
    let [src, dst] = paths.as_slice() else {
        eprintln!("usage: tree_copy --mode MODE [knobs] SRC DST");
        return ExitCode::from(2);
    };
    let factory = UringFactory::with_tuning(mode, tuning);
    let start = Instant::now();
    let report = match ucopy_fs::copy_tree(
        src.as_ref(),
        dst.as_ref(),
        &options,
        &factory,
        threads,
        &NoProgress,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tree_copy: {e}");
            return ExitCode::from(2);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} files, {} bytes in {secs:.3} s = {:.0} files/s; {} errors",
        mode.name(),
        report.files,
        report.bytes,
        report.files as f64 / secs,
        report.errors.len()
    );
    for e in report.errors.iter().take(5) {
        eprintln!("  {e}");
    }
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
