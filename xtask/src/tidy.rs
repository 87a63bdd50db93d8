//! Tidy: the conventions of this workspace that can be checked, checked by `cargo test`.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn sources() -> Vec<PathBuf> {
        let root = crate::root();
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "tests", "examples"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 10, "tidy found too few files: {files:?}");
        files
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let offenders: Vec<_> = sources()
            .into_iter()
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .collect();
        assert!(
            offenders.is_empty(),
            "these files do not start with a `//!` doc comment: {offenders:#?}"
        );
    }

    #[test]
    fn andon_core_depends_on_no_other_andon_crate() {
        let manifest =
            std::fs::read_to_string(crate::root().join("crates/andon-core/Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
        let deps = deps.split("\n[").next().unwrap_or("");
        let andon: Vec<_> = deps
            .lines()
            .filter(|l| l.trim_start().starts_with("andon"))
            .collect();
        assert!(
            andon.is_empty(),
            "andon-core must stay the bottom layer, but depends on {andon:?}"
        );
    }

    #[test]
    fn components_depend_on_core_and_runtime_only() {
        for component in [
            "andon-runtime",
            "andon-log",
            "andon-metrics",
            "andon-trace",
            "andon-observe",
            "andon-alert",
        ] {
            let manifest = std::fs::read_to_string(
                crate::root()
                    .join("crates")
                    .join(component)
                    .join("Cargo.toml"),
            )
            .unwrap();
            let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
            let deps = deps.split("\n[").next().unwrap_or("");
            let andon: Vec<_> = deps
                .lines()
                .map(str::trim_start)
                .filter(|l| l.starts_with("andon") && !l.starts_with("andon-core"))
                // The shared machinery; andon-runtime itself may use core only.
                .filter(|l| component == "andon-runtime" || !l.starts_with("andon-runtime"))
                .collect();
            assert!(
                andon.is_empty(),
                "{component} must depend only on andon-core and andon-runtime among andon crates: {andon:?}"
            );
        }
    }

    #[test]
    fn the_umbrella_never_reaches_into_andon_runtime() {
        let manifest =
            std::fs::read_to_string(crate::root().join("crates/andon/Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
        let deps = deps.split("\n[").next().unwrap_or("");
        assert!(
            !deps
                .lines()
                .any(|l| l.trim_start().starts_with("andon-runtime")),
            "the umbrella wires components; andon-runtime is their internal machinery"
        );
    }

    #[test]
    fn every_umbrella_feature_is_in_the_docs_tables() {
        let root = crate::root();
        let manifest = std::fs::read_to_string(root.join("crates/andon/Cargo.toml")).unwrap();
        let features = manifest.split("[features]").nth(1).unwrap_or("");
        let features: Vec<&str> = features
            .split("\n[")
            .next()
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
            .filter(|k| !k.is_empty() && *k != "default")
            .collect();
        assert!(features.contains(&"full"), "{features:?}");
        let lib = std::fs::read_to_string(root.join("crates/andon/src/lib.rs")).unwrap();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for feature in features {
            assert!(
                lib.contains(&format!("| `{feature}`")),
                "feature `{feature}` is missing from the table in crates/andon/src/lib.rs"
            );
            assert!(
                readme.contains(&format!("`{feature}`")),
                "feature `{feature}` is missing from README.md"
            );
        }
    }

    #[test]
    fn every_member_uses_the_workspace_lints() {
        let root = crate::root();
        let mut manifests = vec![
            root.join("xtask/Cargo.toml"),
            root.join("tests/Cargo.toml"),
            root.join("examples/Cargo.toml"),
        ];
        for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
            manifests.push(entry.path().join("Cargo.toml"));
        }
        for manifest in manifests {
            let text = std::fs::read_to_string(&manifest).unwrap();
            assert!(
                text.contains("[lints]\nworkspace = true"),
                "{} must say `[lints] workspace = true`",
                manifest.display()
            );
        }
    }

    #[test]
    fn the_quick_start_demo_builds_without_dev_dependencies() {
        // An example is built with its package's dev-dependencies: the demo's package has none,
        // so a new user's first `cargo run --example andon_demo` compiles no test tooling.
        let root = crate::root();
        let manifest = std::fs::read_to_string(root.join("examples/Cargo.toml")).unwrap();
        assert!(
            !manifest.contains("dev-dependencies]"),
            "examples/Cargo.toml (andon-examples) must have no dev-dependencies"
        );
        assert!(manifest.contains("name = \"andon_demo\""));
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(
            workspace.contains("default-members = [\"examples\"]"),
            "the root's default-members must select the demo's package"
        );
    }

    #[test]
    fn readme_gives_the_two_commands_and_ci_runs_the_test_command() {
        let root = crate::root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        assert!(readme.contains("cargo run --example andon_demo"));
        assert!(readme.contains("cargo xtask ci"));
        let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
        assert!(
            ci.contains("cargo xtask ci"),
            ".ci/run must run the README's test command"
        );
    }
}
