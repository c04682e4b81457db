//! `trustgate` as an operator runs it: `serve` as a child process, and the one-shot commands.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// A running `trustgate serve`, killed when dropped.
pub struct Serving {
    child: Child,
    /// Where it listens, as it printed it (`http://…` or `https://…`).
    pub url: String,
    /// What it printed up to its API description line (the first-start password is in it).
    pub banner: Vec<String>,
}

impl Serving {
    /// `trustgate --data-dir dir serve --listen 127.0.0.1:0 args…`, with the server key from
    /// the data directory.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut command = serve_command(dir, "127.0.0.1:0", args);
        let mut child = command.env_remove("TRUSTGATE_SERVER_KEY").spawn().expect("start trustgate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref().map_while(Result::ok) {
            let done = line.starts_with("API description");
            banner.push(line);
            if done {
                break;
            }
        }
        // Keep draining stdout so the server never fails on a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let url = banner
            .iter()
            .find_map(|l| l.strip_prefix("Trustgate is listening on ")?.split_whitespace().next())
            .unwrap_or_else(|| panic!("the server did not start: {banner:?}"))
            .to_owned();
        Self { child, url, banner }
    }

    /// host:port of [`Serving::url`].
    pub fn addr(&self) -> &str {
        self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `trustgate --data-dir dir serve --listen listen args…` with none of the test's public URL and
/// audience, reading no input, its standard output piped and its standard error dropped.
pub fn serve_command(dir: &Path, listen: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
    command.arg("--data-dir").arg(dir).args(["serve", "--listen", listen]).args(args);
    command.env_remove("TRUSTGATE_PUBLIC_URL").env_remove("TRUSTGATE_AUDIENCE");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    command
}

/// `trustgate --data-dir dir args…`, with the server key from the data directory.
pub fn trustgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("TRUSTGATE_SERVER_KEY")
        .env_remove("TRUSTGATE_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run trustgate")
}

/// [`trustgate`] with `--json`, which must succeed.
pub fn trustgate_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = trustgate(dir, &[&["--json"], args].concat());
    assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}
