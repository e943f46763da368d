//! Snapshots of what ucopy prints: `--help`, `--probe`, `--dry-run`, `--json` and error lines,
//! with temp paths, inode numbers, times and the kernel version filtered out.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn ucopy(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ucopy"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("ucopy runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A small tree whose plan is the same on every machine except for inode numbers.
fn small_tree(root: &Path) {
    fs::create_dir_all(root.join("src/docs")).unwrap();
    fs::write(root.join("src/a.txt"), b"alpha").unwrap();
    fs::write(root.join("src/docs/b.txt"), b"bravo!").unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("src/link")).unwrap();
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"inode \d+", "inode [INO]"),
            (r#""elapsed_secs":[0-9.e-]+"#, r#""elapsed_secs":[SECS]"#),
            (r#""files_per_sec":[0-9.e-]+"#, r#""files_per_sec":[RATE]"#),
            (r"kernel [^ )]+", "kernel [VERSION]"),
            (r#""kernel":"[^"]+""#, r#""kernel":"[VERSION]""#),
            (r"ucopy \d+\.\d+\.\d+", "ucopy [VERSION]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

plain_test!(help);
fn help() {
    let tmp = tempfile::tempdir().unwrap();
    snapshot!("help", text(&ucopy(&["--help"], tmp.path())));
}

plain_test!(dry_run_prints_the_plan_and_creates_nothing);
fn dry_run_prints_the_plan_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    small_tree(tmp.path());
    let out = ucopy(
        // A queue depth every RLIMIT_NOFILE of the test runs allows, so the plan is the same
        // as root and as a normal user.
        &[
            "--dry-run",
            "-a",
            "--order",
            "none",
            "--queue-depth",
            "8",
            "src",
            "dst",
        ],
        tmp.path(),
    );
    assert!(
        !tmp.path().join("dst").exists(),
        "dry run must not create the destination"
    );
    // Directory order differs between filesystems; sort the file lines of each batch.
    snapshot!("dry_run", text(&out));
}

plain_test!(json_summary);
fn json_summary() {
    let tmp = tempfile::tempdir().unwrap();
    small_tree(tmp.path());
    let out = ucopy(&["--json", "--backend", "std", "src", "dst"], tmp.path());
    snapshot!("json", text(&out));
}

plain_test!(json_lists_errors_with_path_and_op);
fn json_lists_errors_with_path_and_op() {
    let tmp = tempfile::tempdir().unwrap();
    small_tree(tmp.path());
    fs::create_dir(tmp.path().join("dst")).unwrap();
    fs::create_dir_all(tmp.path().join("dst/src/a.txt")).unwrap(); // a dir where a file goes
    let out = ucopy(&["--json", "--backend", "std", "src", "dst"], tmp.path());
    snapshot!("json_errors", text(&out));
}

plain_test!(missing_source_is_a_one_line_error_and_exit_2);
fn missing_source_is_a_one_line_error_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    snapshot!("missing_source", text(&ucopy(&["nope", "dst"], tmp.path())));
    assert!(!tmp.path().join("dst").exists());
}

plain_test!(into_itself_is_refused_before_anything_is_created);
fn into_itself_is_refused_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    small_tree(tmp.path());
    snapshot!(
        "into_itself",
        text(&ucopy(&["src", "src/docs"], tmp.path()))
    );
    assert!(!tmp.path().join("src/docs/src").exists());
}

plain_test!(probe_json_lists_every_backend);
fn probe_json_lists_every_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ucopy(&["--probe", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe prints JSON");
    let names: Vec<&str> = v["backends"]
        .as_array()
        .expect("backends array")
        .iter()
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["splice", "rw", "fixed", "std"]);
    assert!(v["auto"]["backend"].is_string() && v["auto"]["reason"].is_string());
    let in_memory = v["auto_in_memory"]["backend"]
        .as_str()
        .expect("in-memory pick");
    assert!(["rw", "std"].contains(&in_memory), "{in_memory}");
    assert!(v["syscall_ns"].as_u64().expect("a measured cost") > 0);
}

plain_test!(one_operand_gets_cps_message);
fn one_operand_gets_cps_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ucopy(&["src"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("ucopy: missing destination file operand after 'src'\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

plain_test!(probe_refuses_operands_and_dry_run_refuses_json);
fn probe_refuses_operands_and_dry_run_refuses_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ucopy(&["--probe", "x", "y"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--probe takes no operands"));
    assert!(out.stdout.is_empty());
    let out = ucopy(&["--dry-run", "--json", "x", "y"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'--dry-run' cannot be used with '--json'")
    );
    assert!(out.stdout.is_empty());
}

// Issue 8 item 9: a path that is not UTF-8 in an error of the JSON summary: lossy in `path`,
// exact in `path_bytes`; no panic; and control bytes in names are escaped in messages as cp does.
plain_test!(json_carries_non_utf8_paths_and_messages_escape_control_bytes);
fn json_carries_non_utf8_paths_and_messages_escape_control_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff\nname");
    fs::create_dir_all(tmp.path().join("src")).unwrap();
    fs::write(tmp.path().join("src").join(name), b"x").unwrap();
    // A directory where the file must go: a conflict error naming the file.
    fs::create_dir_all(tmp.path().join("dst/src").join(name)).unwrap();
    let out = ucopy(&["--backend", "std", "--json", "src", "dst"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let e = &json["errors"][0];
    assert_eq!(e["path"], "dst/src/bad\u{fffd}\nname");
    let bytes: Vec<u8> = e["path_bytes"]
        .as_array()
        .expect("path_bytes for a non-UTF-8 path")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, b"dst/src/bad\xff\nname");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'dst/src/bad'$'\\377'''$'\\n''name'"),
        "control and invalid bytes escaped like cp's shell-escape quoting: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// `cargo xtask dist` writes these: completions and the man page come from the same clap
// definition as --help.
plain_test!(completions_and_man_page_are_generated_from_the_cli);
fn completions_and_man_page_are_generated_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    for (what, needle) in [
        ("bash", "complete -F _ucopy"),
        ("zsh", "#compdef ucopy"),
        ("fish", "complete -c ucopy"),
        ("man", ".TH ucopy"),
    ] {
        let out = ucopy(&["--generate", what], tmp.path());
        assert_eq!(out.status.code(), Some(0), "--generate {what}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(needle),
            "--generate {what} lacks {needle:?}:\n{text}"
        );
        // roff escapes hyphens.
        let option = if what == "man" {
            "queue\\-depth"
        } else {
            "queue-depth"
        };
        assert!(text.contains(option), "--generate {what} lacks the options");
    }
}
