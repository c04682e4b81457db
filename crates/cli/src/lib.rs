//! The `trustgate` command: serving a node, the operator's commands against a store, copies and
//! backups, and the benchmark. The HTTP server itself is the `trustgate-server` library.

pub mod bench;
pub mod commands;
