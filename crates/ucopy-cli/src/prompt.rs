//! `-i`: ask on the terminal before overwriting, as cp does (`ucopy: overwrite 'x'? `, an
//! answer starting with `y` or `Y` means yes; end of input means no). A destination the user
//! may not write is named with its mode, in cp's words.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use ucopy::Confirm;

static ASKING: Mutex<()> = Mutex::new(());

/// The confirmation hook `-i` installs: one question at a time, whichever thread asks.
/// `replaces` says the destination is removed rather than written (`-f`, `--remove-destination`),
/// which words the question about an unwritable destination as cp does.
pub fn confirm(replaces: bool) -> Confirm {
    Confirm(Arc::new(move |path: &Path| {
        let _one_at_a_time = ASKING.lock().unwrap_or_else(|e| e.into_inner());
        let question = question(path, replaces);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}: {question}? ", crate::output::program_name());
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => false,
            Ok(_) => line.starts_with(['y', 'Y']),
        }
    }))
}

/// cp's question: `overwrite 'x'`, or for a destination the user cannot write (not a symlink)
/// `replace 'x', overriding mode 0444 (r--r--r--)` / `unwritable 'x' (mode 0444, r--r--r--); try
/// anyway`.
fn question(path: &Path, replaces: bool) -> String {
    use rustix::fs::{Access, AtFlags};
    let unwritable = std::fs::symlink_metadata(path).ok().filter(|m| {
        !m.file_type().is_symlink()
            && rustix::fs::accessat(rustix::fs::CWD, path, Access::WRITE_OK, AtFlags::EACCESS)
                .is_err()
    });
    let Some(meta) = unwritable else {
        return format!("overwrite '{}'", path.display());
    };
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
    let rwx: String = (0..9)
        .map(|i| {
            let bit = 0o400 >> i;
            if mode & bit == 0 {
                '-'
            } else {
                ['r', 'w', 'x'][i % 3]
            }
        })
        .collect();
    if replaces {
        format!(
            "replace '{}', overriding mode {mode:04o} ({rwx})",
            path.display()
        )
    } else {
        format!(
            "unwritable '{}' (mode {mode:04o}, {rwx}); try anyway",
            path.display()
        )
    }
}
