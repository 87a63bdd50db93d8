//! Where the real peers set up by `cargo xtask setup` live: the one rule, shared by the set-up
//! (xtask includes this file) and the test harness, so that both look in the same folder.
//!
//! In order: `ANDON_PEERS_DIR` (absolute, or relative to the workspace root); else
//! `$CARGO_TARGET_DIR/peers` (a relative target dir is taken relative to the workspace root, as
//! `cargo xtask ci` runs cargo there); else `<workspace>/target/peers`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable that names the peers' folder outright; `cargo xtask` sets it for
/// the commands it runs, so that tests find what set-up installed.
pub const PEERS_DIR_ENV: &str = "ANDON_PEERS_DIR";

/// The peers' folder for the workspace at `workspace_root`, by the rule above, read from this
/// process's environment.
pub fn resolve_peers_dir(workspace_root: &Path) -> PathBuf {
    peers_dir_from(
        workspace_root,
        std::env::var_os(PEERS_DIR_ENV),
        std::env::var_os("CARGO_TARGET_DIR"),
    )
}

/// The rule itself, given the two variables' values.
pub fn peers_dir_from(
    workspace_root: &Path,
    peers_dir: Option<OsString>,
    cargo_target_dir: Option<OsString>,
) -> PathBuf {
    let absolute = |p: PathBuf| {
        if p.is_absolute() {
            p
        } else {
            workspace_root.join(p)
        }
    };
    if let Some(dir) = peers_dir.filter(|d| !d.is_empty()) {
        return absolute(PathBuf::from(dir));
    }
    cargo_target_dir
        .filter(|d| !d.is_empty())
        .map_or_else(
            || workspace_root.join("target"),
            |d| absolute(PathBuf::from(d)),
        )
        .join("peers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_and_harness_agree_on_every_form_of_the_target_dir() {
        let root = Path::new("/work/andon");
        assert_eq!(
            peers_dir_from(root, None, None),
            Path::new("/work/andon/target/peers")
        );
        // A shared target directory (the case that broke every SMTP test).
        assert_eq!(
            peers_dir_from(root, None, Some("/some/dir".into())),
            Path::new("/some/dir/peers")
        );
        assert_eq!(
            peers_dir_from(root, None, Some("build".into())),
            Path::new("/work/andon/build/peers")
        );
        assert_eq!(
            peers_dir_from(root, Some("/opt/peers".into()), Some("/some/dir".into())),
            Path::new("/opt/peers")
        );
        assert_eq!(
            peers_dir_from(root, Some("".into()), None),
            Path::new("/work/andon/target/peers")
        );
    }
}
