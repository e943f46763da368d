//! GNU cp's option rules: from the parsed arguments to [`Options`] and the operands — what `-a`,
//! `-d`, `-p`, `--preserve` and `--no-preserve` add up to, which symlinks are followed by
//! default, backup control from `VERSION_CONTROL`, `-t`/`-T`, and the combinations cp refuses.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use ucopy::{
    Backup, Dereference, Exclude, LinkMode, Options, Order, Preserve, ResolveOptions, Update,
};

use crate::args::{Args, OrderChoice, UpdateChoice, WhenChoice};

/// What the command line asks for.
#[derive(Debug)]
pub struct Plan {
    /// Copy options.
    pub options: Options,
    /// The sources.
    pub sources: Vec<PathBuf>,
    /// The destination.
    pub dest: PathBuf,
    /// How operands are resolved.
    pub resolve: ResolveOptions,
    /// Warnings to print before copying.
    pub warnings: Vec<String>,
}

/// A usage error: printed with the program name, exit 2 (exit 1 for the few cp dies with 1).
#[derive(Debug)]
pub struct Usage {
    /// The message.
    pub message: String,
    /// Exit status.
    pub code: u8,
}

fn usage(message: impl Into<String>) -> Usage {
    Usage {
        message: message.into(),
        code: 2,
    }
}

/// The order of `--preserve` (true) and `--no-preserve` (false) on the command line, however
/// abbreviated (`--pre`, `--no-p`), up to `--`.
fn preserve_order() -> Vec<bool> {
    let mut order = Vec::new();
    for arg in std::env::args_os().skip(1) {
        let arg = arg.to_string_lossy().into_owned();
        if arg == "--" {
            break;
        }
        let Some(long) = arg.strip_prefix("--") else {
            continue;
        };
        let name = long.split('=').next().unwrap_or("");
        if name.len() >= 3 && "preserve".starts_with(name) {
            order.push(true);
        } else if name.len() >= 4 && "no-preserve".starts_with(name) {
            order.push(false);
        }
    }
    order
}

fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Adds (`on`) or removes the attributes of a `--preserve`/`--no-preserve` LIST.
fn apply_list(p: &mut Preserve, list: &str, on: bool, flag: &str) -> Result<bool, Usage> {
    let mut context = false;
    const NAMES: [&str; 7] = [
        "mode",
        "ownership",
        "timestamps",
        "links",
        "context",
        "xattr",
        "all",
    ];
    for item in list.split(',') {
        // GNU's argmatch takes any unambiguous prefix (`--preserve=link`, `time`).
        let mut matching = NAMES
            .iter()
            .filter(|n| !item.is_empty() && n.starts_with(item));
        let item = match (matching.next(), matching.next()) {
            (Some(name), None) => *name,
            _ => item,
        };
        match item {
            "mode" => {
                p.mode = on;
                p.default_mode = !on;
            }
            "ownership" => p.ownership = on,
            "timestamps" => p.timestamps = on,
            "links" => p.links = on,
            "xattr" => p.xattr = on,
            "context" => context = on,
            "all" => {
                let d = p.default_mode;
                *p = if on {
                    Preserve::ALL
                } else {
                    Preserve::default()
                };
                p.default_mode = if on { false } else { d };
            }
            other => {
                return Err(usage(format!(
                    "invalid argument '{other}' for '--{flag}'\nValid arguments are: 'mode', \
                     'timestamps', 'ownership', 'links', 'context', 'xattr', 'all'"
                )))
            }
        }
    }
    Ok(context)
}

/// GNU's backup control names (`--backup=CONTROL`, `VERSION_CONTROL`).
fn backup_control(value: &str) -> Result<Backup, Usage> {
    Ok(match value {
        "none" | "off" => Backup::Off,
        "simple" | "never" => Backup::Simple,
        "existing" | "nil" | "" => Backup::Existing,
        "numbered" | "t" => Backup::Numbered,
        other => {
            return Err(usage(format!(
                "invalid argument '{other}' for 'backup type'\nValid arguments are: 'none', \
                 'off', 'simple', 'never', 'existing', 'nil', 'numbered', 't'"
            )))
        }
    })
}

/// Builds the copy plan from the arguments.
pub fn build(args: &Args) -> Result<Plan, Usage> {
    let mut warnings = Vec::new();

    // Operands: -t DIR takes every path as a source.
    let (mut sources, dest) = match &args.target_directory {
        Some(dir) => {
            if args.no_target_directory {
                return Err(usage(
                    "cannot combine --target-directory (-t) and --no-target-directory (-T)",
                ));
            }
            (args.paths.clone(), dir.clone())
        }
        None => {
            if args.paths.len() < 2 {
                let last = args.paths.last().map(|p| p.display().to_string());
                return Err(usage(match last {
                    Some(p) => format!("missing destination file operand after '{p}'"),
                    None => "missing file operand".to_owned(),
                }));
            }
            let (dest, sources) = args.paths.split_last().expect("two paths");
            (sources.to_vec(), dest.clone())
        }
    };
    if args.target_directory.is_some() {
        // As cp: a target that cannot be looked at is reported with the reason (a symlink into
        // a directory the user may not search: "Permission denied", not "not a directory").
        match std::fs::metadata(&dest) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(usage(format!(
                    "target directory '{}' is not a directory",
                    dest.display()
                )))
            }
            Err(e) => {
                return Err(usage(format!(
                    "target directory '{}': {}",
                    dest.display(),
                    ucopy::cause(&e)
                )))
            }
        }
    }
    if args.strip_trailing_slashes {
        for s in &mut sources {
            let mut bytes = std::os::unix::ffi::OsStrExt::as_bytes(s.as_os_str()).to_vec();
            while bytes.len() > 1 && bytes.ends_with(b"/") {
                bytes.pop();
            }
            *s = PathBuf::from(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&bytes),
            );
        }
    }

    // Attributes, in cp's order: -a / -d / -p, then --preserve lists, then --no-preserve.
    let mut preserve = Preserve::default();
    if args.archive {
        preserve = Preserve::ALL;
    }
    if args.no_dereference_preserve_links {
        preserve.links = true;
    }
    if args.preserve_default {
        preserve.mode = true;
        preserve.ownership = true;
        preserve.timestamps = true;
    }
    // The lists apply in command-line order, as cp's: `--no-preserve=mode --preserve=all` keeps
    // the mode, `--preserve=all --no-preserve=mode` does not.
    let mut want_context = false;
    let (mut keep, mut drop) = (args.preserve.iter(), args.no_preserve.iter());
    for on in preserve_order() {
        let list = if on { keep.next() } else { drop.next() };
        if let Some(list) = list {
            let flag = if on { "preserve" } else { "no-preserve" };
            want_context |= apply_list(&mut preserve, list, on, flag)? && on;
        }
    }
    for list in keep {
        want_context |= apply_list(&mut preserve, list, true, "preserve")?;
    }
    for list in drop {
        apply_list(&mut preserve, list, false, "no-preserve")?;
    }
    if want_context && !selinux_enabled() {
        return Err(Usage {
            message: "cannot preserve security context without an SELinux-enabled kernel".into(),
            code: 1,
        });
    }
    if want_context {
        preserve.xattr = true; // security.selinux travels with the xattrs
    }
    if args.context.is_some() {
        if selinux_enabled() {
            return Err(usage("-Z/--context (setting a default SELinux context) is not supported by ucopy; --preserve=context copies the source's"));
        }
        warnings.push("warning: ignoring --context; it requires an SELinux-enabled kernel".into());
    }

    // Symlinks: -P/-L/-H as given, else GNU's default — with -a (and -d) none are followed, nor
    // with -r/-R unless hard-linking (`cp -lR link d` links what a named symlink points to);
    // otherwise those named on the command line are.
    let dereference = if args.dereference {
        Dereference::Always
    } else if args.dereference_command_line {
        Dereference::CommandLine
    } else if args.no_dereference
        || args.no_dereference_preserve_links
        || args.archive
        || (args.recursive && !args.link)
    {
        Dereference::Never
    } else {
        Dereference::CommandLine
    };

    // Backups.
    let suffix = args
        .suffix
        .clone()
        .or_else(|| std::env::var_os("SIMPLE_BACKUP_SUFFIX").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| OsString::from("~"));
    if suffix.as_encoded_bytes().contains(&b'/') {
        return Err(usage(format!(
            "invalid suffix '{}', contains directory separator",
            suffix.to_string_lossy()
        )));
    }
    let backup = match (&args.backup, args.backup_short || args.suffix.is_some()) {
        (Some(control), _) if !control.is_empty() => backup_control(control)?,
        (Some(_), _) | (None, true) => {
            let env = std::env::var("VERSION_CONTROL").unwrap_or_default();
            backup_control(&env)?
        }
        (None, false) => Backup::Off,
    };
    let update = match args.update {
        None | Some(UpdateChoice::All) => Update::All,
        Some(UpdateChoice::None) => Update::None,
        Some(UpdateChoice::Older) => Update::Older,
    };
    if args.no_clobber && backup != Backup::Off {
        return Err(usage(
            "options --backup and --no-clobber are mutually exclusive",
        ));
    }
    if args.reflink == Some(WhenChoice::Always)
        && args.sparse.is_some_and(|s| s != WhenChoice::Auto)
    {
        return Err(usage(
            "--reflink=always can only be used with --sparse=auto",
        ));
    }
    let link_mode = if args.link {
        LinkMode::Hard
    } else if args.symbolic_link {
        LinkMode::Symbolic
    } else {
        LinkMode::Copy
    };
    if link_mode != LinkMode::Copy && (args.attributes_only) {
        return Err(usage("cannot combine --attributes-only with -l or -s"));
    }
    let exclude = if args.exclude.is_empty() && args.exclude_from.is_empty() {
        None
    } else {
        Some(Arc::new(
            Exclude::new(&args.exclude, &args.exclude_from).map_err(|e| usage(e.to_string()))?,
        ))
    };

    let options = Options::builder()
        .preserve(preserve)
        .no_clobber(args.no_clobber)
        .update(update)
        .confirm(
            args.interactive
                .then(|| crate::prompt::confirm(args.force || args.remove_destination)),
        )
        .backup(backup, suffix)
        // cp: -f with -l or -s removes an existing destination before linking.
        .remove_destination(args.remove_destination || (args.force && link_mode != LinkMode::Copy))
        .force(args.force)
        .attributes_only(args.attributes_only)
        .reflink(WhenChoice::when(args.reflink))
        .sparse(WhenChoice::when(args.sparse))
        .link_mode(link_mode)
        .dereference(dereference)
        .one_file_system(args.one_file_system)
        .copy_contents(args.copy_contents)
        .keep_directory_symlink(args.keep_directory_symlink)
        .exclude(exclude)
        .just_created((sources.len() > 1).then(Default::default))
        .order(match args.order {
            OrderChoice::Inode => Order::Inode,
            OrderChoice::None => Order::None,
        })
        .queue_depth(args.queue_depth as usize)
        .build();
    let resolve = ResolveOptions {
        no_target_directory: args.no_target_directory,
        parents: args.parents,
        follow: dereference != Dereference::Never,
        hard_link: link_mode == LinkMode::Hard,
        symbolic_link: link_mode == LinkMode::Symbolic,
        backup: backup != Backup::Off,
        remove_destination: args.remove_destination,
        // Run as cp, directories need -r/-R/-a (`cp * dst/` copies the files only); as ucopy
        // they are copied (README, "Differences from GNU cp").
        omit_directories: crate::output::is_cp() && !args.recursive && !args.archive,
    };
    Ok(Plan {
        options,
        sources,
        dest,
        resolve,
        warnings,
    })
}

/// What cp users, rsync users and xcp users reach for that ucopy spells differently or lacks:
/// named in the message instead of clap's generic "unexpected argument".
pub fn hint_for(option: &str) -> Option<&'static str> {
    let name = option.split('=').next().unwrap_or(option);
    Some(match name {
        "--debug" => "there is no --debug; -v prints each entry and which backend runs, and why",
        "--progress" | "--info" => "a progress bar is drawn by default when stderr is a terminal; --json reports totals",
        "--delete" | "--delete-after" | "--delete-before" => "destination entries are never deleted; use rsync --delete for that",
        "-z" | "--compress" => "copies are local; nothing is compressed",
        "--no-clobber-quiet" => "use -n (--no-clobber) or --update=none",
        "--one-file-system" => "use -x",
        "--dry-run-json" => "use --dry-run",
        "-c" | "--checksum" => "-u (--update=older) compares modification times; there is no checksum mode",
        "--ignore-existing" => "use -n (--no-clobber) or --update=none",
        "--inplace" => "existing files are overwritten in place unless --remove-destination or -a with other hard links",
        "--workers" | "-j" | "--jobs" => "use --threads N",
        "--no-perms" => "use --no-preserve=mode",
        "--times" => "use --preserve=timestamps",
        "--perms" => "use --preserve=mode",
        "--owner" | "--group" => "use --preserve=ownership",
        "--hard-links" => "use --preserve=links (or -a)",
        "--xattrs" | "-X" => "use --preserve=xattr (or -a)",
        "--links" => "symlinks are copied as symlinks with -r/-a; use -L to follow them",
        "--copy-links" => "use -L (--dereference)",
        _ => return None,
    })
}
