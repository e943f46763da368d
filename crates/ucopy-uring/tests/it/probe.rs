//! The probe against the real kernel.

use ucopy_core::{JobOutcome, Options};
use ucopy_uring::{Mode, Probe, Tuning, UringFactory};

use crate::*;

const SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";

/// Puts the old value of io_uring_disabled back on drop, also when the test panics.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        std::fs::write(SYSCTL, &self.0).expect("restore io_uring_disabled");
    }
}

test!(disabled_sysctl_makes_it_unusable);
fn disabled_sysctl_makes_it_unusable() {
    if !is_root() {
        skip!("changing {SYSCTL} needs root");
    }
    let Ok(old) = std::fs::read_to_string(SYSCTL) else {
        skip!("no {SYSCTL} (kernel before 6.6)");
    };
    // Nothing else in this process may set up a ring meanwhile.
    let _g = exclusive();
    let probe = {
        let _restore = Restore(old.trim().to_owned());
        std::fs::write(SYSCTL, "2").expect("set io_uring_disabled");
        Probe::detect()
    };
    assert_eq!(std::fs::read_to_string(SYSCTL).unwrap().trim(), old.trim());
    assert_eq!(probe.io_uring_disabled, Some(2));
    let why = probe.usable().expect_err("must be unusable");
    assert!(why.contains("io_uring_disabled = 2"), "{why}");
    for mode in Mode::ALL {
        assert!(probe.check(mode).is_err());
    }
    assert!(probe.to_string().contains("unusable"));
}

test!(verdicts_match_what_the_executors_do);
/// The probe's verdict per mode is what actually happens: a mode it allows sets up and copies
/// a file byte for byte; a mode it refuses fails to set up, for the reason it gave.
fn verdicts_match_what_the_executors_do() {
    let _g = shared();
    let probe = Probe::cached();
    for mode in Mode::ALL {
        let made = UringFactory::new(mode).try_make(&Options::default());
        match (probe.check(mode), made) {
            (Ok(()), Ok(_)) => {
                let t = Trees::new();
                let data = t.file("f", 200_000);
                let out = run(
                    mode,
                    &Tuning::default(),
                    vec![t.job("f")],
                    &Options::default(),
                );
                assert!(
                    matches!(outcome_of(&out, "f"), JobOutcome::Copied { bytes: 200_000 }),
                    "{mode:?}: {:?}",
                    outcome_of(&out, "f")
                );
                assert!(std::fs::read(t.dst_path("f")).unwrap() == data, "{mode:?}");
            }
            (Err(why), Err(e)) => {
                assert!(
                    e.to_string().contains(&why),
                    "{mode:?}: '{e}' lacks '{why}'"
                );
            }
            (Ok(()), Err(e)) => panic!("probe allows {mode:?} but set-up fails: {e}"),
            (Err(why), Ok(_)) => panic!("probe refuses {mode:?} ({why}) but an executor was made"),
        }
    }
}

test!(probe_describes_this_kernel);
/// The probe describes this kernel: its release, every opcode an executor uses (once each),
/// and, when io_uring works at all, the opcodes every executor needs.
fn probe_describes_this_kernel() {
    let _g = shared();
    let probe = Probe::detect();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(probe.kernel.as_deref(), Some(release.trim()));
    let names: Vec<&str> = probe.opcodes.iter().map(|o| o.name).collect();
    for name in [
        "OPENAT",
        "READ",
        "WRITE",
        "READ_FIXED",
        "WRITE_FIXED",
        "SPLICE",
        "CLOSE",
    ] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} in {names:?}"
        );
    }
    match probe.usable() {
        Ok(()) => {
            for needed in ["OPENAT", "CLOSE"] {
                assert!(
                    probe
                        .opcodes
                        .iter()
                        .any(|o| o.name == needed && o.supported),
                    "usable without {needed}"
                );
            }
            assert!(probe.setup_failure.is_none());
        }
        Err(why) => {
            assert!(!why.is_empty());
            for mode in Mode::ALL {
                assert!(
                    probe.check(mode).is_err(),
                    "{mode:?} allowed while unusable"
                );
            }
        }
    }
    let text = probe.to_string();
    for o in &probe.opcodes {
        assert!(text.contains(o.name), "{} missing from:\n{text}", o.name);
    }
}
