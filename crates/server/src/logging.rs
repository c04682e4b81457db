//! Log output: human-readable text, or one JSON object a line for a log collector. Levels come
//! from `RUST_LOG` (docs/operations.md).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the process's logger, writing to stderr at `default_level` unless `RUST_LOG` says
/// otherwise. Text is coloured only on a terminal (and never with `NO_COLOR` set): escape codes
/// in a file or a pipe are noise to whatever reads it.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logger = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            logger.with_ansi(colours).init();
        }
        LogFormat::Json => logger.json().flatten_event(true).with_current_span(false).with_span_list(true).init(),
    }
}
