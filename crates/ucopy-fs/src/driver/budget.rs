//! How many descriptors a copy may hold: the fd budget that sizes workers, batches and the
//! directory fds the walk and the driver keep open.

use ucopy_core::{Options, PlanOptions};

/// How many descriptors the copy may hold, derived from `RLIMIT_NOFILE` so that `ulimit -n 16`
/// still copies (slowly, with one worker and one file in flight) instead of failing with EMFILE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// Worker threads (at most the number asked for).
    pub threads: usize,
    /// Files one executor keeps in flight (the queue depth asked for, or less under a tight limit).
    pub queue_depth: usize,
    /// Source directory fds the walk may hold.
    pub max_open_src_dirs: usize,
    /// Destination directory fds the driver may hold.
    pub max_open_dst_dirs: usize,
    /// Batches one worker may hold, one running and the rest queued: four where the limit
    /// leaves the queue depth whole with four, so that a worker has work for a few milliseconds
    /// while the driver waits for a CPU (on two cores it shares them with the workers, and the
    /// worker it has just woken may keep it off one for a whole time slice); else two.
    pub batches_per_worker: usize,
}

impl FdBudget {
    /// Fds reserved for stdio, rings, eventfds, the operands' directories and the like (at most
    /// half of a small limit).
    const RESERVED: usize = 24;
    /// Worst case per file in flight: source, destination, and a splice pipe's two ends; plus a
    /// share of its directories'.
    const PER_JOB: usize = 5;

    /// The budget for `threads` workers (each with one batch running and one or three queued)
    /// under the fd limit `limit`, wanting `queue_depth` files per batch.
    pub fn new(limit: usize, threads: usize, queue_depth: usize) -> FdBudget {
        FdBudget::with_per_worker(limit, threads, queue_depth, 0)
    }

    /// Like [`FdBudget::new`] for a backend whose every worker holds `per_worker` descriptors
    /// besides its files (a ring, splice pipes: [`ExecutorFactory::fds_per_worker`](ucopy_core::ExecutorFactory::fds_per_worker)).
    pub fn with_per_worker(
        limit: usize,
        threads: usize,
        queue_depth: usize,
        per_worker: usize,
    ) -> FdBudget {
        let avail = limit
            .saturating_sub(Self::RESERVED.min(limit * 5 / 8))
            .max(4);
        // Each worker needs room for at least one file in flight in each of its batches.
        let threads = threads.clamp(1, (avail / (4 * Self::PER_JOB + per_worker)).max(1));
        let avail = avail.saturating_sub(threads * per_worker).max(4);
        // Half of what is left for the files of the batches in flight, each counted whole: the
        // files one batch may have in flight when each worker holds `batches` of them.
        let files_per_batch = |batches: usize| avail / 2 / (batches * threads) / Self::PER_JOB;
        let batches_per_worker = if files_per_batch(4) >= queue_depth {
            4
        } else {
            2
        };
        FdBudget {
            threads,
            queue_depth: queue_depth.min(files_per_batch(batches_per_worker)).max(1),
            max_open_src_dirs: (avail / 4).max(1),
            max_open_dst_dirs: (avail / 4).max(1),
            batches_per_worker,
        }
    }

    /// The budget under this process's current soft limit, raised to the hard limit first.
    pub fn from_rlimit(threads: usize, queue_depth: usize) -> FdBudget {
        FdBudget::from_rlimit_per_worker(threads, queue_depth, 0)
    }

    /// [`FdBudget::from_rlimit`] for workers that each hold `per_worker` descriptors of their own.
    pub fn from_rlimit_per_worker(
        threads: usize,
        queue_depth: usize,
        per_worker: usize,
    ) -> FdBudget {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut lim = getrlimit(Resource::Nofile);
        if lim.current < lim.maximum {
            lim.current = lim.maximum;
            // Best effort: a container may forbid it; then the current limit stands.
            let _ = setrlimit(Resource::Nofile, lim);
            lim = getrlimit(Resource::Nofile);
        }
        let limit = lim.current.map_or(1 << 20, |c| c.min(1 << 20) as usize);
        FdBudget::with_per_worker(limit, threads, queue_depth, per_worker)
    }

    /// What the planner is given under this budget: the plan a copy with `options` follows
    /// (also what `--dry-run` prints).
    pub fn plan_options(&self, options: &Options) -> PlanOptions {
        let plan = PlanOptions::from_options(options);
        PlanOptions {
            queue_depth: self.queue_depth,
            // Under a budget cut below the queue depth asked for, a batch is no longer than what
            // one executor may hold open at once (it would run a longer one in groups of the
            // depth asked for).
            batch_files: if self.queue_depth < options.queue_depth {
                self.queue_depth
            } else {
                plan.batch_files
            },
            max_open_dirs: self.max_open_src_dirs,
            max_dirs_per_batch: self.queue_depth,
            ..plan
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FdBudget;

    #[test]
    fn budget_keeps_default_depth_under_a_generous_limit() {
        let b = FdBudget::new(20_000, 2, 64);
        assert_eq!(b.queue_depth, 64);
    }

    #[test]
    fn four_batches_per_worker_only_where_the_depth_stays_whole() {
        let roomy = FdBudget::new(1 << 20, 2, 64);
        assert_eq!((roomy.batches_per_worker, roomy.queue_depth), (4, 64));
        // A desktop's 1024: four batches would cut the depth to 12, so two, and the depth two
        // give: (1024 - 24) / 2 / (2 batches × 2 workers) / 5 fds per file = 25.
        let tight = FdBudget::new(1024, 2, 64);
        assert_eq!((tight.batches_per_worker, tight.queue_depth), (2, 25));
        // A depth of one file fits any limit only by rounding up: two batches, not four.
        let tiny = FdBudget::new(16, 2, 1);
        assert_eq!((tiny.batches_per_worker, tiny.queue_depth), (2, 1));
    }

    #[test]
    fn budget_shrinks_under_ulimit_64() {
        let b = FdBudget::new(64, 2, 64);
        assert!(b.queue_depth >= 1);
        // batches in flight × depth × fds per job, plus directories, stay under the limit.
        let batches = b.batches_per_worker * b.threads;
        let worst =
            batches * b.queue_depth * FdBudget::PER_JOB + b.max_open_src_dirs + b.max_open_dst_dirs;
        assert!(worst + FdBudget::RESERVED <= 64 + 8, "{b:?} uses {worst}");
    }
}
