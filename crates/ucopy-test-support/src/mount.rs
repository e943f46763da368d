//! Throw-away filesystems: a loop-mounted ext4/xfs/btrfs image, a ramfs, a small tmpfs. Root only;
//! constructors return `Err(reason)` so a test can skip with it and the bench can report it.
//! The guard unmounts on drop (retrying while a killed copier's descriptors close, then
//! `umount -l`) and removes the image, so an error or panic never leaves a mount behind.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::is_root;

/// A mounted filesystem, unmounted on drop.
#[derive(Debug)]
pub struct Mount {
    mnt: PathBuf,
    img: Option<PathBuf>,
    mounted: bool,
    // Holds the image and mount point of the temp-dir constructors; removed after the unmount.
    _dir: Option<TempDir>,
}

impl Mount {
    /// A loop-mounted `fstype` ("ext4", "xfs", "btrfs") of `size_mib` MiB in a sparse image in
    /// a temp dir.
    pub fn new_loop(fstype: &str, size_mib: u64) -> Result<Mount, String> {
        Mount::new_loop_opts(fstype, size_mib, "")
    }

    /// [`Mount::new_loop`] mounted with `-o loop,<opts>` (e.g. `ro`, `errors=remount-ro`).
    pub fn new_loop_opts(fstype: &str, size_mib: u64, opts: &str) -> Result<Mount, String> {
        let dir = temp_dir()?;
        let img = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        let mut m = Mount::loop_with(fstype, &img, &mnt, size_mib << 20, opts)?;
        m._dir = Some(dir);
        Ok(m)
    }

    /// `truncate -s size img; mkfs img; mount -o loop img mnt` at the given paths (an old `img`
    /// is replaced). ext4 gets eager inode-table and journal init: otherwise ext4lazyinit keeps
    /// writing in the background while a copy is timed.
    pub fn loop_at(fstype: &str, img: &Path, mnt: &Path, size: u64) -> Result<Mount, String> {
        Mount::loop_with(fstype, img, mnt, size, "")
    }

    fn loop_with(
        fstype: &str,
        img: &Path,
        mnt: &Path,
        size: u64,
        opts: &str,
    ) -> Result<Mount, String> {
        if !is_root() {
            return Err("mounting needs root".into());
        }
        let mkfs = find_tool(&format!("mkfs.{fstype}"))
            .ok_or_else(|| format!("mkfs.{fstype} not installed"))?;
        // The guard exists before anything is created, so every early return cleans up.
        let mut guard = Mount {
            mnt: mnt.to_path_buf(),
            img: Some(img.to_path_buf()),
            mounted: false,
            _dir: None,
        };
        match fs::remove_file(img) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove '{}': {e}", img.display()))
            }
            _ => {}
        }
        File::create(img)
            .and_then(|f| f.set_len(size))
            .map_err(|e| format!("cannot create image '{}': {e}", img.display()))?;
        let mut c = Command::new(mkfs);
        match fstype {
            "ext2" | "ext3" | "ext4" => {
                c.args(["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"])
            }
            _ => c.args(["-q", "-f"]),
        };
        run(c.arg(img)).map_err(|e| format!("mkfs.{fstype} failed: {e}"))?;
        fs::create_dir_all(mnt).map_err(|e| format!("cannot create '{}': {e}", mnt.display()))?;
        let mut c = Command::new(find_tool("mount").unwrap_or_else(|| "mount".into()));
        let opts = if opts.is_empty() {
            "loop".to_owned()
        } else {
            format!("loop,{opts}")
        };
        c.args(["-t", fstype, "-o", &opts]).arg(img).arg(mnt);
        run(&mut c).map_err(|e| format!("mount -o {opts} failed: {e}"))?;
        guard.mounted = true;
        Ok(guard)
    }

    /// A ramfs in a temp dir: no xattr support at all (tmpfs has user xattrs since Linux 6.6).
    pub fn new_ramfs() -> Result<Mount, String> {
        Mount::virtual_fs("ramfs", &[])
    }

    /// A tmpfs of `size` (as `mount -o size=` takes it, e.g. `1m`) in a temp dir: a small
    /// filesystem that fills up.
    pub fn new_tmpfs(size: &str) -> Result<Mount, String> {
        Mount::virtual_fs("tmpfs", &["-o", &format!("size={size}")])
    }

    /// `mount -t fstype [args] fstype DIR` for a filesystem without a backing device.
    fn virtual_fs(fstype: &str, args: &[&str]) -> Result<Mount, String> {
        if !is_root() {
            return Err("mounting needs root".into());
        }
        let dir = temp_dir()?;
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).map_err(|e| format!("cannot create '{}': {e}", mnt.display()))?;
        let mut c = Command::new(find_tool("mount").unwrap_or_else(|| "mount".into()));
        c.args(["-t", fstype]).args(args).arg(fstype).arg(&mnt);
        run(&mut c).map_err(|e| format!("mount {fstype} failed: {e}"))?;
        Ok(Mount {
            mnt,
            img: None,
            mounted: true,
            _dir: Some(dir),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.mnt
    }

    /// The ext4 filesystem's directory under `/sys/fs/ext4` (named after its block device, found
    /// through the mount point's `st_dev`), whose files tune it and, for tests, inject faults
    /// (`trigger_fs_error`).
    pub fn ext4_sysfs(&self) -> Result<PathBuf, String> {
        use std::os::unix::fs::MetadataExt;
        let dev = fs::metadata(&self.mnt)
            .map_err(|e| format!("cannot stat '{}': {e}", self.mnt.display()))?
            .dev();
        let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
        let block = Path::new("/sys/dev/block").join(format!("{major}:{minor}"));
        let name = fs::canonicalize(&block)
            .map_err(|e| format!("cannot resolve '{}': {e}", block.display()))?
            .file_name()
            .map(PathBuf::from)
            .ok_or_else(|| format!("'{}' names no device", block.display()))?;
        let dir = Path::new("/sys/fs/ext4").join(name);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!("'{}' does not exist", dir.display()))
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            let umount = find_tool("umount").unwrap_or_else(|| "umount".into());
            let mut done = false;
            for _ in 0..20 {
                if run(Command::new(&umount).arg(&self.mnt)).is_ok() {
                    done = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !done {
                // Still busy: detach it; the loop device goes when its last user does.
                if let Err(e) = run(Command::new(&umount).arg("-l").arg(&self.mnt)) {
                    eprintln!("warning: umount -l '{}': {e}", self.mnt.display());
                }
            }
        }
        if let Some(img) = &self.img {
            let _ = fs::remove_file(img);
        }
    }
}

fn temp_dir() -> Result<TempDir, String> {
    tempfile::Builder::new()
        .prefix("ucopy-mnt-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))
}

/// Runs `c`; `Err` carries its exit status and last stderr line.
fn run(c: &mut Command) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", c.get_program().to_string_lossy()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().map(str::trim).rfind(|l| !l.is_empty());
    Err(match last {
        Some(l) => format!("{}: {l}", out.status),
        None => out.status.to_string(),
    })
}

/// A system tool by name: `$PATH`, then the sbin dirs a non-login root shell may lack.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
