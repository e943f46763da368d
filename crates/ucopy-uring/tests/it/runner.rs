//! How this binary's tests register: `test!(name);` beside its `fn name()`; a test skips with
//! `skip!(...)`, and one that ran for some modes but had to skip others (an executor the kernel
//! cannot run) notes it with `skip_part` and ends as skipped with both said. The runner itself
//! (skips reported as `ignored, <reason>`, never as passed) is `ucopy_test_support::runner`.

use ucopy_test_support::runner::{self as support, short};
pub use ucopy_test_support::runner::{skip, skip_part};

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

/// Runs what the command line selects of the registered tests.
pub fn main() {
    let trials = inventory::iter::<Test>
        .into_iter()
        .map(|t| support::trial(short(t.name), t.body))
        .collect();
    support::main(trials)
}
