//! The local control socket: `trustgate.sock` in the data directory. After an operator command
//! commits a write, the CLI asks the running server over it to read the change feed now and waits
//! for the answer, so the change holds on the very next request (R5, R6 "at once") instead of
//! after the next 200 ms poll.
//!
//! Authentication is the file system's: the socket is mode 0600 and the server also refuses a peer
//! whose user id differs from its own. The protocol is one line each way: `catch-up` → `ok` or
//! `error <why>`; `public-url` → `ok <the URL the server is reached at>` (its `--public-url`), which
//! the CLI starts the links it prints with; `server-keys` → `ok` or `error <why>`: the server
//! reads its server keys again (from `server.key`, which `keys rotate-server-key` rewrote, and its
//! environment) and reopens the signing keys with them.

use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::state::AppState;

pub const SOCKET_FILE: &str = "trustgate.sock";
const REQUEST: &str = "catch-up";
const PUBLIC_URL: &str = "public-url";
const SERVER_KEYS: &str = "server-keys";
/// How long the CLI waits for the server's answer before saying the change may lag.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line read from a peer.
const MAX_LINE: u64 = 64;

/// The listening socket; removed from the data directory when dropped (the server stops).
pub struct ControlSocket {
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `trustgate.sock` in `data_dir` and answers catch-up requests for `state`. A socket
    /// left by a server that died is replaced; one a live server answers on is refused.
    pub async fn open(data_dir: &Path, state: AppState) -> anyhow::Result<Self> {
        let path = data_dir.join(SOCKET_FILE);
        if path.exists() {
            if UnixStream::connect(&path).await.is_ok() {
                bail!("another trustgate server is running on {} ({} answers)", data_dir.display(), path.display());
            }
            std::fs::remove_file(&path).with_context(|| format!("removing the stale {}", path.display()))?;
        }
        let listener = UnixListener::bind(&path).with_context(|| format!("creating {}", path.display()))?;
        let socket = Self { path };
        std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", socket.path.display()))?;
        let owner = std::fs::metadata(&socket.path)?.uid();
        tokio::spawn(accept(listener, owner, state, data_dir.to_owned()));
        Ok(socket)
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: UnixListener, owner: u32, state: AppState, data_dir: PathBuf) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, owner, state.clone(), data_dir.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "the control socket failed; operator changes now arrive within 200 ms");
                return;
            }
        }
    }
}

async fn answer(stream: UnixStream, owner: u32, state: AppState, data_dir: PathBuf) {
    if !stream.peer_cred().is_ok_and(|peer| peer.uid() == owner) {
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_LINE)).read_line(&mut line).await.is_err() {
        return;
    }
    let reply = if line.trim_end() == PUBLIC_URL {
        format!("ok {}\n", state.config.issuer.url)
    } else if line.trim_end() == SERVER_KEYS {
        match crate::keys::server_key_file::load_ring(&data_dir) {
            Ok(ring) => {
                state.set_server_keys(ring).await;
                tracing::warn!(current = %state.server_key().id(), "took up the rotated server key");
                "ok\n".to_owned()
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "reading the server keys again failed; keeping the current ones");
                "error the server could not read its server keys\n".to_owned()
            }
        }
    } else if line.trim_end() != REQUEST {
        "error unknown request\n".to_owned()
    } else {
        match state.catch_up().await {
            Ok(()) => "ok\n".to_owned(),
            Err(error) => {
                tracing::warn!(%error, "catching up with the change feed failed");
                "error the server could not read the change feed\n".to_owned()
            }
        }
    };
    let _ = write.write_all(reply.as_bytes()).await;
}

/// Tells the server running on `data_dir`, if any, to take in the changes just committed, and
/// waits for it. No server (no socket, or nobody listening) is not an error: there is nothing to tell.
pub async fn notify_server(data_dir: &Path) -> anyhow::Result<()> {
    ask(data_dir, REQUEST).await
}

/// Tells the server running on `data_dir`, if any, to read its server keys again, and waits.
pub async fn reload_server_keys(data_dir: &Path) -> anyhow::Result<()> {
    ask(data_dir, SERVER_KEYS).await
}

async fn ask(data_dir: &Path, request: &str) -> anyhow::Result<()> {
    let path = data_dir.join(SOCKET_FILE);
    let mut stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("connecting to {}", path.display())),
    };
    let exchange = async {
        stream.write_all(format!("{request}\n").as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(Ok(line)) if line.trim_end() == "ok" => Ok(()),
        Ok(Ok(line)) => bail!("the running server answered: {}", line.trim_end()),
        Ok(Err(error)) => Err(error).context("talking to the running server"),
        Err(_) => bail!("the running server did not answer within {} s", ANSWER_TIMEOUT.as_secs()),
    }
}

/// The public URL of the server running on `data_dir` (its `--public-url`, or the address it
/// listens on), or `None` when no server answers there.
pub async fn server_public_url(data_dir: &Path) -> Option<String> {
    let mut stream = UnixStream::connect(data_dir.join(SOCKET_FILE)).await.ok()?;
    let exchange = async {
        stream.write_all(format!("{PUBLIC_URL}\n").as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = tokio::time::timeout(ANSWER_TIMEOUT, exchange).await.ok()?.ok()?;
    let url = line.trim_end().strip_prefix("ok ")?.trim();
    (!url.is_empty()).then(|| url.to_owned())
}
