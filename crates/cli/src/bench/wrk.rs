//! Driving wrk and reading its summary.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use serde::Deserialize;

/// wrk's summary, printed as JSON by the Lua `done` hook.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) struct Run {
    pub(super) requests: u64,
    pub(super) duration_us: u64,
    pub(super) p50_us: u64,
    pub(super) p99_us: u64,
    pub(super) errors: u64,
    pub(super) non2xx: u64,
}

impl Run {
    pub(super) fn rate(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

pub(super) fn wrk(
    url: &str,
    path: &str,
    script: &Path,
    connections: u32,
    seconds: u32,
    env: &[(&str, &Path)],
) -> anyhow::Result<Run> {
    let mut command = Command::new("wrk");
    command
        .args([&format!("-t{}", connections.min(2)), &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["--timeout", "5s", "-s"])
        .arg(script)
        .arg(format!("{url}{path}"));
    for (k, v) in env {
        command.env(k, v);
    }
    run_wrk(command)
}

pub(super) fn run_wrk(mut command: Command) -> anyhow::Result<Run> {
    let output = command.output().context("running wrk (install it: apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(json) = stdout.lines().rev().find(|l| l.starts_with('{')) else {
        bail!("wrk printed no summary: {}{}", stdout.trim(), String::from_utf8_lossy(&output.stderr).trim());
    };
    Ok(serde_json::from_str(json)?)
}
