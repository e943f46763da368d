//! Planning for ucopy: walk a source tree through directory file descriptors, order files by
//! inode, group them into batches, and describe the contract every backend fulfils.
//!
//! This crate never writes to the filesystem. It reads the source (opening directories, listing
//! them, `fstatat`, `readlinkat`) and hands out [`Step`]s; `ucopy-fs`'s driver carries them out
//! with an [`Executor`] from a backend crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod exclude;
mod exec;
mod name;
mod node;
mod options;
mod plan;
mod progress;
pub mod quote;
mod report;
mod same_file;
mod stat;
pub mod target;

pub use exclude::{Exclude, ExcludeError};
pub use exec::{Batch, Executor, ExecutorFactory, FileJob, JobOrigin, JobOutcome};
pub use name::{Name, NameBlock};
pub use node::{DirNode, DIR_FLAGS};
pub use options::{
    process_umask, Backup, Cancel, Confirm, Dereference, JustCreated, Leftovers, LinkMode, Options,
    OptionsBuilder, Order, Preserve, PrivateFdTable, Reflink, Sparse, Update, When,
    DEFAULT_QUEUE_DEPTH,
};
pub use plan::{
    destination_among_ancestors, files_and_subdirs_in, leaf_files_in, name_os, open_operand_dir,
    split_operand, Candidate, Entry, LeafDir, LeafRules, LinkGroup, LinkStatus, PlanError,
    PlanOptions, PlannedFile, Planner, Step, CANDIDATES_FROM_SUBDIRS, DEFAULT_BATCH_FILES,
    SUBTREE_DIRS,
};
pub use progress::{CopiedPaths, NoProgress, Progress};
pub use quote::quote_inner;
pub use report::{cause, EntryError, Op, Report};
pub use stat::{file_id, Kind, Stat, Time};
