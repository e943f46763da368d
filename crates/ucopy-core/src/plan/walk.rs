//! The walk: entering a directory (identity checked, loops and the destination refused), listing
//! it once in inode order, taking its entries one at a time, and keeping at most `max_open_dirs`
//! source directory fds open (released from the bottom of the stack, reopened on the way back).

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;

use super::leaf::LeafTest;
use super::{resolve_symlink, Entry, Frame, LeafDir, Listed, Planner, Step};
use crate::node::{join, DirNode, DIR_FLAGS};
use crate::{file_id, Dereference, EntryError, Kind, Name, NameBlock, Op, Order, Stat};

/// Listings of at most this many entries are copied out of the planner's gathering vectors
/// (`Planner::listing`), which keep their memory; larger ones take it with them.
const LISTING_KEPT: usize = 1024;

impl Planner {
    /// Opens `name` in the top frame's directory and pushes it as a new frame. Its metadata is
    /// taken from the opened directory. `id` is the identity a stat of the listed name gave, if
    /// one was taken; a directory known from its listed type alone is identified once opened
    /// (one system call less per directory, on the thread that walks the whole tree).
    pub(super) fn enter(&mut self, name: CString, id: Option<(u64, u64)>) {
        let parent = Arc::clone(&self.stack.last().expect("a frame").node);
        self.enter_in(parent, name, id);
    }

    /// [`Planner::enter`] for a directory in `parent`, which need not be the top frame's (a
    /// candidate given back, `Planner::revisit`, is entered once the stack is empty).
    pub(super) fn enter_in(&mut self, parent: Arc<DirNode>, name: CString, id: Option<(u64, u64)>) {
        if let Some(id) = id {
            if self.refuse_into_itself(&parent, &name, id) {
                return;
            }
        }
        let flags = if self.options.dereference == Dereference::Always {
            DIR_FLAGS.difference(OFlags::NOFOLLOW)
        } else {
            DIR_FLAGS
        };
        let opened = parent.src_fd().and_then(|pfd| {
            let fd = match rfs::openat(pfd.as_fd(), &name, flags, Mode::empty()) {
                // Listed, never statted, and gone since: nothing to copy (as a statted entry
                // that vanished before its stat).
                Err(Errno::NOENT) if id.is_none() => return Ok(None),
                r => r?,
            };
            let st = rfs::fstat(&fd)?;
            if id.is_some_and(|id| file_id(&st) != id) {
                return Err(io::Error::other("directory was replaced during the copy"));
            }
            Ok(Some((fd, Stat::from(&st))))
        });
        let Some(opened) = opened.transpose() else {
            return; // listed, gone since: nothing to copy
        };
        if let Ok((_, stat)) = &opened {
            if id.is_none() && self.refuse_into_itself(&parent, &name, (stat.dev, stat.ino)) {
                return;
            }
        }
        // Following symlinks (-L) can lead back up the tree: cp refuses such a directory. Its
        // ancestors are `parent`'s chain (not the stack, whose frames need not be one chain
        // once a candidate is revisited).
        let opened = opened.and_then(|(fd, stat)| {
            if self.options.dereference == Dereference::Always
                && is_an_ancestor(&parent, (stat.dev, stat.ino))
            {
                return Err(io::Error::other(
                    "directory is its own ancestor (symlink loop)",
                ));
            }
            Ok((fd, stat))
        });
        match opened {
            Ok((fd, stat)) => {
                let node = DirNode::child(&parent, name, None, stat, fd);
                if self.options.leaf_files > 0 {
                    match self.list_leaf(&node) {
                        LeafTest::Leaf(files) => {
                            self.ready.push_back(Step::Leaf(LeafDir { node, files }));
                            return;
                        }
                        LeafTest::Listed => {
                            self.push_frame(node);
                            self.store_listing();
                            return;
                        }
                        LeafTest::Unlisted => {}
                    }
                }
                self.push_frame(node);
            }
            Err(e) => {
                let op = if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) {
                    Op::Changed
                } else {
                    Op::Open
                };
                let path = join(parent.path(), &name);
                self.ready
                    .push_back(Step::Error(EntryError::new(path, op, e)));
            }
        }
    }

    /// A directory that is the destination of this directory or of one of its ancestors
    /// (reached through a bind mount, or because the destination lies inside the source) would
    /// be copied into itself, level after level, until the disk is full. cp refuses it per
    /// directory; so do we (docs/behaviour-table.md row 38). Comparing identities catches every
    /// route to it. True (and the error queued) when `id`, the directory `name` in `parent`, is
    /// one.
    fn refuse_into_itself(&mut self, parent: &DirNode, name: &CStr, id: (u64, u64)) -> bool {
        let Some(made) = destination_among_ancestors(parent, id) else {
            return false;
        };
        let dest = made.dst_path().display().to_string();
        self.ready.push_back(Step::Error(EntryError::new(
            join(parent.path(), name),
            Op::IntoItself,
            io::Error::other(format!(
                "it is the destination directory '{dest}'; not copying a directory into itself"
            )),
        )));
        true
    }

    pub(super) fn push_frame(&mut self, node: Arc<DirNode>) {
        if self.root.is_none() {
            let dev = node.stat().map_or(0, |s| s.dev);
            self.root = Some((dev, node.path().to_path_buf()));
        }
        self.ready.push_back(Step::Dir(Arc::clone(&node)));
        if let Some(parent) = self.stack.last_mut() {
            parent.src_fd = None;
        }
        self.stack.push(Frame {
            node,
            names: NameBlock::default(),
            entries: Vec::new(),
            subdirs: Vec::new(),
            listed: false,
            prelisted: false,
            subdirs_reversed: false,
            names_candidates: false,
            src_fd: None,
        });
        // Keep at most max_open_dirs source fds: release from the bottom (never the top, which
        // is being listed). Released ones reopen from an open ancestor when the walk returns.
        let open = self.stack.iter().filter(|f| f.node.holds_src()).count();
        let mut excess = open.saturating_sub(self.options.max_open_dirs);
        for frame in &self.stack[..self.stack.len() - 1] {
            if excess == 0 {
                break;
            }
            if frame.node.holds_src() {
                frame.node.release_src();
                excess -= 1;
            }
        }
    }

    /// Lists the top frame's directory (unless entering it did: `Frame::prelisted`).
    pub(super) fn list_top(&mut self) {
        let frame = self.stack.last_mut().expect("a frame");
        frame.listed = true;
        // Nothing inside is copied where its destination could not be made, nor under -x in a
        // mount point (created, empty).
        let other_filesystem = self.options.one_file_system
            && frame.node.stat().map(|s| s.dev) != self.root.as_ref().map(|(dev, _)| *dev);
        if frame.node.dst_failed() || other_filesystem {
            frame.names = NameBlock::default();
            frame.entries = Vec::new();
            return;
        }
        if frame.prelisted {
            return;
        }
        let fd = match frame.node.src_fd() {
            Ok(fd) => fd,
            Err(e) => {
                self.ready
                    .push_back(Step::Error(EntryError::new(frame.node.path(), Op::Open, e)));
                return;
            }
        };
        let (names, entries) = &mut self.listing;
        if let Err(e) = read_listing(fd.as_fd(), &mut self.dirent_buf, names, entries) {
            // What was read before the error is still copied.
            self.ready.push_back(Step::Error(EntryError::new(
                frame.node.path(),
                Op::ReadDir,
                e,
            )));
        }
        self.store_listing();
    }

    /// Moves the listing in the gathering vectors into the top frame, in the order its entries
    /// are taken.
    fn store_listing(&mut self) {
        let frame = self.stack.last_mut().expect("a frame");
        let (names, entries) = &mut self.listing;
        if self.options.order == Order::Inode {
            entries.sort_unstable_by_key(|(_, ino, _)| *ino);
        }
        entries.reverse();
        // The names go into one shared block: its files' jobs share it instead of a name each.
        frame.names = NameBlock::new(names);
        if entries.len() <= LISTING_KEPT {
            frame.entries = entries.clone();
        } else {
            // A large listing moves into its frame instead: the gathering vectors do not keep
            // the largest directory's size for the rest of the run.
            *names = Vec::new();
            frame.entries = std::mem::take(entries);
            frame.entries.shrink_to_fit();
        }
        frame.prelisted = true;
    }

    /// Takes the next entry of the top frame, if any; `false` when its listing is exhausted.
    pub(super) fn step_top(&mut self) -> bool {
        let frame = self.stack.last_mut().expect("a frame");
        let Some((at, ino, listed)) = frame.entries.pop() else {
            return false;
        };
        let regular = listed == Listed::Regular;
        let name = frame.shared_name(at);
        let node = Arc::clone(&frame.node);
        let fd = match &frame.src_fd {
            Some(fd) => Arc::clone(fd),
            None => match node.src_fd() {
                Ok(fd) => {
                    frame.src_fd = Some(Arc::clone(&fd));
                    fd
                }
                Err(e) => {
                    self.ready
                        .push_back(Step::Error(EntryError::new(node.path(), Op::Open, e)));
                    frame.entries.clear();
                    return true;
                }
            },
        };
        if listed == Listed::Dir {
            // Its identity and metadata come from the opened directory (`enter`).
            if !self.excluded(&node, &name, true) {
                let frame = self.stack.last_mut().expect("a frame");
                frame.subdirs.push((at, None));
            }
            return true;
        }
        let unstatted = (regular && !self.options.stat_files)
            .then(|| node.stat().map(|s| Stat::regular_from_dirent(s.dev, ino)))
            .flatten();
        let stat = match unstatted.map_or_else(
            || rfs::statat(fd.as_fd(), &*name, AtFlags::SYMLINK_NOFOLLOW).map(|st| Stat::from(&st)),
            Ok,
        ) {
            Ok(st) => st,
            Err(Errno::NOENT) => return true, // vanished since the listing: nothing to copy
            Err(e) => {
                self.ready.push_back(Step::Error(EntryError::new(
                    join(node.path(), &name),
                    Op::Stat,
                    e,
                )));
                return true;
            }
        };
        if self.excluded(&node, &name, stat.kind() == Kind::Dir) {
            return true;
        }
        let (stat, resolved) =
            if stat.kind() == Kind::Symlink && self.options.dereference == Dereference::Always {
                match self.follow(&fd, &name) {
                    Ok(r) => r,
                    Err(e) => {
                        self.ready.push_back(Step::Error(EntryError::new(
                            join(node.path(), &name),
                            Op::Stat,
                            e,
                        )));
                        return true;
                    }
                }
            } else {
                (stat, None)
            };
        if FileType::from_raw_mode(stat.mode) == FileType::Directory {
            self.stack
                .last_mut()
                .expect("a frame")
                .subdirs
                .push((at, Some((stat.dev, stat.ino))));
        } else {
            let entry = Entry {
                dir: node,
                src_name: name.clone(),
                dst_name: name,
                stat,
                resolved,
            };
            self.plan_entry(entry, fd);
        }
        true
    }

    /// True when `--exclude` leaves out the entry `name` of `node`.
    fn excluded(&self, node: &DirNode, name: &CStr, is_dir: bool) -> bool {
        let Some(exclude) = &self.options.exclude else {
            return false;
        };
        let path = join(node.path(), name);
        let root = self.root.as_ref().map(|(_, p)| p.as_path());
        let rel = root
            .and_then(|r| path.strip_prefix(r).ok())
            .unwrap_or(&path);
        exclude.excludes(rel, is_dir)
    }

    /// `-L`: what the symlink `name` in `fd` resolves to — its stat, and for a non-directory
    /// where to read it from.
    #[allow(clippy::type_complexity)]
    pub(super) fn follow(
        &self,
        fd: &Arc<OwnedFd>,
        name: &CStr,
    ) -> io::Result<(Stat, Option<(Arc<OwnedFd>, Name)>)> {
        let st = Stat::from(&rfs::statat(fd.as_fd(), name, AtFlags::empty())?);
        if st.kind() == Kind::Dir {
            return Ok((st, None));
        }
        let (dir, real) = resolve_symlink(fd.as_fd(), name)?;
        Ok((st, Some((Arc::new(dir), real.into()))))
    }
}

/// Reads the directory `fd` from its current offset into `names` (each NUL-terminated) and
/// `entries` (where the name starts, inode, listed type), both cleared first, `.` and `..`
/// left out. On an error, what was read before it stays.
pub(super) fn read_listing(
    fd: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
    names: &mut Vec<u8>,
    entries: &mut Vec<(u32, u64, Listed)>,
) -> io::Result<()> {
    names.clear();
    entries.clear();
    let mut dir = RawDir::new(fd, buf);
    while let Some(item) = dir.next() {
        let e = item?;
        let name = e.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let Ok(at) = u32::try_from(names.len()) else {
            return Err(io::Error::other(
                "more than 4 GiB of names in one directory",
            ));
        };
        names.extend_from_slice(name.to_bytes_with_nul());
        let listed = match e.file_type() {
            FileType::RegularFile => Listed::Regular,
            FileType::Directory => Listed::Dir,
            _ => Listed::Other,
        };
        entries.push((at, e.ino(), listed));
    }
    Ok(())
}

/// Whether `parent` or one of its ancestors is the source directory `id`.
fn is_an_ancestor(parent: &DirNode, id: (u64, u64)) -> bool {
    parent
        .ancestry()
        .any(|node| node.stat().is_some_and(|s| (s.dev, s.ino) == id))
}

/// The directory among `parent` and its ancestors whose destination is `id` (a source
/// directory with that identity would be copied into itself), if any. The anchor is no such
/// directory: its destination holds the copy's top but is not part of it.
pub fn destination_among_ancestors(parent: &DirNode, id: (u64, u64)) -> Option<&DirNode> {
    parent
        .ancestry()
        .take_while(|node| !node.is_anchor())
        .find(|node| node.dst_id() == Some(id))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::{PlanOptions, Planner, Step};

    /// Two subdirectories `a` and `b` with a file each, under `root/src`.
    fn two_dirs(root: &std::path::Path) -> std::path::PathBuf {
        let src = root.join("src");
        for d in ["a", "b"] {
            fs::create_dir_all(src.join(d)).unwrap();
            fs::write(src.join(d).join("f"), "x").unwrap();
        }
        src
    }

    // A subdirectory known from its listed type is not statted before it is entered: when it is
    // gone by then, it is skipped without a message, as any entry gone before its stat is (one
    // statted first and gone before its open was an error before: the window moved, the rule
    // for a directory gone since the listing is now one).
    #[test]
    fn a_listed_directory_gone_before_it_is_entered_is_skipped_quietly() {
        let t = tempfile::tempdir().unwrap();
        let src = two_dirs(t.path());
        let planner = Planner::new(&src, &t.path().join("dst"), PlanOptions::default()).unwrap();
        let mut entered = Vec::new();
        let mut errors = Vec::new();
        for step in planner {
            match step {
                Step::Dir(node) => {
                    entered.push(node.src_name().to_owned());
                    if entered.len() == 2 {
                        // The first subdirectory is entered: its sibling was listed and goes now.
                        let other = if entered[1].as_bytes() == b"a" {
                            "b"
                        } else {
                            "a"
                        };
                        fs::remove_dir_all(src.join(other)).unwrap();
                    }
                }
                Step::Error(e) => errors.push(e.to_string()),
                _ => {}
            }
        }
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            entered.len(),
            2,
            "the root and the subdirectory that stayed"
        );
    }

    /// With leaves allowed, a directory of regular files only (within the limit) comes whole as
    /// one `Step::Leaf`, an empty one too; one with a subdirectory, a symlink or more files than
    /// the limit is walked as before, and every entry of it is planned (its listing starts over
    /// after the look that found it is no leaf).
    #[test]
    fn directories_of_files_only_come_as_leaves_and_the_rest_is_walked_whole() {
        use std::collections::BTreeMap;
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        let write = |dir: &str, names: &[&str]| {
            fs::create_dir_all(src.join(dir)).unwrap();
            for n in names {
                fs::write(src.join(dir).join(n), n).unwrap();
            }
        };
        write("leaf", &["f1", "f2", "f3"]);
        write("big", &["g0", "g1", "g2", "g3", "g4", "g5"]);
        write("mixed", &["h1"]);
        write("mixed/sub", &["s1"]);
        write("empty", &[]);
        std::os::unix::fs::symlink("h1", src.join("mixed/link")).unwrap();
        let options = PlanOptions {
            stat_files: false,
            leaf_files: 4,
            ..PlanOptions::default()
        };
        let planner = Planner::new(&src, &t.path().join("dst"), options).unwrap();
        let mut leaves = BTreeMap::new();
        let mut walked = Vec::new();
        let mut files = Vec::new();
        let mut symlinks = Vec::new();
        for step in planner {
            match step {
                Step::Leaf(leaf) => {
                    let mut names: Vec<String> = leaf
                        .files
                        .iter()
                        .map(|(n, _)| n.to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    let dir = leaf.node.src_name().to_string_lossy().into_owned();
                    leaves.insert(dir, names);
                }
                Step::Dir(node) => walked.push(node.src_name().to_string_lossy().into_owned()),
                Step::Files(planned) => files.extend(
                    planned
                        .iter()
                        .map(|f| f.entry.src_name.to_string_lossy().into_owned()),
                ),
                Step::Symlink(entry, _) => {
                    symlinks.push(entry.src_name.to_string_lossy().into_owned())
                }
                Step::Error(e) => panic!("{e}"),
                _ => {}
            }
        }
        let expected: BTreeMap<String, Vec<String>> = [
            ("leaf", vec!["f1", "f2", "f3"]),
            ("empty", vec![]),
            ("sub", vec!["s1"]),
        ]
        .into_iter()
        .map(|(d, f)| (d.to_string(), f.into_iter().map(String::from).collect()))
        .collect();
        assert_eq!(leaves, expected);
        walked.sort();
        assert_eq!(walked, ["big", "mixed", "src"]);
        files.sort();
        assert_eq!(files, ["g0", "g1", "g2", "g3", "g4", "g5", "h1"]);
        assert_eq!(symlinks, ["link"]);
    }

    /// Without `leaf_files` (the default) no leaf ever comes.
    #[test]
    fn no_leaves_unless_asked() {
        let t = tempfile::tempdir().unwrap();
        let src = two_dirs(t.path());
        let planner = Planner::new(&src, &t.path().join("dst"), PlanOptions::default()).unwrap();
        assert!(!planner.into_iter().any(|s| matches!(s, Step::Leaf(_))));
    }

    /// Where the plan stats files and keeps hard links (`-a`), a directory holding a file with
    /// another name is walked (its link group is the walk's); one whose files have one name each
    /// is a leaf, its files planned from their stats.
    #[test]
    fn a_file_with_other_names_keeps_its_directory_out_of_the_leaves() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("solo")).unwrap();
        fs::create_dir_all(src.join("linked")).unwrap();
        fs::write(src.join("solo/f1"), "one").unwrap();
        fs::write(src.join("solo/f2"), "three").unwrap();
        fs::write(src.join("linked/a"), "a").unwrap();
        fs::hard_link(src.join("linked/a"), src.join("linked/b")).unwrap();
        let options = PlanOptions {
            stat_files: true,
            preserve_links: true,
            leaf_files: 8,
            ..PlanOptions::default()
        };
        let planner = Planner::new(&src, &t.path().join("dst"), options).unwrap();
        let (mut leaves, mut walked, mut links) = (Vec::new(), Vec::new(), 0);
        for step in planner {
            match step {
                Step::Leaf(leaf) => {
                    for (name, stat) in &leaf.files {
                        leaves.push((name.to_string_lossy().into_owned(), stat.size));
                    }
                    assert_eq!(leaf.node.src_name(), c"solo");
                }
                Step::Dir(node) => walked.push(node.src_name().to_string_lossy().into_owned()),
                Step::HardLink(..) => links += 1,
                Step::Error(e) => panic!("{e}"),
                _ => {}
            }
        }
        leaves.sort();
        assert_eq!(leaves, [("f1".to_string(), 3), ("f2".to_string(), 5)]);
        walked.sort();
        assert_eq!(walked, ["linked", "src"]);
        assert_eq!(links, 1, "the second name links to the first");
    }
}
