//! The `ecs-runbook` binary: parses argv, runs the command, turns the outcome into an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = ecs_runbook::cli::Cli::parse();
    ecs_runbook::app::init_logging(cli.verbose);
    let code = match ecs_runbook::app::run(cli) {
        Ok(code) => code,
        Err(error) => {
            if !error.is_reported() {
                eprint!("{}", ecs_runbook::app::render_diagnostic(&error));
            }
            error.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
