//! File names shared rather than copied, and the names of one directory listing kept in one
//! allocation.
//!
//! A file's name is held by the plan, its job, the executor's in-flight operations and the
//! destination's removal path at once, so it is shared. It used to be one `Arc<CStr>` per file:
//! an allocation made by the walk's thread and freed by a worker's, which glibc serves through
//! its arenas rather than a thread's cache (sharing a block instead took 12 % off the user-space
//! instructions of a copy of small files: PERF.md, "One allocation per directory's names"). A
//! [`NameBlock`] holds the names of a listing one after another, each NUL-terminated, and a
//! [`Name`] is a share of the block and where its name starts.

use std::ffi::{CStr, CString};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

/// The NUL-terminated names of one listing, one after another, in one shared allocation.
#[derive(Clone)]
pub struct NameBlock(Arc<[u8]>);

impl NameBlock {
    /// A block of the names in `bytes`: each NUL-terminated, one after another (a listing's
    /// gathering buffer). An empty slice makes an empty block.
    ///
    /// # Panics
    ///
    /// If `bytes` is not empty and does not end with a NUL (its last name would run off the
    /// end), or holds 4 GiB or more (names are found by a 32-bit offset).
    pub fn new(bytes: &[u8]) -> NameBlock {
        assert!(
            bytes.last().is_none_or(|&b| b == 0),
            "a name block ends with a NUL"
        );
        assert!(
            u32::try_from(bytes.len()).is_ok(),
            "a block of at most 4 GiB"
        );
        NameBlock(Arc::from(bytes))
    }

    /// The name that starts at byte `at`, borrowed.
    ///
    /// # Panics
    ///
    /// If `at` is past the block's end.
    pub fn get(&self, at: u32) -> &CStr {
        name_at(&self.0, at)
    }

    /// The name that starts at byte `at`, shared with the block: no allocation.
    ///
    /// # Panics
    ///
    /// If `at` is past the block's end.
    pub fn name(&self, at: u32) -> Name {
        assert!((at as usize) < self.0.len(), "a name inside its block");
        Name {
            block: Arc::clone(&self.0),
            start: at,
        }
    }
}

impl Default for NameBlock {
    /// The empty block, shared: a walk frame starts with it, and a frame per directory should
    /// not cost an allocation before its listing is read.
    fn default() -> NameBlock {
        static EMPTY: LazyLock<NameBlock> = LazyLock::new(|| NameBlock::new(&[]));
        EMPTY.clone()
    }
}

impl fmt::Debug for NameBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.split_inclusive(|&b| b == 0).map(|n| name_at(n, 0)))
            .finish()
    }
}

/// One path component (no `/`), shared: cloning it counts a reference, and dereferences to the
/// [`CStr`] a system call takes. Made on its own ([`Name::new`], `From`) or as part of a
/// listing's [`NameBlock`], whose allocation it then keeps alive.
#[derive(Clone)]
pub struct Name {
    block: Arc<[u8]>,
    /// Where the name starts in `block`.
    start: u32,
}

impl Name {
    /// A name in an allocation of its own.
    pub fn new(name: &CStr) -> Name {
        Name {
            block: Arc::from(name.to_bytes_with_nul()),
            start: 0,
        }
    }

    /// The name as a C string.
    pub fn as_c_str(&self) -> &CStr {
        // Safe code cannot keep a `&CStr` into the block, so each use finds the name's NUL
        // again: a few dozen instructions, where an allocation per name cost hundreds.
        name_at(&self.block, self.start)
    }

    /// The same name in an allocation of its own: what a long-lived holder keeps, so that it
    /// does not keep a whole listing's block alive for one name.
    pub fn detached(&self) -> Name {
        if self.start == 0 && self.block.len() == self.to_bytes_with_nul().len() {
            self.clone()
        } else {
            Name::new(self)
        }
    }
}

/// The name that starts at `at` in `names` (NUL-terminated names, one after another).
pub(crate) fn name_at(names: &[u8], at: u32) -> &CStr {
    CStr::from_bytes_until_nul(&names[at as usize..]).expect("names are NUL-terminated")
}

impl Deref for Name {
    type Target = CStr;

    fn deref(&self) -> &CStr {
        self.as_c_str()
    }
}

impl AsRef<CStr> for Name {
    fn as_ref(&self) -> &CStr {
        self.as_c_str()
    }
}

impl From<&CStr> for Name {
    fn from(name: &CStr) -> Name {
        Name::new(name)
    }
}

impl From<CString> for Name {
    fn from(name: CString) -> Name {
        Name::new(&name)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_c_str() == other.as_c_str()
    }
}

impl Eq for Name {}

impl PartialEq<CStr> for Name {
    fn eq(&self, other: &CStr) -> bool {
        self.as_c_str() == other
    }
}

impl PartialEq<&CStr> for Name {
    fn eq(&self, other: &&CStr) -> bool {
        self.as_c_str() == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_c_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_block_share_its_allocation() {
        let block = NameBlock::new(b"a\0bc\0\0");
        let (a, bc, empty) = (block.name(0), block.name(2), block.name(5));
        assert_eq!(a, c"a");
        assert_eq!(&*bc, c"bc");
        assert_eq!(empty.to_bytes(), b"");
        assert!(Arc::ptr_eq(&a.block, &bc.block));
        assert_eq!(block.get(2), c"bc");
        assert_eq!(format!("{block:?}"), r#"["a", "bc", ""]"#);
    }

    #[test]
    fn a_detached_name_lets_go_of_its_block() {
        let block = NameBlock::new(b"first\0second\0");
        let second = block.name(6).detached();
        assert_eq!(second, c"second");
        assert!(!Arc::ptr_eq(&second.block, &block.0));
        let alone = Name::new(c"alone");
        assert!(Arc::ptr_eq(&alone.detached().block, &alone.block));
        assert_eq!(format!("{alone:?}"), r#""alone""#);
    }

    #[test]
    #[should_panic(expected = "a name block ends with a NUL")]
    fn a_block_without_its_last_nul_is_refused() {
        NameBlock::new(b"open");
    }

    #[test]
    fn empty_blocks_share_one_allocation_and_hold_no_name() {
        let (a, b) = (NameBlock::default(), NameBlock::default());
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(format!("{a:?}"), "[]");
    }
}
