//! `cargo xtask gnu-cp`: GNU coreutils 9.1's own cp tests, run with `cp` pointing at ucopy.
//!
//! GNU's test scripts are GPL and stay out of the repository: the first run fetches Debian
//! bookworm's coreutils 9.1 source with `apt-get source` into target/gnu/, builds it once and
//! keeps GNU's cp as src/cp.gnu. Every run then makes src/cp a symlink to the binary under test
//! (ucopy, or cp.gnu for the baseline) and runs the selected scripts through coreutils' own
//! harness (`make check-TESTS`). As root it runs them twice, as root and as an unprivileged user
//! (uid 65534 with a desktop's memlock and open-file limits), because a fifth of the scripts
//! skip for one or the other. The catalogue of failures is tests/gnu/results.md.
//!
//! `source` fetches and builds GNU's tree, `scripts` selects and runs the scripts and reads their
//! logs; this file holds the task's arguments, its flow and the table it prints.

mod scripts;
mod source;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::bench::build::Paths;

use scripts::{all_scripts, point_cp_at, run_scripts, select};
use source::prepare;

/// The coreutils release the scripts come from (Debian bookworm's, the machine's cp).
const VERSION: &str = "9.1";
const DEBIAN_VERSION: &str = "9.1-1";
/// What the build and the scripts need from Debian: the compiler and dpkg-source, the ACL,
/// xattr and SELinux headers Debian's own cp is built with, and getfacl/setfattr (acl, attr),
/// without which acl.sh and cp-mv-enotsup-xattr.sh skip.
const DEBIAN_PACKAGES: &[&str] = &[
    "gcc",
    "make",
    "dpkg-dev",
    "libacl1-dev",
    "libattr1-dev",
    "libselinux1-dev",
    "acl",
    "attr",
];
/// The unprivileged run: nobody, with the limits of a desktop login (as CI's normal-user run)
/// and, like a desktop login, a second group (`users`), which existing-perm-race.sh needs.
const USER_ID: &str = "65534";
const USER_GROUPS: &str = "100";
const USER_LIMITS: &[&str] = &["--memlock=8388608", "--nofile=1024"];

/// Run GNU coreutils 9.1's cp tests (tests/cp/*.sh and the tests/mv scripts that use cp) with
/// `cp` pointing at ucopy, and print one line per script and a pass/fail/skip count.
///
/// The first run needs root on Debian: it fetches the source with apt-get (adding a deb-src
/// entry when none exists) and builds it under target/gnu/ (a few minutes). Logs of every
/// script go to `target/gnu/logs/<label>/<who>/`, the table to `target/gnu/results/<label>.txt`.
#[derive(Debug, clap::Args)]
pub struct GnuCpArgs {
    /// Run the scripts with GNU's own cp (the baseline) instead of ucopy
    #[arg(long, conflicts_with = "ucopy")]
    gnu: bool,
    /// Use this ucopy binary instead of building target/release/ucopy
    #[arg(long)]
    ucopy: Option<PathBuf>,
    /// Run ucopy with `--backend BACKEND` (auto, std, splice, rw, fixed), through a wrapper that
    /// keeps the name `cp`; logs and table are labelled `ucopy-BACKEND`
    #[arg(long, conflicts_with = "gnu")]
    backend: Option<String>,
    /// Who runs the scripts; default `both` as root, else the invoking user
    #[arg(long, value_enum)]
    run_as: Option<RunAs>,
    /// Only these scripts (comma-separated: cp/link.sh, link.sh or link)
    #[arg(long, value_delimiter = ',')]
    scripts: Vec<String>,
    /// Scripts run at once (make -j)
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Kill a script still running after this many seconds (it counts as failed). GNU's cp
    /// takes under a minute for the slowest; scripts that feed a FIFO to a cp which exited
    /// at once (an unknown option) would otherwise wait forever.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Fetch and build coreutils when needed, then exit
    #[arg(long)]
    prepare: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RunAs {
    /// root only
    Root,
    /// uid 65534 only (from root: setpriv with memlock 8 MiB, 1024 files, groups 65534 and 100)
    User,
    /// root, then uid 65534; a script fails if it fails in either run
    Both,
}

/// One run of the scripts: who runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    /// uid 65534 through setpriv, from root.
    User,
    /// Whoever invoked the xtask, when not root.
    Invoker,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Root => "root",
            Who::User => "user",
            Who::Invoker => "invoker",
        }
    }
}

/// The automake harness's verdict on one script in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Pass,
    /// Exit status or "timeout".
    Fail(String),
    /// The script's own reason (`skipped test: ...`).
    Skip(String),
    /// A set-up failure (exit 99) or no result at all.
    Error(String),
}

impl Outcome {
    fn cell(&self) -> String {
        match self {
            Outcome::Pass => "pass".into(),
            Outcome::Fail(why) => format!("FAIL ({why})"),
            Outcome::Skip(_) => "skip".into(),
            Outcome::Error(why) => format!("ERROR ({why})"),
        }
    }
}

/// A script's result over all runs: failed if any run failed, passed if any run passed, else
/// skipped (GNU's scripts skip when a run cannot exercise them, e.g. as root).
fn combine(outcomes: &[&Outcome]) -> &'static str {
    if outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Fail(_) | Outcome::Error(_)))
    {
        "failed"
    } else if outcomes.iter().any(|o| **o == Outcome::Pass) {
        "passed"
    } else {
        "skipped"
    }
}

pub fn run(args: GnuCpArgs) -> Result<ExitCode> {
    let paths = Paths::discover()?;
    let is_root = rustix::process::geteuid().is_root();
    let gnu_dir = paths.target.join("gnu");
    fs::create_dir_all(&gnu_dir)
        .with_context(|| format!("cannot create '{}'", gnu_dir.display()))?;
    let src = prepare(&gnu_dir, is_root, args.jobs)?;
    if args.prepare {
        println!("coreutils {VERSION} is built in {}", src.display());
        return Ok(ExitCode::SUCCESS);
    }

    let scripts = select(&all_scripts(&src)?, &args.scripts)?;
    let whos = match (args.run_as.unwrap_or(RunAs::Both), is_root) {
        (_, false) => {
            if matches!(args.run_as, Some(RunAs::Root | RunAs::User)) {
                eprintln!("note: not root, so the scripts run as the invoking user only");
            }
            vec![Who::Invoker]
        }
        (RunAs::Root, true) => vec![Who::Root],
        (RunAs::User, true) => vec![Who::User],
        (RunAs::Both, true) => vec![Who::Root, Who::User],
    };

    let (label, describe) = point_cp_at(&paths, &gnu_dir, &src, &args)?;
    eprintln!(
        "cp = {describe}; {} scripts, run as {}",
        scripts.len(),
        whos.iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(" then ")
    );
    let logs = gnu_dir.join("logs").join(&label);
    let mut results: Vec<BTreeMap<String, Outcome>> = Vec::new();
    for &who in &whos {
        eprintln!("running as {} ...", who.name());
        results.push(run_scripts(
            &src,
            &scripts,
            who,
            &args,
            &logs.join(who.name()),
        )?);
    }

    let table = render(&scripts, &whos, &results, &describe);
    print!("{table}");
    let out = gnu_dir.join("results");
    fs::create_dir_all(&out)?;
    let file = out.join(format!("{label}.txt"));
    fs::write(&file, &table).with_context(|| format!("cannot write '{}'", file.display()))?;
    eprintln!("logs: {}/<who>/; table: {}", logs.display(), file.display());
    let failed = scripts.iter().any(|s| {
        let per_run: Vec<&Outcome> = results.iter().filter_map(|r| r.get(s)).collect();
        combine(&per_run) == "failed"
    });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn render(
    scripts: &[String],
    whos: &[Who],
    results: &[BTreeMap<String, Outcome>],
    describe: &str,
) -> String {
    let mut t = String::new();
    let width = scripts.iter().map(String::len).max().unwrap_or(10).max(6);
    t += &format!("GNU coreutils {VERSION} cp tests; cp = {describe}\n\n");
    t += &format!("{:width$}", "script");
    for w in whos {
        t += &format!("  {:18}", w.name());
    }
    t += "  result\n";
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut reasons = Vec::new();
    for s in scripts {
        let per_run: Vec<&Outcome> = results.iter().filter_map(|r| r.get(s)).collect();
        t += &format!("{s:width$}");
        for o in &per_run {
            t += &format!("  {:18}", o.cell());
        }
        let verdict = combine(&per_run);
        match verdict {
            "passed" => passed += 1,
            "failed" => failed += 1,
            _ => {
                skipped += 1;
                let why: Vec<String> = per_run
                    .iter()
                    .zip(whos)
                    .filter_map(|(o, w)| match o {
                        Outcome::Skip(r) => Some(format!("{}: {r}", w.name())),
                        _ => None,
                    })
                    .collect();
                reasons.push(format!("  {s}: {}", why.join("; ")));
            }
        }
        t += &format!("  {verdict}\n");
    }
    if !reasons.is_empty() {
        t += "\nskipped:\n";
        t += &reasons.join("\n");
        t += "\n";
    }
    t += &format!("\n{passed} passed, {failed} failed, {skipped} skipped\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_in_any_run_fails_the_script() {
        let pass = Outcome::Pass;
        let skip = Outcome::Skip("root".into());
        let fail = Outcome::Fail("exit 1".into());
        assert_eq!(combine(&[&pass, &skip]), "passed");
        assert_eq!(combine(&[&skip, &skip]), "skipped");
        assert_eq!(combine(&[&pass, &fail]), "failed");
    }
}
