//! Lists a customer's administrators, tells them by notification, and prints the latest
//! system-log records — the calls a nightly report script makes.
//!
//! ```sh
//! TRUSTGATE_URL=https://trustgate.example.com \
//! TRUSTGATE_CUSTOMER=acme \
//! TRUSTGATE_CLIENT_ID=… TRUSTGATE_CLIENT_SECRET=… \
//! cargo run -p trustgate-client --example platform_report
//! ```

use trustgate_client::{AdministratorsQuery, Client, NewNotification, SystemLogQuery};

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder(env("TRUSTGATE_URL")?)
        .credentials(env("TRUSTGATE_CLIENT_ID")?, env("TRUSTGATE_CLIENT_SECRET")?)
        .customer(env("TRUSTGATE_CUSTOMER")?)
        .build()?;

    let administrators = client.all_administrators(&AdministratorsQuery::page_size(100)).await?;
    for admin in &administrators {
        println!("{:<40} {:<8} {}", admin.display_name, admin.access_type, admin.status);
    }

    let summary = format!("{} administrators today.", administrators.len());
    client.post_notification(&NewNotification::new("platform-report", "Daily report", summary)).await?;

    let page = client.system_log(&SystemLogQuery::page_size(20)).await?;
    for record in &page.items {
        let message = record.message.get("en-US").map(String::as_str).unwrap_or_default();
        println!("{} {:<32} {message}", record.utc_timestamp, record.event_type);
    }

    // Done: the token is of no use to anyone after this.
    client.revoke_token().await?;
    Ok(())
}
