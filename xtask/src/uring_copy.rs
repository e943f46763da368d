//! `cargo xtask uring-copy` (hidden): one tree copy with an io_uring executor and any
//! [`Tuning`] knob set, so the bench can time the variants PERF.md compares (ring set-up flags,
//! CQE skipping, io-wq limits, buffer sizes) without the product exposing them. (Ring writes and
//! ring-side creation lost those comparisons and left the executor; PERF.md says from which
//! commit they can still be run.) The bench runs it as the hidden contenders `uring:MODE[:KNOB]...` (see
//! `bench/contenders.rs`); the knob names are the same in both places.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ucopy_core::{NoProgress, Options};
use ucopy_uring::{Mode, Tuning, UringFactory};

/// Copy SRC to DST (absent) with one io_uring executor per thread and the given knobs.
#[derive(Debug, clap::Args)]
pub struct UringCopyArgs {
    /// splice, rw or fixed
    mode: String,
    /// Knobs, comma-separated (see `Knobs::apply`)
    #[arg(long, value_delimiter = ',')]
    knobs: Vec<String>,
    src: PathBuf,
    dst: PathBuf,
}

/// The knob names the hidden contenders and this command share, each with what it sets.
pub const KNOBS: &[(&str, &str)] = &[
    ("no-skip", "no IOSQE_CQE_SKIP_SUCCESS"),
    (
        "no-single-issuer",
        "no IORING_SETUP_SINGLE_ISSUER (nor DEFER_TASKRUN)",
    ),
    ("no-defer", "no IORING_SETUP_DEFER_TASKRUN"),
    ("no-coop", "no IORING_SETUP_COOP_TASKRUN"),
    (
        "iowq=B/U",
        "IORING_REGISTER_IOWQ_MAX_WORKERS bounded/unbounded",
    ),
    ("buffer=BYTES", "buffer (pipe) size per file in flight"),
    ("ring-max=BYTES", "larger files take copy_file_range"),
    (
        "direct",
        "sources read with O_DIRECT (Tuning::direct_reads)",
    ),
    (
        "in-flight=N",
        "at most N files in flight per ring (Tuning::files_in_flight)",
    ),
    ("qd=N", "files per batch"),
    ("threads=N", "worker threads (default 2)"),
    ("archive", "-a"),
];

/// A parsed knob list: the executor's tuning plus the copy's options and thread count.
#[derive(Debug, Clone)]
pub struct Knobs {
    pub tuning: Tuning,
    pub options: Options,
    pub threads: usize,
}

impl Knobs {
    /// Applies `knobs` in order to the defaults; an unknown knob is an error naming the known.
    pub fn parse<S: AsRef<str>>(knobs: &[S]) -> Result<Knobs> {
        let mut tuning = Tuning::default();
        let mut options = Options::builder();
        let mut threads = 2;
        for knob in knobs {
            let knob = knob.as_ref();
            let (name, value) = match knob.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (knob, None),
            };
            let num = || -> Result<u64> {
                let v = value.with_context(|| format!("knob '{name}' needs =VALUE"))?;
                crate::bench::parse_size(v).map_err(anyhow::Error::msg)
            };
            match name {
                "no-skip" => tuning.skip_success = false,
                "no-single-issuer" => {
                    tuning.single_issuer = false;
                    tuning.defer_taskrun = false;
                }
                "no-defer" => tuning.defer_taskrun = false,
                "no-coop" => tuning.coop_taskrun = false,
                "iowq" => {
                    let v = value.context("knob 'iowq' needs =BOUNDED/UNBOUNDED")?;
                    let (b, u) = v.split_once('/').context("iowq=BOUNDED/UNBOUNDED")?;
                    tuning.iowq_max_workers = Some([b.parse()?, u.parse()?]);
                }
                "buffer" => tuning.buffer_size = num()? as usize,
                "ring-max" => tuning.ring_max = num()?,
                "direct" => tuning.direct_reads = true,
                "in-flight" => tuning.files_in_flight = Some((num()? as usize).max(1)),
                "qd" => options = options.queue_depth(num()? as usize),
                "threads" => threads = (num()? as usize).max(1),
                "archive" => options = options.archive(true),
                _ => bail!(
                    "unknown knob '{knob}' (known: {})",
                    KNOBS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        Ok(Knobs {
            tuning,
            options: options.build(),
            threads,
        })
    }
}

pub fn run(args: UringCopyArgs) -> Result<ExitCode> {
    let mode = Mode::from_name(&args.mode)
        .with_context(|| format!("unknown mode '{}' (splice, rw, fixed)", args.mode))?;
    let knobs = Knobs::parse(&args.knobs)?;
    let factory = UringFactory::with_tuning(mode, knobs.tuning);
    let start = Instant::now();
    let report = ucopy_fs::copy_tree(
        &args.src,
        &args.dst,
        &knobs.options,
        &factory,
        knobs.threads,
        &NoProgress,
    )?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} files, {} bytes in {secs:.3} s; {} errors",
        mode.name(),
        report.files,
        report.bytes,
        report.errors.len()
    );
    for e in report.errors.iter().take(5) {
        eprintln!("  {e}");
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_set_what_they_say() {
        let k = Knobs::parse(&["no-skip", "iowq=64/64", "qd=256", "threads=3"]).unwrap();
        assert!(!k.tuning.skip_success);
        assert_eq!(k.tuning.iowq_max_workers, Some([64, 64]));
        assert_eq!(k.options.queue_depth, 256);
        assert_eq!(k.threads, 3);
        let cold = Knobs::parse(&["direct", "in-flight=32"]).unwrap();
        assert!(cold.tuning.direct_reads);
        assert_eq!(cold.tuning.files_in_flight, Some(32));
        let d = Knobs::parse::<&str>(&[]).unwrap();
        assert_eq!(d.tuning.skip_success, Tuning::default().skip_success);
        assert!(!d.tuning.direct_reads);
        assert_eq!(d.tuning.files_in_flight, None);
        assert!(Knobs::parse(&["ring-writes"])
            .unwrap_err()
            .to_string()
            .contains("no-skip"));
        assert!(Knobs::parse(&["qd"]).is_err());
    }
}
