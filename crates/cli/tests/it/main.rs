#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The behaviour suite is loaded once per store on purpose.
#![allow(clippy::duplicate_mod)]

//! The behaviour suite: one integration-test binary (each file under `tests/` would link its own).
//! Every test starts the real server on an ephemeral port with a fresh store and speaks HTTP to it.
//! The suite under `suite/` runs twice: on SQLite and on PostgreSQL.

#[macro_use]
mod harness;
mod idp;
mod serving;

mod backup;
mod browser;
mod cli;
mod console;
mod console_second_factor;
mod files;
mod gateway;
mod limits;
mod mail;
mod migrations;
mod observability;
mod openapi;
mod openid_client;
mod passkeys;
mod pooler;
mod postgres_nodes;
mod readme;
mod retention;
mod scim_conformance;
mod serve;
mod siem;
mod tls;
mod totp;
mod verifiers;
mod webhook_cost;
mod webhook_receiver;

/// The behaviour suite on the embedded SQLite store.
#[path = "suite"]
mod sqlite {
    use crate::harness::{Backend, TestApp};

    pub async fn app() -> Option<TestApp> {
        TestApp::spawn_on(Backend::Sqlite).await
    }

    pub async fn app_with(config: trustgate_server::ServerConfig) -> Option<TestApp> {
        TestApp::spawn_with(Backend::Sqlite, config).await
    }

    mod administrators;
    mod caches;
    mod calls;
    mod catalog;
    mod catalog_access;
    mod federation;
    mod gateway;
    mod introspection;
    mod invitations;
    mod keys;
    mod lifecycle;
    mod manage;
    mod metrics;
    mod model;
    mod notifications;
    mod principals;
    mod rules;
    mod scim;
    mod second_factor;
    mod secrets;
    mod server_key;
    mod sessions;
    mod standards;
    mod systemlog;
    mod throttling;
    mod tokens;
    mod webhooks;
}

/// The same behaviour suite on a real PostgreSQL, one fresh database per test.
#[path = "suite"]
mod postgres {
    use crate::harness::{Backend, TestApp};

    pub async fn app() -> Option<TestApp> {
        TestApp::spawn_on(Backend::Postgres).await
    }

    pub async fn app_with(config: trustgate_server::ServerConfig) -> Option<TestApp> {
        TestApp::spawn_with(Backend::Postgres, config).await
    }

    mod administrators;
    mod caches;
    mod calls;
    mod catalog;
    mod catalog_access;
    mod federation;
    mod gateway;
    mod introspection;
    mod invitations;
    mod keys;
    mod lifecycle;
    mod manage;
    mod metrics;
    mod model;
    mod notifications;
    mod principals;
    mod rules;
    mod scim;
    mod second_factor;
    mod secrets;
    mod server_key;
    mod sessions;
    mod standards;
    mod systemlog;
    mod throttling;
    mod tokens;
    mod webhooks;
}
