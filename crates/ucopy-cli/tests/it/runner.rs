//! How this binary's tests register (`inventory`: `backend_test!`, `plain_test!`) and become
//! trials, one per backend for a behaviour test; the runner itself (skips reported as
//! `ignored, <reason>`, never as passed) is `ucopy_test_support::runner`.

use libtest_mimic::Trial;
pub use ucopy_test_support::runner::skip;
use ucopy_test_support::runner::{self as support, short};

use crate::harness::Backend;

/// A registered test.
pub struct Test {
    name: &'static str,
    kind: Kind,
    ignored: Option<&'static str>,
}

enum Kind {
    Plain(fn()),
    Backends(fn(Backend)),
}

inventory::collect!(Test);

impl Test {
    /// `body` once per backend, as `<module>::{std,splice,rw,fixed}`.
    pub const fn backends(
        module: &'static str,
        body: fn(Backend),
        ignored: Option<&'static str>,
    ) -> Test {
        Test {
            name: module,
            kind: Kind::Backends(body),
            ignored,
        }
    }

    /// One test called `name`.
    pub const fn plain(name: &'static str, body: fn()) -> Test {
        Test {
            name,
            kind: Kind::Plain(body),
            ignored: None,
        }
    }
}

/// `#[ignore = "why"]` of `backend_test!`, as an option.
pub const fn ignored(why: &[&'static str]) -> Option<&'static str> {
    match why {
        [w] => Some(*w),
        _ => None,
    }
}

/// Lists every registered test and runs what the command line selects.
pub fn main() {
    let mut trials: Vec<Trial> = Vec::new();
    for t in inventory::iter::<Test> {
        match t.kind {
            Kind::Plain(body) => trials
                .push(support::trial(short(t.name), body).with_ignored_flag(t.ignored.is_some())),
            Kind::Backends(body) => {
                for b in [Backend::Std, Backend::Splice, Backend::Rw, Backend::Fixed] {
                    trials.push(
                        support::trial(format!("{}::{}", short(t.name), b.name()), move || {
                            crate::harness::run_for(b, body)
                        })
                        .with_ignored_flag(t.ignored.is_some()),
                    );
                }
            }
        }
    }
    support::main(trials)
}

// This binary has its own harness (`harness = false`), so a `#[test]` function in it is compiled
// out and never runs, silently: three did so, and had stopped compiling. Tests register with
// `backend_test!` or `plain_test!`.
plain_test!(no_test_attribute_in_this_binary);
fn no_test_attribute_in_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let attribute = concat!("#[", "test]");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim() == attribute {
                    found.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "use plain_test! instead of {attribute}: {found:?}"
    );
}
