//! A failing source or destination, made by the kernel: files on an in-memory FUSE filesystem
//! (crates/ucopy-faultfs) whose reads fail past a "bad sector" or whose close reports a deferred
//! write error. Mounting FUSE needs root here; elsewhere these skip with the reason.

use std::path::Path;

use ucopy_faultfs::{FaultFs, Mounted};

use crate::harness::Backend;
use crate::tree::{pattern, TestTree};

fn mount_or_skip(fs: FaultFs, at: &Path) -> Option<Mounted> {
    match fs.mount(at) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("skipped: cannot mount the fault filesystem: {e}");
            None
        }
    }
}

/// A file whose second half sits on an unreadable sector: the kernel returns the first half as a
/// short read, then EIO. That is an error — never a complete-looking half file and exit 0.
const SIZE: usize = 921_600;
const BAD_FROM: u64 = 442_368;

backend_test!(short_read_then_eio_is_never_silent, |b| {
    require_root!();
    let t = TestTree::new();
    let mnt = t.dir("mnt");
    let data = pattern(7, SIZE);
    let fs = FaultFs::new()
        .file("src/ok.txt", b"fine\n".to_vec())
        .bad_sector("src/disk.img", data.clone(), BAD_FROM);
    let Some(_mounted) = mount_or_skip(fs, &mnt) else {
        return;
    };
    let dst = t.p("dst");
    let out = b.run(args!["--json", mnt.join("src"), &dst]);
    let json = out.json();
    let err = out.stderr_str();
    assert_eq!(std::fs::read(dst.join("ok.txt")).unwrap(), b"fine\n");
    assert!(err.contains("disk.img"), "the damaged file is named: {err}");
    if b == Backend::Splice {
        // splice(2) from FUSE goes through the page cache, and FUSE takes a short read there for
        // the end of the file (it shrinks the inode's size): the kernel itself reports a shorter
        // file, not an error. What ucopy owes then is to say the copy ended early.
        let warnings = json["warnings"].as_array().cloned().unwrap_or_default();
        assert!(
            warnings
                .iter()
                .any(|w| w.to_string().contains("ended early")),
            "{json}"
        );
        let copy = std::fs::read(dst.join("disk.img")).unwrap();
        assert_eq!(
            copy.as_slice(),
            &data[..copy.len()],
            "a prefix, never padding"
        );
        return;
    }
    out.assert_code(1);
    assert_eq!(json["errors"].as_array().map(Vec::len), Some(1), "{json}");
    assert!(
        err.contains("Input/output error"),
        "the cause is said: {err}"
    );
    assert!(
        !dst.join("disk.img").exists(),
        "the partial copy is removed, not left looking complete"
    );
});
