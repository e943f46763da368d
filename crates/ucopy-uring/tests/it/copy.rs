//! Contents, overwrites, vanished sources, metadata: every mode × every tuning.

use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use rustix::fs::{self as rfs, Timespec, Timestamps};
use ucopy_core::{JobOrigin, JobOutcome, Op, Options};
use ucopy_uring::Mode;

use crate::*;

/// One test per mode × tuning, `<test>::<mode>::<tuning>` (e.g.
/// `sizes_copy_byte_exact::rw::small_chunks`), so one failing combination hides none of the others
/// and `cargo test rw::small_chunks` runs one knob set everywhere.
macro_rules! per_combination {
    (fn $name:ident($mode:ident, $label:ident, $tuning:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub(super) fn body($mode: Mode, $label: &str, $tuning: &Tuning) $body

            per_combination!(@mode splice Splice);
            per_combination!(@mode rw Rw);
            per_combination!(@mode fixed Fixed);
        }
    };
    (@mode $m:ident $M:ident) => {
        mod $m {
            per_combination!(@tunings $M: default small_chunks no_skip_plain_ring in_memory cold);
        }
    };
    (@tunings $M:ident: $($t:ident)*) => {
        $(
            test!($t);
            fn $t() {
                $crate::copy::one(super::body, ucopy_uring::Mode::$M, stringify!($t));
            }
        )*
    };
}

/// Runs `body` for `mode` with the tuning the test's name spells (`small_chunks` → `small-chunks`),
/// when the mode can run here.
fn one(body: fn(Mode, &str, &Tuning), mode: Mode, tuning_ident: &str) {
    let _g = shared();
    if let Ok(only) = std::env::var("UCOPY_TEST_MODE") {
        if only != mode.name() {
            skip!("UCOPY_TEST_MODE={only}");
        }
    }
    // A mode the kernel cannot run is recorded as a skipped part: the test is reported ignored.
    if !uring_available(mode) {
        return;
    }
    let label = tuning_ident.replace('_', "-");
    body(mode, &label, &tuning(&label));
}

/// Copies one file of every edge size, each job made by `job` (planned with or without a stat),
/// and checks each outcome, the size the job comes back with, the bytes and the mode.
fn every_edge_size(mode: Mode, label: &str, tuning: &Tuning, job: fn(&Trees, &str) -> FileJob) {
    let t = Trees::new();
    let mut expected = Vec::new();
    let mut jobs = Vec::new();
    for size in ucopy_test_support::EDGE_SIZES.map(|s| s as usize) {
        let name = format!("f{size}");
        expected.push((name.clone(), t.file(&name, size)));
        jobs.push(job(&t, &name));
    }
    let out = run(mode, tuning, jobs, &Options::default());
    for (name, data) in &expected {
        match outcome_of(&out, name) {
            JobOutcome::Copied { bytes } => {
                assert_eq!(*bytes, data.len() as u64, "{mode:?}/{label}: {name} bytes")
            }
            o => panic!("{mode:?}/{label}: {name}: {o:?}"),
        }
        let (job, _) = out
            .iter()
            .find(|(j, _)| j.src_name.to_bytes() == name.as_bytes())
            .unwrap();
        assert_eq!(
            job.stat.size,
            data.len() as u64,
            "{mode:?}/{label}: {name} job stat"
        );
        let got = std::fs::read(t.dst_path(name)).unwrap();
        assert!(got == *data, "{mode:?}/{label}: {name} content differs");
        // Without -a: the source's mode less the umask (0644 here).
        let m = std::fs::metadata(t.dst_path(name)).unwrap().mode() & 0o7777;
        assert_eq!(m, 0o644, "{mode:?}/{label}: {name} mode");
    }
}

per_combination! {
    fn sizes_copy_byte_exact(mode, label, tuning) {
        every_edge_size(mode, label, tuning, Trees::job);
    }
}

per_combination! {
    fn unstatted_jobs_of_every_size_copy_byte_exact(mode, label, tuning) {
        // Planned without a stat (as without -a), every file looks empty until it is open: the
        // ones larger than the ring takes are handed to the std path with their open source.
        every_edge_size(mode, label, tuning, Trees::unstatted_job);
    }
}

per_combination! {
    fn more_files_than_one_group(mode, label, tuning) {
        let t = Trees::new();
        let mut jobs = Vec::new();
        let mut expected = Vec::new();
        for i in 0..37 {
            let name = format!("g{i}");
            expected.push((name.clone(), t.file(&name, (i * 997) % 9000)));
            jobs.push(t.job(&name));
        }
        let options = Options::builder().queue_depth(5).build();
        let out = run(mode, tuning, jobs, &options);
        for (name, data) in &expected {
            assert!(
                matches!(outcome_of(&out, name), JobOutcome::Copied { .. }),
                "{mode:?}/{label}: {name}"
            );
            assert!(std::fs::read(t.dst_path(name)).unwrap() == *data);
        }
    }
}

per_combination! {
    fn overwrites_existing_destinations(mode, label, tuning) {
        let t = Trees::new();
        let small = t.file("small", 10);
        let big = t.file("big", 70_000);
        std::fs::write(t.dst_path("small"), vec![b'x'; 100_000]).unwrap();
        std::fs::write(t.dst_path("big"), b"old").unwrap();
        // A symlink at the destination is replaced, never written through.
        t.file("link", 5);
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), t.dst_path("link")).unwrap();
        let jobs = vec![t.job("small"), t.job("big"), t.job("link")];
        let out = run(mode, tuning, jobs, &Options::default());
        for name in ["small", "big", "link"] {
            assert!(
                matches!(outcome_of(&out, name), JobOutcome::Copied { .. }),
                "{mode:?}/{label}: {name}: {:?}",
                outcome_of(&out, name)
            );
        }
        assert!(std::fs::read(t.dst_path("small")).unwrap() == small);
        assert!(std::fs::read(t.dst_path("big")).unwrap() == big);
        assert!(!std::fs::symlink_metadata(t.dst_path("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(outside.path()).unwrap().len(), 0);
    }
}

per_combination! {
    fn no_clobber_and_directory_conflict(mode, label, tuning) {
        let t = Trees::new();
        t.file("keep", 1000);
        t.file("dir", 1000);
        std::fs::write(t.dst_path("keep"), b"mine").unwrap();
        std::fs::create_dir(t.dst_path("dir")).unwrap();
        let options = Options::builder().no_clobber(true).build();
        let out = run(mode, tuning, vec![t.job("keep")], &options);
        assert!(
            matches!(outcome_of(&out, "keep"), JobOutcome::Skipped),
            "{mode:?}/{label}"
        );
        assert_eq!(std::fs::read(t.dst_path("keep")).unwrap(), b"mine");
        let out = run(mode, tuning, vec![t.job("dir")], &Options::default());
        match outcome_of(&out, "dir") {
            JobOutcome::Failed(e) => assert_eq!(e.op, Op::Conflict, "{mode:?}/{label}"),
            o => panic!("{mode:?}/{label}: {o:?}"),
        }
        assert!(std::fs::metadata(t.dst_path("dir")).unwrap().is_dir());
    }
}

per_combination! {
    fn vanished_source_leaves_nothing(mode, label, tuning) {
        let t = Trees::new();
        t.file("gone", 5000);
        let data = t.file("stays", 5000);
        let jobs = vec![t.job("gone"), t.job("stays")];
        std::fs::remove_file(t.src_path("gone")).unwrap();
        let out = run(mode, tuning, jobs, &Options::default());
        match outcome_of(&out, "gone") {
            JobOutcome::Vanished(e) => assert!(e.to_string().contains("gone")),
            o => panic!("{mode:?}/{label}: {o:?}"),
        }
        assert!(std::fs::read(t.dst_path("stays")).unwrap() == data);
        assert_eq!(t.dst_names(), ["stays"], "{mode:?}/{label}");
    }
}

per_combination! {
    fn changed_size_copies_what_is_there(mode, label, tuning) {
        let t = Trees::new();
        t.file("shrinks", 200_000);
        t.file("grows", 100);
        let jobs = vec![t.job("shrinks"), t.job("grows")];
        let shrunk = pattern("x", 777);
        std::fs::write(t.src_path("shrinks"), &shrunk).unwrap();
        let grown = pattern("y", 90_000);
        std::fs::write(t.src_path("grows"), &grown).unwrap();
        let out = run(mode, tuning, jobs, &Options::default());
        assert!(matches!(
            outcome_of(&out, "shrinks"),
            JobOutcome::Copied { bytes: 777 }
        ));
        assert!(
            std::fs::read(t.dst_path("shrinks")).unwrap() == shrunk,
            "{mode:?}/{label}"
        );
        assert!(matches!(
            outcome_of(&out, "grows"),
            JobOutcome::Copied { .. }
        ));
        assert!(
            std::fs::read(t.dst_path("grows")).unwrap() == grown,
            "{mode:?}/{label}"
        );
    }
}

per_combination! {
    fn not_a_regular_file_any_more(mode, label, tuning) {
        let t = Trees::new();
        t.file("became-dir", 10);
        t.file("became-link", 10);
        let jobs = vec![t.job("became-dir"), t.job("became-link")];
        std::fs::remove_file(t.src_path("became-dir")).unwrap();
        std::fs::create_dir(t.src_path("became-dir")).unwrap();
        std::fs::remove_file(t.src_path("became-link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.src_path("became-link")).unwrap();
        let out = run(mode, tuning, jobs, &Options::default());
        for name in ["became-dir", "became-link"] {
            assert!(
                matches!(outcome_of(&out, name), JobOutcome::Failed(_)),
                "{mode:?}/{label}: {name}: {:?}",
                outcome_of(&out, name)
            );
        }
        assert!(
            t.dst_names().is_empty(),
            "{mode:?}/{label}: {:?}",
            t.dst_names()
        );
    }
}

per_combination! {
    fn zero_size_with_content_is_read_to_the_end(mode, label, tuning) {
        let t = Trees::new();
        t.file("limits", 0);
        let mut job = t.job("limits");
        let proc_dir = open_dir(Path::new("/proc/self"));
        let st = rfs::statat(proc_dir.as_fd(), "limits", AtFlags::empty()).unwrap();
        job.src_dir = proc_dir;
        job.stat = Stat::from(&st);
        assert_eq!(job.stat.size, 0);
        let out = run(mode, tuning, vec![job], &Options::default());
        match &out[0].1 {
            JobOutcome::Copied { bytes } => assert!(*bytes > 100, "{mode:?}/{label}: {bytes}"),
            o => panic!("{mode:?}/{label}: {o:?}"),
        }
        let got = std::fs::read_to_string(t.dst_path("limits")).unwrap();
        assert!(got.contains("Max open files"), "{mode:?}/{label}");
    }
}

per_combination! {
    fn sparse_file_stays_sparse(mode, label, tuning) {
        let t = Trees::new();
        let f = std::fs::File::create(t.src_path("sparse")).unwrap();
        f.set_len(8 << 20).unwrap();
        std::os::unix::fs::FileExt::write_at(&f, b"end", (8 << 20) - 3).unwrap();
        drop(f);
        let out = run(mode, tuning, vec![t.job("sparse")], &Options::default());
        // (The std path counts the data it copied, not the holes.)
        assert!(
            matches!(out[0].1, JobOutcome::Copied { bytes } if bytes <= 8 << 20),
            "{mode:?}/{label}: {:?}",
            out[0].1
        );
        let src = std::fs::metadata(t.src_path("sparse")).unwrap();
        let dst = std::fs::metadata(t.dst_path("sparse")).unwrap();
        assert_eq!(dst.len(), src.len());
        assert!(
            dst.blocks() <= src.blocks() + 8,
            "{mode:?}/{label}: not sparse"
        );
        let data = std::fs::read(t.dst_path("sparse")).unwrap();
        assert_eq!(&data[data.len() - 3..], b"end");
        assert!(data[..data.len() - 3].iter().all(|&b| b == 0));
    }
}

per_combination! {
    fn archive_keeps_mode_times_owner_xattrs(mode, label, tuning) {
        let t = Trees::new();
        for (name, size) in [("a0", 0), ("a1", 3000), ("a2", 300_000)] {
            t.file(name, size);
            let p = t.src_path(name);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o4751)).unwrap();
            let fd = rfs::open(&p, OFlags::RDONLY, rfs::Mode::empty()).unwrap();
            let _ = rfs::fsetxattr(&fd, "user.test", b"value", rfs::XattrFlags::empty());
            if is_root() {
                rfs::fchown(
                    &fd,
                    Some(rustix::process::Uid::from_raw(1234)),
                    Some(rustix::process::Gid::from_raw(5678)),
                )
                .unwrap();
                // chown cleared setuid.
                rfs::fchmod(&fd, rfs::Mode::from_raw_mode(0o4751)).unwrap();
            }
            let ts = Timestamps {
                last_access: Timespec {
                    tv_sec: -100,
                    tv_nsec: 5,
                },
                last_modification: Timespec {
                    tv_sec: 4_000_000_000,
                    tv_nsec: 123_456_789,
                },
            };
            rfs::futimens(&fd, &ts).unwrap();
        }
        let options = Options::builder().archive(true).build();
        let jobs = vec![t.job("a0"), t.job("a1"), t.job("a2")];
        let out = run(mode, tuning, jobs, &options);
        for name in ["a0", "a1", "a2"] {
            assert!(
                matches!(outcome_of(&out, name), JobOutcome::Copied { .. }),
                "{mode:?}/{label}: {name}: {:?}",
                outcome_of(&out, name)
            );
            let s = std::fs::metadata(t.src_path(name)).unwrap();
            let d = std::fs::metadata(t.dst_path(name)).unwrap();
            assert_eq!(d.mode(), s.mode(), "{mode:?}/{label}: {name} mode");
            assert_eq!((d.mtime(), d.mtime_nsec()), (4_000_000_000, 123_456_789));
            if is_root() {
                assert_eq!((d.uid(), d.gid()), (1234, 5678));
            }
            // Differential: the same xattrs as the std path's copy (which owns the rule).
            assert_eq!(
                xattr(&t.dst_path(name)),
                xattr(&reference(&t, name, &options))
            );
            assert!(
                std::fs::read(t.dst_path(name)).unwrap()
                    == std::fs::read(t.src_path(name)).unwrap()
            );
        }
    }
}

/// Copies `name` with the std path (`ucopy_fs::copy_job`) into a third directory.
fn reference(t: &Trees, name: &str, options: &Options) -> PathBuf {
    let dir = t.src.path().join("reference");
    let _ = std::fs::create_dir(&dir);
    let mut job = t.job(name);
    job.dst_dir = open_dir(&dir);
    job.origin = JobOrigin::Paths {
        path: t.src_path(name),
        dst_path: dir.join(name),
    };
    let mut paths = ucopy_fs::KernelPaths::default();
    let out = ucopy_fs::copy_job(&mut job, options, &mut paths, 0);
    assert!(
        matches!(out, JobOutcome::Copied { .. }),
        "std path: {out:?}"
    );
    job.dst_path()
}

fn xattr(p: &Path) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64];
    rfs::getxattr(p, "user.test", &mut buf)
        .ok()
        .map(|n| buf[..n].to_vec())
}

per_combination! {
    fn cancelled_before_start_touches_nothing(mode, label, tuning) {
        let t = Trees::new();
        t.file("c", 100);
        let options = Options::default();
        options.cancel.cancel();
        let out = run(mode, tuning, vec![t.job("c")], &options);
        match &out[0].1 {
            JobOutcome::Failed(e) => assert_eq!(e.op, Op::Interrupted, "{mode:?}/{label}"),
            o => panic!("{mode:?}/{label}: {o:?}"),
        }
        assert!(t.dst_names().is_empty());
    }
}

test!(executor_moves_between_threads);
fn executor_moves_between_threads() {
    let _g = shared();
    for mode in Mode::ALL {
        if !uring_available(mode) {
            continue;
        }
        let t = Trees::new();
        let factory = UringFactory::new(mode);
        let options = Options::default();
        let mut exec = make_executor(&factory, &options);
        for round in 0..3 {
            let name = format!("m{round}");
            let data = t.file(&name, 10_000 + round);
            let job = t.job(&name);
            let options = options.clone();
            exec = std::thread::scope(|s| {
                s.spawn(move || {
                    let out = exec.copy_batch(vec![job], &options);
                    assert!(
                        matches!(out[0].1, JobOutcome::Copied { .. }),
                        "{:?}",
                        out[0].1
                    );
                    exec
                })
                .join()
                .unwrap()
            });
            assert!(
                std::fs::read(t.dst_path(&name)).unwrap() == data,
                "{mode:?} round {round}"
            );
        }
    }
}

test!(direct_reads_fill_finished_files_buffers);
/// With direct reads a file larger than its buffer also reads its next chunks into the buffers
/// of the group's finished files (`exec/lend.rs`): small files finish in the first wave, and the
/// large ones then move several chunks a wave. Sizes on and off block and chunk boundaries; a
/// group larger than the queue depth's batch so that later groups lend too.
fn direct_reads_fill_finished_files_buffers() {
    let _g = shared();
    for mode in modes() {
        let tuning = Tuning {
            buffer_size: 8192,
            ..Tuning::cold()
        };
        let t = Trees::new();
        let mut expected = Vec::new();
        let mut jobs = Vec::new();
        let large = [8193, 65_536, 100_003, 300_000, 16_384, 24_577];
        for i in 0..40 {
            let name = format!("d{i}");
            let size = if i % 7 == 3 {
                large[(i / 7) % large.len()]
            } else {
                (i * 131) % 5000
            };
            expected.push((name.clone(), t.file(&name, size)));
            jobs.push(if i % 2 == 0 {
                t.job(&name)
            } else {
                t.unstatted_job(&name)
            });
        }
        let options = Options::builder().queue_depth(16).build();
        let out = run(mode, &tuning, jobs, &options);
        for (name, data) in &expected {
            match outcome_of(&out, name) {
                JobOutcome::Copied { bytes } => {
                    assert_eq!(*bytes, data.len() as u64, "{mode:?}: {name} bytes")
                }
                o => panic!("{mode:?}: {name}: {o:?}"),
            }
            let got = std::fs::read(t.dst_path(name)).unwrap();
            assert!(got == *data, "{mode:?}: {name} content differs");
        }
    }
}
