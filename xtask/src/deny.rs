//! `cargo xtask deny`: `cargo deny --offline check` against the RustSec snapshot in
//! `../shared/advisory-db`, which no machine here could fetch.
//!
//! cargo-deny reads an advisory database that is a git repository under its `db-path`, named
//! `advisory-db-3157b0e258782691` (the hash of the default URL). The snapshot is copied to a
//! temporary folder, made a git repository, and a copy of `deny.toml` points `db-path` at it.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::shell::run as sh;

/// The folder name cargo-deny derives from the default advisory database URL.
const DB_DIR: &str = "advisory-db-3157b0e258782691";

/// Where the snapshot is: `$ANDON_ADVISORY_DB`, else `../shared/advisory-db` beside the root.
fn snapshot(root: &Path) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ANDON_ADVISORY_DB").map(PathBuf::from),
        root.parent().map(|p| p.join("shared/advisory-db")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("crates").is_dir())
}

/// Runs cargo deny. Without a snapshot: advisories are skipped, loudly, and the other three
/// checks (licenses, bans, sources) still run.
pub(crate) fn run_deny(root: &Path) -> anyhow::Result<()> {
    // `cargo deny --offline` reads `cargo metadata` offline, which needs the packages of every
    // target platform in the local cache, not only this machine's.
    sh(root, "cargo", &["fetch", "--quiet"], &[])?;
    let Some(snapshot) = snapshot(root) else {
        let line = "!".repeat(78);
        eprintln!(
            "{line}\nNO ADVISORY DATABASE SNAPSHOT: ../shared/advisory-db is missing and ANDON_ADVISORY_DB is unset.\n\
             Advisories are NOT checked; licenses, bans and sources are.\n{line}"
        );
        return sh(
            root,
            "cargo",
            &["deny", "--offline", "check", "licenses", "bans", "sources"],
            &[],
        );
    };
    let work = std::env::temp_dir().join(format!("andon-deny-{}", std::process::id()));
    let db = work.join("advisory-dbs").join(DB_DIR);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot clear {}", work.display()))?;
    }
    std::fs::create_dir_all(&db).with_context(|| format!("cannot create {}", db.display()))?;
    copy_dir(&snapshot, &db)?;
    let git = |args: &[&str]| {
        sh(
            &db,
            "git",
            args,
            &[
                ("GIT_AUTHOR_NAME", "xtask"),
                ("GIT_AUTHOR_EMAIL", "xtask@localhost"),
                ("GIT_COMMITTER_NAME", "xtask"),
                ("GIT_COMMITTER_EMAIL", "xtask@localhost"),
            ],
        )
    };
    git(&["init", "--quiet"])?;
    git(&["add", "--all"])?;
    git(&[
        "commit",
        "--quiet",
        "--no-gpg-sign",
        "-m",
        "RustSec advisory database snapshot",
    ])?;

    let config =
        std::fs::read_to_string(root.join("deny.toml")).context("cannot read deny.toml")?;
    let db_path = work.join("advisory-dbs");
    let config = config.replacen(
        "[advisories]",
        &format!("[advisories]\ndb-path = {:?}", db_path.to_string_lossy()),
        1,
    );
    let config_path = work.join("deny.toml");
    std::fs::write(&config_path, config).context("cannot write the temporary deny.toml")?;
    let config_text = config_path.to_string_lossy().into_owned();
    let result = sh(
        root,
        "cargo",
        &["deny", "--offline", "--config", &config_text, "check"],
        &[],
    );
    let _ = std::fs::remove_dir_all(&work);
    result
}

pub(crate) fn run() -> anyhow::Result<()> {
    run_deny(&crate::root())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
            // The snapshot is read-only; the copy must be removable afterwards.
            let mut permissions = std::fs::metadata(&target)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)] // our own temporary copy
            permissions.set_readonly(false);
            std::fs::set_permissions(&target, permissions)?;
        }
    }
    Ok(())
}
