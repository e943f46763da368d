//! The progress bar, drawn on a real terminal (a pty from `script(1)`): one bar over all
//! sources, files and bytes done against the counted totals, rates with units, no ETA while the
//! count is still growing, and the final state left on the screen.

use std::time::Duration;

use crate::harness::{run, sh, BIN};
use crate::mounts::find_tool;
use crate::tree::{TestTree, KIB};

/// The lines the terminal showed, escape sequences removed, `\r`-redraws split.
fn screen(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    for line in text.split(['\r', '\n']) {
        let mut clean = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI: ESC [ params final-byte
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                continue;
            }
            clean.push(c);
        }
        let clean = clean.trim().to_owned();
        if !clean.is_empty() {
            out.push(clean);
        }
    }
    out
}

fn bar_on_a_terminal() {
    let Some(script) = find_tool("script") else {
        skip!("script (util-linux) not installed");
    };
    let t = TestTree::new();
    for i in 0..300 {
        t.file_sized(format!("a/f{i:03}"), KIB, i);
    }
    for i in 0..100 {
        t.file_sized(format!("b/sub/g{i:03}"), 2 * KIB, 1000 + i);
    }
    t.dir("out");
    // stderr on the pty; a wide terminal so nothing is cut.
    let cmd = "stty cols 200 rows 50; exec \"$0\" --backend std \"$1\" \"$2\" \"$3\"";
    let c = sh(
        "",
        args![
            script,
            "-qfec",
            format!(
                "sh -c '{cmd}' {BIN} {} {} {}",
                t.p("a").display(),
                t.p("b").display(),
                t.p("out").display()
            ),
            "/dev/null"
        ],
    );
    let out = run(c, Duration::from_secs(120));
    out.assert_success();
    let lines = screen(&out.stdout);
    let bar: Vec<&String> = lines.iter().filter(|l| l.contains(" files, ")).collect();
    let last = bar
        .last()
        .unwrap_or_else(|| panic!("no bar was drawn:\n{lines:#?}"));
    // One bar over both sources: 400 files, 300 KiB + 200 KiB.
    assert!(last.contains("400/400 files"), "final bar: {last}");
    assert!(last.contains("500.00 KiB/500.00 KiB"), "final bar: {last}");
    assert!(
        last.contains("/s") && last.contains("files/s"),
        "rates with units: {last}"
    );
    assert!(!last.contains("counting"), "final bar: {last}");
    for l in &bar {
        assert!(
            !(l.contains("counting") && l.contains("eta")),
            "an ETA while the total still grows: {l}"
        );
        assert!(!l.contains("7,270.6291/s"), "{l}");
    }
}
plain_test!(bar_on_a_terminal);
