//! `trustgate siem`: the SIEM streams' positions in the system log (docs/siem.md).

use clap::{Subcommand, ValueEnum};
use serde_json::json;
use trustgate_store::{Store, StoreError};

use super::failure::Failure;
use super::Output;

#[derive(Debug, Subcommand)]
pub enum SiemCommand {
    /// Move a stream back (or on), to send a new collector the log again: the node streaming it
    /// lets go at its next write, and the stream resumes from the new position within seconds.
    /// Records may arrive twice; collectors dedupe on recordId.
    #[command(group = clap::ArgGroup::new("position").required(true).args(["to_start", "after"]))]
    ResetCursor {
        /// The stream: `syslog` (--siem-syslog) or `jsonl` (--siem-jsonl).
        #[arg(long, value_enum)]
        stream: StreamArg,
        /// Send everything the log still keeps (every customer's records), oldest first.
        #[arg(long)]
        to_start: bool,
        /// Send the records written after this one: its `seq` (the syslog message's `seq`
        /// structured-data parameter; each customer's system log shows it).
        #[arg(long, value_name = "SEQ")]
        after: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StreamArg {
    Syslog,
    Jsonl,
}

impl StreamArg {
    /// The stream's name in the store, as `serve` names it.
    fn name(self) -> &'static str {
        match self {
            StreamArg::Syslog => "syslog",
            StreamArg::Jsonl => "jsonl",
        }
    }
}

pub async fn run(store: &dyn Store, command: SiemCommand, out: Output) -> anyhow::Result<()> {
    match command {
        SiemCommand::ResetCursor { stream, to_start, after } => {
            let after = if to_start { None } else { after };
            let cursor = match store.reset_siem(stream.name(), after).await {
                Err(StoreError::NotFound(_)) => {
                    let seq = after.unwrap_or_default();
                    return Err(Failure::not_found(format!(
                        "--after: the system log has no record {seq} (pruned, or never written)"
                    ))
                    .into());
                }
                other => other?,
            };
            let text = match after {
                None => {
                    format!("The {} stream sends the whole system log again, from its oldest record.", stream.name())
                }
                Some(seq) => format!("The {} stream sends the records after {seq}.", stream.name()),
            };
            out.print(json!({ "stream": stream.name(), "afterSeq": cursor.seq }), text);
        }
    }
    Ok(())
}
