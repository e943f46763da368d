//! The facade from a downstream crate's side: runs `examples/copy_tree.rs` (compiled into this
//! test) on a small tree, once per forced backend this kernel can run, and checks both copies
//! equal the source; and checks that a `Copier`'s worker threads copy with descriptor tables of
//! their own (crates/ucopy-fs/src/driver/fd_tables.rs).

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

/// The tests of this binary run one at a time: the descriptor-table check below looks at every
/// worker thread of the process, and the other test's copies have workers too (caught between
/// their start and their own table, they would look shared).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn example_copies_with_auto_and_each_forced_backend() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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

/// Looks, from the driver thread (progress events come from there), at the descriptor table of
/// every worker thread: whether `marker`, open in the process's table, is open in the worker's.
struct TableWatch {
    marker: (i32, u64),
    events: std::sync::atomic::AtomicUsize,
    /// Worker thread id → whether its table held the marker, at the latest look (late in the
    /// copy, when every worker has long taken a table of its own).
    last_seen_shared: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl ucopy::Progress for TableWatch {
    fn copied(&self, _kind: ucopy::Kind, _paths: ucopy::CopiedPaths<'_>, _bytes: u64) {
        if self
            .events
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 50
            != 0
        {
            return;
        }
        let (fd, ino) = self.marker;
        let mut latest = std::collections::HashMap::new();
        for task in fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let comm = fs::read_to_string(task.join("comm")).unwrap_or_default();
            if comm.trim() != "ucopy-worker" {
                continue;
            }
            let shared = fs::metadata(task.join(format!("fd/{fd}"))).is_ok_and(|m| m.ino() == ino);
            let tid = task.file_name().unwrap().to_string_lossy().into_owned();
            latest.insert(tid, shared);
        }
        if !latest.is_empty() {
            *self.last_seen_shared.lock().unwrap() = latest;
        }
    }
}

#[test]
fn workers_copy_with_descriptor_tables_of_their_own() {
    use std::os::fd::AsRawFd;
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for d in 0..20 {
        fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
        for f in 0..100 {
            fs::write(src.join(format!("d{d}/f{f}")), b"x").unwrap();
        }
    }
    let marker = fs::File::open(tmp.path()).unwrap();
    let watch = TableWatch {
        marker: (marker.as_raw_fd(), marker.metadata().unwrap().ino()),
        events: Default::default(),
        last_seen_shared: Default::default(),
    };
    let report = ucopy::Copier::new(ucopy::Options::default())
        .backend(Backend::Std)
        .threads(2)
        .progress(&watch)
        .run(std::slice::from_ref(&src), &tmp.path().join("dst"))
        .unwrap();
    assert!(report.is_success(), "{:?}", report.errors);
    assert_eq!(report.files, 2000);
    let seen = watch.last_seen_shared.into_inner().unwrap();
    assert!(
        !seen.is_empty(),
        "no worker thread was seen during the copy"
    );
    assert!(
        seen.values().all(|shared| !shared),
        "a worker still shared the process's descriptor table: {seen:?}"
    );
}
