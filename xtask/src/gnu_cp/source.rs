//! Getting GNU's cp tests: Debian's coreutils source fetched with `apt-get source` (adding a
//! deb-src entry when none exists) and built once under target/gnu/.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use super::{DEBIAN_PACKAGES, DEBIAN_VERSION, VERSION};

/// The source tree under target/gnu, fetched and built when missing; returns its path.
pub(super) fn prepare(gnu_dir: &Path, is_root: bool, jobs: usize) -> Result<PathBuf> {
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
}
