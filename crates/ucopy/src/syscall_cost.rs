//! `auto`'s second measurement: what entering the kernel costs on this machine.
//!
//! With the source's data in memory a copy of small files is CPU-bound, and the two candidate
//! backends spend the CPU differently. `rw` batches each file's source open, read and both
//! closes in io_uring — four system calls fewer per file — but moves the bytes twice (into the
//! ring's buffer, out with `pwrite`) and does more bookkeeping per file in user space. `std`
//! makes every call itself and `copy_file_range` moves the bytes once. Which costs less depends
//! on the price of a system call's entry and exit, which CPU mitigations set and which differs
//! threefold between the machines measured (PERF.md, "Which backend with the data in memory"):
//!
//! | machine | a system call | small-4k in memory |
//! |---|---|---|
//! | AMD EPYC (KVM) | ~230 ns | `rw` 11 % ahead of `std` |
//! | Intel Xeon (KVM) | ~150 ns | `std` 9 % ahead of `rw` |
//! | Intel Xeon (KVM) | ~75 ns | `std` 9 % ahead of `rw` |
//!
//! [`IN_MEMORY_RW_FROM`] sits between the dearest machine where `std` won and the cheapest where
//! `rw` did.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// From this cost of one system call up, `auto` runs `rw` for small files in memory; below it,
/// `std` (the table above).
pub(crate) const IN_MEMORY_RW_FROM: Duration = Duration::from_nanos(190);

/// Calls per timed round, and rounds: 512 calls, 0.04–0.12 ms on the machines above, paid once
/// per process by a copy of data in memory (every small copy). Two clock reads per round add
/// under a nanosecond to a call's 64th.
const CALLS: u32 = 64;
const ROUNDS: usize = 8;

/// The cost of one system call's entry and exit on this machine: the fastest of a few short
/// rounds of `getppid(2)` (which does no work of its own), measured once per process. The
/// fastest round, not the mean, so that a round the scheduler interrupted does not count.
pub(crate) fn syscall_cost() -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    *COST.get_or_init(measure)
}

fn measure() -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(rustix::process::getppid());
            }
            start.elapsed() / CALLS
        })
        .min()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_call_costs_something_and_not_much() {
        let cost = syscall_cost();
        assert!(cost > Duration::ZERO, "{cost:?}");
        // Even a slow, mitigated VM enters and leaves the kernel in a few microseconds.
        assert!(cost < Duration::from_micros(50), "{cost:?}");
        assert_eq!(syscall_cost(), cost, "measured once per process");
    }
}
