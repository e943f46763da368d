//! The runner of this test binary (`harness = false`, `libtest-mimic`): libtest's command line
//! and output, plus skipped tests reported as `ignored, <reason>` — never as passed. A test
//! registers with `test!(name);` beside its `fn name()`; it skips with `skip!(...)` (a panic
//! carrying [`Skipped`]), and a test that ran for some modes but had to skip others (an
//! executor the kernel cannot run) ends as skipped with both said.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// A registered test.
pub struct Test {
    /// `module::name`.
    pub name: &'static str,
    /// The body.
    pub body: fn(),
}

inventory::collect!(Test);

/// Registers `fn $name()` as a test of this binary.
macro_rules! test {
    ($name:ident) => {
        ::inventory::submit! {
            $crate::runner::Test { name: concat!(module_path!(), "::", stringify!($name)), body: $name }
        }
    };
}

/// Ends the current test as skipped, with the reason.
macro_rules! skip {
    ($($arg:tt)*) => {
        $crate::runner::skip(format!($($arg)*))
    };
}

/// The payload of a skip.
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

fn run(body: fn()) -> Result<Completion, Failed> {
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

/// Runs what the command line selects of the registered tests.
pub fn main() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Skipped>().is_none() {
            default(info);
        }
    }));
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = inventory::iter::<Test>
        .into_iter()
        .map(|t| {
            let name = t.name.split_once("::").map_or(t.name, |(_, rest)| rest);
            let body = t.body;
            Trial::ignorable_test(name, move || run(body))
        })
        .collect();
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit();
}
