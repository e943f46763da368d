//! Throw-away filesystems for the rows that need a particular one (a full ext4, a reflink-capable
//! xfs/btrfs, a ramfs without xattrs). Root only; constructors return `Err(reason)` to skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{is_root, run};
use crate::tree::TestTree;

/// A mounted filesystem, unmounted on drop (declare it after any `TestTree` that holds it).
pub struct Mount {
    // Holds the image and the mount point; dropped after the unmount in `Drop`.
    dir: TestTree,
    mnt: PathBuf,
}

impl Mount {
    /// A loop-mounted `fstype` ("ext4", "xfs", "btrfs") of `size_mib` MiB in a sparse image.
    pub fn new_loop(fstype: &str, size_mib: u64) -> Result<Mount, String> {
        if !is_root() {
            return Err("mounting needs root".into());
        }
        let mkfs = find_tool(&format!("mkfs.{fstype}"))
            .ok_or_else(|| format!("mkfs.{fstype} not installed"))?;
        let dir = TestTree::new();
        let img = dir.p("fs.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(size_mib << 20))
            .map_err(|e| format!("image: {e}"))?;
        let force = if fstype.starts_with("ext") {
            "-F"
        } else {
            "-f"
        };
        let mut c = Command::new(mkfs);
        c.args(["-q", force]).arg(&img);
        let out = run(c, Duration::from_secs(60));
        if !out.status.success() {
            return Err(format!("mkfs.{fstype} failed: {}", out.stderr_str().trim()));
        }
        let mnt = dir.dir("mnt");
        let mut c = Command::new(find_tool("mount").unwrap_or_else(|| "mount".into()));
        c.args(["-t", fstype, "-o", "loop"]).arg(&img).arg(&mnt);
        let out = run(c, Duration::from_secs(60));
        if !out.status.success() {
            return Err(format!("mount -o loop failed: {}", out.stderr_str().trim()));
        }
        Ok(Mount { dir, mnt })
    }

    /// A ramfs: no xattr support at all (tmpfs has user xattrs since Linux 6.6).
    pub fn new_ramfs() -> Result<Mount, String> {
        if !is_root() {
            return Err("mounting needs root".into());
        }
        let dir = TestTree::new();
        let mnt = dir.dir("mnt");
        let mut c = Command::new(find_tool("mount").unwrap_or_else(|| "mount".into()));
        c.args(["-t", "ramfs", "ramfs"]).arg(&mnt);
        let out = run(c, Duration::from_secs(60));
        if !out.status.success() {
            return Err(format!("mount ramfs failed: {}", out.stderr_str().trim()));
        }
        Ok(Mount { dir, mnt })
    }

    pub fn path(&self) -> &Path {
        &self.mnt
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let umount = find_tool("umount").unwrap_or_else(|| "umount".into());
        for _ in 0..20 {
            let ok = Command::new(&umount)
                .arg(&self.mnt)
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Still busy (a killed copier's fds closing late): detach it so the temp dir can go.
        let _ = Command::new(&umount).arg("-l").arg(&self.mnt).output();
        let _ = &self.dir;
    }
}

/// A system tool by name: `$PATH`, then the sbin dirs a non-login root shell may lack.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
