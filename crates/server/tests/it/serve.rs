//! `trustgate serve` as an operator runs it, as a separate process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::{TempDir, TestDatabase};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_on_postgresql_creates_a_missing_data_dir_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let Some(database) = TestDatabase::create().await else { return };
    let parent = TempDir::new();
    let data_dir = parent.path().join("not").join("yet");
    let log = parent.path().join("serve.log");
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--database", &database.url, "serve", "--listen", "127.0.0.1:0"])
            .env_remove("TRUSTGATE_SERVER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The server prints more after the address: the pipe is drained to its end, or `println!` would fail.
    let stdout = BufReader::new(server.0.stdout.take().unwrap());
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Trustgate is listening on ") {
                let _ = address_tx.send(rest.split(' ').next().unwrap_or_default().to_owned());
            }
        }
    });
    let url = address_rx
        .recv()
        .unwrap_or_else(|_| panic!("the server did not start: {}", std::fs::read_to_string(&log).unwrap_or_default()));
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is private to its owner");
    assert!(data_dir.join("server.key").is_file(), "the server key is kept in it");
}
