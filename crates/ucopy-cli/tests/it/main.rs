//! Behaviour tests for the `ucopy` binary: one module per section of
//! `docs/behaviour-table.md`, one test per row (or a few), each run once per backend
//! (`backend_test!` makes `<row>::{std,splice,rw,fixed}`), plus a differential test that holds
//! every backend to the `std` executor's result.
//!
//! Run one row on one backend: `cargo test -p ucopy-cli --test it row09 -- --nocapture`.
//! io_uring backends the kernel lacks are skipped with a printed reason unless
//! `UCOPY_REQUIRE_URING=1`. Root-only cases skip with a reason when not root; the rows about
//! unprivileged copies run ucopy as `nobody` through `setpriv` when the tests run as root. A
//! skipped test is reported as ignored with its reason (`runner`), never as passed.

#[macro_use]
mod harness;
// Shared with the io_uring tests and the bench (crates/ucopy-test-support).
use ucopy_test_support::{compare, mount as mounts};
mod fixtures;
mod runner;
mod tree;

mod attacks;
mod changes;
mod cli_text;
mod contents;
mod cp_links;
mod cp_options;
mod destination;
mod differential;
mod errors;
mod faults;
mod leaves;
mod limits;
mod links;
mod metadata;
mod progress;
mod refusals;
mod reliability;
mod scale;

fn main() {
    runner::main();
}
