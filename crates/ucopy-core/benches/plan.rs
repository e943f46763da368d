//! Micro-benchmarks of the planner — walking, inode ordering, batching — on synthetic trees
//! generated once into a temp dir. Whole copies are measured by `cargo xtask bench`; these
//! isolate what the planner itself costs per file, so a regression there shows up on its own.
//!
//! Run with `cargo bench -p ucopy-core` (CI only builds them: `cargo bench --no-run`).
//!
//! Files are empty: the planner lists and stats, it never reads data. They are created in a
//! scrambled order so that inode order differs from name and `getdents` order — otherwise
//! sorting by inode would be sorting an already sorted list.

use std::fs::{self, File};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tempfile::TempDir;
use ucopy_core::{Order, PlanOptions, Planner, Step};
use ucopy_test_support::corpus::{self, CorpusSpec, Shape};
use ucopy_test_support::Rng;

/// A synthetic source tree.
struct Tree {
    name: &'static str,
    root: PathBuf,
    files: usize,
}

/// `dirs` directories side by side, `files` empty files spread round-robin over them, created in
/// a shuffled order: the bench's uniform corpus shape (`ucopy_test_support::corpus`).
fn make_wide(base: &Path, name: &'static str, dirs: usize, files: usize) -> Tree {
    let root = base.join(name);
    let spec = CorpusSpec {
        name: name.to_owned(),
        seed: 1,
        shape: Shape::Uniform {
            files: files as u64,
            dirs: dirs as u64,
            size: 0,
        },
    };
    corpus::materialise(&spec, &root).expect("create tree");
    Tree { name, root, files }
}

/// A chain of `depth` nested directories with `per_dir` files in each.
fn make_deep(base: &Path, name: &'static str, depth: usize, per_dir: usize) -> Tree {
    let root = base.join(name);
    let mut dir = root.clone();
    for level in 0..depth {
        fs::create_dir_all(&dir).expect("create dir");
        for i in scrambled(per_dir) {
            File::create(dir.join(format!("f{level:04}-{i:03}"))).expect("create file");
        }
        dir.push("sub");
    }
    Tree {
        name,
        root,
        files: depth * per_dir,
    }
}

/// 0..n in a fixed shuffled order.
fn scrambled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(7).shuffle(&mut order);
    order
}

/// Runs a whole plan; returns (files planned, batches) so the work cannot be optimized away
/// and the setup can be checked.
fn plan(tree: &Tree, options: &PlanOptions) -> (usize, usize) {
    let dst = tree.root.with_extension("dst");
    let planner = Planner::new(&tree.root, &dst, options.clone()).expect("planner starts");
    let (mut files, mut batches) = (0, 0);
    for step in planner {
        match step {
            Step::Files(batch) => {
                files += batch.len();
                batches += 1;
                black_box(&batch);
            }
            Step::Error(e) => panic!("planner error: {e:?}"),
            other => {
                black_box(&other);
            }
        }
    }
    (files, batches)
}

fn options(order: Order, queue_depth: usize) -> PlanOptions {
    PlanOptions {
        order,
        queue_depth,
        ..PlanOptions::default()
    }
}

fn trees(base: &TempDir) -> Vec<Tree> {
    vec![
        make_wide(base.path(), "flat-10k", 1, 10_000),
        make_wide(base.path(), "wide-20k", 200, 20_000),
        make_deep(base.path(), "deep-300", 300, 8),
    ]
}

fn benches(c: &mut Criterion) {
    let base = tempfile::tempdir().expect("temp dir");
    let trees = trees(&base);
    for t in &trees {
        assert_eq!(
            plan(t, &options(Order::None, 64)).0,
            t.files,
            "{} plans every file",
            t.name
        );
    }

    // Walking: listing, fstatat and DirNode bookkeeping per entry, in directory order.
    let mut walk = c.benchmark_group("walk");
    for t in &trees {
        walk.throughput(Throughput::Elements(t.files as u64));
        walk.bench_with_input(BenchmarkId::from_parameter(t.name), t, |b, t| {
            b.iter(|| plan(t, &options(Order::None, 64)))
        });
    }
    walk.finish();

    // Inode ordering: the same walks with the per-directory sort on; the difference is its cost.
    let mut order = c.benchmark_group("order");
    for t in trees.iter().filter(|t| t.name != "deep-300") {
        order.throughput(Throughput::Elements(t.files as u64));
        for (label, o) in [("none", Order::None), ("inode", Order::Inode)] {
            order.bench_with_input(BenchmarkId::new(label, t.name), t, |b, t| {
                b.iter(|| plan(t, &options(o, 64)))
            });
        }
    }
    order.finish();

    // Batching: how planning cost moves with files per batch (1 = no batching).
    let wide = trees
        .iter()
        .find(|t| t.name == "wide-20k")
        .expect("wide tree");
    let mut batch = c.benchmark_group("batch");
    batch.throughput(Throughput::Elements(wide.files as u64));
    for depth in [1, 16, 64, 256] {
        let (_, batches) = plan(wide, &options(Order::Inode, depth));
        assert!(
            batches >= wide.files.div_ceil(depth),
            "queue depth {depth} bounds batch size"
        );
        batch.bench_with_input(
            BenchmarkId::new("queue-depth", depth),
            &depth,
            |b, &depth| b.iter(|| plan(wide, &options(Order::Inode, depth))),
        );
    }
    batch.finish();
}

criterion_group! {
    name = planner;
    // Each iteration walks 2,400–20,000 entries (milliseconds); fewer, longer samples keep
    // `cargo bench -p ucopy-core` to about a minute on two cores.
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(planner);
