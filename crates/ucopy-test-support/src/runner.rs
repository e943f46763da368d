//! The runner of ucopy's behaviour-test binaries (`harness = false`, `libtest-mimic`): libtest's
//! command line and output, plus what libtest lacks — a test can end as *skipped* with its reason
//! (a missing tool, not root, an io_uring backend the kernel cannot run), reported as
//! `ignored, <reason>` and counted as ignored, never as passed.
//!
//! Each binary registers its tests its own way (with `inventory`) and turns them into [`trial`]s;
//! a skip is a panic carrying [`Skipped`], caught by the trial and silenced in the panic hook
//! that [`main`] installs.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// The payload of a skip.
#[derive(Debug)]
pub struct Skipped(pub String);

thread_local! {
    /// Parts of the current test that were skipped (modes the kernel cannot run).
    static PARTLY: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Ends the current test as skipped.
pub fn skip(reason: String) -> ! {
    eprintln!("skipped: {reason}");
    panic::panic_any(Skipped(reason))
}

/// Notes that part of the current test was skipped; the test then ends as skipped with the
/// reason even if everything it did run passed.
pub fn skip_part(reason: String) {
    eprintln!("skipped: {reason}");
    PARTLY.with(|p| p.borrow_mut().push(reason));
}

/// A test called `name` running `body`: passed, failed with its panic's message, or skipped.
pub fn trial(name: impl Into<String>, body: impl FnOnce() + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || run(body))
}

fn run(body: impl FnOnce()) -> Result<Completion, Failed> {
    PARTLY.with(|p| p.borrow_mut().clear());
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    let partly = PARTLY.with(|p| std::mem::take(&mut *p.borrow_mut()));
    match result {
        Ok(()) if partly.is_empty() => Ok(Completion::Completed),
        Ok(()) => Ok(Completion::ignored_with(format!(
            "the rest passed; skipped: {}",
            partly.join("; ")
        ))),
        Err(payload) => match payload.downcast::<Skipped>() {
            Ok(s) => Ok(Completion::ignored_with(s.0)),
            Err(payload) => Err(payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".to_owned())
                .into()),
        },
    }
}

/// A registered test's name without the binary's own crate prefix (`it::errors::x` →
/// `errors::x`).
pub fn short(name: &str) -> &str {
    name.split_once("::").map_or(name, |(_, rest)| rest)
}

/// Runs what the command line selects of `trials`, sorted by name, and exits.
pub fn main(mut trials: Vec<Trial>) -> ! {
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
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit()
}
