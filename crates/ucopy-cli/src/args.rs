//! Command-line arguments (clap types stay here; `main` turns them into a plain config).
//!
//! GNU cp's whole option surface, grouped in `--help` by what the options are about; the
//! mapping to copy options (and GNU's rules for combining them) is in `cp_options.rs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

const COPYING: &str = "Copying";
const LINKS: &str = "Symbolic and hard links";
const PRESERVING: &str = "Preserving attributes";
const OVERWRITING: &str = "Overwriting";
const OWN: &str = "ucopy's own";

/// Copy directory trees fast, keeping everything `cp -a` keeps.
///
/// `ucopy SRC DST` behaves like `cp -r SRC DST`; `ucopy -a SRC DST` like `cp -a SRC DST`.
/// DST absent: it becomes the copy. DST an existing directory: the copy lands in DST/SRC's name
/// (`SRC/.` merges SRC's contents into DST). Several sources need an existing directory.
/// Unlike cp, directories are copied even without -r.
#[derive(Debug, Parser)]
#[command(
    name = "ucopy",
    version,
    override_usage = "ucopy [OPTIONS] SOURCE... DEST\n       ucopy [OPTIONS] -t DIRECTORY SOURCE...\n       ucopy --probe [--json]",
    after_help = AFTER_HELP,
    max_term_width = 100,
    infer_long_args = true,
    args_override_self = true
)]
pub struct Args {
    /// Source files or directories, then the destination
    #[arg(value_name = "PATH", num_args = 1.., required_unless_present_any = ["probe", "generate"])]
    pub paths: Vec<PathBuf>,

    // --- Copying -----------------------------------------------------------------------------
    /// Archive: same as -dR --preserve=all
    #[arg(short, long, help_heading = COPYING)]
    pub archive: bool,

    /// Copy directories recursively (ucopy does so even without it; run as cp, it does not)
    #[arg(short = 'r', visible_short_alias = 'R', long, help_heading = COPYING)]
    pub recursive: bool,

    /// Copy into DIRECTORY (all PATHs are sources)
    #[arg(short = 't', long, value_name = "DIRECTORY", help_heading = COPYING)]
    pub target_directory: Option<PathBuf>,

    /// Treat DEST as a normal file, never as a directory to copy into
    #[arg(short = 'T', long, help_heading = COPYING)]
    pub no_target_directory: bool,

    /// Append each source's full path to the destination directory
    #[arg(long, help_heading = COPYING)]
    pub parents: bool,

    /// Remove trailing slashes from each source
    #[arg(long, help_heading = COPYING)]
    pub strip_trailing_slashes: bool,

    /// Stay on the source's filesystem (mount points are created empty)
    #[arg(short = 'x', long, help_heading = COPYING)]
    pub one_file_system: bool,

    /// Clone data blocks: auto (default), always (or fail), never
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "always", hide_possible_values = true, help_heading = COPYING)]
    pub reflink: Option<WhenChoice>,

    /// Holes: auto (keep the source's), always (also from zeros), never
    #[arg(long, value_name = "WHEN", hide_possible_values = true, help_heading = COPYING)]
    pub sparse: Option<WhenChoice>,

    /// Create files and copy attributes, but no data
    #[arg(long, help_heading = COPYING)]
    pub attributes_only: bool,

    /// Read FIFOs and devices inside trees into regular files
    #[arg(long, help_heading = COPYING)]
    pub copy_contents: bool,

    /// Skip entries matching GLOB (gitignore syntax; repeatable; never walked)
    #[arg(long, value_name = "GLOB", help_heading = COPYING)]
    pub exclude: Vec<String>,

    /// Skip entries matching the patterns in FILE, one per line
    #[arg(long, value_name = "FILE", help_heading = COPYING)]
    pub exclude_from: Vec<PathBuf>,

    // --- Links -------------------------------------------------------------------------------
    /// Copy symlinks as symlinks (the default with -r/-a)
    #[arg(short = 'P', long = "no-dereference", help_heading = LINKS,
          overrides_with_all = ["dereference", "dereference_command_line"])]
    pub no_dereference: bool,

    /// Follow every symlink in the source
    #[arg(short = 'L', long, help_heading = LINKS,
          overrides_with_all = ["no_dereference", "dereference_command_line"])]
    pub dereference: bool,

    /// Follow symlinks named on the command line (the default without -r/-a)
    #[arg(short = 'H', help_heading = LINKS,
          overrides_with_all = ["no_dereference", "dereference"])]
    pub dereference_command_line: bool,

    /// Same as --no-dereference --preserve=links
    #[arg(short = 'd', help_heading = LINKS)]
    pub no_dereference_preserve_links: bool,

    /// Hard-link files instead of copying
    #[arg(short = 'l', long, help_heading = LINKS, conflicts_with = "symbolic_link")]
    pub link: bool,

    /// Make symbolic links to the sources instead of copying
    #[arg(short = 's', long, help_heading = LINKS)]
    pub symbolic_link: bool,

    /// Merge into a destination symlink that points to a directory
    #[arg(long, help_heading = LINKS)]
    pub keep_directory_symlink: bool,

    // --- Preserving --------------------------------------------------------------------------
    /// Same as --preserve=mode,ownership,timestamps
    #[arg(short = 'p', help_heading = PRESERVING)]
    pub preserve_default: bool,

    /// Keep LIST: mode,ownership,timestamps,links,context,xattr,all
    #[arg(long, value_name = "LIST", num_args = 0..=1, require_equals = true,
          default_missing_value = "mode,ownership,timestamps", help_heading = PRESERVING)]
    pub preserve: Vec<String>,

    /// Do not keep LIST
    #[arg(long, value_name = "LIST", help_heading = PRESERVING)]
    pub no_preserve: Vec<String>,

    /// SELinux context: ignored with a warning where SELinux is off
    #[arg(short = 'Z', long, value_name = "CTX", num_args = 0..=1, require_equals = true,
          default_missing_value = "", help_heading = PRESERVING)]
    pub context: Option<String>,

    // --- Overwriting -------------------------------------------------------------------------
    /// Replace a destination file that cannot be opened
    #[arg(short = 'f', long, help_heading = OVERWRITING)]
    pub force: bool,

    /// Ask before overwriting (on stdin)
    #[arg(short = 'i', long, help_heading = OVERWRITING, overrides_with = "no_clobber")]
    pub interactive: bool,

    /// Never overwrite an existing destination entry
    #[arg(short = 'n', long, help_heading = OVERWRITING, overrides_with = "interactive")]
    pub no_clobber: bool,

    /// Replace only older files (-u), or all, or none
    #[arg(short = 'u', long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "older", hide_possible_values = true,
          help_heading = OVERWRITING)]
    pub update: Option<UpdateChoice>,

    /// Remove each existing destination file before copying
    #[arg(long, help_heading = OVERWRITING)]
    pub remove_destination: bool,

    /// Back up each existing destination file (CONTROL: numbered, existing, simple, none)
    // The prefixes cp accepts for --backup, which --backend makes ambiguous here.
    #[arg(long, value_name = "CONTROL", num_args = 0..=1, require_equals = true,
          aliases = ["b", "ba", "bac", "back"],
          default_missing_value = "", help_heading = OVERWRITING)]
    pub backup: Option<String>,

    /// Like --backup, with the control from VERSION_CONTROL
    #[arg(short = 'b', help_heading = OVERWRITING)]
    pub backup_short: bool,

    /// Suffix of simple backups [default: ~ or $SIMPLE_BACKUP_SUFFIX]
    #[arg(short = 'S', long, value_name = "SUFFIX", help_heading = OVERWRITING)]
    pub suffix: Option<OsString>,

    // --- ucopy's own -------------------------------------------------------------------------
    /// Print one line per copied entry (and which backend runs, and why)
    #[arg(short, long, conflicts_with = "quiet", help_heading = OWN)]
    pub verbose: bool,

    /// No progress bar and no warnings; errors are still printed
    #[arg(short, long, help_heading = OWN)]
    pub quiet: bool,

    /// Copy engine: auto, splice, rw, fixed, std (see below)
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto, hide_possible_values = true,
          help_heading = OWN)]
    pub backend: BackendChoice,

    /// Files in flight per worker (one io_uring submission); unset, a cold copy that reads
    /// around the page cache keeps 16
    #[arg(long, value_name = "N", default_value_t = 64, help_heading = OWN,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub queue_depth: u32,

    /// Order of files within a directory: inode, none
    #[arg(long, value_enum, default_value_t = OrderChoice::Inode, hide_possible_values = true,
          help_heading = OWN)]
    pub order: OrderChoice,

    /// Worker threads [default: one per CPU; two for the io_uring backends, four for a cold copy that reads around the page cache, without a memlock or address-space limit]
    #[arg(long, value_name = "N", help_heading = OWN,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: Option<u32>,

    /// Print what the kernel offers and which backend `auto` picks, then exit
    #[arg(long, help_heading = OWN)]
    pub probe: bool,

    /// Print a shell completion script or the man page, generated from these definitions, and
    /// exit (used by `cargo xtask dist`)
    #[arg(long, hide = true, value_name = "WHAT")]
    pub generate: Option<Generate>,

    /// Print the plan (directories, files in batch order, links); copy nothing
    #[arg(long, conflicts_with = "json", help_heading = OWN)]
    pub dry_run: bool,

    /// Print one JSON object with the result on stdout at the end
    #[arg(long, help_heading = OWN)]
    pub json: bool,

    /// Never draw a progress bar (it is drawn only when stderr is a terminal)
    #[arg(long, help_heading = OWN)]
    pub no_progress: bool,
}

const AFTER_HELP: &str = "\
Backends:
  auto    rw when the source is not in the page cache; when it is, std (rw for small files
          where system calls are dear; see --probe); std for a few files and no directory
  splice  io_uring, file -> pipe -> file, no userspace buffer
  rw      io_uring reads into ordinary buffers, written with pwrite
  fixed   io_uring reads into registered buffers, written with pwrite
  std     plain system calls (copy_file_range, FICLONE, read/write)

Differences from GNU cp: directories are copied without -r; a symlink or FIFO in the way
inside a destination tree is replaced, never written through or opened.

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

/// `--generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// bash completions
    Bash,
    /// zsh completions
    Zsh,
    /// fish completions
    Fish,
    /// elvish completions
    Elvish,
    /// PowerShell completions
    Powershell,
    /// The man page (roff)
    Man,
}

impl Generate {
    /// Writes the script or page for `cmd` to `out`.
    pub fn write(
        self,
        cmd: &mut clap::Command,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        use clap_complete::Shell;
        let shell = match self {
            Generate::Bash => Shell::Bash,
            Generate::Zsh => Shell::Zsh,
            Generate::Fish => Shell::Fish,
            Generate::Elvish => Shell::Elvish,
            Generate::Powershell => Shell::PowerShell,
            Generate::Man => return clap_mangen::Man::new(cmd.clone()).render(out),
        };
        clap_complete::generate(shell, cmd, "ucopy", out);
        Ok(())
    }
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

/// The `WHEN` of `--reflink` and `--sparse` (what each value means is said in their help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhenChoice {
    Auto,
    Always,
    Never,
}

impl WhenChoice {
    /// The library's value; not given is `auto`.
    pub fn when(choice: Option<WhenChoice>) -> ucopy::When {
        match choice {
            None | Some(WhenChoice::Auto) => ucopy::When::Auto,
            Some(WhenChoice::Always) => ucopy::When::Always,
            Some(WhenChoice::Never) => ucopy::When::Never,
        }
    }
}

/// `--update=WHEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateChoice {
    /// Replace every existing file
    All,
    /// Replace none
    None,
    /// Replace those older than the source
    Older,
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
