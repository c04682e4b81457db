//! Typed calls for the Citrix Cloud APIs Trustgate serves: administrators, notifications and the
//! system log, in Citrix's shapes.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::error::Error;

/// One page of a list, and how to ask for the next.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Page<T> {
    /// The page's items.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    /// Pass back for the next page; `None` on the last.
    #[serde(default)]
    pub continuation_token: Option<String>,
}

/// An administrator or a service principal (Citrix's `AdministratorResult`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Administrator {
    /// The customer.
    pub customer_id: String,
    /// `OID:/citrix/<userId>`.
    pub uc_oid: String,
    /// The administrator's id (a service principal's client id).
    pub user_id: String,
    /// `AdministratorUser` or `ServicePrincipal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Full` or `Custom`.
    pub access_type: String,
    /// The given name, when known.
    pub first_name: Option<String>,
    /// The family name, when known.
    pub last_name: Option<String>,
    /// The name shown.
    pub display_name: String,
    /// The e-mail; none for a service principal.
    pub email: Option<String>,
    /// `Ad`, `AzureAd`, `CitrixSts` or `Google`; none for a service principal.
    pub provider_type: Option<String>,
    /// The provider's directory (tenant, domain), when given.
    pub provider_id: Option<String>,
    /// The identity at the external provider.
    pub external_oid: Option<String>,
    /// The external identity provider of a federated administrator.
    pub external_provider_type: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// Invited, not accepted yet.
    pub pending: bool,
    /// The invitation expired unaccepted.
    pub invitation_expired: bool,
    /// RFC 3339.
    pub created_date: String,
    /// RFC 3339.
    pub updated_date: String,
}

/// What `GET /administrators` is asked for.
#[derive(Debug, Clone, Default)]
pub struct AdministratorsQuery {
    /// Page size, 1 to 200 (the server's default is 100).
    pub max_item_count: Option<u32>,
    /// `continuationToken` of the previous page.
    pub request_continuation: Option<String>,
    /// `AdministratorUser` or `ServicePrincipal` only.
    pub kind: Option<String>,
    /// Only administrators of this `providerType`.
    pub provider_type: Option<String>,
}

impl AdministratorsQuery {
    /// Pages of `size` administrators.
    pub fn page_size(size: u32) -> Self {
        Self { max_item_count: Some(size), ..Self::default() }
    }
}

/// A notification to send (Citrix's `POST /notifications/items` body). `component` and one
/// `content` entry are required; the server fills in the rest.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNotification {
    /// An administrator's e-mail, or `*` (every administrator, the server's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_admin: Option<String>,
    /// What sends it, at most 200 characters.
    pub component: String,
    /// `Information` (default), `Success`, `Warning`, `Error` or `Critical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// `Normal` (default), `Low`, `High` or `Urgent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Defaults to a random UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    /// One entry per language, 1 to 20.
    pub content: Vec<NotificationContent>,
    /// Free-form categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Value>,
    /// Free-form data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The sender's own id for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl NewNotification {
    /// A notification from `component` to every administrator, in English.
    pub fn new(component: impl Into<String>, title: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            component: component.into(),
            content: vec![NotificationContent {
                language_tag: "en-US".to_owned(),
                title: title.into(),
                description: description.into(),
                detail_uri: None,
            }],
            ..Self::default()
        }
    }
}

/// A notification's text in one language.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotificationContent {
    /// `en-US`, …
    pub language_tag: String,
    /// At most 500 characters.
    pub title: String,
    /// The body.
    pub description: String,
    /// A link for more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_uri: Option<String>,
}

/// A notification as stored and listed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Notification {
    /// An administrator's e-mail, or `*`.
    pub destination_admin: String,
    /// What sent it.
    pub component: String,
    /// RFC 3339.
    pub created_date: String,
    /// Free-form categories.
    pub categories: Option<Value>,
    /// `Information`, `Success`, `Warning`, `Error` or `Critical`.
    pub severity: String,
    /// Its id.
    pub event_id: String,
    /// `Normal`, `Low`, `High` or `Urgent`.
    pub priority: String,
    /// Its text, by language.
    pub content: Vec<NotificationContent>,
    /// Free-form data.
    pub data: Option<Value>,
    /// The sender's own id for it.
    pub external_id: Option<String>,
}

#[derive(Deserialize)]
struct NotificationList {
    #[serde(default)]
    items: Vec<Notification>,
}

/// A system-log record (Citrix's `SystemLog` record).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct LogRecord {
    /// Its id.
    pub record_id: String,
    /// RFC 3339.
    pub utc_timestamp: String,
    /// The customer.
    pub customer_id: String,
    /// What happened, e.g. `SecureClient/Created`.
    pub event_type: String,
    /// What it happened to.
    pub target_id: String,
    /// Its name.
    pub target_display_name: String,
    /// An administrator target's e-mail.
    pub target_email: Option<String>,
    /// An administrator target's id.
    pub target_user_id: Option<String>,
    /// `Administrator`, `SecureClient`, …
    pub target_type: String,
    /// The target before the change.
    pub before_changes: Option<Value>,
    /// The target after the change.
    pub after_changes: Option<Value>,
    /// Who acted, when someone did.
    pub actor_id: Option<String>,
    /// Their name.
    pub actor_display_name: String,
    /// `Administrator`, `SecureClient`, `System`, …
    pub actor_type: String,
    /// The record's message by language (`en-US`).
    pub message: BTreeMap<String, String>,
}

/// What `GET /systemlog/records` is asked for.
#[derive(Debug, Clone, Default)]
pub struct SystemLogQuery {
    /// RFC 3339; the server's default is 90 days before the end.
    pub start: Option<String>,
    /// RFC 3339; the server's default is now.
    pub end: Option<String>,
    /// Page size, 1 to 200 (the server's default is 50).
    pub limit: Option<u32>,
    /// `continuationToken` of the previous page.
    pub continuation_token: Option<String>,
}

impl SystemLogQuery {
    /// Pages of `size` records over the server's default window.
    pub fn page_size(size: u32) -> Self {
        Self { limit: Some(size), ..Self::default() }
    }
}

/// Pages never end only if the server keeps answering a continuation token: a bound on a loop
/// that follows them, far beyond any real list (200 items a page).
const MAX_PAGES: usize = 100_000;

impl Client {
    /// One page of the customer's administrators and service principals (`GET /administrators`;
    /// needs the `administrators` permission).
    pub async fn administrators(&self, query: &AdministratorsQuery) -> Result<Page<Administrator>, Error> {
        let size = query.max_item_count.map(|n| n.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        pairs.extend(size.as_deref().map(|v| ("maxItemCount", v)));
        pairs.extend(query.request_continuation.as_deref().map(|v| ("requestContinuation", v)));
        pairs.extend(query.kind.as_deref().map(|v| ("type", v)));
        pairs.extend(query.provider_type.as_deref().map(|v| ("providerType", v)));
        self.call(Method::GET, "/administrators", &pairs, None::<&()>).await
    }

    /// Every administrator, following the continuation tokens from `query`'s page on.
    pub async fn all_administrators(&self, query: &AdministratorsQuery) -> Result<Vec<Administrator>, Error> {
        let mut query = query.clone();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.administrators(&query).await?;
            all.extend(page.items);
            match page.continuation_token {
                Some(next) if !next.is_empty() => query.request_continuation = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }

    /// One administrator, by `userId` or `ucOid`; `None` if the customer has no such one.
    pub async fn administrator(&self, id: &str) -> Result<Option<Administrator>, Error> {
        let page: Page<Administrator> = self.call(Method::GET, "/administrators", &[("id", id)], None::<&()>).await?;
        Ok(page.items.into_iter().next())
    }

    /// Sends a notification to the customer's administrators (`POST /notifications/items`;
    /// needs `notifications`); the answer is the notification as stored.
    pub async fn post_notification(&self, notification: &NewNotification) -> Result<Notification, Error> {
        self.call(Method::POST, "/notifications/items", &[], Some(notification)).await
    }

    /// The customer's notifications, newest first (`GET /notifications/items`).
    pub async fn notifications(&self) -> Result<Vec<Notification>, Error> {
        let list: NotificationList = self.get("/notifications/items").await?;
        Ok(list.items)
    }

    /// One page of the customer's system log, oldest first (`GET /systemlog/records`; needs
    /// `systemLog`).
    pub async fn system_log(&self, query: &SystemLogQuery) -> Result<Page<LogRecord>, Error> {
        let limit = query.limit.map(|n| n.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        pairs.extend(query.start.as_deref().map(|v| ("StartDateTime", v)));
        pairs.extend(query.end.as_deref().map(|v| ("EndDateTime", v)));
        pairs.extend(limit.as_deref().map(|v| ("Limit", v)));
        pairs.extend(query.continuation_token.as_deref().map(|v| ("ContinuationToken", v)));
        self.call(Method::GET, "/systemlog/records", &pairs, None::<&()>).await
    }

    /// Every record in `query`'s window, following the continuation tokens.
    pub async fn all_system_log(&self, query: &SystemLogQuery) -> Result<Vec<LogRecord>, Error> {
        let mut query = query.clone();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.system_log(&query).await?;
            all.extend(page.items);
            match page.continuation_token {
                Some(next) if !next.is_empty() => query.continuation_token = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }
}
