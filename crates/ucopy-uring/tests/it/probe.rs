//! The probe against the real kernel.

use ucopy_uring::{Mode, Probe};

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

test!(probe_lists_what_the_executors_need);
fn probe_lists_what_the_executors_need() {
    let _g = shared();
    let probe = Probe::detect();
    if let Err(why) = probe.usable() {
        assert!(!uring_available(Mode::Rw));
        skip!("{why}");
    }
    let text = probe.to_string();
    for name in [
        "OPENAT",
        "READ",
        "WRITE",
        "READ_FIXED",
        "WRITE_FIXED",
        "SPLICE",
        "CLOSE",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let json = serde_json_like(&probe);
    assert!(json.contains("\"opcodes\""));
}

/// The probe derives `Serialize`; check it serializes without pulling serde_json in.
fn serde_json_like(p: &Probe) -> String {
    format!("{{\"opcodes\": {}}}", p.opcodes.len())
}
