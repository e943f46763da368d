//! Where a copy reads from and writes to, and everything done around the timed region:
//! fresh loop-mounted filesystems, `sync`, `drop_caches`, `/proc/diskstats`.
//!
//! Every ext4/xfs/btrfs round gets a *fresh* filesystem because re-copying into a just-deleted
//! ext4 tree is ~10× slower (the allocator scans recently deleted inodes on every create).
//! Mounts are owned by `ucopy_test_support::mount::Mount`, whose `Drop` unmounts, so an error or
//! panic mid-round never leaves a mount behind; [`unmount_stale`] cleans up after a run
//! that was killed outright.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use ucopy_test_support::mount::Mount;

use super::corpus::{self, Corpus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Ext4,
    Xfs,
    Btrfs,
}

impl FsKind {
    /// `mount -t` / `mkfs.` name.
    fn fstype(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
        }
    }

    fn mkfs_program(self) -> (&'static str, &'static str) {
        match self {
            FsKind::Ext4 => ("mkfs.ext4", "e2fsprogs"),
            FsKind::Xfs => ("mkfs.xfs", "xfsprogs"),
            FsKind::Btrfs => ("mkfs.btrfs", "btrfs-progs"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Source and destination on /dev/shm.
    Tmpfs,
    /// Source: the cached corpus on the host disk, in page cache. Destination: fresh ext4.
    Ext4Warm,
    /// As `Ext4Warm`, but `sync; echo 3 > drop_caches` before every round.
    Ext4Cold,
    /// Source and destination on one fresh filesystem, so reflinks are possible.
    SameFs(FsKind),
    /// Re-sync (`-u`): the destination (fresh ext4) already holds an equal copy, made untimed;
    /// the timed run must find that out and rewrite nothing — or only the changed 1 %.
    Resync(Resync),
}

/// Which re-sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// Equal trees, caches warm.
    Warm,
    /// Equal trees, caches dropped (both sides' inodes must be read from disk).
    Cold,
    /// Warm, with 1 % of the destination's files made older and different (so exactly those
    /// are rewritten).
    Changed,
}

pub const NAMES: [&str; 8] = [
    "tmpfs",
    "ext4-warm",
    "ext4-cold",
    "xfs",
    "btrfs",
    "resync-warm",
    "resync-cold",
    "resync-1pct",
];

impl Scenario {
    pub fn from_name(name: &str) -> Option<Scenario> {
        Some(match name {
            "tmpfs" => Scenario::Tmpfs,
            "ext4-warm" => Scenario::Ext4Warm,
            "ext4-cold" => Scenario::Ext4Cold,
            "xfs" => Scenario::SameFs(FsKind::Xfs),
            "btrfs" => Scenario::SameFs(FsKind::Btrfs),
            "resync-warm" => Scenario::Resync(Resync::Warm),
            "resync-cold" => Scenario::Resync(Resync::Cold),
            "resync-1pct" => Scenario::Resync(Resync::Changed),
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Tmpfs => "tmpfs",
            Scenario::Ext4Warm => "ext4-warm",
            Scenario::Ext4Cold => "ext4-cold",
            Scenario::SameFs(FsKind::Xfs) => "xfs",
            Scenario::SameFs(FsKind::Btrfs) => "btrfs",
            Scenario::SameFs(FsKind::Ext4) => "ext4-same",
            Scenario::Resync(Resync::Warm) => "resync-warm",
            Scenario::Resync(Resync::Cold) => "resync-cold",
            Scenario::Resync(Resync::Changed) => "resync-1pct",
        }
    }

    /// True for the re-sync scenarios, which run their own contenders (`-u`, `rsync`).
    pub fn is_resync(self) -> bool {
        matches!(self, Scenario::Resync(_))
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Tmpfs => "tmpfs → tmpfs (/dev/shm)",
            Scenario::Ext4Warm => "host-disk ext4, warm cache → fresh loop ext4",
            Scenario::Ext4Cold => "host-disk ext4, caches dropped → fresh loop ext4",
            Scenario::SameFs(FsKind::Xfs) => "fresh loop xfs → same xfs (reflink possible)",
            Scenario::SameFs(FsKind::Btrfs) => "fresh loop btrfs → same btrfs (reflink possible)",
            Scenario::SameFs(FsKind::Ext4) => "fresh loop ext4 → same ext4",
            Scenario::Resync(Resync::Warm) => {
                "re-sync: host-disk ext4 → loop ext4 holding an equal copy, warm"
            }
            Scenario::Resync(Resync::Cold) => {
                "re-sync: host-disk ext4 → loop ext4 holding an equal copy, caches dropped"
            }
            Scenario::Resync(Resync::Changed) => {
                "re-sync: as resync-warm, 1 % of the destination's files older and different"
            }
        }
    }

    /// The destination's filesystem type, known before any round runs.
    pub fn dst_fs(self, tmp: &TmpRoot) -> String {
        match self.dest_fs() {
            Some(kind) => fs_name(kind).to_string(),
            None => tmp
                .base
                .parent()
                .and_then(fs_type)
                .unwrap_or_else(|| "?".into()),
        }
    }

    pub fn is_cold(self) -> bool {
        matches!(self, Scenario::Ext4Cold | Scenario::Resync(Resync::Cold))
    }

    fn dest_fs(self) -> Option<FsKind> {
        match self {
            Scenario::Tmpfs => None,
            Scenario::Ext4Warm | Scenario::Ext4Cold | Scenario::Resync(_) => Some(FsKind::Ext4),
            Scenario::SameFs(k) => Some(k),
        }
    }

    /// Why this scenario cannot run here, if it cannot.
    pub fn unavailable(self, is_root: bool, tmp: &TmpRoot) -> Option<String> {
        if self == Scenario::Tmpfs {
            return (!tmp.is_tmpfs).then(|| {
                format!(
                    "/dev/shm is not a writable tmpfs (would use '{}')",
                    tmp.base.display()
                )
            });
        }
        if !is_root {
            return Some(if self.is_cold() {
                "needs root (loop mounts and /proc/sys/vm/drop_caches)".into()
            } else {
                "needs root (loop mounts)".into()
            });
        }
        let (mkfs, package) = self.dest_fs()?.mkfs_program();
        if find_program(mkfs).is_none() {
            return Some(format!("{mkfs} not found (apt-get install {package})"));
        }
        None
    }
}

/// The directory tmpfs-scenario trees live under: /dev/shm when it is a tmpfs, otherwise the
/// temp dir (so `--smoke` still runs, just not on tmpfs).
#[derive(Debug)]
pub struct TmpRoot {
    pub base: PathBuf,
    pub is_tmpfs: bool,
}

impl TmpRoot {
    pub fn new() -> Result<TmpRoot> {
        let shm = Path::new("/dev/shm");
        let is_tmpfs = fs_type(shm).as_deref() == Some("tmpfs") && writable(shm);
        let parent = if is_tmpfs {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let base = parent.join(format!("ucopy-bench.{}", std::process::id()));
        Ok(TmpRoot { base, is_tmpfs })
    }
}

impl Drop for TmpRoot {
    fn drop(&mut self) {
        if self.base.exists() {
            if let Err(e) = fs::remove_dir_all(&self.base) {
                eprintln!("warning: cannot remove '{}': {e}", self.base.display());
            }
        }
    }
}

fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".ucopy-bench-probe.{}", std::process::id()));
    let ok = File::create(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    ok
}

/// Per-run paths shared by all scenarios.
#[derive(Debug)]
pub struct Workspace {
    /// target/bench: images and mount points live here, on the host disk.
    pub bench: PathBuf,
    pub tmp: TmpRoot,
    pub is_root: bool,
}

impl Workspace {
    fn mnt_dir(&self) -> PathBuf {
        self.bench.join("mnt")
    }
}

/// The source side of a corpus × scenario, prepared once before its rounds.
#[derive(Debug)]
pub struct Staged {
    /// `None` when each round makes its own source (same-filesystem scenarios).
    pub src: Option<PathBuf>,
    pub src_fs: String,
    /// The block device under the source, for `/proc/diskstats` queue depth.
    pub src_dev: Option<(u32, u32)>,
}

/// One round's source and destination. Dropping it removes the destination (and unmounts).
#[derive(Debug)]
pub struct Slot {
    pub src: PathBuf,
    pub dst: PathBuf,
    // Field order matters: the tree is removed before its mount goes away.
    _remove: Option<RemoveOnDrop>,
    _mount: Option<Mount>,
}

pub fn stage(scenario: Scenario, corpus: &Corpus, ws: &Workspace) -> Result<Staged> {
    let src = match scenario {
        Scenario::Tmpfs => {
            let src = ws.tmp.base.join("src").join(&corpus.spec.name);
            if !src.exists() {
                fs::create_dir_all(src.parent().expect("has parent"))?;
                corpus::materialise_verified(corpus, &src)?;
            }
            Some(src)
        }
        Scenario::Ext4Warm | Scenario::Ext4Cold | Scenario::Resync(_) => Some(corpus.tree.clone()),
        Scenario::SameFs(_) => None,
    };
    let (src_fs, src_dev) = match &src {
        Some(p) => (fs_type(p).unwrap_or_else(|| "?".into()), block_device(p)),
        None => (scenario.dest_fs().map_or("?", fs_name).to_string(), None),
    };
    Ok(Staged {
        src,
        src_fs,
        src_dev,
    })
}

fn fs_name(k: FsKind) -> &'static str {
    match k {
        FsKind::Ext4 => "ext4",
        FsKind::Xfs => "xfs",
        FsKind::Btrfs => "btrfs",
    }
}

/// Fresh destination for one timed copy. Untimed.
pub fn prepare_slot(
    scenario: Scenario,
    staged: &Staged,
    corpus: &Corpus,
    ws: &Workspace,
) -> Result<Slot> {
    match scenario {
        Scenario::Tmpfs => {
            let dst = ws.tmp.base.join("dst");
            if dst.exists() {
                fs::remove_dir_all(&dst)?;
            }
            Ok(Slot {
                src: staged.src.clone().expect("tmpfs stages a source"),
                dst: dst.clone(),
                _remove: Some(RemoveOnDrop(dst)),
                _mount: None,
            })
        }
        Scenario::Ext4Warm | Scenario::Ext4Cold | Scenario::SameFs(_) | Scenario::Resync(_) => {
            let kind = scenario.dest_fs().expect("has a filesystem");
            let same_fs = matches!(scenario, Scenario::SameFs(_));
            // 4 GiB as in the documented recipe, more when a dense copy of the corpus (twice,
            // when the source lives on it too) would not fit.
            let need = corpus.spec.apparent_bytes() * if same_fs { 2 } else { 1 };
            let size = (4u64 << 30).max((need + (1 << 30)).next_multiple_of(1 << 30));
            fs::create_dir_all(ws.bench.join("img"))?;
            let mount = Mount::loop_at(
                kind.fstype(),
                &ws.bench
                    .join("img")
                    .join(format!("{}.img", scenario.name())),
                &ws.mnt_dir().join(scenario.name()),
                size,
            )
            .map_err(anyhow::Error::msg)?;
            let src = if same_fs {
                let src = mount.path().join("src");
                // Not re-hashed every round: generation is deterministic (unit-tested) and
                // each copy is compared with this tree and the manifest's counts anyway.
                corpus::materialise(&corpus.spec, &src)?;
                src
            } else {
                staged.src.clone().expect("ext4 scenarios stage a source")
            };
            let dst = mount.path().join("dst");
            if let Scenario::Resync(kind) = scenario {
                // The equal copy the re-sync starts from, made by cp -a (untimed).
                let mut cp = Command::new("cp");
                cp.arg("-a").arg(&src).arg(&dst);
                run_checked(cp)?;
                if kind == Resync::Changed {
                    age_one_percent(&dst)?;
                }
            }
            Ok(Slot {
                src,
                dst,
                _remove: None,
                _mount: Some(mount),
            })
        }
    }
}

/// `resync-1pct`: every 100th regular file of `dst` (in a sorted walk) gets different content
/// of the same length and an mtime a day older than its source's, so `-u`, `cp -u` and rsync
/// all rewrite exactly those.
fn age_one_percent(dst: &Path) -> Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![dst.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                files.push(e.path());
            }
        }
    }
    for f in files.iter().step_by(100) {
        let meta = fs::metadata(f)?;
        let mut data = fs::read(f)?;
        for b in &mut data {
            *b = !*b;
        }
        fs::write(f, &data)?;
        let older = rustix::fs::Timespec {
            tv_sec: meta.mtime() - 86_400,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            f,
            &rustix::fs::Timestamps {
                last_access: older,
                last_modification: older,
            },
            rustix::fs::AtFlags::empty(),
        )?;
    }
    Ok(())
}

/// Called right before the timed region: flush everything the previous round and mkfs left
/// dirty (so their writeback does not land inside this round's timing) and, when cold, drop
/// the page, dentry and inode caches.
pub fn settle(scenario: Scenario) -> Result<()> {
    rustix::fs::sync();
    if scenario.is_cold() {
        fs::write("/proc/sys/vm/drop_caches", "3\n")
            .context("cannot write /proc/sys/vm/drop_caches")?;
    }
    Ok(())
}

#[derive(Debug)]
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = fs::remove_dir_all(&self.0) {
                eprintln!("warning: cannot remove '{}': {e}", self.0.display());
            }
        }
    }
}

/// Unmounts leftovers under `target/bench/mnt` from a run that was killed before its guards
/// ran, and removes tmpfs trees of bench processes that no longer exist.
pub fn unmount_stale(ws: &Workspace) -> Result<()> {
    let mnt = ws.mnt_dir();
    if let Ok(mounts) = fs::read_to_string("/proc/mounts") {
        for line in mounts.lines() {
            let Some(point) = line.split_whitespace().nth(1) else {
                continue;
            };
            // /proc/mounts escapes spaces as \040; our paths have none, but do not guess.
            let point = PathBuf::from(point.replace("\\040", " "));
            if point.starts_with(&mnt) {
                eprintln!(
                    "note: unmounting '{}' left by an interrupted run",
                    point.display()
                );
                let mut c = Command::new("umount");
                c.arg("-l").arg(&point);
                run_checked(c)?;
            }
        }
    }
    if let Some(parent) = ws.tmp.base.parent() {
        for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("ucopy-bench.") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    Ok(())
}

/// Runs a setup command; a missing program or a failure becomes one line with its last words.
pub fn run_checked(mut cmd: Command) -> Result<()> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {prog} (is it installed?)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        bail!("{prog} {} failed ({}): {last}", args.join(" "), out.status);
    }
    Ok(())
}

/// First match for `name` in PATH (no shell involved).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The filesystem type of the mount containing `path`, from `/proc/self/mountinfo`'s longest
/// matching mount point.
pub fn fs_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = PathBuf::from(left.split_whitespace().nth(4)?.replace("\\040", " "));
            let fstype = right.split_whitespace().next()?;
            path.starts_with(&point)
                .then(|| (point.as_os_str().len(), fstype.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, t)| t)
}

/// `(major, minor)` of the device holding `path`, if it is a block device in /proc/diskstats.
fn block_device(path: &Path) -> Option<(u32, u32)> {
    let dev = fs::metadata(path).ok()?.dev();
    let id = (rustix::fs::major(dev), rustix::fs::minor(dev));
    disk_counters(id).map(|_| id)
}

/// The `/proc/diskstats` counters used for queue depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads: u64,
    pub sectors_read: u64,
    /// Field 4: milliseconds spent reading, summed over all reads (= weighted for reads).
    pub read_ms: u64,
    /// Field 11: weighted milliseconds doing I/O (reads and writes).
    pub weighted_ms: u64,
}

pub fn disk_counters(dev: (u32, u32)) -> Option<DiskCounters> {
    let text = fs::read_to_string("/proc/diskstats").ok()?;
    parse_diskstats(&text, dev)
}

fn parse_diskstats(text: &str, (major, minor): (u32, u32)) -> Option<DiskCounters> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || f[0].parse() != Ok(major) || f[1].parse() != Ok(minor) {
            return None;
        }
        let n = |i: usize| f[i].parse::<u64>().ok();
        Some(DiskCounters {
            reads: n(3)?,
            sectors_read: n(5)?,
            read_ms: n(6)?,
            weighted_ms: n(13)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats_fields_by_position() {
        let text = " 254       0 vda 1000 5 8000 250 40 0 320 10 0 300 260 0 0 0 0 0 0\n\
                    \x20 254       1 vda1 1 2 3 4 5 6 7 8 9 10 11 0 0 0 0\n";
        let c = parse_diskstats(text, (254, 0)).unwrap();
        assert_eq!(
            c,
            DiskCounters {
                reads: 1000,
                sectors_read: 8000,
                read_ms: 250,
                weighted_ms: 260
            }
        );
        assert_eq!(parse_diskstats(text, (254, 1)).unwrap().weighted_ms, 11);
        assert!(parse_diskstats(text, (8, 0)).is_none());
    }

    #[test]
    fn scenario_names_round_trip() {
        for name in NAMES {
            assert_eq!(Scenario::from_name(name).unwrap().name(), name);
        }
    }
}
