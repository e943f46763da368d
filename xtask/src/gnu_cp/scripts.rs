//! Running the scripts: choosing them, pointing `cp` at the binary under test, running them
//! through coreutils' harness as root and as a user, and reading each outcome from its log.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use super::{GnuCpArgs, Outcome, Who, USER_GROUPS, USER_ID, USER_LIMITS, VERSION};
use crate::bench::build::{build_ucopy, Paths};

/// tests/cp/*.sh and the tests/mv scripts whose `print_ver_` line names cp (the mv tests that
/// use cp to set up or to compare), as `cp/name.sh`, relative to tests/.
pub(super) fn all_scripts(src: &Path) -> Result<Vec<String>> {
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

pub(super) fn select(all: &[String], wanted: &[String]) -> Result<Vec<String>> {
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
pub(super) fn point_cp_at(
    paths: &Paths,
    gnu_dir: &Path,
    src: &Path,
    args: &GnuCpArgs,
) -> Result<(String, String)> {
    let link = src.join("src/cp");
    let (label, target, describe) = if args.gnu {
        let gnu = src.join("src/cp.gnu");
        (
            "gnu".to_owned(),
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
        match &args.backend {
            None => ("ucopy".to_owned(), copy, format!("{version} ({origin})")),
            Some(backend) => {
                ensure!(
                    backend
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    "--backend {backend:?}: not a backend name"
                );
                ensure!(
                    !copy.to_string_lossy().contains('\''),
                    "'{}': a path with a quote cannot go into the wrapper",
                    copy.display()
                );
                // `exec -a "$0"` hands ucopy the name it was called by (src/cp), so it still
                // speaks as cp; bash, since POSIX sh has no `exec -a`.
                let wrapper = bin.join(format!("ucopy-{backend}"));
                fs::write(
                    &wrapper,
                    format!(
                        "#!/bin/bash\nexec -a \"$0\" '{}' --backend {backend} \"$@\"\n",
                        copy.display()
                    ),
                )
                .with_context(|| format!("cannot write '{}'", wrapper.display()))?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755))?;
                (
                    format!("ucopy-{backend}"),
                    wrapper,
                    format!("{version} --backend {backend} ({origin})"),
                )
            }
        }
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
pub(super) fn run_scripts(
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

#[cfg(test)]
mod tests {
    use super::*;

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
