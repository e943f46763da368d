//! The destination side of ucopy, shared by every backend: creating objects safely, the kernel
//! copy paths, metadata, and the driver that carries out a plan with an executor.
//!
//! Backends (`ucopy-uring`, `ucopy-fallback`) depend on this crate and on `ucopy-core`, never on
//! each other; this crate is where the copy rules that do not depend on how bytes move are
//! written once (each module names the rows of the behaviour table it follows).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod data;
pub mod dest;
mod dispatch;
pub mod driver;
pub mod existing;
pub mod file;
pub mod meta;
pub mod newfile;
pub mod operand;
#[cfg(test)]
mod test_jobs;

pub use data::KernelPaths;

/// `(st_dev, st_ino)` of a raw stat.
pub(crate) fn file_id_of(st: &rustix::fs::Stat) -> (u64, u64) {
    ucopy_core::file_id(st)
}
pub use driver::{
    address_space_left, address_space_limited, copy_tree, worker_address_space, FatalError,
    FdBudget,
};
pub use file::{copy_job, StdCopier};
pub use newfile::{Closing, NewFile};
