//! `cargo xtask fd-tables`: what sharing one descriptor table costs threads that open and close
//! many files, measured apart from everything else a copy does.
//!
//! Each of `--threads` threads opens its own file in one directory, `fstat`s it, opens it again
//! and closes both, `--ops` times: the descriptor work a copier does per small file, without the
//! creating and the copying. Rounds alternate between threads sharing the process's table and
//! threads that each call `ucopy_uring::private_fd_table` first (what ucopy's workers do, see
//! crates/ucopy-fs/src/driver/fd_tables.rs); the medians and their ratio are printed.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::fs::{self as rfs, Mode, OFlags};

/// Time descriptor-heavy threads with one shared table against tables of their own
#[derive(Debug, clap::Args)]
pub struct FdTablesArgs {
    /// Directory to hold the files (default: a new one under /dev/shm)
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Threads (default: one per core)
    #[arg(long)]
    threads: Option<usize>,
    /// Files each thread opens and closes per round (two opens each)
    #[arg(long, default_value_t = 200_000)]
    ops: usize,
    /// Rounds of each kind, interleaved
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

pub fn run(args: FdTablesArgs) -> Result<()> {
    let dir_path = match &args.dir {
        Some(d) => d.clone(),
        None => PathBuf::from(format!("/dev/shm/ucopy-fd-tables.{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir_path)
        .with_context(|| format!("cannot create '{}'", dir_path.display()))?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    for t in 0..threads {
        std::fs::write(dir_path.join(format!("f{t}")), b"x")?;
    }
    let dir = rfs::open(
        &dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let (mut shared, mut private) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        shared.push(round(dir.as_fd(), threads, args.ops, false)?);
        private.push(round(dir.as_fd(), threads, args.ops, true)?);
    }
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir_path);
    }
    let (s, p) = (median(&mut shared), median(&mut private));
    println!(
        "{threads} threads x {} files (open, fstat, open, close, close), median of {} rounds:\n  \
         shared table  {:.3} s\n  private tables {:.3} s\n  private / shared wall-time ratio {:.2}",
        args.ops,
        args.rounds,
        s.as_secs_f64(),
        p.as_secs_f64(),
        p.as_secs_f64() / s.as_secs_f64()
    );
    Ok(())
}

fn round(dir: BorrowedFd<'_>, threads: usize, ops: usize, private: bool) -> Result<Duration> {
    let start = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || -> Result<()> {
                    if private {
                        // `dir` stays open in the new table: it is the one kept.
                        ucopy_uring::private_fd_table(dir)?;
                    }
                    let name = format!("f{t}");
                    let open =
                        || rfs::openat(dir, &name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
                    for _ in 0..ops {
                        let a = open()?;
                        rfs::fstat(&a)?;
                        let b = open()?;
                        drop((b, a));
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().expect("fd-tables thread panicked")?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(start.elapsed())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
