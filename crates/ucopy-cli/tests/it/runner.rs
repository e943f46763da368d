//! The test runner of this binary (`harness = false`, `libtest-mimic`): libtest's command line
//! and output, plus what libtest lacks — a test can end as *skipped* with its reason (a missing
//! tool, not root, an io_uring backend the kernel cannot run), reported as `ignored, <reason>`
//! and counted as ignored, never as passed.
//!
//! Tests register themselves with `inventory` (`backend_test!`, `plain_test!`); a skip is a
//! panic carrying [`Skipped`], caught here and silenced in the panic hook.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

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

/// The payload of a skip.
pub struct Skipped(pub String);

/// Ends the current test as skipped.
pub fn skip(reason: String) -> ! {
    eprintln!("skipped: {reason}");
    panic::panic_any(Skipped(reason))
}

fn run(body: impl FnOnce()) -> Result<Completion, Failed> {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => Ok(Completion::Completed),
        Err(payload) => match payload.downcast::<Skipped>() {
            Ok(s) => Ok(Completion::ignored_with(s.0)),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned());
                Err(msg.into())
            }
        },
    }
}

/// The test name without the crate's own prefix (`it::errors::x` → `errors::x`).
fn short(name: &str) -> &str {
    name.split_once("::").map_or(name, |(_, rest)| rest)
}

/// Lists every registered test and runs what the command line selects.
pub fn main() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Skipped>().is_none() {
                default(info);
            }
        }));
    });
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for t in inventory::iter::<Test> {
        match t.kind {
            Kind::Plain(body) => trials.push(
                Trial::ignorable_test(short(t.name), move || run(body))
                    .with_ignored_flag(t.ignored.is_some()),
            ),
            Kind::Backends(body) => {
                for b in [Backend::Std, Backend::Splice, Backend::Rw, Backend::Fixed] {
                    trials.push(
                        Trial::ignorable_test(
                            format!("{}::{}", short(t.name), b.name()),
                            move || run(|| crate::harness::run_for(b, body)),
                        )
                        .with_ignored_flag(t.ignored.is_some()),
                    );
                }
            }
        }
    }
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit();
}
