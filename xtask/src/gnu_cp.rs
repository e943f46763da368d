//! `cargo xtask gnu-cp`: GNU coreutils 9.1's own cp tests, run with `cp` pointing at ucopy.
//!
//! GNU's test scripts are GPL and stay out of the repository: the first run fetches Debian
//! bookworm's coreutils 9.1 source with `apt-get source` into target/gnu/, builds it once and
//! keeps GNU's cp as src/cp.gnu. Every run then makes src/cp a symlink to the binary under test
//! (ucopy, or cp.gnu for the baseline) and runs the selected scripts through coreutils' own
//! harness (`make check-TESTS`). As root it runs them twice, as root and as an unprivileged user
//! (uid 65534 with a desktop's memlock and open-file limits), because a fifth of the scripts
//! skip for one or the other. The catalogue of failures is tests/gnu/results.md.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, ensure, Context, Result};

use crate::bench::build::{build_ucopy, Paths};

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
    let logs = gnu_dir.join("logs").join(label);
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

/// The source tree under target/gnu, fetched and built when missing; returns its path.
fn prepare(gnu_dir: &Path, is_root: bool, jobs: usize) -> Result<PathBuf> {
    let src = gnu_dir.join(format!("coreutils-{VERSION}"));
    if src.join("src/cp.gnu").is_file() {
        return Ok(src);
    }
    if is_root {
        install_debian_packages()?;
    }
    if !src.join("configure").is_file() {
        ensure!(
            is_root,
            "coreutils {VERSION} is not in {} yet: run `cargo xtask gnu-cp --prepare` once as \
             root on Debian (it uses apt-get source)",
            gnu_dir.display()
        );
        fetch_source(gnu_dir)?;
    }
    let log = gnu_dir.join("build.log");
    eprintln!(
        "building coreutils {VERSION} in {} (a few minutes; log: {})",
        src.display(),
        log.display()
    );
    if !src.join("Makefile").is_file() {
        let mut configure = Command::new("./configure");
        configure
            .args(["--quiet", "--disable-nls"])
            .current_dir(&src);
        if is_root {
            // configure refuses to run as root unless told this is on purpose.
            configure.env("FORCE_UNSAFE_CONFIGURE", "1");
        }
        run_logged(&mut configure, &log, "./configure")?;
    }
    let mut make = Command::new("make");
    make.arg(format!("-j{jobs}")).current_dir(&src);
    run_logged(&mut make, &log, "make")?;
    // From now on src/cp is a symlink to the cp under test; GNU's stays here.
    fs::rename(src.join("src/cp"), src.join("src/cp.gnu"))
        .context("cannot move the built src/cp to src/cp.gnu")?;
    Ok(src)
}

fn install_debian_packages() -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        return Ok(()); // not Debian: configure reports what is missing
    }
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            Command::new("dpkg-query")
                .args(["-W", "-f", "${db:Status-Status}", p])
                .output()
                .map(|o| o.stdout != b"installed")
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("apt-get install {}", missing.join(" "));
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .stdin(Stdio::null())
        .status()
        .context("cannot run apt-get")?;
    ensure!(status.success(), "apt-get install failed ({status})");
    Ok(())
}

/// `apt-get source coreutils=9.1-1` into `gnu_dir`, adding deb-src entries for the configured
/// Debian mirrors when apt has none.
fn fetch_source(gnu_dir: &Path) -> Result<()> {
    let get = || {
        eprintln!("apt-get source coreutils={DEBIAN_VERSION}");
        Command::new("apt-get")
            .args(["source", "-qq", "--only-source"])
            .arg(format!("coreutils={DEBIAN_VERSION}"))
            .current_dir(gnu_dir)
            .stdin(Stdio::null())
            .status()
            .context("cannot run apt-get")
    };
    if get()?.success() {
        return Ok(());
    }
    let added = add_deb_src()?;
    ensure!(
        added.is_some(),
        "apt-get source failed and no Debian mirror was found in /etc/apt to add a deb-src \
         entry for"
    );
    let added = added.unwrap_or_default();
    eprintln!("added {}; apt-get update", added.display());
    let status = Command::new("apt-get")
        .args(["update", "-qq"])
        .stdin(Stdio::null())
        .status()
        .context("cannot run apt-get update")?;
    ensure!(status.success(), "apt-get update failed ({status})");
    let status = get()?;
    ensure!(
        status.success(),
        "apt-get source coreutils={DEBIAN_VERSION} failed ({status})"
    );
    Ok(())
}

/// Writes /etc/apt/sources.list.d/ucopy-gnu-cp-src.sources: a `Types: deb-src` copy of every
/// deb822 stanza (and every one-line `deb` entry) whose URI is a Debian archive. Returns the
/// file written, or None when there was nothing to copy.
fn add_deb_src() -> Result<Option<PathBuf>> {
    let dir = Path::new("/etc/apt/sources.list.d");
    let mut stanzas = Vec::new();
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read '{}'", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        .collect::<Vec<_>>();
    entries.sort();
    for path in entries {
        let text = fs::read_to_string(&path).unwrap_or_default();
        stanzas.extend(deb822_src_stanzas(&text));
    }
    let list = fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    for line in list.lines() {
        let Some(rest) = line.trim().strip_prefix("deb ") else {
            continue;
        };
        // deb [options] uri suite components...
        let rest = match rest.trim_start().strip_prefix('[') {
            Some(opts) => opts.split_once(']').map_or("", |(_, r)| r),
            None => rest,
        };
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            let components: Vec<&str> = words.collect();
            if uri.contains("debian") {
                stanzas.push(format!(
                    "Types: deb-src\nURIs: {uri}\nSuites: {suite}\nComponents: {}\n",
                    components.join(" ")
                ));
            }
        }
    }
    if stanzas.is_empty() {
        return Ok(None);
    }
    let out = dir.join("ucopy-gnu-cp-src.sources");
    fs::write(&out, stanzas.join("\n"))
        .with_context(|| format!("cannot write '{}'", out.display()))?;
    Ok(Some(out))
}

/// The deb-src twins of the `Types: deb` stanzas of a deb822 file that point at Debian.
fn deb822_src_stanzas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let fields: Vec<&str> = stanza
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        let value = |name: &str| {
            fields.iter().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
        };
        let is_deb = value("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let debian = value("URIs").is_some_and(|u| u.contains("debian"));
        let enabled = value("Enabled").is_none_or(|e| e != "no");
        if !(is_deb && debian && enabled) {
            continue;
        }
        let mut s = String::new();
        for l in &fields {
            let key = l.split_once(':').map_or("", |(k, _)| k.trim());
            if key.eq_ignore_ascii_case("Types") {
                s.push_str("Types: deb-src\n");
            } else {
                s.push_str(l);
                s.push('\n');
            }
        }
        out.push(s);
    }
    out
}

fn run_logged(cmd: &mut Command, log: &Path, what: &str) -> Result<()> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open '{}'", log.display()))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("cannot run {what}"))?;
    ensure!(
        status.success(),
        "{what} failed ({status}); see {}",
        log.display()
    );
    Ok(())
}

/// tests/cp/*.sh and the tests/mv scripts whose `print_ver_` line names cp (the mv tests that
/// use cp to set up or to compare), as `cp/name.sh`, relative to tests/.
fn all_scripts(src: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for dir in ["cp", "mv"] {
        let path = src.join("tests").join(dir);
        let mut names: Vec<String> = fs::read_dir(&path)
            .with_context(|| format!("cannot read '{}'", path.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sh"))
            .collect();
        names.sort();
        for name in names {
            let uses_cp = dir == "cp" || {
                let text = fs::read_to_string(path.join(&name)).unwrap_or_default();
                text.lines().any(|l| {
                    l.trim_start()
                        .strip_prefix("print_ver_")
                        .is_some_and(|progs| progs.split_whitespace().any(|p| p == "cp"))
                })
            };
            if uses_cp {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    ensure!(
        !out.is_empty(),
        "no test scripts under {}/tests",
        src.display()
    );
    Ok(out)
}

fn select(all: &[String], wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for w in wanted {
        let w = w.strip_prefix("tests/").unwrap_or(w);
        let hits: Vec<&String> = all
            .iter()
            .filter(|s| {
                let base = s.rsplit('/').next().unwrap_or(s);
                *s == w || base == w || base.strip_suffix(".sh") == Some(w)
            })
            .collect();
        if hits.is_empty() {
            bail!("no script matches '{w}' (names look like cp/link.sh)");
        }
        out.extend(hits.into_iter().cloned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Makes src/cp a symlink to the cp under test; returns a label for file names and a
/// description of what runs.
fn point_cp_at(
    paths: &Paths,
    gnu_dir: &Path,
    src: &Path,
    args: &GnuCpArgs,
) -> Result<(&'static str, String)> {
    let link = src.join("src/cp");
    let (label, target, describe) = if args.gnu {
        let gnu = src.join("src/cp.gnu");
        (
            "gnu",
            gnu.clone(),
            format!("GNU cp {VERSION} ({})", gnu.display()),
        )
    } else {
        let built = match build_ucopy(paths, args.ucopy.as_deref())? {
            Ok(bin) => bin,
            Err(why) => bail!("no ucopy to test: {why}"),
        };
        // A private copy: the unprivileged run must be able to execute it wherever the
        // original lives, and a rebuild during the run must not change what is tested.
        let bin = gnu_dir.join("bin");
        fs::create_dir_all(&bin)?;
        let copy = bin.join("ucopy");
        let _ = fs::remove_file(&copy);
        fs::copy(&built, &copy).with_context(|| format!("cannot copy '{}'", built.display()))?;
        let version = Command::new(&copy)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "ucopy (no --version)".into());
        let origin = if args.ucopy.is_some() {
            built.display().to_string()
        } else {
            git_head(&paths.root)
        };
        ("ucopy", copy, format!("{version} ({origin})"))
    };
    match fs::remove_file(&link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("cannot remove '{}'", link.display())),
    }
    std::os::unix::fs::symlink(&target, &link)
        .with_context(|| format!("cannot create '{}'", link.display()))?;
    Ok((label, describe))
}

/// `<branch>@<short commit>`, with `+dirty` when the work tree has changes.
fn git_head(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_default();
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    format!(
        "built from {branch}@{commit}{}",
        if dirty { "+dirty" } else { "" }
    )
}

/// Runs the scripts through coreutils' harness as `who`; copies each script's log to `logs`.
fn run_scripts(
    src: &Path,
    scripts: &[String],
    who: Who,
    args: &GnuCpArgs,
    logs: &Path,
) -> Result<BTreeMap<String, Outcome>> {
    for s in scripts {
        for ext in ["log", "trs"] {
            let _ = fs::remove_file(result_file(src, s, ext));
        }
    }
    let _ = fs::remove_dir_all(logs);
    fs::create_dir_all(logs)?;
    let tests: Vec<String> = scripts.iter().map(|s| format!("tests/{s}")).collect();
    let mut cmd = if who == Who::User {
        // The scripts write their scratch directories and logs into the build tree.
        let status = Command::new("chown")
            .args(["-R", &format!("{USER_ID}:{USER_ID}")])
            .arg(src)
            .status()
            .context("cannot run chown")?;
        ensure!(
            status.success(),
            "chown -R {USER_ID} '{}' failed",
            src.display()
        );
        let mut c = Command::new("prlimit");
        c.args(USER_LIMITS)
            .args(["setpriv", "--reuid", USER_ID, "--regid", USER_ID])
            .args(["--groups", USER_GROUPS, "--"])
            .arg("make")
            .env("HOME", src);
        c
    } else {
        Command::new("make")
    };
    cmd.arg("-k")
        .arg(format!("-j{}", args.jobs))
        // Never rebuild cp over the symlink to the binary under test.
        .args(["-o", "src/cp", "check-TESTS"])
        .arg(format!("TESTS={}", tests.join(" ")))
        .arg("VERBOSE=yes")
        .arg("RUN_EXPENSIVE_TESTS=yes")
        .arg("RUN_VERY_EXPENSIVE_TESTS=yes")
        .arg(format!(
            "SH_LOG_COMPILER=timeout -k 10 {} $(SHELL)",
            args.timeout
        ))
        .current_dir(src);
    let make_log = logs.join("make.log");
    let file = fs::File::create(&make_log)?;
    // make exits non-zero when a script fails; the .trs files say which.
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .context("cannot run make")?;

    let mut out = BTreeMap::new();
    for s in scripts {
        let log = fs::read_to_string(result_file(src, s, "log")).unwrap_or_default();
        let trs = fs::read_to_string(result_file(src, s, "trs")).unwrap_or_default();
        let verdict = trs
            .lines()
            .find_map(|l| l.strip_prefix(":test-result: "))
            .map(str::trim);
        let outcome = match verdict {
            Some("PASS") => Outcome::Pass,
            Some("SKIP") => Outcome::Skip(skip_reason(&log)),
            Some("FAIL") => Outcome::Fail(exit_status(&log)),
            Some(other) => Outcome::Error(format!("{other}, {}", exit_status(&log))),
            None => Outcome::Error(format!("no result; see {}", make_log.display())),
        };
        fs::write(logs.join(s.replace('/', "_") + ".log"), &log)?;
        out.insert(s.clone(), outcome);
    }
    let mut f = fs::OpenOptions::new().append(true).open(&make_log)?;
    writeln!(f, "(ran as {})", who.name())?;
    Ok(out)
}

fn result_file(src: &Path, script: &str, ext: &str) -> PathBuf {
    let stem = script.strip_suffix(".sh").unwrap_or(script);
    src.join("tests").join(format!("{stem}.{ext}"))
}

/// The reason a script gave for skipping (`...: skipped test: REASON`).
fn skip_reason(log: &str) -> String {
    // The shell trace (`+ warn_ '...'`) quotes the same words; the message line does not.
    log.lines()
        .filter(|l| !l.starts_with('+'))
        .find_map(|l| {
            l.split_once("skipped test: ")
                .map(|(_, r)| r.trim().to_owned())
        })
        .unwrap_or_else(|| "no reason given".into())
}

/// `exit 1`, or `timeout` for a script `timeout` killed (status 124, or 137 after -k).
fn exit_status(log: &str) -> String {
    let status = log
        .lines()
        .rev()
        .find_map(|l| l.split_once("(exit status: ")?.1.strip_suffix(')'))
        .unwrap_or("?");
    match status {
        "124" | "137" => "timeout".into(),
        s => format!("exit {s}"),
    }
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
    fn deb822_stanzas_become_deb_src_for_debian_only() {
        let text = "Types: deb\n# comment\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
                    Components: main\n\nTypes: deb\nURIs: https://deb.nodesource.com/node_20.x\n\
                    Suites: nodistro\n";
        let got = deb822_src_stanzas(text);
        assert_eq!(
            got,
            vec![
                "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\
                  Components: main\n"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn a_failure_in_any_run_fails_the_script() {
        let pass = Outcome::Pass;
        let skip = Outcome::Skip("root".into());
        let fail = Outcome::Fail("exit 1".into());
        assert_eq!(combine(&[&pass, &skip]), "passed");
        assert_eq!(combine(&[&skip, &skip]), "skipped");
        assert_eq!(combine(&[&pass, &fail]), "failed");
    }

    #[test]
    fn log_parsing() {
        let log = "+ warn_ 'a.sh: skipped test: must be run as root'\n\
                   a.sh: skipped test: must be run as root\n\
                   SKIP: tests/cp/a.sh\n";
        assert_eq!(skip_reason(log), "must be run as root");
        assert_eq!(
            exit_status("FAIL tests/cp/a.sh (exit status: 124)\n"),
            "timeout"
        );
        assert_eq!(
            exit_status("FAIL tests/cp/a.sh (exit status: 1)\n"),
            "exit 1"
        );
    }

    #[test]
    fn script_selection_by_short_names() {
        let all: Vec<String> = ["cp/link.sh", "cp/acl.sh", "mv/update.sh"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            select(&all, &["link".into(), "mv/update.sh".into()]).unwrap(),
            vec!["cp/link.sh", "mv/update.sh"]
        );
        assert!(select(&all, &["nope".into()]).is_err());
    }
}
