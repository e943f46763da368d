//! `--dry-run`: the plan as text, touching nothing at the destination.

use std::path::Path;

use ucopy::plan::{name_os, Entry, Step};
use ucopy::{Copier, Target};

use crate::output::out_line;

fn show(path: &Path) -> std::path::Display<'_> {
    path.display()
}

/// Prints the plan for copying `target`; returns the number of planning errors.
pub fn print_plan(copier: &Copier<'_>, target: &Target) -> Result<usize, ucopy::Error> {
    let planner = copier.plan(target)?;
    let options = planner.options();
    out_line(format_args!(
        "plan '{}' -> '{}' (order {}, queue depth {})",
        show(&target.source),
        show(&target.dest),
        match options.order {
            ucopy::Order::Inode => "inode",
            ucopy::Order::None => "none",
        },
        options.queue_depth
    ));
    let mut batch = 0usize;
    let mut errors = 0usize;
    for step in planner {
        match step {
            Step::Dir(node) => out_line(format_args!("mkdir '{}'", show(node.dst_path()))),
            Step::Files(files) => {
                batch += 1;
                out_line(format_args!("batch {batch}: {} files", files.len()));
                for f in &files {
                    out_line(format_args!(
                        "  copy '{}' -> '{}' (inode {}, {} bytes)",
                        show(&f.entry.path()),
                        show(&f.entry.dst_path()),
                        f.entry.stat.ino,
                        f.entry.stat.size
                    ));
                }
            }
            Step::Symlink(entry, target) => out_line(format_args!(
                "symlink '{}' -> '{}'",
                show(&entry.dst_path()),
                Path::new(&target).display()
            )),
            Step::Special(entry) => out_line(format_args!(
                "mknod '{}' ({})",
                show(&entry.dst_path()),
                special_kind(&entry)
            )),
            Step::HardLink(entry, group) => {
                let (_, dir, name) = group.first();
                out_line(format_args!(
                    "link '{}' => '{}'",
                    show(&entry.dst_path()),
                    show(&dir.dst_path().join(name_os(&name)))
                ))
            }
            Step::DirDone(node) => out_line(format_args!(
                "finish '{}' (mode and times, once its files are in)",
                show(node.dst_path())
            )),
            // The dry run's planner is made without leaves; shown all the same if one comes.
            Step::Leaf(leaf) => {
                batch += 1;
                out_line(format_args!(
                    "leaf '{}': {} files, made and copied by one worker",
                    show(leaf.node.dst_path()),
                    leaf.files.len()
                ));
            }
            Step::Candidate(c) => out_line(format_args!(
                "candidate '{}': listed by a worker",
                show(&c.parent.dst_path().join(name_os(&c.name)))
            )),
            Step::Revisited(_) => {}
            Step::Error(e) => {
                errors += 1;
                crate::output::err_line(format_args!("{e}"));
            }
        }
    }
    Ok(errors)
}

fn special_kind(entry: &Entry) -> &'static str {
    match entry.stat.mode & 0o170000 {
        0o010000 => "fifo",
        0o140000 => "socket",
        0o020000 => "char device",
        0o060000 => "block device",
        _ => "special",
    }
}
