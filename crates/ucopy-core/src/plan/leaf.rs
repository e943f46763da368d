//! The walk's leaf test: a directory that holds nothing but regular files (at most a batch)
//! comes as one [`Step::Leaf`](crate::Step::Leaf) for a worker to make, fill and finish whole.
//! The walk tests each directory it enters from one listing of it ([`Planner::list_leaf`]); a
//! worker tests a [`Step::Candidate`](crate::Step::Candidate) it opened with
//! [`leaf_files_in`], by the same [`LeafRules`]. A worker may also take a candidate that holds
//! subdirectories, when the whole subtree is small ([`LeafRules::subtree_dirs`]): it lists each
//! directory of it with [`files_and_subdirs_in`].

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, RawDir};
use rustix::io::Errno;

use super::walk::read_listing;
use super::{Listed, PlanOptions, Planner};
use crate::node::DirNode;
use crate::{Kind, Name, NameBlock, Order, Stat};

impl Planner {
    /// Whether a directory just entered is a leaf, from one listing of it: read whole into the
    /// gathering vectors (`Planner::listing`), where a directory that is no leaf keeps it for its
    /// frame ([`Planner::store_listing`]) instead of being read again.
    pub(super) fn list_leaf(&mut self, node: &Arc<DirNode>) -> LeafTest {
        let Ok(fd) = node.src_fd() else {
            return LeafTest::Unlisted; // its frame reopens it, and says why not
        };
        let (names, entries) = &mut self.listing;
        if read_listing(fd.as_fd(), &mut self.dirent_buf, names, entries).is_err() {
            return not_a_leaf(node, &fd); // its frame lists it again and reports the error
        }
        let rules = LeafRules::of(&self.options);
        if entries.len() > rules.most || entries.iter().any(|e| e.2 != Listed::Regular) {
            return LeafTest::Listed;
        }
        let block = NameBlock::new(names);
        let listed = entries
            .iter()
            .map(|&(at, ino, _)| (block.name(at), ino))
            .collect();
        let dev = node.stat().map_or(0, |s| s.dev);
        match leaf_files(fd.as_fd(), dev, listed, rules) {
            Some(files) => LeafTest::Leaf(files),
            None => LeafTest::Listed,
        }
    }
}

/// What makes a directory a leaf in a plan ([`PlanOptions::leaf_files`]).
#[derive(Debug, Clone, Copy)]
pub struct LeafRules {
    /// The most files a leaf may have.
    pub most: usize,
    /// The order its files are planned in.
    pub order: Order,
    /// Each file is stat'ed and planned with that stat ([`PlanOptions::stat_files`]).
    pub stat_files: bool,
    /// A file with other names rules its directory out: hard links are kept, and the link
    /// group is the walk's ([`PlanOptions::preserve_links`]).
    pub preserve_links: bool,
    /// The most directories below a candidate that a worker copies with it (0: a candidate
    /// with a subdirectory goes back to the walk). Files of the whole subtree count against
    /// [`LeafRules::most`].
    pub subtree_dirs: usize,
}

impl LeafRules {
    /// The rules of the plan `plan`.
    pub fn of(plan: &PlanOptions) -> LeafRules {
        LeafRules {
            most: plan.leaf_files,
            order: plan.order,
            stat_files: plan.stat_files,
            preserve_links: plan.preserve_links,
            // Each directory below a candidate holds a descriptor on each side while its
            // subtree is copied: a quarter of the queue depth keeps them within the share of
            // the fd budget that a batch's files have (a tight `ulimit -n` gets few or none).
            subtree_dirs: if plan.workers_list_leaves {
                (plan.queue_depth / 4).min(SUBTREE_DIRS)
            } else {
                0
            },
        }
    }
}

/// The most directories below a candidate that a worker lists and copies with it: a package of
/// a `node_modules` (a `package.json` beside `lib/` and `dist/`) is copied by one worker whole,
/// instead of going back to the walk to be opened and listed a second time (PERF.md, "Small
/// subtrees").
pub const SUBTREE_DIRS: usize = 16;

/// The files of the directory `fd` (on device `dev`) and their metadata as planned, when it is a
/// leaf by `rules`: nothing but regular files by its listing's `d_type` and, where files are
/// stat'ed, by a stat of each (none with other names where hard links are kept), at most
/// `rules.most` of them. `None` at the first entry that rules it out, or at an error (whoever
/// walks the directory then says what it was), with the directory's offset wherever the listing
/// stopped. `buf` is the `getdents64` buffer. The walk's test for a leaf, and a worker's for a
/// [`Step::Candidate`](crate::Step::Candidate).
pub fn leaf_files_in(
    fd: BorrowedFd<'_>,
    dev: u64,
    buf: &mut [MaybeUninit<u8>],
    rules: LeafRules,
) -> Option<Vec<(Name, Stat)>> {
    let rules = LeafRules {
        subtree_dirs: 0,
        ..rules
    };
    files_and_subdirs_in(fd, dev, buf, rules, rules.most).map(|(files, _)| files)
}

/// A directory's files and their metadata as planned, in the plan's order.
pub type PlannedFiles = Vec<(Name, Stat)>;

/// The files of the directory `fd` (on device `dev`) as [`leaf_files_in`] plans them, at most
/// `most_files` of them, and the names of its subdirectories when `rules` allows any
/// ([`LeafRules::subtree_dirs`]; by the listing's `d_type`, checked when each is opened).
/// `None` at the first entry that is neither (a symlink, a special file), at too many files,
/// or at an error.
pub fn files_and_subdirs_in(
    fd: BorrowedFd<'_>,
    dev: u64,
    buf: &mut [MaybeUninit<u8>],
    rules: LeafRules,
    most_files: usize,
) -> Option<(PlannedFiles, Vec<CString>)> {
    // The files' names one after another, then one block that every file's name shares.
    let mut names = Vec::new();
    let mut starts = Vec::new();
    let mut subdirs = Vec::new();
    let mut dir = RawDir::new(fd, buf);
    while let Some(item) = dir.next() {
        let e = item.ok()?;
        let name = e.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        match e.file_type() {
            FileType::RegularFile if starts.len() < most_files => {
                starts.push((u32::try_from(names.len()).ok()?, e.ino()));
                names.extend_from_slice(name.to_bytes_with_nul());
            }
            FileType::Directory if subdirs.len() < rules.subtree_dirs => {
                subdirs.push(name.to_owned());
            }
            _ => return None,
        }
    }
    let block = NameBlock::new(&names);
    let listed = starts
        .into_iter()
        .map(|(at, ino)| (block.name(at), ino))
        .collect();
    Some((leaf_files(fd, dev, listed, rules)?, subdirs))
}

/// The files of a directory whose listing (`listed`: name and inode) held only regular files,
/// as planned: in inode order if asked, and where files are stat'ed, each stat'ed (`None` at
/// the first that rules the directory out).
fn leaf_files(
    fd: BorrowedFd<'_>,
    dev: u64,
    mut listed: Vec<(Name, u64)>,
    rules: LeafRules,
) -> Option<PlannedFiles> {
    if rules.order == Order::Inode {
        listed.sort_unstable_by_key(|(_, ino)| *ino);
    }
    if !rules.stat_files {
        let from_dirent = |(name, ino)| (name, Stat::regular_from_dirent(dev, ino));
        return Some(listed.into_iter().map(from_dirent).collect());
    }
    let mut files = Vec::with_capacity(listed.len());
    for (name, _) in listed {
        let stat = match rfs::statat(fd, &*name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Stat::from(&st),
            Err(Errno::NOENT) => continue, // vanished since the listing: nothing to copy
            Err(_) => return None,
        };
        // A file with other names waits for its first copy (hard links kept): the walk's.
        if stat.kind() != Kind::File || (rules.preserve_links && stat.nlink > 1) {
            return None;
        }
        files.push((name, stat));
    }
    Some(files)
}

/// What the walk's leaf test found in a directory it just entered.
pub(super) enum LeafTest {
    /// Only regular files: these, with their metadata as planned.
    Leaf(PlannedFiles),
    /// No leaf; its whole listing is in the gathering vectors, for its frame.
    Listed,
    /// No leaf, and not listed whole (an error, or no descriptor): its frame lists it.
    Unlisted,
}

/// A directory [`Planner::list_leaf`] could not list whole: its frame lists it from the start.
/// Where the offset cannot be set back, the node lets go of this descriptor, and the listing
/// reopens the directory.
fn not_a_leaf(node: &DirNode, fd: &OwnedFd) -> LeafTest {
    if rfs::seek(fd, rfs::SeekFrom::Start(0)).is_err() {
        node.release_src();
    }
    LeafTest::Unlisted
}

#[cfg(test)]
mod tests {
    use std::fs;

    /// A listing splits regular files from subdirectories while the rules allow subdirectories,
    /// and rules a directory out at a symlink, at one file too many or one subdirectory too many.
    #[test]
    fn files_and_subdirs_are_split_and_bounded() {
        use std::mem::MaybeUninit;
        use std::os::fd::AsFd;

        use super::{files_and_subdirs_in, LeafRules};
        use crate::Order;

        let t = tempfile::tempdir().unwrap();
        for f in ["a", "b", "c"] {
            fs::write(t.path().join(f), f).unwrap();
        }
        for d in ["lib", "dist"] {
            fs::create_dir(t.path().join(d)).unwrap();
        }
        let rules = LeafRules {
            most: 8,
            order: Order::None,
            stat_files: true,
            preserve_links: true,
            subtree_dirs: 2,
        };
        let mut buf = vec![MaybeUninit::uninit(); 4096];
        let mut list = |rules: LeafRules, most_files: usize| {
            let dir = fs::File::open(t.path()).unwrap();
            files_and_subdirs_in(dir.as_fd(), 0, &mut buf, rules, most_files).map(
                |(files, dirs)| {
                    let mut files: Vec<_> = files
                        .iter()
                        .map(|(n, s)| (n.to_str().unwrap().to_owned(), s.size))
                        .collect();
                    let mut dirs: Vec<_> = dirs
                        .iter()
                        .map(|d| d.to_str().unwrap().to_owned())
                        .collect();
                    files.sort();
                    dirs.sort();
                    (files, dirs)
                },
            )
        };
        let (files, dirs) = list(rules, 8).expect("files and two subdirectories");
        assert_eq!(files, [("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]);
        assert_eq!(dirs, ["dist", "lib"]);
        assert_eq!(list(rules, 2), None, "three files, two allowed");
        let one_dir = LeafRules {
            subtree_dirs: 1,
            ..rules
        };
        assert_eq!(list(one_dir, 8), None, "two subdirectories, one allowed");
        std::os::unix::fs::symlink("a", t.path().join("link")).unwrap();
        assert_eq!(list(rules, 8), None, "a symlink");
    }

    use crate::{name_os, PlanOptions, Planner, Step};

    /// With `workers_list_leaves`, the walk opens no subdirectory of a directory with many:
    /// each comes as a candidate. One a "worker" finds to be no leaf is given back and walked
    /// whole from there (its lone subdirectory the walk's own), and after
    /// [`Planner::stop_candidates`] the walk enters subdirectories itself.
    #[test]
    fn candidates_are_named_not_opened_and_one_given_back_is_walked_whole() {
        use std::mem::MaybeUninit;
        use std::os::fd::AsFd;

        use super::{leaf_files_in, LeafRules};
        use crate::{Candidate, Order};

        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        for (dir, names) in [
            ("leaf", &["f1", "f2"][..]),
            ("mixed", &["h1"][..]),
            ("mixed/sub", &["s1"][..]),
            ("later", &[][..]),
            ("later/deep", &["d1"][..]),
        ] {
            fs::create_dir_all(src.join(dir)).unwrap();
            for n in names {
                fs::write(src.join(dir).join(n), n).unwrap();
            }
        }
        std::os::unix::fs::symlink("h1", src.join("mixed/link")).unwrap();
        // Enough subdirectories at the top for them to come as candidates; `mixed` and `later`
        // have one each, so theirs are entered by the walk.
        let fan_out: Vec<String> = (3..crate::plan::CANDIDATES_FROM_SUBDIRS)
            .map(|i| format!("x{i:02}"))
            .collect();
        for d in &fan_out {
            fs::create_dir_all(src.join(d)).unwrap();
            fs::write(src.join(d).join("f"), d).unwrap();
        }
        let options = PlanOptions {
            stat_files: false,
            leaf_files: 4,
            workers_list_leaves: true,
            order: Order::None,
            ..PlanOptions::default()
        };
        let mut planner = Planner::new(&src, &t.path().join("dst"), options).unwrap();
        let mut buf = vec![MaybeUninit::uninit(); 4096];
        // What a worker does: open the candidate, list it, keep it if it is a leaf.
        let mut list = |c: &Candidate| {
            let dir = fs::File::open(c.parent.path().join(name_os(&c.name))).unwrap();
            let rules = LeafRules {
                most: 4,
                order: Order::None,
                stat_files: false,
                preserve_links: false,
                subtree_dirs: 0,
            };
            leaf_files_in(dir.as_fd(), 0, &mut buf, rules).map(|files| files.len())
        };
        let (mut leaves, mut walked, mut revisited, mut entered_itself) =
            (Vec::new(), Vec::new(), 0, Vec::new());
        let mut given_back = Vec::new();
        loop {
            let Some(step) = planner.next() else {
                if given_back.is_empty() {
                    break;
                }
                // Iteration goes on after a revisit.
                given_back.drain(..).for_each(|c| planner.revisit(c));
                continue;
            };
            match step {
                Step::Candidate(c) => {
                    let name = c.name.to_string_lossy().into_owned();
                    match list(&c) {
                        Some(files) => leaves.push((name, files)),
                        None => given_back.push(c),
                    }
                }
                Step::Dir(node) => walked.push(node.src_name().to_string_lossy().into_owned()),
                Step::Revisited(_) => revisited += 1,
                Step::Leaf(leaf) => {
                    entered_itself.push(leaf.node.src_name().to_string_lossy().into_owned())
                }
                Step::Error(e) => panic!("{e}"),
                _ => {}
            }
        }
        leaves.sort();
        let mut expected = vec![("leaf".to_string(), 2)];
        expected.extend(fan_out.iter().map(|d| (d.clone(), 1)));
        assert_eq!(leaves, expected, "found by the worker");
        walked.sort();
        assert_eq!(walked, ["later", "mixed", "src"], "walked by the planner");
        assert_eq!(revisited, 2, "later and mixed were given back and entered");
        entered_itself.sort();
        assert_eq!(
            entered_itself,
            ["deep", "sub"],
            "a lone subdirectory is the walk's"
        );
        // After stop_candidates the walk enters subdirectories itself and finds the leaves.
        let options = PlanOptions {
            stat_files: false,
            leaf_files: 4,
            workers_list_leaves: true,
            ..PlanOptions::default()
        };
        let mut planner = Planner::new(&src, &t.path().join("dst2"), options).unwrap();
        planner.stop_candidates();
        let mut found = Vec::new();
        for step in planner {
            match step {
                Step::Candidate(c) => panic!("{c:?} after stop_candidates"),
                Step::Leaf(leaf) => found.push(leaf.node.src_name().to_string_lossy().into_owned()),
                _ => {}
            }
        }
        found.sort();
        let mut expected = vec!["deep".to_string(), "leaf".to_string(), "sub".to_string()];
        expected.extend(fan_out.iter().cloned());
        expected.sort();
        assert_eq!(found, expected);
    }
}
