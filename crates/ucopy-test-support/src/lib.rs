//! What ucopy's tests and its bench share, written once: tree comparison and snapshots
//! ([`compare`]), throw-away loop and ramfs mounts ([`mount`]), deterministic corpora
//! ([`corpus`]: planned, then materialised) and the RNG and byte patterns they are made of
//! ([`rng`]), and the runner of the behaviour-test binaries ([`runner`]: skipped tests
//! reported with their reason, never as passed). Used by the CLI's behaviour tests, the io_uring
//! crate's tests and `xtask`. Not published.
#![forbid(unsafe_code)]

pub mod compare;
pub mod corpus;
mod fsat;
pub mod mount;
pub mod rng;
pub mod runner;
mod snapshot;

pub use rng::{pattern, pattern_at, pattern_nonzero, Rng};

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

/// File sizes around page, block, splice-pipe and buffer boundaries, for content tests.
pub const EDGE_SIZES: [u64; 14] = [
    0,
    1,
    511,
    4095,
    4096,
    4097,
    65535,
    65536,
    65537,
    131_075,
    MIB,
    MIB + 1,
    3 * MIB + 17,
    5 * MIB,
];

/// True when running as root (euid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
