//! The `andon` command: run the agent, or pull the cord and check the line through it.

fn main() -> std::process::ExitCode {
    andon_agent::main()
}
