//! `-i`: ask on the terminal before overwriting, as cp does (`ucopy: overwrite 'x'? `, an
//! answer starting with `y` or `Y` means yes; end of input means no).

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use ucopy::Confirm;

static ASKING: Mutex<()> = Mutex::new(());

/// The confirmation hook `-i` installs: one question at a time, whichever thread asks.
pub fn confirm() -> Confirm {
    Confirm(Arc::new(|path: &Path| {
        let _one_at_a_time = ASKING.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "{}: overwrite '{}'? ",
            crate::output::program_name(),
            path.display()
        );
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => false,
            Ok(_) => line.starts_with(['y', 'Y']),
        }
    }))
}
