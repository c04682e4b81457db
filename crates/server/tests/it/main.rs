#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The behaviour suite: one integration-test binary (each file under `tests/` would link its own).
//! Every test starts the real server on an ephemeral port with a fresh store and speaks HTTP to it.

mod harness;

mod administrators;
mod calls;
mod cli;
mod manage;
mod notifications;
mod rules;
mod systemlog;
mod tokens;
