//! Failing destinations, descriptor accounting, low RLIMIT_NOFILE.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use tempfile::TempDir;
use ucopy_core::{JobOutcome, Op, Options};
use ucopy_test_support::mount::Mount;
use ucopy_uring::Mode;

use crate::*;

test!(full_destination_leaves_no_partial_file);
fn full_destination_leaves_no_partial_file() {
    let _g = shared();
    for mode in Mode::ALL {
        if !uring_available(mode) {
            continue;
        }
        for (label, tuning) in tunings() {
            let fs = match Mount::new_tmpfs("1m") {
                Ok(fs) => fs,
                Err(why) => skip!("{why}"),
            };
            let dst = TempDir::new_in(fs.path()).unwrap();
            let t = Trees::with_dst(dst);
            let fits = t.file("fits", 10_000);
            t.file("toolarge", 3 << 20);
            let options = Options::default();
            let out = run(
                mode,
                &tuning,
                vec![t.job("fits"), t.job("toolarge")],
                &options,
            );
            match outcome_of(&out, "toolarge") {
                JobOutcome::Failed(e) => {
                    assert!(matches!(e.op, Op::Write), "{mode:?}/{label}: {e}");
                    assert!(e.is_fatal(), "{mode:?}/{label}: ENOSPC expected: {e}");
                }
                o => panic!("{mode:?}/{label}: {o:?}"),
            }
            // ENOSPC stops the run (the shared cancel flag): the other file is either complete
            // or interrupted and absent, never partial.
            assert!(
                options.cancel.is_cancelled(),
                "{mode:?}/{label}: ENOSPC must stop the run"
            );
            match outcome_of(&out, "fits") {
                JobOutcome::Copied { .. } => {
                    assert!(std::fs::read(t.dst_path("fits")).unwrap() == fits);
                    assert_eq!(
                        t.dst_names(),
                        ["fits"],
                        "{mode:?}/{label}: partial file left"
                    );
                }
                JobOutcome::Failed(e) if e.op == Op::Interrupted => {
                    assert!(
                        t.dst_names().is_empty(),
                        "{mode:?}/{label}: partial file left"
                    );
                }
                o => panic!("{mode:?}/{label}: {o:?}"),
            }
            // The outcomes hold the jobs, which hold the directories open.
            drop(out);
            drop(t);
            drop(fs);
        }
    }
}

test!(no_descriptor_leaks);
fn no_descriptor_leaks() {
    let _g = exclusive();
    for mode in Mode::ALL {
        if !uring_available(mode) {
            continue;
        }
        for (label, tuning) in tunings() {
            let t = Trees::new();
            let mut jobs = Vec::new();
            for i in 0..20 {
                let name = format!("l{i}");
                t.file(&name, i * 5000);
                jobs.push(t.job(&name));
            }
            t.file("gone", 10);
            jobs.push(t.job("gone"));
            std::fs::remove_file(t.src_path("gone")).unwrap();
            t.file("conflict", 10);
            std::fs::create_dir(t.dst_path("conflict")).unwrap();
            jobs.push(t.job("conflict"));
            t.file("exists", 10);
            std::fs::write(t.dst_path("exists"), b"old contents").unwrap();
            jobs.push(t.job("exists"));
            let before = open_fds();
            let out = run(mode, &tuning, jobs, &Options::default());
            drop(out);
            assert_eq!(open_fds(), before, "{mode:?}/{label}: descriptors leaked");
            // And with -a (descriptors installed from direct slots).
            let jobs: Vec<_> = (0..20).map(|i| t.job(&format!("l{i}"))).collect();
            let options = Options::builder().archive(true).build();
            let before = open_fds();
            drop(run(mode, &tuning, jobs, &options));
            assert_eq!(
                open_fds(),
                before,
                "{mode:?}/{label} -a: descriptors leaked"
            );
        }
    }
}

/// Restores RLIMIT_NOFILE on drop (even on panic).
struct NofileGuard(Rlimit);

impl Drop for NofileGuard {
    fn drop(&mut self) {
        let _ = setrlimit(Resource::Nofile, self.0);
    }
}

test!(few_descriptors_still_copy);
fn few_descriptors_still_copy() {
    let _g = exclusive();
    for mode in Mode::ALL {
        if !uring_available(mode) {
            continue;
        }
        let t = Trees::new();
        let mut jobs = Vec::new();
        let mut expected = Vec::new();
        for i in 0..40 {
            let name = format!("n{i}");
            expected.push((name.clone(), t.file(&name, 3000 + i)));
            jobs.push(t.job(&name));
        }
        let old = getrlimit(Resource::Nofile);
        let guard = NofileGuard(old);
        let headroom = 24;
        let limit = open_fds() as u64 + headroom;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(limit),
                maximum: old.maximum,
            },
        )
        .unwrap();
        // The executor is made for 64 files in flight, but the driver shrinks batches to what
        // the limit allows at 4 descriptors a job (the ring itself takes one more).
        let options = Options::builder().queue_depth(64).build();
        let factory = UringFactory::new(mode);
        let made = factory.make(&options);
        if mode == Mode::Splice && limit < 128 {
            // Below 128 descriptors splice's pipes would starve the opens: the executor refuses
            // and the driver copies with plain system calls (lib.rs, MIN_NOFILE_SPLICE).
            assert!(
                made.is_err(),
                "splice must refuse under {limit} descriptors"
            );
            continue;
        }
        let mut exec = made.expect("make executor under a low limit");
        let batch = (headroom as usize - 1) / 4;
        let mut out = Vec::new();
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let b: Vec<_> = jobs.by_ref().take(batch).collect();
            out.extend(exec.copy_batch(b, &options));
        }
        drop(exec);
        drop(guard);
        for (name, data) in &expected {
            assert!(
                matches!(outcome_of(&out, name), JobOutcome::Copied { .. }),
                "{mode:?}: {name}: {:?}",
                outcome_of(&out, name)
            );
            assert!(std::fs::read(t.dst_path(name)).unwrap() == *data);
        }
    }
}
