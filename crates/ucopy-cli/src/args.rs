//! Command-line arguments (clap types stay here; `main` turns them into a plain config).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Copy directory trees fast, keeping everything `cp -a` keeps.
///
/// `ucopy SRC DST` behaves like `cp -r SRC DST`; `ucopy -a SRC DST` like `cp -a SRC DST`.
/// DST absent: it becomes the copy. DST an existing directory: the copy lands in DST/SRC's name
/// (`SRC/.` merges SRC's contents into DST). Several sources need an existing directory.
#[derive(Debug, Parser)]
#[command(
    name = "ucopy",
    version,
    override_usage = "ucopy [OPTIONS] SOURCE... DEST\n       ucopy --probe [--json]",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Source files or directories, then the destination
    #[arg(value_name = "PATH", num_args = 2.., required_unless_present = "probe")]
    pub paths: Vec<PathBuf>,

    /// Archive: keep mode, owner (as root), times to the ns, xattrs and hard links, like cp -a
    #[arg(short, long)]
    pub archive: bool,

    /// Accepted for cp muscle memory; directories are always copied recursively
    #[arg(short = 'r', short_alias = 'R', long)]
    pub recursive: bool,

    /// Never overwrite an existing destination entry
    #[arg(short = 'n', long)]
    pub no_clobber: bool,

    /// Print one line per copied entry (and which backend runs, and why)
    #[arg(short, long, conflicts_with = "quiet")]
    pub verbose: bool,

    /// No progress bar and no warnings; errors are still printed
    #[arg(short, long)]
    pub quiet: bool,

    /// Copy engine
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// Files per batch (in flight per worker)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub queue_depth: u32,

    /// Order of files within a directory
    #[arg(long, value_enum, default_value_t = OrderChoice::Inode)]
    pub order: OrderChoice,

    /// Worker threads [default: number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: Option<u32>,

    /// Print what the kernel offers and which backend `auto` picks, then exit
    #[arg(long)]
    pub probe: bool,

    /// Print the plan (directories, files in batch order with inode numbers, links); copy nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object with the result on stdout at the end
    #[arg(long)]
    pub json: bool,

    /// Never draw a progress bar (it is drawn only when stderr is a terminal)
    #[arg(long)]
    pub no_progress: bool,
}

const AFTER_HELP: &str = "\
Backends:
  auto    rw when the source is not in the page cache, std when it is (see --probe)
  splice  io_uring, file -> pipe -> file, no userspace buffer
  rw      io_uring reads into ordinary buffers, written with pwrite
  fixed   io_uring reads into registered buffers, written with pwrite
  std     plain system calls (copy_file_range, FICLONE, read/write)

Exit status: 0 all copied, 1 some entries failed, 2 usage or fatal error.";

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The fastest backend the kernel allows
    Auto,
    /// io_uring with splice through a pipe
    Splice,
    /// io_uring with ordinary buffers
    Rw,
    /// io_uring with registered buffers
    Fixed,
    /// Plain system calls
    Std,
}

/// `--order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderChoice {
    /// By inode number within each directory
    Inode,
    /// Directory order
    None,
}

impl From<BackendChoice> for ucopy::Backend {
    fn from(choice: BackendChoice) -> ucopy::Backend {
        match choice {
            BackendChoice::Auto => ucopy::Backend::Auto,
            BackendChoice::Splice => ucopy::Backend::Splice,
            BackendChoice::Rw => ucopy::Backend::Rw,
            BackendChoice::Fixed => ucopy::Backend::Fixed,
            BackendChoice::Std => ucopy::Backend::Std,
        }
    }
}

impl Args {
    /// Sources and destination, split.
    pub fn operands(&self) -> (&[PathBuf], &std::path::Path) {
        let (dest, sources) = self.paths.split_last().expect("clap requires two paths");
        (sources, dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }
}
