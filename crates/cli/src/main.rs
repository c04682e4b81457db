use std::process::ExitCode;

use clap::Parser;
use trustgate::commands::{self as cli, Cli, Command};
use trustgate_server::logging::{self, LogFormat};

/// A request allocates and frees dozens of small buffers across the runtime's threads, which
/// mimalloc's per-thread free lists serve faster than glibc's arenas (BENCHMARKS.md, issue #26).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::report_usage(&error, std::env::args_os().any(|arg| arg == "--json")),
    };
    let json = cli.json;
    let log = match &cli.command {
        Command::Serve(args) => logging::init(args.log_format, "info", args.log_queue_lines),
        _ => logging::init(LogFormat::Text, "warn", logging::DEFAULT_QUEUE_LINES),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    cli::flush();
    // What was logged is written before the report, so the two read in order; the runtime shuts
    // down after the report, as before.
    drop(log);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::report(&error, json),
    }
}
