//! Rows 9–13: file contents: sizes around every boundary, truncation on overwrite, sparseness,
//! procfs-style files, and the kernel fast paths (reflink, cross-filesystem).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::compare::{assert_trees_equal, Compare};
use crate::fixtures::EDGE_SIZES;
use crate::harness::run;
use crate::mounts::{find_tool, Mount};
use crate::tree::{lstat, pattern, TestTree, GIB, KIB, MIB};

fn blocks(p: &Path) -> i64 {
    lstat(p)
        .unwrap_or_else(|| panic!("{} missing", p.display()))
        .st_blocks
}

// Row 9: sizes 0, 1, 4095, 4096, 4097, 64 KiB ± 1, 1 MiB + 1, 100 MiB (and the other edge
// sizes) byte-identical.
backend_test!(row09_file_sizes, |b| {
    let t = TestTree::in_shm();
    for (i, size) in EDGE_SIZES.iter().enumerate() {
        t.file_sized(format!("src/size_{size}"), *size, i as u64);
    }
    t.file_sized("src/size_100MiB", 100 * MIB, 99);
    t.stamp_times("src", 9);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 9: a file larger than 4 GiB with data at offsets 0, 2^32 - 1, 2^32 and at the end (sparse
// in the source so the test stays fast; 32-bit offset or length truncation shows at 2^32).
backend_test!(row09_over_4gib, |b| {
    let t = TestTree::new();
    let size = 4 * GIB + 64 * KIB + 3;
    let head = pattern(1, 4096);
    let tail = pattern(2, 1000);
    t.sparse(
        "src/big",
        size,
        &[
            (0, &head),
            (4 * GIB - 1, &[0xA5]),
            (4 * GIB, &[0x5A, 1, 2, 3]),
            (size - tail.len() as u64, &tail),
        ],
    );
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 10: overwriting a larger existing file truncates it to the new size (with and without -a).
backend_test!(row10_overwrite_truncates, |b| {
    for archive in [true, false] {
        let t = TestTree::new();
        t.file("src/f", "ten bytes!");
        t.file_sized("src/g", 5000, 1);
        t.file_sized("dst/src/f", MIB, 2);
        t.file_sized("dst/src/g", 70_000, 3);
        let mut a = args![t.p("src"), t.p("dst")];
        if archive {
            a.insert(0, "-a".into());
        }
        b.run(a).assert_success();
        assert_eq!(t.read("dst/src/f"), b"ten bytes!");
        assert_eq!(t.read("dst/src/g"), t.read("src/g"));
    }
});

// Row 11: a 1 TiB hole copies quickly (a copy that reads or writes the zeros would take hours
// and run out of space), stays sparse, and is identical.
backend_test!(row11_one_tib_hole, |b| {
    let t = TestTree::new();
    let size = 1024 * GIB + 4096;
    t.sparse("src/hole", size, &[(size - 4096, &pattern(3, 4096))]);
    let started = Instant::now();
    let out = b.run(args!["-a", t.p("src"), t.p("dst")]);
    let took = started.elapsed();
    out.assert_success();
    assert!(
        took < Duration::from_secs(20),
        "1 TiB hole took {took:?}: not copied sparsely"
    );
    let (s, d) = (blocks(&t.p("src/hole")), blocks(&t.p("dst/hole")));
    assert!(
        d <= s,
        "destination has {d} blocks, source {s}: holes were filled"
    );
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
});

// Row 11: holes at the start, at the end, 600 alternating data/hole runs, an all-hole file:
// identical, no more blocks than the source. A file of written zeros copies its content.
backend_test!(row11_sparse_layouts, |b| {
    let t = TestTree::new();
    let block = 4096u64;
    let data = pattern(4, block as usize);
    // 600 runs of data (4 KiB) each followed by a hole (12 KiB), after a 1 MiB leading hole,
    // ending in a 2 MiB hole.
    let runs: Vec<(u64, &[u8])> = (0..600).map(|i| (MIB + i * 4 * block, &data[..])).collect();
    t.sparse("src/runs", MIB + 600 * 4 * block + 2 * MIB, &runs);
    t.sparse("src/hole_at_start", 8 * MIB, &[(7 * MIB, &data)]);
    t.sparse("src/hole_at_end", 8 * MIB, &[(0, &data)]);
    t.sparse("src/all_hole", 64 * MIB, &[]);
    t.sparse(
        "src/unaligned",
        10 * MIB + 123,
        &[(3 * MIB + 17, b"unaligned data")],
    );
    t.file("src/zeros", vec![0u8; MIB as usize + 10]);
    t.stamp_times("src", 11);
    b.run(args!["-a", t.p("src"), t.p("dst")]).assert_success();
    assert_trees_equal(&t.p("src"), &t.p("dst"), &Compare::archive());
    for name in [
        "runs",
        "hole_at_start",
        "hole_at_end",
        "all_hole",
        "unaligned",
    ] {
        let (s, d) = (
            blocks(&t.p(format!("src/{name}"))),
            blocks(&t.p(format!("dst/{name}"))),
        );
        assert!(
            d <= s,
            "{name}: destination has {d} blocks, source {s}: not sparse"
        );
    }
});

// Row 12: a file that reports size 0 but has content (procfs) is copied in full when named.
backend_test!(row12_procfs_size_zero_with_content, |b| {
    let t = TestTree::new();
    for src in ["/proc/version", "/proc/sys/kernel/ostype"] {
        let expect = std::fs::read(src).unwrap();
        assert!(!expect.is_empty());
        assert_eq!(
            lstat(Path::new(src)).unwrap().st_size,
            0,
            "{src} no longer reports 0"
        );
        let name = src.replace('/', "_");
        b.run(args![src, t.p(&name)]).assert_success();
        assert_eq!(t.read(&name), expect, "{src} copied without -a");
        let name_a = format!("{name}.a");
        b.run(args!["-a", src, t.p(&name_a)]).assert_success();
        assert_eq!(t.read(&name_a), expect, "{src} copied with -a");
    }
});

// Row 13: correct across filesystems (copy_file_range gives EXDEV; tmpfs <-> ext4 both ways).
backend_test!(row13_across_filesystems, |b| {
    let shm = TestTree::in_shm();
    let disk = TestTree::new();
    for (from, to) in [(&shm, &disk), (&disk, &shm)] {
        from.file_sized("src/big", 20 * MIB + 5, 1);
        from.file_sized("src/small", 4097, 2);
        from.file("src/empty", "");
        from.sparse("src/sparse", 16 * MIB, &[(8 * MIB, b"in the middle")]);
        from.xattr("src/small", "user.cross", b"fs");
        from.stamp_times("src", 13);
        b.run(args!["-a", from.p("src"), to.p("dst")])
            .assert_success();
        assert_trees_equal(&from.p("src"), &to.p("dst"), &Compare::archive());
        std::fs::remove_dir_all(from.p("src")).unwrap();
        std::fs::remove_dir_all(to.p("dst")).unwrap();
    }
});

// Row 13: FICLONE where the filesystem supports it: on btrfs and xfs (loop-mounted) the copy
// of a large file shares its extents with the source.
backend_test!(row13_reflink_where_supported, |b| {
    require_root!();
    let Some(filefrag) = find_tool("filefrag") else {
        skip!("filefrag (e2fsprogs) not installed");
    };
    let mut tried = 0;
    for (fstype, mib) in [("btrfs", 256), ("xfs", 512)] {
        let m = match Mount::new_loop(fstype, mib) {
            Ok(m) => m,
            Err(why) => {
                eprintln!("{fstype}: {why}");
                continue;
            }
        };
        tried += 1;
        let src = m.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let data = pattern(13, 32 * MIB as usize);
        std::fs::write(src.join("big"), &data).unwrap();
        rustix::fs::sync();
        b.run(args!["-a", src, m.path().join("dst")])
            .assert_success();
        assert_trees_equal(&src, &m.path().join("dst"), &Compare::archive());
        let mut c = Command::new(&filefrag);
        c.arg("-v").arg(m.path().join("dst/big"));
        let out = run(c, Duration::from_secs(30));
        assert!(out.status.success(), "{out}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains("shared"),
            "{fstype}: the copy's extents are not shared with the source (no reflink):\n{text}"
        );
    }
    if tried == 0 {
        skip!("neither btrfs nor xfs could be loop-mounted");
    }
});
