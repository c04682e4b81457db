//! Where a node's server keys come from: `TRUSTGATE_SERVER_KEY` and `TRUSTGATE_RETIRED_SERVER_KEYS`
//! (comma-separated), else `server.key` in the data directory — the current key on its first line,
//! retired keys on the lines after it, readable by its owner only.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use trustgate_core::secret::{ServerKey, ServerKeyring};
use trustgate_store::files;

pub const SERVER_KEY_FILE: &str = "server.key";
pub const CURRENT_ENV: &str = "TRUSTGATE_SERVER_KEY";
pub const RETIRED_ENV: &str = "TRUSTGATE_RETIRED_SERVER_KEYS";

#[derive(Debug, thiserror::Error)]
pub enum ServerKeyFileError {
    /// A key or the file that should hold it is not what it must be; the operator fixes the value.
    #[error("{0}")]
    Invalid(String),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ServerKeyFileError {
    let path = path.to_owned();
    move |source| ServerKeyFileError::Io { action, path, source }
}

/// The server keys: `TRUSTGATE_SERVER_KEY`, else `server.key` in the data directory (created on
/// first use with the directory, readable by its owner only), with the retired keys of
/// `TRUSTGATE_RETIRED_SERVER_KEYS` and of server.key's further lines. Every node of a deployment
/// must share the current key.
pub fn load_ring(data_dir: &Path) -> Result<ServerKeyring, ServerKeyFileError> {
    if let Ok(text) = std::env::var(CURRENT_ENV) {
        if text.trim().is_empty() {
            return Err(ServerKeyFileError::Invalid(format!(
                "{CURRENT_ENV} is set but empty (did `$(cat …/server.key)` read a file that is not there?): \
                 print the deployment's key with `trustgate --data-dir <the first node's data directory> keys export`, \
                 or unset the variable to use server.key in --data-dir"
            )));
        }
        let current = ServerKey::from_encoded(&text)
            .ok_or_else(|| ServerKeyFileError::Invalid(format!("{CURRENT_ENV} is not a 32-byte base64url key")))?;
        return ring_from_env(current);
    }
    let path = data_dir.join(SERVER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            files::restrict_to_owner(&path).map_err(io_error("making private", &path))?;
            ring_from_file(&path, &text)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            files::create_private_dir(data_dir).map_err(io_error("creating the data directory", data_dir))?;
            let key = ServerKey::generate();
            let mut file = files::create_new_private_file(&path).map_err(io_error("creating", &path))?;
            writeln!(file, "{}", key.encode()).map_err(io_error("writing", &path))?;
            ring_from_env(key)
        }
        Err(e) => Err(io_error("reading", &path)(e)),
    }
}

/// Whether the deployment's key is given at all: by the environment or by a `server.key`.
pub fn is_given(data_dir: &Path) -> bool {
    std::env::var_os(CURRENT_ENV).is_some() || data_dir.join(SERVER_KEY_FILE).exists()
}

/// Whether the current key comes from the environment (so rotation cannot write it).
pub fn from_env() -> bool {
    std::env::var_os(CURRENT_ENV).is_some()
}

/// Parses one encoded key, naming where it came from in the error.
fn parse_key(text: &str, place: &str) -> Result<ServerKey, ServerKeyFileError> {
    ServerKey::from_encoded(text)
        .ok_or_else(|| ServerKeyFileError::Invalid(format!("{place} is not a 32-byte base64url server key")))
}

/// The retired keys of `TRUSTGATE_RETIRED_SERVER_KEYS`; none when unset or empty.
fn retired_from_env() -> Result<Vec<ServerKey>, ServerKeyFileError> {
    let Ok(text) = std::env::var(RETIRED_ENV) else { return Ok(Vec::new()) };
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        .map(|(i, key)| parse_key(key, &format!("key {} of {RETIRED_ENV}", i + 1)))
        .collect()
}

/// The ring `server.key` holds: the current key on its first line, retired keys after it.
fn ring_from_file(path: &Path, text: &str) -> Result<ServerKeyring, ServerKeyFileError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate();
    let (_, current) =
        lines.next().ok_or_else(|| ServerKeyFileError::Invalid(format!("{} holds no server key", path.display())))?;
    let current = parse_key(current, &format!("line 1 of {}", path.display()))?;
    let retired = lines
        .map(|(i, line)| parse_key(line, &format!("line {} of {}", i + 1, path.display())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ServerKeyring::new(current, [retired, retired_from_env()?].concat()))
}

/// The ring of `current` (from `TRUSTGATE_SERVER_KEY`) and `TRUSTGATE_RETIRED_SERVER_KEYS`.
fn ring_from_env(current: ServerKey) -> Result<ServerKeyring, ServerKeyFileError> {
    Ok(ServerKeyring::new(current, retired_from_env()?))
}

/// Replaces `server.key` with `ring` in one rename: a crash leaves the old file or the new one,
/// never half of either, and the new one is readable by its owner only from its first byte.
pub fn write_ring(data_dir: &Path, ring: &ServerKeyring) -> Result<(), ServerKeyFileError> {
    let path = data_dir.join(SERVER_KEY_FILE);
    let temporary = data_dir.join(format!("{SERVER_KEY_FILE}.new"));
    let _ = std::fs::remove_file(&temporary);
    let mut file = files::create_new_private_file(&temporary).map_err(io_error("creating", &temporary))?;
    for key in ring.all() {
        writeln!(file, "{}", key.encode()).map_err(io_error("writing", &temporary))?;
    }
    file.sync_all().map_err(io_error("writing", &temporary))?;
    std::fs::rename(&temporary, &path).map_err(io_error("replacing", &path))
}
