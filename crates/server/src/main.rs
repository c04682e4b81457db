use std::process::ExitCode;

use clap::Parser;
use trustgate_server::cli::{self, Cli, Command};
use trustgate_server::logging::{self, LogFormat};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::report_usage(&error, std::env::args_os().any(|arg| arg == "--json")),
    };
    let json = cli.json;
    match &cli.command {
        Command::Serve(args) => logging::init(args.log_format, "info"),
        _ => logging::init(LogFormat::Text, "warn"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    cli::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::report(&error, json),
    }
}
