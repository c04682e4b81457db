//! System-log retention: records older than the configured retention are deleted in the
//! background, on every node, so a busy customer's log cannot grow without bound.
//!
//! Each pass deletes in small batches (one short write transaction each, with a pause between
//! them, so requests waiting to write on SQLite are not held up), up to a cap per pass; a log
//! that grew faster than that is caught up over the following passes. Nodes sharing a
//! PostgreSQL database may prune at the same time: a record is deleted once, whoever gets there.

use std::sync::Weak;
use std::time::Duration;

use time::OffsetDateTime;

use crate::state::Shared;

/// Records deleted per transaction.
const BATCH: u32 = 1_000;
/// Batches per pass: at most 100,000 records an interval.
const BATCHES_PER_PASS: u32 = 100;
const PAUSE: Duration = Duration::from_millis(20);

/// Runs a pass at start and then every `systemlog_prune_interval`, until the state is dropped.
pub(crate) async fn prune_periodically(shared: Weak<Shared>) {
    loop {
        let interval = {
            let Some(shared) = shared.upgrade() else { return };
            let retention = time::Duration::try_from(shared.config.systemlog_retention).unwrap_or(time::Duration::MAX);
            if let Some(cutoff) = OffsetDateTime::now_utc().checked_sub(retention) {
                let cutoff = match keep_webhook_backlog(&shared, cutoff).await {
                    Some(cutoff) => keep_siem_backlog(&shared, cutoff).await,
                    None => None,
                };
                if let Some(cutoff) = cutoff {
                    prune(&shared, cutoff).await;
                }
            }
            // Invitations that expired since the last pass are written to the system log (R10).
            if let Err(error) = shared.store.log_expired_invitations(shared.config.clock.now_utc()).await {
                tracing::warn!(%error, "logging expired invitations failed; retrying at the next pass");
            }
            shared.config.systemlog_prune_interval
        };
        tokio::time::sleep(interval).await;
    }
}

/// An enabled webhook endpoint is sent every record after its cursor: none of them is pruned
/// while it may still be sent. An endpoint is disabled after `webhook::RETRY_WINDOW` of
/// failures, so this holds the log back by at most that much past the retention. The hour of
/// margin covers a record committed, with its earlier time, while the pass runs. Delivery
/// attempts are kept as long as the log. `None`: the backlog could not be read, and nothing is
/// pruned.
async fn keep_webhook_backlog(shared: &Shared, cutoff: OffsetDateTime) -> Option<OffsetDateTime> {
    for _ in 0..BATCHES_PER_PASS {
        match shared.store.prune_webhook_attempts(cutoff, BATCH).await {
            Ok(n) if n < u64::from(BATCH) => break,
            Ok(_) => tokio::time::sleep(PAUSE).await,
            Err(error) => {
                tracing::warn!(%error, "deleting old webhook attempts failed; retrying at the next pass");
                break;
            }
        }
    }
    match shared.store.webhook_backlog_start().await {
        Ok(Some(oldest)) => Some(cutoff.min(oldest - time::Duration::HOUR)),
        Ok(None) => Some(cutoff),
        Err(error) => {
            tracing::warn!(%error, "reading what webhooks have left to send failed; pruning at the next pass");
            None
        }
    }
}

/// A SIEM stream configured on this node is sent every record after its cursor: none is pruned
/// while its receiver is down, however long (the operator's collector is theirs to bring back).
/// The nodes of a deployment share their SIEM flags: a node without them does not hold the log
/// back. `None`: the backlog could not be read, and nothing is pruned.
async fn keep_siem_backlog(shared: &Shared, mut cutoff: OffsetDateTime) -> Option<OffsetDateTime> {
    for name in crate::jobs::siem::configured(&shared.config.siem) {
        match shared.store.siem_backlog_start(name).await {
            Ok(Some(oldest)) => cutoff = cutoff.min(oldest - time::Duration::HOUR),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "reading what the SIEM stream has left to send failed; pruning at the next pass");
                return None;
            }
        }
    }
    Some(cutoff)
}

async fn prune(shared: &Shared, cutoff: OffsetDateTime) {
    let mut deleted = 0u64;
    for _ in 0..BATCHES_PER_PASS {
        match shared.store.prune_log(cutoff, BATCH).await {
            Ok(n) => {
                deleted += n;
                if n < u64::from(BATCH) {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "deleting old system-log records failed; retrying at the next pass");
                break;
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    if deleted > 0 {
        tracing::info!(deleted, before = %cutoff, "deleted system-log records past the retention");
    }
}
