//! Names in messages, as GNU cp's default "shell-escape" quoting prints them inside `'...'`:
//! printable bytes as they are, control bytes and bytes that are not UTF-8 as `'$'\\n''`-style
//! escapes that a shell would turn back into the same bytes, a single quote as `'\\''`. A file
//! called `a`, newline, `b` is shown as `'a'$'\\n''b'`, never as a line break in the output.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The text to put between the single quotes of a message for `path`.
pub fn quote_inner(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\'' => out.push_str("'\\''"),
                '\n' => out.push_str("'$'\\n''"),
                '\t' => out.push_str("'$'\\t''"),
                '\r' => out.push_str("'$'\\r''"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    out.push_str("'$'");
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\{b:03o}");
                    }
                    out.push_str("''");
                }
                c => out.push(c),
            }
        }
        if !chunk.invalid().is_empty() {
            out.push_str("'$'");
            for b in chunk.invalid() {
                let _ = write!(out, "\\{b:03o}");
            }
            out.push_str("''");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quote_inner;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn q(b: &[u8]) -> String {
        format!("'{}'", quote_inner(Path::new(OsStr::from_bytes(b))))
    }

    #[test]
    fn plain_names_are_unchanged() {
        assert_eq!(q(b"dir/file name.txt"), "'dir/file name.txt'");
        assert_eq!(q("caf\u{e9}".as_bytes()), "'caf\u{e9}'");
    }

    #[test]
    fn control_bytes_and_invalid_utf8_are_escaped_like_cp() {
        assert_eq!(q(b"a\nb"), "'a'$'\\n''b'");
        assert_eq!(q(b"a\x1bb"), "'a'$'\\033''b'");
        assert_eq!(q(b"a\xffb"), "'a'$'\\377''b'");
        assert_eq!(q(b"it's"), "'it'\\''s'");
    }
}
