//! Hostile destinations: another user renaming things inside the destination while the copy
//! runs must never make ucopy change an object it did not create (docs/behaviour-table.md rows 4
//! and 5: nothing is written, and no metadata changed, through a name swapped under the copy).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::tree::TestTree;

const FIFOS: usize = 48;
const ROUNDS: usize = 12;

/// Swaps every FIFO that appears in `dst` for a symlink to `target`, as fast as it can, until
/// told to stop. Returns how many swaps it made.
fn swap_fifos_for_symlinks(dst: PathBuf, target: PathBuf, stop: Arc<AtomicBool>) -> usize {
    let mut swaps = 0;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Ok(entries) = std::fs::read_dir(&dst) else {
            thread::yield_now();
            continue;
        };
        for entry in entries.flatten() {
            let is_fifo = entry.file_type().map(|t| t.is_fifo()).unwrap_or(false);
            if !is_fifo {
                continue;
            }
            n += 1;
            let tmp = dst.join(format!(".swap{n}"));
            if std::os::unix::fs::symlink(&target, &tmp).is_ok() {
                if std::fs::rename(&tmp, entry.path()).is_ok() {
                    swaps += 1;
                } else {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
        }
    }
    swaps
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

// The escalation of a root copy: after mknodat, a symlink renamed over the new FIFO made the
// copier chmod the symlink's target (a 0600 file became setuid and world-writable). The race is
// run many times, with and without -a; the secret outside the destination must never change.
backend_test!(symlink_swapped_over_new_fifo_is_never_followed, |b| {
    let t = TestTree::new();
    for i in 0..FIFOS {
        let fifo = t.fifo(format!("src/p{i:02}"));
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o6777)).unwrap();
    }
    let secret = t.file("secret", b"root only\n");
    t.chmod("secret", 0o600);
    let mut total_swaps = 0;
    for round in 0..ROUNDS {
        let archive = round % 2 == 0;
        let dst = t.p(format!("dst{round}"));
        let stop = Arc::new(AtomicBool::new(false));
        let attacker = {
            let (dst, secret, stop) = (dst.clone(), secret.clone(), stop.clone());
            thread::spawn(move || swap_fifos_for_symlinks(dst, secret, stop))
        };
        let mut argv = args![t.p("src"), &dst];
        if archive {
            argv.insert(0, "-a".into());
        }
        let out = b.run(argv);
        stop.store(true, Ordering::Relaxed);
        total_swaps += attacker.join().unwrap();
        assert!(
            matches!(out.code(), Some(0 | 1)),
            "round {round}: {}",
            out.stderr_str()
        );
        assert_eq!(
            mode_of(&secret),
            0o600,
            "round {round} (-a: {archive}): the symlink's target was chmodded; stderr: {}",
            out.stderr_str()
        );
        assert_eq!(std::fs::read(&secret).unwrap(), b"root only\n");
    }
    eprintln!("{total_swaps} swaps over {ROUNDS} rounds");
});
