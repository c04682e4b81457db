//! Notifications and the System log, for administrators with those rights.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use trustgate_core::access::Permission;
use trustgate_store::{LogQuery, LogView};

use super::error::{render, ConsoleError};
use super::extract::InCustomer;
use super::layout::{when, when_exactly, Layout, Section};
use crate::error::ApiError;
use crate::state::AppState;

const NOTIFICATIONS_SHOWN: u32 = 100;
const LOG_PAGE: u32 = 50;
const DEFAULT_WINDOW: time::Duration = time::Duration::days(7);

pub struct NotificationCard {
    pub title: String,
    pub description: String,
    pub severity: String,
    pub component: String,
    pub created: String,
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl NotificationCard {
    fn of(body: &Value, created: OffsetDateTime) -> Self {
        let contents = body.get("content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let content = contents
            .iter()
            .find(|c| c.get("languageTag").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("en-US")))
            .or_else(|| contents.first())
            .cloned()
            .unwrap_or(Value::Null);
        Self {
            title: text(&content, "title"),
            description: text(&content, "description"),
            severity: text(body, "severity"),
            component: text(body, "component"),
            created: when(created),
        }
    }

    /// A CSS class for the severity badge, from a closed set.
    pub fn tone(&self) -> &'static str {
        match self.severity.as_str() {
            "Warning" => "warn",
            "Error" | "Critical" => "bad",
            "Success" => "good",
            _ => "info",
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    items: Vec<NotificationCard>,
}

/// `GET /console/c/{customer}/notifications` — the newest first.
pub async fn notifications(State(state): State<AppState>, ctx: InCustomer) -> Result<Response, ConsoleError> {
    ctx.require(Permission::NOTIFICATIONS)?;
    let items = state.store.notifications(&ctx.customer.id, NOTIFICATIONS_SHOWN).await.map_err(ApiError::from)?;
    let items = items.iter().map(|n| NotificationCard::of(&n.body, n.created_at)).collect();
    Ok(render(
        StatusCode::OK,
        &NotificationsPage { layout: ctx.layout("Notifications", Section::Notifications), items },
    ))
}

pub struct LogRow {
    pub at: String,
    /// `service:object/action`, split so a narrow column breaks the line after the colon.
    pub service: String,
    pub action: String,
    pub actor: String,
    pub actor_type: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "system_log.html")]
struct SystemLogPage {
    layout: Layout,
    base: String,
    from: String,
    to: String,
    event: String,
    actor: String,
    newest_first: bool,
    /// The time heading's link: the same filters, the other order.
    flip: String,
    /// The first page of the same filters and order.
    first: String,
    rows: Vec<LogRow>,
    next: Option<String>,
    first_page: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LogFilter {
    from: Option<String>,
    to: Option<String>,
    event: Option<String>,
    actor: Option<String>,
    /// `asc` for oldest first; newest first otherwise.
    dir: Option<String>,
    after: Option<String>,
}

/// The value of an `<input type="datetime-local">`, read as UTC.
const LOCAL_INPUT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute][optional [:[second]]]");
const LOCAL_OUTPUT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]");

fn parse_time(field: &str, text: &str) -> Result<Option<OffsetDateTime>, String> {
    match text.trim() {
        "" => Ok(None),
        text => PrimitiveDateTime::parse(text, LOCAL_INPUT)
            .map(|t| Some(t.assume_utc()))
            .map_err(|_| format!("{field} must be a date and time such as 2026-01-31T12:00 (UTC).")),
    }
}

fn input_value(at: OffsetDateTime) -> String {
    at.format(LOCAL_OUTPUT).unwrap_or_default()
}

/// What the filter form holds, to carry into every link of the page.
struct Shown<'a> {
    base: &'a str,
    from: &'a str,
    to: &'a str,
    event: &'a str,
    actor: &'a str,
}

impl Shown<'_> {
    fn href(&self, newest_first: bool, after: Option<i64>) -> String {
        let mut pairs = vec![("from", self.from.to_owned()), ("to", self.to.to_owned())];
        pairs.extend(
            [("event", self.event), ("actor", self.actor)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.to_owned())),
        );
        if !newest_first {
            pairs.push(("dir", "asc".to_owned()));
        }
        if let Some(seq) = after {
            pairs.push(("after", seq.to_string()));
        }
        format!("{}/system-log?{}", self.base, serde_urlencoded::to_string(pairs).unwrap_or_default())
    }
}

fn trimmed(text: Option<&str>, max: usize) -> String {
    text.unwrap_or_default().trim().chars().take(max).collect()
}

/// `GET /console/c/{customer}/system-log?from=&to=&event=&actor=&dir=&after=` — a time window
/// (the last 7 days unless chosen), newest first unless `dir=asc`, filtered by event type and
/// actor, paged.
pub async fn system_log(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(filter): Query<LogFilter>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::SYSTEM_LOG)?;
    let now = OffsetDateTime::now_utc();
    let newest_first = filter.dir.as_deref() != Some("asc");
    let event = trimmed(filter.event.as_deref(), 100);
    let actor = trimmed(filter.actor.as_deref(), 254);
    let window = parse_time("From", filter.from.as_deref().unwrap_or_default()).and_then(|from| {
        let to = parse_time("To", filter.to.as_deref().unwrap_or_default())?;
        let after = match filter.after.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(a.parse::<i64>().map_err(|_| "The page link is not valid; start again.".to_owned())?),
            None => None,
        };
        // A whole minute past now, so events of the current minute are in the default window.
        let to = to.unwrap_or_else(|| now + time::Duration::minutes(1));
        let from = from.unwrap_or(to - DEFAULT_WINDOW);
        if from > to {
            return Err("From must not be after To.".to_owned());
        }
        Ok((from, to, after))
    });
    let layout = ctx.layout("System log", Section::SystemLog);
    let base = ctx.base();
    let (from, to, after) = match window {
        Ok(window) => window,
        Err(error) => {
            let (from, to) = (trimmed(filter.from.as_deref(), 40), trimmed(filter.to.as_deref(), 40));
            let shown = Shown { base: &base, from: &from, to: &to, event: &event, actor: &actor };
            let page = SystemLogPage {
                layout,
                flip: shown.href(!newest_first, None),
                first: shown.href(newest_first, None),
                base: base.clone(),
                from,
                to,
                event,
                actor,
                newest_first,
                rows: Vec::new(),
                next: None,
                first_page: true,
                error: Some(error),
            };
            return Ok(render(StatusCode::BAD_REQUEST, &page));
        }
    };
    let query =
        LogQuery { customer_id: ctx.customer.id.clone(), start: from, end: to, after_seq: after, limit: LOG_PAGE + 1 };
    let view = LogView {
        newest_first,
        event_type: Some(event.clone()).filter(|e| !e.is_empty()),
        actor: Some(actor.clone()).filter(|a| !a.is_empty()),
    };
    let mut records = state.store.log_view(&query, &view).await.map_err(ApiError::from)?;
    let more = records.len() > LOG_PAGE as usize;
    records.truncate(LOG_PAGE as usize);
    let (from, to) = (input_value(from), input_value(to));
    let shown = Shown { base: &base, from: &from, to: &to, event: &event, actor: &actor };
    let next = more.then(|| records.last().map(|r| shown.href(newest_first, Some(r.seq)))).flatten();
    let (flip, first) = (shown.href(!newest_first, None), shown.href(newest_first, None));
    let rows = records
        .into_iter()
        .map(|r| {
            let (service, action) = r.event_type.split_once(':').unwrap_or(("", &r.event_type));
            let (service, action) = (service.to_owned(), action.to_owned());
            LogRow {
                at: when_exactly(r.at),
                service,
                action,
                actor: r.actor_name,
                actor_type: r.actor_type,
                message: r.message,
            }
        })
        .collect();
    let page = SystemLogPage {
        layout,
        base,
        from,
        to,
        event,
        actor,
        newest_first,
        flip,
        first,
        rows,
        next,
        first_page: after.is_none(),
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}
