//! A small in-memory FUSE filesystem that fails `close(2)` (the FUSE `FLUSH` request) with EIO
//! for files whose name starts with `badclose`, as NFS, CIFS and FUSE filesystems report
//! deferred write errors there. Root only (it mounts with mount(2) through `/dev/fuse`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow,
};

/// No caching in the kernel: every lookup and attribute comes from here.
const TTL: Duration = Duration::ZERO;

#[derive(Debug)]
struct Node {
    name: OsString,
    dir: bool,
    mode: u32,
    data: Vec<u8>,
    children: BTreeMap<OsString, u64>,
    mtime: SystemTime,
}

#[derive(Debug, Default)]
struct State {
    nodes: HashMap<u64, Node>,
    next: u64,
    failed_flushes: usize,
}

impl State {
    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let n = self.nodes.get(&ino)?;
        Some(FileAttr {
            ino,
            size: n.data.len() as u64,
            blocks: (n.data.len() as u64).div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind: if n.dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: (n.mode & 0o7777) as u16,
            nlink: if n.dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn child(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.nodes.get(&parent)?.children.get(name).copied()
    }

    fn add(&mut self, parent: u64, name: &OsStr, dir: bool, mode: u32) -> u64 {
        self.next += 1;
        let ino = self.next;
        self.nodes.insert(
            ino,
            Node {
                name: name.to_os_string(),
                dir,
                mode,
                data: Vec::new(),
                children: BTreeMap::new(),
                mtime: SystemTime::now(),
            },
        );
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.children.insert(name.to_os_string(), ino);
        }
        ino
    }
}

/// The filesystem; clone the handle from [`FaultFs::state`] to look inside after the copy.
#[derive(Debug, Clone)]
pub struct FaultFs(Arc<Mutex<State>>);

impl FaultFs {
    fn new() -> FaultFs {
        let mut s = State {
            next: 1,
            ..State::default()
        };
        s.nodes.insert(
            1,
            Node {
                name: OsString::new(),
                dir: true,
                mode: 0o755,
                data: Vec::new(),
                children: BTreeMap::new(),
                mtime: SystemTime::now(),
            },
        );
        FaultFs(Arc::new(Mutex::new(s)))
    }

    /// How many closes were failed.
    pub fn failed_flushes(&self) -> usize {
        self.0.lock().unwrap().failed_flushes
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
}

/// A mounted [`FaultFs`]; unmounted when dropped.
pub struct FaultMount {
    pub fs: FaultFs,
    _session: fuser::BackgroundSession,
}

impl FaultMount {
    /// Mounts a fresh [`FaultFs`] on `at` (an empty directory). Root only.
    pub fn new(at: &Path) -> Result<FaultMount, String> {
        if !crate::harness::is_root() {
            return Err("mounting a FUSE filesystem needs root".into());
        }
        if !Path::new("/dev/fuse").exists() {
            return Err("no /dev/fuse".into());
        }
        let fs = FaultFs::new();
        let session = fuser::spawn_mount2(
            fs.clone(),
            at,
            &[MountOption::FSName("ucopy-faultfs".into()), MountOption::RW],
        )
        .map_err(|e| format!("FUSE mount failed: {e}"))?;
        Ok(FaultMount {
            fs,
            _session: session,
        })
    }
}

impl Filesystem for FaultFs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let s = self.st();
        match s.child(parent, name).and_then(|i| s.attr(i)) {
            Some(a) => reply.entry(&TTL, &a, 0),
            None => reply.error(libc::ENOENT),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.st().attr(ino) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        let mut s = self.st();
        let Some(n) = s.nodes.get_mut(&ino) else {
            return reply.error(libc::ENOENT);
        };
        if let Some(m) = mode {
            n.mode = m & 0o7777;
        }
        if let Some(len) = size {
            n.data.resize(len as usize, 0);
        }
        let a = s.attr(ino).expect("just found");
        reply.attr(&TTL, &a);
    }

    fn mkdir(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let mut s = self.st();
        if s.child(parent, name).is_some() {
            return reply.error(libc::EEXIST);
        }
        let ino = s.add(parent, name, true, mode & 0o7777);
        let a = s.attr(ino).expect("just made");
        reply.entry(&TTL, &a, 0);
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let mut s = self.st();
        let Some(ino) = s.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        s.nodes
            .get_mut(&parent)
            .expect("parent")
            .children
            .remove(name);
        s.nodes.remove(&ino);
        reply.ok();
    }

    fn create(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut s = self.st();
        if s.child(parent, name).is_some() {
            return reply.error(libc::EEXIST);
        }
        let ino = s.add(parent, name, false, mode & 0o7777);
        let a = s.attr(ino).expect("just made");
        reply.created(&TTL, &a, 0, ino, 0);
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        reply.opened(ino, 0);
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let mut s = self.st();
        let Some(n) = s.nodes.get_mut(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let end = offset as usize + data.len();
        if n.data.len() < end {
            n.data.resize(end, 0);
        }
        n.data[offset as usize..end].copy_from_slice(data);
        reply.written(data.len() as u32);
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let s = self.st();
        let Some(n) = s.nodes.get(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let start = (offset as usize).min(n.data.len());
        let end = (start + size as usize).min(n.data.len());
        reply.data(&n.data[start..end]);
    }

    fn flush(&mut self, _req: &Request<'_>, ino: u64, _fh: u64, _lock: u64, reply: ReplyEmpty) {
        let mut s = self.st();
        let bad = s
            .nodes
            .get(&ino)
            .is_some_and(|n| !n.dir && n.name.as_bytes().starts_with(b"badclose"));
        if bad {
            s.failed_flushes += 1;
            reply.error(libc::EIO);
        } else {
            reply.ok();
        }
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn opendir(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        reply.opened(ino, 0);
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let s = self.st();
        let Some(n) = s.nodes.get(&ino) else {
            return reply.error(libc::ENOENT);
        };
        let mut entries: Vec<(u64, FileType, OsString)> = vec![
            (ino, FileType::Directory, ".".into()),
            (ino, FileType::Directory, "..".into()),
        ];
        for (name, &child) in &n.children {
            let kind = if s.nodes[&child].dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            entries.push((child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(child, (i + 1) as i64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _flags: i32,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }
}
