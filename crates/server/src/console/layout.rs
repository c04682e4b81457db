//! What every console page shares: the header with the customer and its copyable id, the menu
//! (whose entries follow the administrator's rights, R8), and how times are shown.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::catalog::Catalog;

/// The part of the console a page belongs to, to mark it in the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    ApiAccess,
    Administrators,
    Groups,
    Notifications,
    SystemLog,
    Webhooks,
    None,
}

impl Section {
    pub fn is_iam(self) -> bool {
        matches!(self, Section::ApiAccess | Section::Administrators | Section::Groups)
    }
}

/// The menu entries the administrator's rights allow in the current customer.
pub struct Menu {
    pub api_access: bool,
    /// The Service principals tab: Full administrators only (SP3).
    pub principals: bool,
    pub administrators: bool,
    pub notifications: bool,
    pub system_log: bool,
    /// The Webhooks tab: Full administrators only (they read every event of the customer).
    pub webhooks: bool,
}

impl Menu {
    /// Identity and Access Management: for those who may create API clients or manage admins (R8).
    pub fn iam(&self) -> bool {
        self.api_access || self.administrators
    }
}

pub struct Layout {
    pub title: String,
    pub admin_email: String,
    pub csrf: String,
    /// `None` outside a customer (sign-in, the customer picker).
    pub customer_id: Option<String>,
    pub customer_name: String,
    pub several: bool,
    pub menu: Menu,
    pub section: Section,
    /// The R7 warning, shown to Full administrators: disabled administrators whose API clients
    /// remain active.
    pub warning: Vec<Warned>,
}

/// A disabled administrator in the R7 warning.
pub struct Warned {
    pub id: String,
    pub email: String,
    pub clients: u64,
}

impl Warned {
    pub fn active_clients(&self) -> String {
        count(self.clients, "active API client", "active API clients")
    }
}

/// `1 API client`, `2 API clients`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Layout {
    /// A page outside any customer, for a signed-in administrator.
    pub fn outside(title: &str, admin_email: &str, csrf: &str) -> Self {
        Self {
            title: title.to_owned(),
            admin_email: admin_email.to_owned(),
            csrf: csrf.to_owned(),
            customer_id: None,
            customer_name: String::new(),
            several: true,
            menu: Menu {
                api_access: false,
                principals: false,
                administrators: false,
                notifications: false,
                system_log: false,
                webhooks: false,
            },
            section: Section::None,
            warning: Vec::new(),
        }
    }

    /// The R7 warning's headline: `3 API clients of 2 disabled administrators remain active.`
    pub fn warning_summary(&self) -> String {
        let clients = self.warning.iter().map(|w| w.clients).sum();
        let admins = u64::try_from(self.warning.len()).unwrap_or(u64::MAX);
        format!(
            "{} of {} {} active.",
            count(clients, "API client", "API clients"),
            count(admins, "disabled administrator", "disabled administrators"),
            if clients == 1 { "remains" } else { "remain" }
        )
    }

    pub fn current(&self, section: Section) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

const SHOWN: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
const SHOWN_SECONDS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");

/// A time as the console shows it: always UTC, to the minute.
pub fn when(at: OffsetDateTime) -> String {
    at.format(SHOWN).unwrap_or_default()
}

/// To the second, where events follow each other closely (the system log).
pub fn when_exactly(at: OffsetDateTime) -> String {
    at.format(SHOWN_SECONDS).unwrap_or_default()
}

/// Access in words: "Full access", or "Custom: Notifications, System Log".
pub fn describe(access: &Access, catalog: &Catalog) -> String {
    match access {
        Access::Full => "Full access".to_owned(),
        Access::Custom(set) => {
            let names: Vec<_> = set.iter().map(|p| catalog.display_name(p)).collect();
            if names.is_empty() {
                "Custom: no permissions".to_owned()
            } else {
                format!("Custom: {}", names.join(", "))
            }
        }
    }
}
