//! `trustgate serve` as an operator runs it, as a separate process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::harness::{docs_script, script_output, ProcessGroup, TempDir, TestDatabase};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Server {
    /// Runs `command`, a `trustgate serve`, with its standard error in `log` until it listens;
    /// the address it printed.
    fn start(command: &mut Command, log: &Path) -> (Self, String) {
        let mut server = Server(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(log).unwrap())
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
        let url = address_rx.recv().unwrap_or_else(|_| {
            panic!("the server did not start: {}", std::fs::read_to_string(log).unwrap_or_default())
        });
        (server, url)
    }
}

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
    let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
    command.arg("--data-dir").arg(&data_dir).args(["--database", &database.url, "serve", "--listen", "127.0.0.1:0"]);
    let (_server, url) = Server::start(command.env_remove("TRUSTGATE_SERVER_KEY"), &log);
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is private to its owner");
    assert!(data_dir.join("server.key").is_file(), "the server key is kept in it");
}

/// Issue #21, item 7: with its output on pipes nobody reads (a stuck log shipper, `trustgate serve
/// 2>&1 | head`), the server answered 367 requests and then nothing. Logging must never block
/// serving: lines past the queue are dropped and counted, and once output flows again one warning
/// says how many were lost.
#[tokio::test]
async fn a_log_reader_that_never_reads_does_not_stop_the_server() {
    use std::io::Read;
    let dir = TempDir::new();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(["--log-queue-lines", "64"])
            .env_remove("TRUSTGATE_SERVER_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Only the start-up lines are read, for the addresses; after them neither pipe is read.
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let (mut url, mut metrics) = (None, None);
    while metrics.is_none() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the server stopped");
        if let Some(rest) = line.strip_prefix("Trustgate is listening on ") {
            url = Some(rest.split(' ').next().unwrap_or_default().to_owned());
        } else if let Some(rest) = line.strip_prefix("Prometheus metrics: ") {
            metrics = Some(rest.trim().to_owned());
        }
    }
    let (url, metrics) = (url.expect("the listening address"), metrics.unwrap());
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    for n in 0..3_000 {
        let health = http.get(format!("{url}/healthz")).send().await;
        let status = health.map(|r| r.status()).unwrap_or_else(|e| panic!("request {n} was not answered: {e}"));
        assert_eq!(status, 200, "request {n}");
    }
    let dropped_lines = || async {
        let text = http.get(&metrics).send().await.unwrap().text().await.unwrap();
        let line = text.lines().find(|l| l.starts_with("trustgate_log_lines_dropped_total ")).expect("the counter");
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
    };
    let dropped = dropped_lines().await;
    assert!(dropped > 0.0, "3,000 access-log lines do not fit a 64-line queue and a pipe: {dropped} dropped");

    // Output flows again: the lines queued are written, then a warning with the count.
    let mut stderr = server.0.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = stderr.read(&mut chunk) {
            let _ = lines_tx.send(String::from_utf8_lossy(&chunk[..n]).into_owned());
        }
    });
    assert_eq!(http.get(format!("{url}/healthz")).send().await.unwrap().status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains("log lines were dropped") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(chunk) => seen.push_str(&chunk),
            Err(_) => panic!("no warning about the dropped lines in {} bytes of output", seen.len()),
        }
    }
    assert!(dropped_lines().await >= dropped, "the counter never goes down");
}

/// The two-node example of docs/operations.md, run as written (only the database URL and the two
/// ports are this test's) by bash in an empty directory, with the real binary first on PATH: the
/// second node must start on a data directory that does not exist yet, with the key the first
/// printed, and both must serve.
#[tokio::test]
async fn the_documented_two_node_example_runs_verbatim_from_an_empty_directory() {
    let Some(database) = TestDatabase::create().await else { return };
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md")).unwrap();
    let after = &docs[docs.find("Example, two nodes on one machine").expect("the docs' two-node example")..];
    let start = after.find("```sh\n").unwrap() + "```sh\n".len();
    let block = &after[start..start + after[start..].find("```").unwrap()];
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (one, two) = (free_port(), free_port());
    let script = block
        .replace("postgres://postgres@127.0.0.1:5432/trustgate", &format!("'{}'", database.url))
        .replace("8081", &one.to_string())
        .replace("8082", &two.to_string());
    assert_ne!(script, block, "the example names the database and ports this test replaces");
    let dir = TempDir::new();
    let wait_for_two = format!(
        "for i in $(seq 60); do curl -sf http://127.0.0.1:{two}/readyz >/dev/null && exit 0; sleep 1; done; exit 9\n"
    );
    let group = ProcessGroup(docs_script(dir.path(), 120, &format!("set -e\n{script}{wait_for_two}")).spawn().unwrap());
    let (child, code) = tokio::task::spawn_blocking(move || {
        let mut child = group;
        let code = child.0.wait().unwrap();
        (child, code)
    })
    .await
    .unwrap();
    let _group = child;
    let (output, errors) = script_output(dir.path());
    assert!(code.success(), "the documented steps failed ({code}):\n{output}\n{errors}");
    assert!(
        output.contains("Server key: created node1/server.key"),
        "the first node's banner says where the server key is:\n{output}"
    );
    assert!(output.contains("Server key: from TRUSTGATE_SERVER_KEY"), "{output}");
    assert!(dir.path().join("node2").is_dir() && !dir.path().join("node2/server.key").exists());
    let jwks = |port: u16| async move {
        reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json")).await.unwrap().text().await.unwrap()
    };
    assert_eq!(jwks(one).await, jwks(two).await, "both nodes publish the same keys");
    // Issue #22, item 8: PostgreSQL's NOTICE about the migrations table is not printed at every start.
    assert!(!errors.contains("_sqlx_migrations"), "no migration notice at start:\n{errors}");
}

#[tokio::test]
async fn an_empty_server_key_variable_is_refused_as_empty() {
    let dir = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TRUSTGATE_SERVER_KEY", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("TRUSTGATE_SERVER_KEY is set but empty"), "{stderr}");
}

/// Issue #22, item 7: with the server running with `--public-url`, `admin invite` and `scim-token
/// create` print links for that URL, not for http://127.0.0.1:8080; without a server or the option,
/// the invitation falls back to the default and says so.
#[tokio::test]
async fn the_cli_prints_links_for_the_running_servers_public_url() {
    let dir = TempDir::new();
    let data_dir = dir.path().join("data");
    let trustgate = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--json")
            .args(args)
            .env_remove("TRUSTGATE_PUBLIC_URL")
            .env_remove("TRUSTGATE_SERVER_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "trustgate {args:?}: {stderr}");
        (serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap(), stderr)
    };
    let log = dir.path().join("serve.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
    command.arg("--data-dir").arg(&data_dir);
    command.args(["serve", "--listen", "127.0.0.1:0", "--public-url", "https://id.example.test/tg/"]);
    command.env_remove("TRUSTGATE_SERVER_KEY").env_remove("TRUSTGATE_DATABASE_URL");
    let (server, _) = Server::start(&mut command, &log);
    let (customers, _) = trustgate(&["customer", "list"]);
    let customer = customers["items"][0]["id"].as_str().unwrap().to_owned();
    let (invited, _) =
        trustgate(&["admin", "invite", "--customer", &customer, "--email", "new@example.com", "--access", "full"]);
    let link = invited["invitationUrl"].as_str().unwrap();
    assert!(link.starts_with("https://id.example.test/tg/console/invitation?"), "{link}");
    let (token, _) =
        trustgate(&["scim-token", "create", "--customer", &customer, "--name", "idp", "--provider", "okta"]);
    assert_eq!(token["scimBaseUrl"], format!("https://id.example.test/tg/scim/v2/{customer}").as_str(), "{token}");

    drop(server);
    let (invited, stderr) =
        trustgate(&["admin", "invite", "--customer", &customer, "--email", "later@example.com", "--access", "full"]);
    let link = invited["invitationUrl"].as_str().unwrap();
    assert!(link.starts_with("http://127.0.0.1:8080/console/invitation?"), "{link}");
    assert!(stderr.contains("no server answers on"), "{stderr}");
}

/// Issue #24: a server killed (SIGKILL) during a burst of 1,000 changes, then started again, has
/// delivered every event to the webhook receiver at least once, in order, each retry with the
/// `webhook-id` of the first try.
#[tokio::test]
async fn a_server_killed_during_a_burst_of_changes_delivers_every_event_once_restarted() {
    killed_during_a_burst(None).await;
}

/// The same on PostgreSQL, where a restarted node reads the cursor the killed one left.
#[tokio::test]
async fn on_postgres_a_server_killed_during_a_burst_of_changes_delivers_every_event_once_restarted() {
    let Some(database) = TestDatabase::create().await else { return };
    killed_during_a_burst(Some(&database)).await;
}

async fn killed_during_a_burst(database: Option<&TestDatabase>) {
    use std::sync::Arc;
    use trustgate_core::customer::DisabledOwnerPolicy;
    use trustgate_core::event::Actor;
    use trustgate_core::ids::CustomerId;
    use trustgate_store::{LogQuery, PostgresStore, SqliteStore, Store};

    let dir = TempDir::new();
    let data = dir.path().join("data");
    let database: Vec<String> = database.map(|d| vec!["--database".to_owned(), d.url.clone()]).unwrap_or_default();
    let receiver = crate::webhook_receiver::Receiver::start().await;
    // Slow enough that the server is in the middle of the backlog when it is killed.
    receiver.answer_after(5);
    let serve = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command
            .arg("--data-dir")
            .arg(&data)
            .args(&database)
            .args(["serve", "--listen", "127.0.0.1:0", "--webhooks-allow-private"])
            .env_remove("TRUSTGATE_SERVER_KEY");
        command
    };
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(&data)
            .args(&database)
            .arg("--json")
            .args(args)
            .env_remove("TRUSTGATE_SERVER_KEY")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let (mut server, _) = Server::start(&mut serve(), &dir.path().join("serve-1.log"));
    let customer = cli(&["customer", "create", "--name", "Acme"])["id"].as_str().unwrap().to_owned();
    let created = cli(&["webhook", "create", "--customer", &customer, "--url", &receiver.url, "--allow-private"]);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let listed = cli(&["webhook", "list", "--customer", &customer]);
    assert_eq!(listed["items"][0]["id"], created["id"]);
    assert!(!listed.to_string().contains("whsec_"));

    // The burst, written by this process into the server's store; the server dies a third of
    // the way in, and the rest is written while it is down.
    let store: Arc<dyn Store> = match database.get(1) {
        Some(url) => Arc::new(PostgresStore::connect(url).await.unwrap()),
        None => Arc::new(SqliteStore::open(&data).await.unwrap()),
    };
    let customer = CustomerId::parse(&customer).unwrap();
    for n in 0..1_000 {
        let policy = if n % 2 == 0 { DisabledOwnerPolicy::SuspendClients } else { DisabledOwnerPolicy::KeepActive };
        store.set_disabled_owner_policy(&customer, policy, &Actor::System).await.unwrap();
        if n == 300 {
            let started = std::time::Instant::now();
            while receiver.deliveries().len() < 20 {
                assert!(started.elapsed() < std::time::Duration::from_secs(30), "no delivery before the kill");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            server.0.kill().unwrap();
            server.0.wait().unwrap();
        }
    }
    let got_before_restart = receiver.deliveries().len();
    let _restarted = Server::start(&mut serve(), &dir.path().join("serve-2.log"));

    let mut expected = Vec::new();
    let mut after_seq = None;
    loop {
        let page = store
            .log_records(&LogQuery {
                customer_id: customer.clone(),
                start: time::OffsetDateTime::UNIX_EPOCH,
                end: time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
                after_seq,
                limit: 500,
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after_seq = Some(last.seq);
        expected.extend(page.iter().filter(|r| r.event_type != "platform:customer/create").map(|r| r.seq));
    }
    assert!(expected.len() > 1_000, "{} records", expected.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let firsts = |seqs: Vec<i64>| {
        let mut seen = std::collections::BTreeSet::new();
        seqs.into_iter().filter(|s| seen.insert(*s)).collect::<Vec<_>>()
    };
    while firsts(receiver.seqs()).len() < expected.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "delivered {} of {} records (a restart waits out the killed node's lease, 20 s)",
            firsts(receiver.seqs()).len(),
            expected.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(got_before_restart < expected.len(), "the server was killed mid-burst");
    assert!(got_before_restart >= 20, "the server was delivering when killed");
    assert_eq!(firsts(receiver.seqs()), expected, "every event, in order");
    let mut ids = std::collections::BTreeMap::new();
    for delivery in receiver.deliveries() {
        let seq = delivery.json()["seq"].as_i64().unwrap();
        assert_eq!(ids.entry(seq).or_insert_with(|| delivery.id.clone()), &delivery.id, "record {seq}'s webhook-id");
    }
    let id = created["id"].as_str().unwrap();
    assert_eq!(cli(&["webhook", "delete", "--customer", customer.as_str(), "--id", id])["deleted"], true);
    assert_eq!(cli(&["webhook", "list", "--customer", customer.as_str()])["items"], serde_json::json!([]));
}
