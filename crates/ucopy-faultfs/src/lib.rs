//! A fault-injecting filesystem for tests: an in-memory FUSE filesystem whose files can fail
//! the way a dying disk or a network filesystem does, so ucopy's error paths are exercised by
//! the real kernel, not by mocks of ucopy's own functions.
//!
//! - [`FaultFs::bad_sector`]: reads at or past an offset fail with EIO, and a read that spans the
//!   offset returns only the bytes before it (a short read, then an error — what a disk with an
//!   unreadable sector gives).
//! - [`FaultFs::fail_close_of_written_files`]: `close(2)` of a file that was written reports
//!   EIO (NFS, CIFS and FUSE report deferred write errors at close).
//!
//! Files are opened with `FOPEN_DIRECT_IO`, so every read and write reaches this filesystem with
//! the caller's offsets and sizes (the page cache would round them to pages). Mounting needs
//! root (or a `fusermount3` helper); [`FaultFs::mount`] says why when it cannot.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

const TTL: Duration = Duration::ZERO;
const ROOT: u64 = 1;

#[derive(Debug)]
struct Node {
    kind: FileType,
    perm: u16,
    uid: u32,
    gid: u32,
    atime: SystemTime,
    mtime: SystemTime,
    data: Vec<u8>,
    children: BTreeMap<OsString, u64>,
    /// Reads at or past this offset fail with EIO.
    bad_from: Option<u64>,
    /// Written through some handle since it was opened.
    written: bool,
}

impl Node {
    fn new(kind: FileType, perm: u16, req: Option<&Request>) -> Node {
        let now = SystemTime::now();
        Node {
            kind,
            perm,
            uid: req.map_or(0, |r| r.uid()),
            gid: req.map_or(0, |r| r.gid()),
            atime: now,
            mtime: now,
            data: Vec::new(),
            children: BTreeMap::new(),
            bad_from: None,
            written: false,
        }
    }
}

#[derive(Debug)]
struct State {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
}

impl State {
    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let n = self.nodes.get(&ino)?;
        let size = n.data.len() as u64;
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.atime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind: n.kind,
            perm: n.perm,
            nlink: if n.kind == FileType::Directory { 2 } else { 1 },
            uid: n.uid,
            gid: n.gid,
            rdev: 0,
            flags: 0,
            blksize: 4096,
        })
    }

    fn add(&mut self, parent: u64, name: &OsStr, node: Node) -> Result<u64, Errno> {
        let p = self.nodes.get(&parent).ok_or(Errno::ENOENT)?;
        if p.children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        let p = self.nodes.get_mut(&parent).expect("checked above");
        p.children.insert(name.to_owned(), ino);
        Ok(ino)
    }

    /// The inode at a `/`-separated path below the root, creating directories on the way.
    fn mkdirs(&mut self, rel: &Path) -> u64 {
        let mut at = ROOT;
        for part in rel.iter() {
            let existing = self.nodes[&at].children.get(part).copied();
            at = match existing {
                Some(ino) => ino,
                None => self
                    .add(at, part, Node::new(FileType::Directory, 0o755, None))
                    .expect("a fresh name"),
            };
        }
        at
    }
}

/// The filesystem, before it is mounted: add files and choose faults, then [`FaultFs::mount`].
#[derive(Debug)]
pub struct FaultFs {
    state: Mutex<State>,
    fail_close_of_written: bool,
}

impl Default for FaultFs {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultFs {
    /// An empty filesystem (its root directory is mode 0777, so any user may write it).
    pub fn new() -> FaultFs {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::new(FileType::Directory, 0o777, None));
        FaultFs {
            state: Mutex::new(State {
                nodes,
                next_ino: ROOT + 1,
            }),
            fail_close_of_written: false,
        }
    }

    /// Adds a regular file (mode 0644) at `rel`, making its parent directories.
    pub fn file(self, rel: impl AsRef<Path>, content: impl Into<Vec<u8>>) -> FaultFs {
        self.add_file(rel.as_ref(), content.into(), None)
    }

    /// Adds a regular file whose bytes from `bad_from` on cannot be read (EIO).
    pub fn bad_sector(
        self,
        rel: impl AsRef<Path>,
        content: impl Into<Vec<u8>>,
        bad_from: u64,
    ) -> FaultFs {
        self.add_file(rel.as_ref(), content.into(), Some(bad_from))
    }

    /// Makes `close(2)` of every file written through the mount fail with EIO.
    pub fn fail_close_of_written_files(mut self) -> FaultFs {
        self.fail_close_of_written = true;
        self
    }

    fn add_file(self, rel: &Path, data: Vec<u8>, bad_from: Option<u64>) -> FaultFs {
        {
            let mut st = self.state.lock().expect("not poisoned");
            let parent = rel.parent().map_or(ROOT, |p| st.mkdirs(p));
            let name = rel.file_name().expect("a file name");
            let mut node = Node::new(FileType::RegularFile, 0o644, None);
            node.data = data;
            node.bad_from = bad_from;
            st.add(parent, name, node).expect("a fresh name");
        }
        self
    }

    /// Mounts at `mountpoint` (an existing empty directory) until the returned guard is dropped.
    pub fn mount(self, mountpoint: &Path) -> io::Result<Mounted> {
        let mut config = fuser::Config::default();
        config.mount_options = vec![fuser::MountOption::FSName("ucopy-faultfs".into())];
        config.acl = fuser::SessionACL::All;
        config.n_threads = Some(2);
        let session = fuser::spawn_mount(self, mountpoint, &config)?;
        Ok(Mounted { _session: session })
    }
}

/// A mounted [`FaultFs`]; dropping it unmounts.
#[derive(Debug)]
pub struct Mounted {
    _session: fuser::BackgroundSession,
}

impl FaultFs {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }

    /// Makes a new entry owned by the caller (`mkdir`, `create`).
    fn make(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        kind: FileType,
        mode: u32,
    ) -> Result<FileAttr, Errno> {
        let node = Node::new(kind, (mode & 0o7777) as u16, Some(req));
        self.with(|st| {
            let ino = st.add(parent.0, name, node)?;
            st.attr(ino).ok_or(Errno::EIO)
        })
    }
}

/// Answers a lookup or a mkdir: the entry, or why not.
fn reply_entry(reply: ReplyEntry, attr: Result<FileAttr, Errno>) {
    match attr {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

/// Answers a getattr or a setattr: the attributes, or ENOENT for an unknown inode.
fn reply_attr(reply: ReplyAttr, attr: Option<FileAttr>) {
    match attr {
        Some(attr) => reply.attr(&TTL, &attr),
        None => reply.error(Errno::ENOENT),
    }
}

fn to_time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl Filesystem for FaultFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let found = self.with(|st| {
            let ino = *st.nodes.get(&parent.0)?.children.get(name)?;
            st.attr(ino)
        });
        reply_entry(reply, found.ok_or(Errno::ENOENT));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        reply_attr(reply, self.with(|st| st.attr(ino.0)));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let attr = self.with(|st| {
            let n = st.nodes.get_mut(&ino.0)?;
            if let Some(m) = mode {
                n.perm = (m & 0o7777) as u16;
            }
            n.uid = uid.unwrap_or(n.uid);
            n.gid = gid.unwrap_or(n.gid);
            if let Some(s) = size {
                n.data.resize(s as usize, 0);
            }
            n.atime = atime.map_or(n.atime, to_time);
            n.mtime = mtime.map_or(n.mtime, to_time);
            st.attr(ino.0)
        });
        reply_attr(reply, attr);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        reply_entry(
            reply,
            self.make(req, parent, name, FileType::Directory, mode & !umask),
        );
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.make(req, parent, name, FileType::RegularFile, mode & !umask) {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let removed = self.with(|st| {
            let ino = st.nodes.get_mut(&parent.0)?.children.remove(name)?;
            st.nodes.remove(&ino)
        });
        match removed {
            Some(_) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let result = self.with(|st| {
            let n = st.nodes.get(&ino.0).ok_or(Errno::ENOENT)?;
            let mut end = (offset + u64::from(size)).min(n.data.len() as u64);
            if let Some(bad) = n.bad_from {
                if offset >= bad {
                    return Err(Errno::EIO);
                }
                end = end.min(bad);
            }
            let start = offset.min(end) as usize;
            Ok(n.data[start..end as usize].to_vec())
        });
        match result {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let written = self.with(|st| {
            let n = st.nodes.get_mut(&ino.0)?;
            let end = offset as usize + data.len();
            if n.data.len() < end {
                n.data.resize(end, 0);
            }
            n.data[offset as usize..end].copy_from_slice(data);
            n.written = true;
            n.mtime = SystemTime::now();
            Some(data.len() as u32)
        });
        match written {
            Some(n) => reply.written(n),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let written = self.with(|st| st.nodes.get(&ino.0).is_some_and(|n| n.written));
        if self.fail_close_of_written && written {
            reply.error(Errno::EIO);
        } else {
            reply.ok();
        }
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _ds: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = self.with(|st| {
            let dir = st.nodes.get(&ino.0)?;
            let mut out = vec![
                (ino.0, FileType::Directory, OsString::from(".")),
                (ino.0, FileType::Directory, OsString::from("..")),
            ];
            for (name, child) in &dir.children {
                out.push((*child, st.nodes[child].kind, name.clone()));
            }
            Some(out)
        });
        let Some(entries) = entries else {
            reply.error(Errno::ENOENT);
            return;
        };
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENODATA);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, size: u32, reply: ReplyXattr) {
        if size == 0 {
            reply.size(0);
        } else {
            reply.data(&[]);
        }
    }
}
