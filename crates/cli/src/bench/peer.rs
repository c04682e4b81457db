//! A peer authorization server on the same machine, under the same wrk load.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use trustgate_server::config::DEFAULT_SIGNING_ALGORITHM;

use super::measure::Row;
use super::scripts::{DONE_HOOK, TOKEN_SCRIPT};
use super::seed::{fresh_creds, PEER_CLIENTS};
use super::server::{http, post};
use super::wrk::wrk;
use super::{BenchArgs, Peer};

/// The `store` column of a peer's row: `peer: <name>`.
pub(super) const PEER_PREFIX: &str = "peer: ";

impl Peer {
    /// Its name, as `--peer` takes it and the table shows it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Peer::OidcProvider => "oidc-provider",
            Peer::NodeOauth2Server => "node-oauth2-server",
            Peer::Authlib => "authlib",
        }
    }

    /// Run by node or python; it imports its package from `--peer-modules`, so it can be written anywhere.
    fn script(self) -> &'static str {
        match self {
            Peer::OidcProvider => include_str!("../../../../scripts/bench_peer_oidc_provider.mjs"),
            Peer::NodeOauth2Server => include_str!("../../../../scripts/bench_peer_node_oauth2_server.mjs"),
            Peer::Authlib => include_str!("../../../../scripts/bench_peer_authlib.py"),
        }
    }

    /// The runtime that runs the peer's script, described, or why it cannot run here.
    fn runtime(self, args: &BenchArgs) -> Result<(Command, String), String> {
        match self {
            Peer::OidcProvider => node(args, self.name(), "oidc-provider"),
            Peer::NodeOauth2Server => node(args, self.name(), "@node-oauth/oauth2-server"),
            Peer::Authlib => python(args, self.name()),
        }
    }
}

/// Node, with `package` installed under `--peer-modules`.
fn node(args: &BenchArgs, name: &str, package: &str) -> Result<(Command, String), String> {
    let mut probe = Command::new("node");
    probe.arg("--version");
    let version = probe_version(probe)
        .ok_or_else(|| format!("skipping --peer {name}: node is not installed (Debian: apt-get install nodejs npm)"))?;
    let installed = args.peer_modules.join("node_modules").join(package).join("package.json");
    if !installed.is_file() {
        return Err(format!(
            "skipping --peer {name}: {} is missing (install it: npm ci --prefix {})",
            installed.display(),
            args.peer_modules.display()
        ));
    }
    let mut command = Command::new("node");
    command.env("NODE_ENV", "production");
    Ok((command, format!("node {version}, one worker per core")))
}

/// `--peer-python`, able to import Authlib, Flask and gunicorn.
fn python(args: &BenchArgs, name: &str) -> Result<(Command, String), String> {
    let python = args.peer_python.as_deref().ok_or_else(|| {
        format!("skipping --peer {name}: no --peer-python (its venv: --peer-python \"$(.ci/authlib-peer)\")")
    })?;
    let mut probe = Command::new(python);
    probe.args(["-c", "import authlib, flask, gunicorn; print(authlib.__version__)"]);
    let version = probe_version(probe).ok_or_else(|| {
        format!("skipping --peer {name}: {} cannot import authlib, flask and gunicorn", python.display())
    })?;
    Ok((Command::new(python), format!("Authlib {version}, gunicorn, one worker per core")))
}

/// What `probe` prints on success, trimmed.
fn probe_version(mut probe: Command) -> Option<String> {
    let output = probe.output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `--peer NAME`: the hot token-grant load (the same wrk script, connections and duration)
/// against the peer's client credentials grant, signing with Trustgate's default algorithm, on
/// this machine while no Trustgate server runs. None, with a line saying why, when node or the
/// package is missing.
pub(super) async fn measure_peer(
    which: Peer,
    args: &BenchArgs,
    scratch: &Path,
    baseline: f64,
) -> anyhow::Result<Option<Row>> {
    let name = which.name();
    let (mut command, runtime) = match which.runtime(args) {
        Ok(found) => found,
        Err(why) => {
            eprintln!("{why}");
            return Ok(None);
        }
    };
    let extension = if which == Peer::Authlib { "py" } else { "mjs" };
    let script = scratch.join(format!("peer-{name}.{extension}"));
    std::fs::write(&script, which.script())?;
    let clients = scratch.join("peer-clients.txt");
    std::fs::write(&clients, fresh_creds(PEER_CLIENTS))?;
    let token_lua = scratch.join("peer-token.lua");
    std::fs::write(&token_lua, format!("{TOKEN_SCRIPT}{DONE_HOOK}"))?;
    let algorithm = DEFAULT_SIGNING_ALGORITHM;
    eprintln!("[peer] starting {name} ({runtime}) with {PEER_CLIENTS} clients, {algorithm}");
    command.arg(&script);
    if which != Peer::Authlib {
        command.arg(&args.peer_modules);
    }
    let mut peer = PeerProcess(
        command
            .arg(&clients)
            .arg(algorithm.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting the {name} peer"))?,
    );
    let url = peer.url(Duration::from_secs(60))?;
    let addr = url.strip_prefix("http://").context("the peer printed no http:// URL")?.to_owned();
    let first = std::fs::read_to_string(&clients)?;
    let (id, secret) = first.lines().next().and_then(|l| l.split_once(' ')).context("no peer client")?;
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let (status, body) =
        http(&addr, post(&addr, "/cctrustoauth2/root/tokens/clients", "application/x-www-form-urlencoded", form)?)
            .await?;
    if status != 200 {
        bail!("the peer refused a grant ({status}): {body}");
    }
    let env: [(&str, &Path); 1] = [("TG_BENCH_CREDS", &clients)];
    wrk(&url, "/", &token_lua, args.connections, 2, &env)?;
    let run = wrk(&url, "/", &token_lua, args.connections, args.duration, &env)?;
    eprintln!(
        "[peer] {name}: token grant @{}: {:.0} req/s, p50 {} µs, p99 {} µs",
        args.connections,
        run.rate(),
        run.p50_us,
        run.p99_us
    );
    Ok(Some(Row {
        store: match which {
            Peer::OidcProvider => "peer: oidc-provider",
            Peer::NodeOauth2Server => "peer: node-oauth2-server",
            Peer::Authlib => "peer: authlib",
        },
        scenario: format!("token grant, {PEER_CLIENTS} clients, {algorithm} JWT access tokens ({runtime})"),
        clients: u32::try_from(PEER_CLIENTS).unwrap_or(u32::MAX),
        connections: args.connections,
        run,
        baseline,
        hits: String::new(),
    }))
}

/// The peer's node process: stopped when dropped.
pub(super) struct PeerProcess(Child);

impl PeerProcess {
    /// The URL the peer prints once it serves.
    pub(super) fn url(&mut self, within: Duration) -> anyhow::Result<String> {
        use std::io::BufRead as _;
        let stdout = self.0.stdout.take().context("the peer's output")?;
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = sent.send(std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line));
        });
        match received.recv_timeout(within) {
            Ok(Ok(line)) if line.starts_with("http://") => Ok(line.trim().to_owned()),
            Ok(_) => bail!("the peer exited before serving (run its script in scripts/ by hand to see why)"),
            Err(_) => bail!("the peer did not start within {} s", within.as_secs()),
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        // Its workers follow: a cluster worker exits when its channel to the primary closes.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
