//! `cargo xtask package`: every crate that publishes packs into a `.crate` that crates.io would
//! take, with what it needs at build time inside.
//!
//! `cargo package --no-verify` for each publishing crate (it fails on a path dependency without
//! a version or a missing field crates.io requires), then a list check on each `.crate`:
//! the metadata a user sees on crates.io is there, the license and readme are packed, and every
//! file a source file embeds with `include_str!`/`include_bytes!` is in the package. Verifying
//! (building each package from its tarball) would compile every dependency again in a fresh
//! target directory, several times the rest of CI on 2 cores; the list check catches the failure
//! a verify build would (a file left out) at the cost of reading the sources.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::shell::run as sh;

/// The crates that publish, dependencies first (the order `cargo publish` needs).
pub(crate) const PUBLISHED: &[&str] = &[
    "andon-core",
    "andon-runtime",
    "andon-log",
    "andon-metrics",
    "andon-trace",
    "andon-observe",
    "andon-alert",
    "andon-history",
    "andon",
    "andon-agent",
];

/// Fields every published manifest must carry (as they appear in the packed, normalised one).
const REQUIRED_FIELDS: &[&str] = &[
    "description",
    "license",
    "readme",
    "keywords",
    "categories",
    "documentation",
    "repository",
    "rust-version",
];

pub(crate) fn run() -> anyhow::Result<()> {
    run_package(&crate::root())
}

pub(crate) fn run_package(root: &Path) -> anyhow::Result<()> {
    let mut args = vec!["package", "--no-verify", "--allow-dirty"];
    for name in PUBLISHED {
        args.extend(["-p", name]);
    }
    sh(root, "cargo", &args, &[])?;
    let version = workspace_version(root)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let mut problems = Vec::new();
    for name in PUBLISHED {
        let file = target
            .join("package")
            .join(format!("{name}-{version}.crate"));
        problems.extend(check_crate(root, name, &version, &file)?);
    }
    if !problems.is_empty() {
        bail!(
            "the packages are not fit to publish:\n  {}",
            problems.join("\n  ")
        );
    }
    println!(
        "package: {} crates packed with their metadata, license, readme and embedded files",
        PUBLISHED.len()
    );
    Ok(())
}

/// `version = "…"` of `[workspace.package]`.
fn workspace_version(root: &Path) -> anyhow::Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    manifest
        .split("[workspace.package]")
        .nth(1)
        .and_then(|section| {
            section
                .lines()
                .find_map(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.split('"').next())
        })
        .map(str::to_owned)
        .context("Cargo.toml: [workspace.package] has no version = \"…\"")
}

fn tar(args: &[&str], file: &Path) -> anyhow::Result<String> {
    let out = Command::new("tar")
        .args(args)
        .arg(file)
        .output()
        .context("cannot run `tar`: is it installed?")?;
    if !out.status.success() {
        bail!(
            "tar {} {}: {}",
            args.join(" "),
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The text of one file inside a `.crate`.
fn tar_member(file: &Path, member: &str) -> anyhow::Result<String> {
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(file)
        .arg(member)
        .output()
        .context("cannot run `tar`: is it installed?")?;
    if !out.status.success() {
        bail!("{member} is not in {}", file.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The problems of one packed crate, each naming the crate and the fix.
fn check_crate(root: &Path, name: &str, version: &str, file: &Path) -> anyhow::Result<Vec<String>> {
    let prefix = format!("{name}-{version}/");
    let listed: Vec<String> = tar(&["-tzf"], file)?
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect();
    let manifest = tar_member(file, &format!("{prefix}Cargo.toml"))?;
    let mut problems = Vec::new();
    for field in REQUIRED_FIELDS {
        let present = manifest
            .lines()
            .any(|l| l.starts_with(&format!("{field} =")));
        if !present {
            problems.push(format!(
                "{name}: `{field}` missing from [package] in crates/{name}/Cargo.toml"
            ));
        }
    }
    for needed in ["LICENSE", "README.md"] {
        if !listed.iter().any(|l| l == needed) {
            problems.push(format!(
                "{name}: {needed} is not in the package (link ../../{needed} from the crate folder)"
            ));
        }
    }
    let crate_dir = crate_dir(root, name);
    for embedded in embedded_files(&crate_dir)? {
        if !listed.contains(&embedded) {
            problems.push(format!(
                "{name}: {embedded} is embedded by the source but left out of the package (check `include`/`exclude` in crates/{name}/Cargo.toml)"
            ));
        }
    }
    Ok(problems)
}

fn crate_dir(root: &Path, name: &str) -> PathBuf {
    root.join("crates").join(name)
}

/// The files, relative to the crate folder, that its sources embed with `include_str!` or
/// `include_bytes!` (literal paths, resolved from the including file's folder).
pub(crate) fn embedded_files(crate_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut stack = vec![crate_dir.join("src")];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)?;
                let from = path.parent().unwrap_or(crate_dir);
                for literal in include_literals(&text) {
                    let target = normalise(&from.join(literal));
                    if let Ok(relative) = target.strip_prefix(crate_dir) {
                        found.push(relative.to_string_lossy().replace('\\', "/"));
                    } else {
                        found.push(format!("(outside the crate) {}", target.display()));
                    }
                }
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The string literals given to `include_str!(…)` and `include_bytes!(…)` in `text`.
fn include_literals(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for mac in ["include_str!(\"", "include_bytes!(\""] {
        let mut rest = text;
        while let Some(at) = rest.find(mac) {
            rest = &rest[at + mac.len()..];
            if let Some(end) = rest.find('"') {
                out.push(&rest[..end]);
            }
        }
    }
    out
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
