//! Copies a tree twice with the `ucopy` library: once with `auto` (which says why it picked its
//! backend) and once with a forced backend.
//!
//! ```text
//! cargo run -p ucopy --example copy_tree -- SRC DST [BACKEND]
//! ```
//!
//! makes `DST/auto` and `DST/<BACKEND>` (default `rw`), each a copy of `SRC` like `cp -a`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ucopy::{Backend, Copier, Options, Report};

/// Copies `src` into `dst/auto` with `auto` and into `dst/<forced>` with `forced`, keeping
/// metadata; returns each run's backend, reason and report.
pub fn copy_both_ways(
    src: &Path,
    dst: &Path,
    forced: Backend,
) -> Result<Vec<(ucopy::Selection, Report)>, ucopy::Error> {
    let options = Options::builder().archive(true).build();
    let mut runs = Vec::new();
    for backend in [Backend::Auto, forced] {
        let copier = Copier::new(options.clone()).backend(backend);
        let sources = [src.to_path_buf()];
        let dest = dst.join(backend.name());
        let targets = copier.targets(&sources, &dest)?;
        let selection = copier.select(&sources)?;
        let report = copier.run_targets(&targets, &selection)?;
        runs.push((selection, report));
    }
    Ok(runs)
}

#[allow(dead_code)] // the integration test calls `copy_both_ways` only
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (src, dst, forced) = match args.as_slice() {
        [src, dst] => (src, dst, Backend::Rw),
        [src, dst, backend] => match backend.parse() {
            Ok(b) => (src, dst, b),
            Err(e) => {
                eprintln!("copy_tree: {e}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: copy_tree SRC DST [BACKEND]");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(dst) {
        eprintln!("copy_tree: cannot create '{dst}': {e}");
        return ExitCode::from(2);
    }
    match copy_both_ways(&PathBuf::from(src), Path::new(dst), forced) {
        Ok(runs) => {
            let mut ok = true;
            for (selection, report) in runs {
                println!(
                    "{}: {} files, {} dirs, {} bytes, {} errors ({})",
                    selection.backend(),
                    report.files,
                    report.dirs,
                    report.bytes,
                    report.errors.len(),
                    selection.reason()
                );
                for e in &report.errors {
                    eprintln!("copy_tree: {e}");
                }
                ok &= report.is_success();
            }
            ExitCode::from(if ok { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("copy_tree: {e}");
            ExitCode::from(2)
        }
    }
}
