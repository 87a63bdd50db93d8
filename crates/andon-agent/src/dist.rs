//! What a package of the agent ships beside the binary: the shell completions and man pages
//! (`andon generate-dist DIR`, hidden; `cargo xtask dist` runs it).

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::AgentError;

/// The shells completions are written for.
const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// The command line as users see it: without hidden subcommands (completion generators would
/// offer them) and without `help` subcommands (man pages would give each its own page).
fn documented() -> clap::Command {
    let full = Cli::command();
    clap::Command::new("andon")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
        .subcommand_required(true)
        .disable_help_subcommand(true)
        .mut_subcommands(|s| s.disable_help_subcommand(true))
}

/// Writes `completions/` (bash, zsh, fish, PowerShell) and `man/` (`andon.1` and one page per
/// subcommand) into `out`.
pub(crate) fn generate(out: &Path) -> Result<(), AgentError> {
    let failed = |what: &str, e: std::io::Error| {
        AgentError::Usage(format!(
            "generate-dist: cannot write {what} into {}: {e}",
            out.display()
        ))
    };
    let mut command = documented();
    let completions = out.join("completions");
    let man = out.join("man");
    std::fs::create_dir_all(&completions).map_err(|e| failed("completions/", e))?;
    std::fs::create_dir_all(&man).map_err(|e| failed("man/", e))?;
    for shell in SHELLS {
        clap_complete::generate_to(shell, &mut command, "andon", &completions)
            .map_err(|e| failed("the completions", e))?;
    }
    clap_mangen::generate_to(command, &man).map_err(|e| failed("the man pages", e))?;
    Ok(())
}
