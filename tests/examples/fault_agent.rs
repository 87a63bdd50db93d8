//! The agent's command line (`andon`, from `andon-agent`), built as an example of this package
//! so that the fault tests can start the agent as a process of its own and kill it with
//! SIGKILL (docs/faults.md). It is the same `main` as the `andon` binary.

fn main() -> std::process::ExitCode {
    andon_agent::main()
}
