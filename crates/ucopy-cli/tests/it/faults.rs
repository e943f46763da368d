//! A failing source or destination, made by the kernel: files on an in-memory FUSE filesystem
//! (crates/ucopy-faultfs) whose reads fail past a "bad sector" or whose close reports a deferred
//! write error. Mounting FUSE needs root here; elsewhere these skip with the reason.

use std::path::Path;

use ucopy_faultfs::{FaultFs, Mounted};

use crate::harness::Backend;
use crate::tree::{pattern, TestTree};

/// Mounts `fs`, or ends the test as skipped with the reason (the runner reports it ignored).
fn mount_or_skip(fs: FaultFs, at: &Path) -> Option<Mounted> {
    match fs.mount(at) {
        Ok(m) => Some(m),
        Err(e) => skip!("cannot mount the fault filesystem: {e}"),
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
    // The source is what failed (issue 8 item 12): the line names it, as a read.
    let src_img = mnt.join("src/disk.img");
    assert!(
        err.contains(&format!("cannot read '{}'", src_img.display())),
        "a source EIO is the source's, not the destination's: {err}"
    );
    assert!(
        !dst.join("disk.img").exists(),
        "the partial copy is removed, not left looking complete"
    );
});

// The same with the copy on the same filesystem as the source (where copy_file_range could move
// the data in the kernel and fail without saying which side): the source is still blamed.
backend_test!(same_filesystem_source_eio_names_the_source, |b| {
    require_root!();
    let t = TestTree::new();
    let mnt = t.dir("mnt");
    let data = pattern(9, SIZE);
    let fs = FaultFs::new().bad_sector("src/disk.img", data, BAD_FROM);
    let Some(_mounted) = mount_or_skip(fs, &mnt) else {
        return;
    };
    let out = b.run(args![mnt.join("src"), mnt.join("dst")]);
    let err = out.stderr_str();
    let src_img = mnt.join("src/disk.img");
    assert!(!err.contains("cannot write"), "{out}");
    if out.code() == Some(0) {
        // Within one FUSE filesystem the kernel copies through the page cache, where FUSE takes
        // the short read for the end of the file (see above): a warning naming the source.
        assert!(
            err.contains(&format!("'{}': ended early", src_img.display())),
            "{out}"
        );
        return;
    }
    out.assert_code(1);
    assert!(
        err.contains(&format!("cannot read '{}'", src_img.display())),
        "a source EIO is the source's, not the destination's:\n{out}"
    );
});
