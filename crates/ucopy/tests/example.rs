//! Runs `examples/copy_tree.rs` (compiled into this test) on a small tree, once per forced
//! backend this kernel can run, and checks both copies equal the source.

#[path = "../examples/copy_tree.rs"]
mod copy_tree;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use ucopy::Backend;

fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::write(root.join("top.txt"), b"top").unwrap();
    fs::write(root.join("a/b/data.bin"), vec![7u8; 300_000]).unwrap();
    fs::write(root.join("a/empty"), b"").unwrap();
    fs::set_permissions(root.join("a/b/data.bin"), fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("b/data.bin", root.join("a/link")).unwrap();
}

fn assert_same(src: &Path, dst: &Path) {
    let s = fs::symlink_metadata(src).unwrap();
    let d = fs::symlink_metadata(dst).unwrap();
    assert_eq!(s.mode(), d.mode(), "{}", dst.display());
    if s.is_dir() {
        let mut names: Vec<_> = fs::read_dir(src)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let mut got: Vec<_> = fs::read_dir(dst)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        got.sort();
        assert_eq!(names, got, "{}", dst.display());
        for n in names {
            assert_same(&src.join(&n), &dst.join(&n));
        }
    } else if s.file_type().is_symlink() {
        assert_eq!(fs::read_link(src).unwrap(), fs::read_link(dst).unwrap());
    } else {
        assert_eq!(
            fs::read(src).unwrap(),
            fs::read(dst).unwrap(),
            "{}",
            dst.display()
        );
        assert_eq!(s.mtime_nsec(), d.mtime_nsec(), "{}", dst.display());
    }
}

#[test]
fn example_copies_with_auto_and_each_forced_backend() {
    let mut ran = 0;
    for forced in [Backend::Std, Backend::Splice, Backend::Rw, Backend::Fixed] {
        if let Err(why) = forced.check() {
            eprintln!("{forced} not run: {why}");
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        make_tree(&src);
        let dst = tmp.path().join("out");
        fs::create_dir(&dst).unwrap();
        let runs = copy_tree::copy_both_ways(&src, &dst, forced).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].0.backend(), forced);
        assert_ne!(runs[0].0.backend(), Backend::Auto);
        for (selection, report) in &runs {
            assert!(report.is_success(), "{selection:?}: {:?}", report.errors);
            assert_eq!(report.files, 3, "{selection:?}");
        }
        assert_same(&src, &dst.join("auto"));
        assert_same(&src, &dst.join(forced.name()));
        ran += 1;
    }
    assert!(ran >= 1, "std always runs");
}
