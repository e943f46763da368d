//! Developer tasks for the ucopy workspace, run as `cargo xtask <task>` (an alias in
//! .cargo/config.toml). One file per task; see `cargo xtask bench --help`
//! and `cargo xtask gnu-cp --help`.
#![forbid(unsafe_code)]

mod bench;
mod dist;
mod fd_tables;
mod floor;
mod gnu_cp;
mod uring_copy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for ucopy")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    Bench(bench::BenchArgs),
    /// Shell completions and the man page, generated from ucopy's command-line definition,
    /// with the release binary, under target/dist
    Dist(dist::DistArgs),
    GnuCp(gnu_cp::GnuCpArgs),
    /// Open/close-heavy threads with one shared descriptor table against tables of their own
    /// (see xtask/src/fd_tables.rs)
    FdTables(fd_tables::FdTablesArgs),
    /// The synchronous floor the bench runs as a contender (see xtask/src/floor.rs)
    Floor(floor::FloorArgs),
    /// One tree copy with an io_uring executor and bench-only knobs (the hidden `uring:`
    /// contenders of `bench`)
    #[command(hide = true)]
    UringCopy(uring_copy::UringCopyArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Bench(args) => bench::run(args),
        Task::Dist(args) => dist::run(args),
        Task::GnuCp(args) => gnu_cp::run(args),
        Task::FdTables(args) => fd_tables::run(args).map(|()| ExitCode::SUCCESS),
        Task::Floor(args) => floor::run(args).map(|()| ExitCode::SUCCESS),
        Task::UringCopy(args) => uring_copy::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, with the chain of causes.
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
