//! How a failed command reports itself: a kind, which decides the exit code and the `error` of the
//! `--json` shape, and a message in the words of the command line (options, not API fields).

use std::process::ExitCode;

use trustgate_core::lifecycle::Refusal;
use trustgate_core::ValidationError;
use trustgate_store::StoreError;

use trustgate_server::keys::server_key_file::ServerKeyFileError;
use trustgate_server::ApiError;

/// What kind of failure ended a command; the README's table of exit codes lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: an I/O error, a store that is corrupt (exit 1).
    Failed,
    /// The command line itself: an unknown option, a missing argument (exit 2, as clap does).
    Usage,
    /// A value was refused, or the change would break a rule (exit 3).
    Invalid,
    /// No store in the data directory, or no such customer, administrator or API client (exit 4).
    NotFound,
    /// The database could not be reached (exit 5).
    Unreachable,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Invalid => 3,
            Kind::NotFound => 4,
            Kind::Unreachable => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::Usage => "usage",
            Kind::Invalid => "invalid",
            Kind::NotFound => "notFound",
            Kind::Unreachable => "unreachable",
        }
    }

    /// The kind of a failure anywhere in `error`'s chain; the first one that names a kind wins.
    fn of(error: &anyhow::Error) -> Self {
        for cause in error.chain() {
            if let Some(failure) = cause.downcast_ref::<Failure>() {
                return failure.kind;
            }
            if let Some(error) = cause.downcast_ref::<ServerKeyFileError>() {
                return match error {
                    ServerKeyFileError::Invalid(_) => Kind::Invalid,
                    ServerKeyFileError::Io { .. } => Kind::Failed,
                };
            }
            if let Some(error) = cause.downcast_ref::<StoreError>() {
                return match error {
                    StoreError::NotFound(_) => Kind::NotFound,
                    StoreError::Conflict(_) | StoreError::Refused(_) | StoreError::Stale => Kind::Invalid,
                    StoreError::Unavailable(_) => Kind::Unreachable,
                    StoreError::Internal(_) | StoreError::Database(_) => Kind::Failed,
                };
            }
            if let Some(error) = cause.downcast_ref::<ApiError>() {
                return match error {
                    ApiError::NotFound(_) => Kind::NotFound,
                    ApiError::Unavailable => Kind::Unreachable,
                    ApiError::Invalid(_)
                    | ApiError::Conflict(_)
                    | ApiError::Refused { .. }
                    | ApiError::Forbidden(_) => Kind::Invalid,
                    _ => Kind::Failed,
                };
            }
            if cause.is::<ValidationError>() || cause.is::<Refusal>() {
                return Kind::Invalid;
            }
        }
        Kind::Failed
    }
}

/// A failure the command describes itself.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { kind: Kind::Invalid, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self { kind: Kind::NotFound, message: message.into() }
    }
}

/// A value given with `option` was refused; the message names the option instead of the field
/// the API would name (`--permission`, not `policies`).
pub fn given<T>(option: &'static str, parsed: Result<T, ValidationError>) -> Result<T, Failure> {
    parsed.map_err(|error| refused_option(option, &error))
}

pub fn refused_option(option: &'static str, error: &ValidationError) -> Failure {
    let detail = error.detail.replace(error.field, option);
    Failure::invalid(if detail.contains(option) { detail } else { format!("{option}: {detail}") })
}

/// Prints `error` on standard error (one JSON object with `--json`) and returns its exit code.
pub fn report(error: &anyhow::Error, json: bool) -> ExitCode {
    let kind = Kind::of(error);
    print(kind, &format!("{error:#}"), json);
    ExitCode::from(kind.exit_code())
}

/// The command line could not be parsed (help and version requests arrive here too, exit 0).
pub fn report_usage(error: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if !json || matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = error.print();
        return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(Kind::Usage.exit_code()));
    }
    // clap's text without its usage lines and hint, on one line.
    let text = error.render().to_string();
    let body = text.split("\n\nUsage:").next().unwrap_or_default();
    let message = body.trim_start_matches("error: ").split_whitespace().collect::<Vec<_>>().join(" ");
    print(Kind::Usage, &message, true);
    ExitCode::from(Kind::Usage.exit_code())
}

/// The `--json` shape of every failure, in the README's field order (`json!` would sort the keys).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFailure<'a> {
    error: &'static str,
    message: &'a str,
    exit_code: u8,
}

fn print(kind: Kind, message: &str, json: bool) {
    if json {
        let failure = JsonFailure { error: kind.name(), message, exit_code: kind.exit_code() };
        eprintln!("{}", serde_json::to_string(&failure).unwrap_or_default());
    } else {
        eprintln!("error: {message}");
    }
}
