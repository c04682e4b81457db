//! The operator CLI, run as a separate process against the same data directory as a live server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use trustgate_core::ids::{ClientId, CustomerId};

use crate::harness::{TempDir, TestApp, TestClient};

/// `trustgate --data-dir dir args…`, the binary this test run built, with no input and without the
/// test's server key.
fn trustgate_command(dir: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_trustgate"));
    command.arg("--data-dir").arg(dir).args(args).stdin(Stdio::null()).env_remove("TRUSTGATE_SERVER_KEY");
    command
}

/// Runs `trustgate --json` and awaits it, so a test's in-process server keeps running on this
/// thread meanwhile: a blocked thread would freeze a server task holding SQLite's write lock.
async fn trustgate(dir: &std::path::Path, args: &[&str]) -> Value {
    let output = trustgate_command(dir, &[&["--json"][..], args].concat()).output().await.expect("run trustgate");
    assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

async fn trustgate_fails(dir: &std::path::Path, args: &[&str]) -> String {
    trustgate_exits(dir, args).await.1
}

/// Runs a command that must fail; its exit code and what it said on standard error.
async fn trustgate_exits(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let output = trustgate_command(dir, args).env_remove("TRUSTGATE_DATABASE_URL").output().await.expect("run");
    assert!(!output.status.success(), "trustgate {args:?} should fail");
    assert!(
        output.stdout.is_empty(),
        "a failure prints nothing on stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.code().expect("an exit code"), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The text a command prints without `--json`.
async fn trustgate_text(dir: &std::path::Path, args: &[&str]) -> String {
    let output = trustgate_command(dir, args).output().await.expect("run trustgate");
    assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// A data directory holding an empty store, as `serve` leaves it: operator commands refuse to
/// create one.
async fn store_in(dir: &TempDir) -> &std::path::Path {
    trustgate_store::SqliteStore::open(dir.path()).await.expect("create the store");
    dir.path()
}

/// [`store_in`] with one customer, Acme, whose id is `acme`.
async fn store_with_acme(dir: &TempDir) -> &std::path::Path {
    let dir = store_in(dir).await;
    trustgate(dir, &["customer", "create", "--name", "Acme", "--id", "acme"]).await;
    dir
}

#[tokio::test]
async fn cli_bootstraps_a_customer_and_a_client_whose_csv_credentials_get_a_token() {
    let app = TestApp::spawn_in(TempDir::new()).await;
    let dir = app.dir.path().to_owned();
    let customer = trustgate(&dir, &["customer", "create", "--name", "Acme", "--id", "acme"]).await;
    assert_eq!(customer["id"], "acme");
    trustgate(&dir, &["admin", "add", "--customer", "acme", "--email", "boss@acme.test", "--access", "full"]).await;
    let added = trustgate(
        &dir,
        &[
            "admin",
            "add",
            "--customer",
            "acme",
            "--email",
            "ops@acme.test",
            "--access",
            "custom",
            "--permission",
            "notifications,systemLog",
        ],
    )
    .await;
    assert!(added["password"].as_str().is_some_and(|p| p.len() >= 12), "a generated password is shown once");
    let csv = dir.join("secureclient.csv");
    let create = ["client", "create", "--customer", "acme", "--admin", "ops@acme.test", "--name"];
    trustgate(&dir, &[&create[..], &["nightly", "--csv", csv.to_str().unwrap()]].concat()).await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&csv).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the secret is readable by its owner only");
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ID,Secret"));
    let (id, secret) = lines.next().unwrap().split_once(',').unwrap();
    let client = TestClient {
        id: ClientId::parse(id).unwrap(),
        secret: secret.to_owned(),
        customer: CustomerId::parse("acme").unwrap(),
    };
    let token = app.token(&client).await;
    assert_eq!(app.post_notification(&token, &client.customer).await, StatusCode::OK);
    trustgate_fails(&dir, &[&create[..], &["again", "--csv", csv.to_str().unwrap()]].concat()).await;

    // Changes made by the CLI reach the running server through the change feed.
    trustgate(
        &dir,
        &[
            "admin",
            "set-access",
            "--customer",
            "acme",
            "--admin",
            "ops@acme.test",
            "--access",
            "custom",
            "--permission",
            "systemLog",
        ],
    )
    .await;
    assert!(
        eventually(|| async { app.post_notification(&token, &client.customer).await == StatusCode::FORBIDDEN }).await
    );
    let removed = trustgate(&dir, &["admin", "remove", "--customer", "acme", "--admin", "ops@acme.test"]).await;
    assert_eq!(removed["deletedApiClients"], 1);
    assert!(
        eventually(|| async { app.post_notification(&token, &client.customer).await == StatusCode::UNAUTHORIZED })
            .await
    );
}

#[tokio::test]
async fn cli_refuses_bad_input_with_a_clear_message() {
    let dir = TempDir::new();
    store_in(&dir).await;
    let message = trustgate_fails(dir.path(), &["customer", "create", "--name", "X", "--id", "Not Valid"]).await;
    assert!(message.contains("--id") && !message.contains("customerId"), "{message}");
    let message = trustgate_fails(dir.path(), &["admin", "disable", "--admin", "nobody@example.com"]).await;
    assert!(message.contains("no administrator"), "{message}");
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]).await;
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access", "full"]).await;
    let message = trustgate_fails(dir.path(), &["admin", "disable", "--admin", "a@acme.test"]).await;
    assert!(message.contains("local administrator"), "{message}");
    let message =
        trustgate_fails(dir.path(), &["admin", "remove", "--customer", "acme", "--admin", "a@acme.test"]).await;
    assert!(message.contains("Full access"), "{message}");
    let too_far = "2999-01-01T00:00:00Z";
    let principal = ["principal", "create", "--customer", "acme", "--name", "etl", "--access", "full"];
    let message = trustgate_fails(dir.path(), &[&principal[..], &["--expires-at", too_far]].concat()).await;
    assert!(message.contains("--expires-at") && message.contains("730 days"), "{message}");
    assert!(!message.contains("secretExpiresAt"), "the CLI names its own option: {message}");
}

/// Polls for up to five seconds: the feed from another process is read every 200 ms.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// `trustgate serve` as an operator runs it: a separate process on `dir` (and `database`, if given).
struct Served {
    child: std::process::Child,
    url: String,
    /// What the server first said: where it listens and where its data is.
    first_line: String,
    dir: std::path::PathBuf,
    database: Option<String>,
}

impl Served {
    fn start(dir: &std::path::Path, database: Option<String>) -> Self {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(dir);
        if let Some(url) = &database {
            command.arg("--database").arg(url);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("TRUSTGATE_SERVER_KEY")
            .spawn()
            .expect("start trustgate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first_line = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|line| line.starts_with("Trustgate is listening on "))
            .expect("the server says where it listens");
        let url = first_line.split_whitespace().nth(4).expect("the address").to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url, first_line, dir: dir.to_owned(), database }
    }

    fn cli(&self, args: &[&str]) -> Value {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(&self.dir).arg("--json");
        if let Some(url) = &self.database {
            command.arg("--database").arg(url);
        }
        let output =
            command.args(args).stdin(Stdio::null()).env_remove("TRUSTGATE_SERVER_KEY").output().expect("run trustgate");
        assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }

    /// SIGINT, as Ctrl-C: the server stops cleanly.
    fn stop(mut self) {
        let stopped = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status().expect("kill");
        assert!(stopped.success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "the server exits cleanly on SIGINT: {status}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The README walkthrough, pasted as one block, 100 times: each operator command is enforced on
/// the very next request (R5, R6), because the CLI waits until the running server has taken it in.
async fn cli_changes_hold_on_the_very_next_request(database: Option<String>) {
    let dir = TempDir::new();
    let served = Served::start(dir.path(), database);
    let socket = dir.path().join("trustgate.sock");
    assert!(socket.exists(), "the server opens its control socket before it says it listens");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the server's own user may talk to it");
    }
    let customers = served.cli(&["customer", "list"]);
    let customer = customers["items"][0]["id"].as_str().expect("the bootstrap customer").to_owned();
    let customer_id = CustomerId::parse(&customer).unwrap();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str| {
        let request = http
            .request(method.clone(), format!("{}{path}", served.url))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer_id.as_str());
        let request =
            if method == reqwest::Method::POST { request.json(&crate::harness::notification()) } else { request };
        async move { request.send().await.expect("send").status() }
    };
    let mut outcomes = Vec::new();
    for round in 0..100 {
        let email = format!("ops{round}@example.com");
        served.cli(&[
            "admin",
            "add",
            "--customer",
            &customer,
            "--email",
            &email,
            "--access",
            "custom",
            "--permission",
            "notifications",
        ]);
        let created =
            served.cli(&["client", "create", "--customer", &customer, "--admin", &email, "--name", "nightly"]);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", created["id"].as_str().unwrap()),
            ("client_secret", created["secret"].as_str().unwrap()),
        ];
        let token: Value = http
            .post(format!("{}/cctrustoauth2/root/tokens/clients", served.url))
            .form(&form)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let token = token["access_token"].as_str().expect("a token").to_owned();

        let posted = call(reqwest::Method::POST, "/notifications/items", &token).await;
        served.cli(&[
            "admin",
            "set-access",
            "--customer",
            &customer,
            "--admin",
            &email,
            "--access",
            "custom",
            "--permission",
            "systemLog",
        ]);
        let reduced = call(reqwest::Method::POST, "/notifications/items", &token).await;
        served.cli(&["admin", "remove", "--customer", &customer, "--admin", &email]);
        let removed = call(reqwest::Method::GET, "/systemlog/records", &token).await;
        outcomes.push((posted.as_u16(), reduced.as_u16(), removed.as_u16()));
    }
    let wrong: Vec<_> = outcomes.iter().enumerate().filter(|(_, o)| **o != (200, 403, 401)).collect();
    assert!(wrong.is_empty(), "{} of 100 rounds did not answer 200, 403, 401: {wrong:?}", wrong.len());
    served.stop();
    assert!(!socket.exists(), "the server removes its control socket when it stops");
}

#[tokio::test]
async fn cli_changes_hold_on_the_very_next_request_on_sqlite() {
    cli_changes_hold_on_the_very_next_request(None).await;
}

#[tokio::test]
async fn cli_changes_hold_on_the_very_next_request_on_postgres() {
    let Some(database) = crate::harness::TestDatabase::create().await else { return };
    cli_changes_hold_on_the_very_next_request(Some(database.url.clone())).await;
}

#[tokio::test]
async fn cli_refuses_a_client_beyond_the_per_owner_cap() {
    let dir = TempDir::new();
    store_in(&dir).await;
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]).await;
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access", "full"]).await;
    let create = ["client", "create", "--customer", "acme", "--admin", "a@acme.test", "--max-clients-per-owner", "2"];
    for name in ["one", "two"] {
        trustgate(dir.path(), &[&create[..], &["--name", name]].concat()).await;
    }
    let message = trustgate_fails(dir.path(), &[&create[..], &["--name", "three"]].concat()).await;
    assert!(message.contains("at most 2 API clients"), "{message}");
}

/// `trustgate serve` as a child process, stopped when dropped.
struct ServeProcess(std::process::Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `trustgate serve` on a free port; returns the process and the address it printed.
fn serve(dir: &std::path::Path, args: &[&str]) -> (ServeProcess, String) {
    serve_on(dir, "127.0.0.1:0", args)
}

fn serve_on(dir: &std::path::Path, listen: &str, args: &[&str]) -> (ServeProcess, String) {
    use std::io::BufRead;
    let mut child = crate::serving::serve_command(dir, listen, args).spawn().expect("run trustgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let served = ServeProcess(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read");
    // The server prints more; a closed pipe would make its next line fail.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("the address").to_owned();
    (served, url)
}

async fn discovery(url: &str) -> Value {
    reqwest::get(format!("{url}/.well-known/openid-configuration")).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn serve_takes_its_issuer_from_public_url_and_defaults_to_its_listen_address() {
    let dir = TempDir::new();
    let (_served, url) = serve(dir.path(), &["--public-url", "https://id.example.com/", "--audience", "api://reports"]);
    let doc = discovery(&url).await;
    assert_eq!(doc["issuer"], "https://id.example.com", "without the trailing slash");
    assert_eq!(doc["token_endpoint"], "https://id.example.com/cctrustoauth2/root/tokens/clients");
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]).await;
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "ops@acme.test", "--access", "full"])
        .await;
    let csv = dir.path().join("secureclient.csv");
    let create = ["client", "create", "--customer", "acme", "--admin", "ops@acme.test", "--name", "n", "--csv"];
    trustgate(dir.path(), &[&create[..], &[csv.to_str().unwrap()]].concat()).await;
    let text = std::fs::read_to_string(&csv).unwrap();
    let (id, secret) = text.lines().nth(1).unwrap().split_once(',').unwrap();
    let response = crate::harness::grant_at(&reqwest::Client::new(), &url, id, secret).await;
    let body: Value = response.json().await.unwrap();
    let claims = crate::harness::claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(
        (&claims["iss"], &claims["aud"]),
        (&Value::from("https://id.example.com"), &Value::from("api://reports"))
    );
    drop(_served);

    let (_served, url) = serve(dir.path(), &[]);
    assert_eq!(discovery(&url).await["issuer"], url.as_str());
    drop(_served);

    for bad in ["ftp://id.example.com", "id.example.com", "https://", "https://id.example.com/?x=1"] {
        let error = trustgate_fails(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--public-url", bad]).await;
        assert!(error.contains("--public-url"), "{bad}: {error}");
    }
}

#[tokio::test]
async fn operator_commands_refuse_a_data_directory_without_a_store_and_create_nothing() {
    let parent = TempDir::new();
    let dir = parent.path().join("typo");
    for args in [&["customer", "list"][..], &["admin", "list", "--customer", "acme"], &["keys", "rotate"]] {
        let (code, message) = trustgate_exits(&dir, args).await;
        assert_eq!(code, 4, "{args:?}: {message}");
        assert!(message.contains(&dir.display().to_string()) && message.contains("--data-dir"), "{message}");
        assert!(message.contains("trustgate serve"), "says how a store is made: {message}");
        let twice = format!("{0} ({0})", dir.display());
        assert!(!message.contains(&twice), "an absolute directory is named once: {message}");
    }
    let (code, message) = trustgate_exits(&dir, &["--json", "customer", "list"]).await;
    assert_eq!(code, 4);
    assert!(message.starts_with("{\"error\":\"notFound\",\"message\":\""), "the README's field order: {message}");
    assert!(message.trim_end().ends_with(",\"exitCode\":4}"), "{message}");
    let error: Value = serde_json::from_str(&message).expect("one JSON object on stderr");
    assert_eq!((error["error"].as_str(), error["exitCode"].as_i64()), (Some("notFound"), Some(4)));
    assert!(error["message"].as_str().is_some_and(|m| m.contains("--data-dir")), "{error}");
    assert!(!dir.exists(), "no empty store (nor directory) is left behind");
}

#[tokio::test]
async fn an_unknown_customer_is_an_error_not_an_empty_answer() {
    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    trustgate(dir, &["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access", "full"]).await;
    for args in [
        &["admin", "list", "--customer", "nosuch"][..],
        &["client", "list", "--customer", "nosuch", "--admin", "a@acme.test"],
        &["admin", "add", "--customer", "nosuch", "--email", "b@acme.test", "--access", "full"],
        &["customer", "set-policy", "--customer", "nosuch", "--disabled-owner-policy", "suspend-clients"],
    ] {
        let (code, message) = trustgate_exits(dir, args).await;
        assert_eq!(code, 4, "{args:?}: {message}");
        assert!(message.contains("no customer nosuch"), "{message}");
    }
    let (code, message) =
        trustgate_exits(dir, &["client", "list", "--customer", "acme", "--admin", "nobody@acme.test"]).await;
    assert_eq!(code, 4, "{message}");
    assert!(message.contains("no administrator nobody@acme.test"), "{message}");
}

#[tokio::test]
async fn errors_speak_in_options_and_exit_codes_tell_usage_validation_not_found_and_unreachable_apart() {
    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    let add = ["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access"];
    let (code, message) = trustgate_exits(dir, &[&add[..], &["custom", "--permission", "everything"]].concat()).await;
    assert_eq!(code, 3, "{message}");
    assert!(message.contains("--permission must be one of") && !message.contains("policies"), "{message}");
    let (code, message) = trustgate_exits(dir, &[&add[..], &["custom"]].concat()).await;
    assert_eq!(code, 3, "Custom access needs a permission: {message}");
    assert!(message.contains("--access custom needs at least one --permission"), "{message}");
    let (code, message) = trustgate_exits(dir, &["admin", "list", "--customer", "acme", "--bogus"]).await;
    assert_eq!(code, 2, "{message}");
    let (code, message) = trustgate_exits(dir, &["--json", "admin", "list"]).await;
    assert_eq!(code, 2, "{message}");
    let error: Value = serde_json::from_str(&message).expect("usage errors are JSON too with --json");
    assert_eq!(error["error"], "usage");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("--customer")), "{error}");
    let (code, message) = trustgate_exits(dir, &["--json", "admin", "list", "--customer", "Not Valid"]).await;
    assert_eq!(code, 3, "{message}");
    let error: Value = serde_json::from_str(&message).expect("JSON");
    assert_eq!((error["error"].as_str(), error["exitCode"].as_i64()), (Some("invalid"), Some(3)));
    // Nothing listens on port 1: the database cannot be reached.
    let unreachable = ["--database", "postgres://postgres@127.0.0.1:1/none", "customer", "list"];
    let (code, message) = trustgate_exits(dir, &unreachable).await;
    assert_eq!(code, 5, "{message}");
    trustgate(dir, &[&add[..], &["full"]].concat()).await;
    let members = trustgate(dir, &["admin", "list", "--customer", "acme"]).await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1), "nothing was added by the refused commands");
}

#[tokio::test]
async fn text_output_is_aligned_tables_with_headers_and_counts_in_proper_english() {
    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    trustgate(dir, &["admin", "add", "--customer", "acme", "--email", "boss@acme.test", "--access", "full"]).await;
    let ops = ["--customer", "acme", "--email", "ops@acme.test", "--access", "custom", "--permission", "notifications"];
    trustgate(dir, &[&["admin", "add"][..], &ops[..]].concat()).await;
    let listed = trustgate_text(dir, &["admin", "list", "--customer", "acme"]).await;
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per administrator: {listed}");
    assert!(lines[0].starts_with("ID ") && lines[0].contains("E-MAIL") && lines[0].contains("ACCESS"), "{listed}");
    assert!(lines[1..].iter().all(|l| l.contains("  local  ")), "the provider as the CLI spells it: {listed}");
    for header in ["E-MAIL", "PROVIDER", "STATUS", "ACCESS"] {
        let column = lines[0].find(header).unwrap();
        for line in &lines[1..] {
            assert!(line.len() > column && line.as_bytes()[column - 1] == b' ', "{header} lines up: {listed}");
            assert_ne!(line.as_bytes()[column], b' ', "{header} lines up: {listed}");
        }
    }
    let owner = ["--customer", "acme", "--admin", "ops@acme.test"];
    assert!(trustgate_text(dir, &[&["client", "list"][..], &owner[..]].concat()).await.contains("has no API clients"));
    trustgate(dir, &[&["client", "create"][..], &owner[..], &["--name", "nightly"]].concat()).await;
    let clients = trustgate_text(dir, &[&["client", "list"][..], &owner[..]].concat()).await;
    assert!(clients.starts_with("ID ") && clients.lines().nth(1).is_some_and(|l| l.ends_with("nightly")), "{clients}");
    let removed = trustgate_text(dir, &[&["admin", "remove"][..], &owner[..]].concat()).await;
    assert!(removed.contains("1 API client deleted") && !removed.contains("(s)"), "{removed}");
}

#[test]
fn every_option_says_what_it_is_for_and_global_ones_stand_apart() {
    use clap::CommandFactory;
    fn visit(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} --{}", arg.get_long().unwrap_or(arg.get_id().as_str())));
            }
            if arg.is_global_set() {
                assert_eq!(arg.get_help_heading(), Some("Global options"), "{path} --{}", arg.get_id());
            }
        }
        for sub in command.get_subcommands() {
            visit(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    visit(&trustgate::commands::Cli::command(), "trustgate", &mut missing);
    assert!(missing.is_empty(), "options without help: {missing:?}");
    let help = |flag: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_trustgate")).args(["admin", "list", flag]).output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let (short, long) = (help("-h"), help("--help"));
    assert!(short.contains("--customer") && !short.contains("--data-dir"), "-h shows the command's own: {short}");
    assert!(long.contains("Global options:") && long.contains("--data-dir"), "--help shows them apart: {long}");
}

#[tokio::test]
async fn serve_listens_on_a_host_name() {
    let dir = TempDir::new();
    let (_served, url) = serve_on(dir.path(), "localhost:0", &[]);
    assert_eq!(reqwest::get(format!("{url}/healthz")).await.unwrap().status(), StatusCode::OK);
}

/// Against PostgreSQL the server key is the deployment's: the CLI never makes up one of its own.
#[tokio::test]
async fn on_postgres_the_cli_refuses_to_create_a_client_without_the_deployments_server_key() {
    let Some(database) = crate::harness::TestDatabase::create().await else { return };
    let node = TempDir::new();
    let served = Served::start(node.path(), Some(database.url.clone()));
    assert!(!served.first_line.contains("trustgate-data") && served.first_line.contains("data in PostgreSQL"));
    let customer = served.cli(&["customer", "list"])["items"][0]["id"].as_str().unwrap().to_owned();
    let email = "ops@example.com";
    let add = ["admin", "add", "--customer", &customer, "--email", email, "--access", "full"];
    served.cli(&add);
    let create = ["--database", &database.url, "client", "create", "--customer", &customer, "--admin", email];
    let elsewhere = TempDir::new();
    let (code, message) = trustgate_exits(elsewhere.path(), &[&create[..], &["--name", "n"]].concat()).await;
    assert_eq!(code, 4, "{message}");
    assert!(message.contains("TRUSTGATE_SERVER_KEY"), "{message}");
    assert!(!elsewhere.path().join("server.key").exists(), "no key of its own was made");
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(elsewhere.path())
        .args(create)
        .args(["--name", "n"])
        .env("TRUSTGATE_SERVER_KEY", trustgate_core::secret::ServerKey::generate().encode())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "another key: {}", String::from_utf8_lossy(&output.stderr));
    let created = served.cli(&["client", "create", "--customer", &customer, "--admin", email, "--name", "n"]);
    assert!(created["secret"].as_str().is_some(), "with the deployment's key it works");
}

/// A node joining a PostgreSQL deployment brings the deployment's server key: without one it
/// refuses, naming TRUSTGATE_SERVER_KEY, and writes no key of its own; another key is refused too.
#[tokio::test]
async fn on_postgres_a_second_node_without_the_deployments_server_key_refuses_to_serve() {
    let Some(database) = crate::harness::TestDatabase::create().await else { return };
    let first = TempDir::new();
    drop(Served::start(first.path(), Some(database.url.clone())));
    let serve = ["--database", &database.url, "serve", "--listen", "127.0.0.1:0"];
    let second = TempDir::new();
    let (code, message) = trustgate_exits(second.path(), &serve).await;
    assert_eq!(code, 4, "{message}");
    assert!(message.contains("TRUSTGATE_SERVER_KEY"), "{message}");
    assert!(!second.path().join("server.key").exists(), "no key of its own was made");
    let mut command = trustgate_command(second.path(), &serve);
    let another_key = trustgate_core::secret::ServerKey::generate().encode();
    let output = command.env("TRUSTGATE_SERVER_KEY", another_key).output().await.unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "another key: {message}");
    assert!(message.contains("does not open the stored signing keys"), "{message}");
}

/// `trustgate customer list | head -1`, or a reader that went away before anything was printed:
/// the command still finishes its work and exits 0 instead of panicking on the closed pipe.
#[tokio::test]
async fn a_closed_standard_output_is_no_reason_to_fail() {
    let dir = TempDir::new();
    let dir = store_in(&dir).await;
    trustgate(dir, &["customer", "create", "--name", "Contoso"]).await;
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(["customer", "list"])
        .stdin(Stdio::null())
        .stdout(writer)
        .env_remove("TRUSTGATE_SERVER_KEY")
        .output()
        .expect("run trustgate");
    assert!(output.status.success(), "exit {:?}: {}", output.status, String::from_utf8_lossy(&output.stderr));
}

/// Issue #12: an operator invites a local administrator from the command line and passes the
/// printed link on; the invitee accepts it on the running server and is signed in.
#[tokio::test]
async fn an_operator_invites_an_administrator_and_the_printed_link_works() {
    let app = TestApp::spawn_in(TempDir::new()).await;
    let customer = app.customer().await;
    let invited = app
        .cli(&[
            "admin",
            "invite",
            "--customer",
            customer.as_str(),
            "--email",
            "op.invited@example.com",
            "--access",
            "full",
            "--public-url",
            &app.url,
        ])
        .await;
    let link = invited["invitationUrl"].as_str().expect("the link");
    let listed = app.cli(&["admin", "list", "--customer", customer.as_str()]).await;
    assert_eq!(listed["items"][0]["pending"], true, "{listed}");
    let accepted = crate::harness::accept_invitation(&app, link, Some("chosen by the invitee")).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()["location"], format!("/console/c/{customer}").as_str());
    let listed = app.cli(&["admin", "list", "--customer", customer.as_str()]).await;
    assert_eq!(listed["items"][0]["pending"], false, "{listed}");
}

/// Issue #20: the operator is who passes links on when the server sends no e-mail (the console and
/// the API never show them). `admin invite` for someone invited already prints a new link and the
/// old one stops working; `admin add` of an e-mail that has an account already invites that account
/// instead of adding it, and it joins only by signing in with its own password on the link.
#[tokio::test]
async fn an_operator_reissues_a_pending_link_and_adding_an_existing_account_invites_it() {
    let app = TestApp::spawn_in(TempDir::new()).await;
    let customer = app.customer().await;
    let invite = ["admin", "invite", "--customer", customer.as_str(), "--email", "twice@example.com"];
    let invite = [&invite[..], &["--access", "full", "--public-url", &app.url]].concat();
    let first = app.cli(&invite).await;
    let second = app.cli(&invite).await;
    assert_eq!(first["id"], second["id"], "the same pending administrator");
    assert_ne!(first["invitationUrl"], second["invitationUrl"]);
    let (status, _, _) = crate::harness::open_invitation(&app, first["invitationUrl"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the previous link stops working");

    let elsewhere = app.customer().await;
    let known = app.admin_with_password(&elsewhere, trustgate_core::access::Access::Full).await;
    let add = ["admin", "add", "--customer", customer.as_str(), "--email", &known.email, "--access", "full"];
    let added = app.cli(&[&add[..], &["--public-url", &app.url]].concat()).await;
    let link = added["invitationUrl"].as_str().expect("an invitation, not a membership");
    assert_eq!(added["id"], known.id.to_string());
    assert_eq!(app.store.standing(&customer, known.id).await.unwrap(), None, "not a member yet");
    let refused = crate::harness::accept_invitation(&app, link, Some("not their password")).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let accepted = crate::harness::accept_invitation(&app, link, Some(&known.password)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert!(app.store.standing(&customer, known.id).await.unwrap().is_some(), "a member once they signed in");
}

#[tokio::test]
async fn permission_options_take_the_stored_catalogs_permissions_and_name_them_when_refused() {
    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    let file = dir.join("catalog.toml");
    std::fs::write(
        &file,
        "[[service]]\nname = \"orders\"\ndisplay_name = \"Orders\"\n\n\
         [[permission]]\nservice = \"orders\"\nname = \"read\"\ndisplay_name = \"Read orders\"\n\n\
         [[permission]]\nservice = \"orders\"\nname = \"write\"\ndisplay_name = \"Write orders\"\n",
    )
    .unwrap();
    let add = ["admin", "add", "--customer", "acme", "--email", "r@acme.test", "--access", "custom", "--permission"];
    let (code, message) = trustgate_exits(dir, &[&add[..], &["orders.read"]].concat()).await;
    assert_eq!(code, 3, "not offered before the catalog is applied: {message}");
    assert!(message.contains("orders.read") && message.contains("systemLog"), "names what is offered: {message}");

    trustgate(dir, &["catalog", "apply", file.to_str().unwrap()]).await;
    let added = trustgate(dir, &[&add[..], &["orders.read,notifications"]].concat()).await;
    assert_eq!(added["access"]["policies"], serde_json::json!(["notifications", "orders.read"]), "{added}");
    let (code, message) = trustgate_exits(dir, &[&add[..], &["orders.delete"]].concat()).await;
    assert_eq!(code, 3, "{message}");
    assert!(message.contains("orders.write"), "names what is offered: {message}");

    let set = ["admin", "set-access", "--customer", "acme", "--admin", "r@acme.test", "--access", "custom"];
    let text = trustgate_text(dir, &[&set[..], &["--permission", "orders.write"]].concat()).await;
    assert!(text.contains("Custom(orders.write)") && text.contains("was Custom(notifications,orders.read)"), "{text}");
    let principal = ["principal", "create", "--customer", "acme", "--name", "reporter", "--access", "custom"];
    let created = trustgate(dir, &[&principal[..], &["--permission", "orders.read"]].concat()).await;
    assert_eq!(created["access"]["policies"], serde_json::json!(["orders.read"]), "{created}");
}

// ---- `trustgate catalog apply` refusals (issue #10) ----

/// Lines 1–13: the `orders` service with `read` and `write`.
const ORDERS_READ_WRITE: &str = "[[service]]\nname = \"orders\"\ndisplay_name = \"Orders\"\n\n\
    [[permission]]\nservice = \"orders\"\nname = \"read\"\ndisplay_name = \"Read orders\"\n\n\
    [[permission]]\nservice = \"orders\"\nname = \"write\"\ndisplay_name = \"Write orders\"\n";

fn catalog_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn catalog_apply_refuses_to_remove_a_held_permission_naming_the_holder_unless_forced() {
    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    trustgate(dir, &["catalog", "apply", &catalog_file(dir, "both.toml", ORDERS_READ_WRITE)]).await;
    let add = ["admin", "add", "--customer", "acme", "--email", "reader@acme.test", "--access", "custom"];
    trustgate(dir, &[&add[..], &["--permission", "orders.read,notifications"]].concat()).await;
    let write_only =
        catalog_file(dir, "write-only.toml", &ORDERS_READ_WRITE.replace("name = \"read\"", "name = \"list\""));

    let (code, message) = trustgate_exits(dir, &["catalog", "apply", &write_only]).await;
    assert_eq!(code, 3, "a refused change is exit code 3: {message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(message.contains("orders.read") && message.contains("reader@acme.test in customer acme"), "{message}");
    assert!(message.contains("--force"), "says the way out: {message}");

    let (code, message) = trustgate_exits(dir, &["--json", "catalog", "apply", &write_only]).await;
    assert_eq!(code, 3, "{message}");
    let error: Value = serde_json::from_str(&message).expect("with --json the error is JSON");
    let mut keys: Vec<&str> = error.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "exitCode", "message"], "{error}");
    assert_eq!((error["error"].as_str(), error["exitCode"].as_i64()), (Some("invalid"), Some(3)), "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("reader@acme.test")), "{error}");
    let listed = trustgate(dir, &["admin", "list", "--customer", "acme"]).await;
    let policies = &listed["items"][0]["access"]["policies"];
    assert_eq!(*policies, serde_json::json!(["notifications", "orders.read"]), "nothing was taken: {listed}");

    let forced = trustgate(dir, &["catalog", "apply", &write_only, "--force"]).await;
    assert_eq!(forced["stripped"].as_array().map(Vec::len), Some(1), "{forced}");
    let listed = trustgate(dir, &["admin", "list", "--customer", "acme"]).await;
    let policies = &listed["items"][0]["access"]["policies"];
    assert_eq!(*policies, serde_json::json!(["notifications"]), "the holder no longer holds it: {listed}");
}

#[tokio::test]
async fn catalog_apply_refuses_overlapping_routes_naming_the_line_and_writes_nothing() {
    let dir = TempDir::new();
    let dir = store_in(&dir).await;
    trustgate(dir, &["catalog", "apply", &catalog_file(dir, "both.toml", ORDERS_READ_WRITE)]).await;
    let before = trustgate(dir, &["catalog", "show"]).await;
    // The second route (its table starts on line 20) matches GET /orders/summary, as the first does.
    let overlapping = format!(
        "{ORDERS_READ_WRITE}\n[[route]]\nmethod = \"GET\"\npath = \"/orders/{{id}}\"\npermission = \"orders.read\"\n\n\
         [[route]]\nmethod = \"*\"\npath = \"/orders/summary\"\npermission = \"orders.write\"\n"
    );
    assert_eq!(overlapping.lines().nth(19), Some("[[route]]"));
    let file = catalog_file(dir, "overlapping.toml", &overlapping);

    let (code, message) = trustgate_exits(dir, &["catalog", "apply", &file]).await;
    assert_eq!(code, 3, "a refused file is exit code 3: {message}");
    assert!(message.contains("line 20:") && message.contains("overlaps"), "{message}");
    assert!(!message.contains("line 15:"), "the offending rule is the later one: {message}");
    assert_eq!(trustgate(dir, &["catalog", "show"]).await, before, "nothing was written");
}

/// Issue #22, item 8: a PostgreSQL database that does not exist is named in plain words (exit 4,
/// "not found"), not as a storage error with a source line (exit 1).
#[tokio::test]
async fn a_missing_postgresql_database_is_named_in_plain_words() {
    let Some(database) = crate::harness::TestDatabase::create().await else { return };
    let missing = trustgate_store::sibling_database_url(&database.url, "tg_no_such_database").unwrap();
    let dir = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--database", &missing, "customer", "list"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{message}");
    assert!(message.contains("has no database \"tg_no_such_database\""), "{message}");
    assert!(message.contains("createdb tg_no_such_database"), "{message}");
    assert!(!message.contains("storage error") && !message.contains(" at line "), "{message}");
}

/// Issue #22, item 8: `admin add` and `admin invite` check an e-mail as the console does
/// (`a@b` is refused), and `client create --admin` for an invitee who has not accepted says so.
#[tokio::test]
async fn admin_e_mails_are_checked_and_a_pending_invitee_is_named_as_such() {
    let app = TestApp::spawn_in(TempDir::new()).await;
    let customer = app.customer().await;
    for command in ["add", "invite"] {
        let (code, failure) = app
            .cli_fails(&["admin", command, "--customer", customer.as_str(), "--email", "a@b", "--access", "full"])
            .await;
        assert_eq!(code, 3, "{failure}");
        assert!(failure["message"].as_str().unwrap().contains("name@example.com"), "{failure}");
    }
    app.cli(&["admin", "invite", "--customer", customer.as_str(), "--email", "later@example.com", "--access", "full"])
        .await;
    let (code, failure) = app
        .cli_fails(&[
            "client",
            "create",
            "--customer",
            customer.as_str(),
            "--admin",
            "later@example.com",
            "--name",
            "x",
        ])
        .await;
    assert_eq!(code, 4, "{failure}");
    assert!(failure["message"].as_str().unwrap().contains("has not accepted the invitation yet"), "{failure}");
}

/// Issue #24: the operator manages a customer's webhook endpoints from the command line with
/// the management API's store operations: an endpoint disabled after failing is listed as such,
/// its attempts are listed, `enable` resumes it (recorded with the operator as actor),
/// `rotate-secret` prints the new secret once, `replay` sends again from a record that exists.
#[tokio::test]
async fn an_operator_lists_enables_rotates_replays_and_reads_the_deliveries_of_a_webhook_endpoint() {
    use trustgate_core::webhook;
    use trustgate_store::{LogQuery, Store, WebhookAttempt, WebhookProgress};

    let dir = TempDir::new();
    let dir = store_with_acme(&dir).await;
    // Nothing listens on port 9 of the loopback interface.
    let url = "http://127.0.0.1:9/hook";
    let created = trustgate(dir, &["webhook", "create", "--customer", "acme", "--url", url, "--allow-private"]).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let first_secret = created["secret"].as_str().unwrap().to_owned();
    let webhook = |command: &'static str| ["webhook", command, "--customer", "acme", "--id", id.as_str()];

    // The delivery job's way to disable it, on a store of this data directory: one failed
    // attempt (the endpoint's own creation record) past the retry window.
    let store = trustgate_store::SqliteStore::open(dir).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let claims = store.claim_webhooks(now, time::Duration::seconds(20), 16).await.unwrap();
    let claim = claims.into_iter().next().expect("the new endpoint is due: its creation record is to be sent");
    let creation = claim.cursor.seq + 1;
    let attempt = WebhookAttempt {
        webhook_id: "msg_test".to_owned(),
        record_seq: creation,
        event_type: webhook::CREATED.to_owned(),
        at: now,
        status: None,
        error: Some("connection refused".to_owned()),
        duration_ms: 3,
    };
    let progress = WebhookProgress {
        cursor: None,
        failures: 1,
        failing_since: Some(now - webhook::RETRY_WINDOW),
        next_attempt_at: now + time::Duration::hours(1),
        disable: Some(webhook::disabled(&claim.endpoint, now)),
        lease_until: None,
    };
    assert!(store.record_webhook_attempts(claim.endpoint.id, &claim.lease, &[attempt], &progress).await.unwrap());

    let listed = trustgate(dir, &["webhook", "list", "--customer", "acme"]).await;
    assert_eq!(listed["items"][0]["state"], "disabled", "{listed}");
    assert_eq!(listed["items"][0]["failures"], 1, "{listed}");
    let text = trustgate_text(dir, &["webhook", "list", "--customer", "acme"]).await;
    assert!(text.starts_with("ID ") && text.contains(" STATE ") && text.lines().nth(1).unwrap().contains(" disabled "));
    let deliveries = trustgate(dir, &webhook("deliveries")).await;
    assert_eq!(deliveries["items"][0]["recordSeq"], creation, "{deliveries}");
    assert_eq!(deliveries["items"][0]["error"], "connection refused", "{deliveries}");
    let text = trustgate_text(dir, &webhook("deliveries")).await;
    assert!(text.contains("RECORD") && text.contains("connection refused"), "{text}");

    let enabled = trustgate(dir, &webhook("enable")).await;
    assert_eq!((enabled["state"].as_str(), enabled["failures"].as_u64()), (Some("enabled"), Some(0)), "{enabled}");
    let log = store
        .log_records(&LogQuery {
            customer_id: trustgate_core::ids::CustomerId::parse("acme").unwrap(),
            start: time::OffsetDateTime::UNIX_EPOCH,
            end: now + time::Duration::minutes(1),
            after_seq: None,
            limit: 100,
        })
        .await
        .unwrap();
    let enable = log.iter().find(|r| r.event_type == "platform:webhook/enable").expect("the enable is in the log");
    assert_eq!(enable.actor_type, "System", "the operator enabled it: {enable:?}");

    let rotated = trustgate(dir, &webhook("rotate-secret")).await;
    let secret = rotated["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret != first_secret, "{rotated}");
    let text = trustgate_text(dir, &webhook("rotate-secret")).await;
    assert!(text.lines().last().is_some_and(|l| l.starts_with("whsec_")), "the secret, printed once: {text}");
    assert!(!trustgate_text(dir, &["webhook", "list", "--customer", "acme"]).await.contains("whsec_"));

    let replayed = trustgate(dir, &[&webhook("replay")[..], &["--from-seq", &creation.to_string()]].concat()).await;
    assert_eq!(replayed["state"], "enabled", "{replayed}");
    assert_eq!(replayed["deliveredSeq"], creation - 1, "sent again from the creation record on: {replayed}");
    let (code, message) = trustgate_exits(dir, &[&webhook("replay")[..], &["--from-seq", "999999"]].concat()).await;
    assert_eq!(code, 4, "{message}");
    assert!(message.contains("--from-seq") && message.contains("999999"), "{message}");

    let unknown = trustgate_core::ids::WebhookId::generate().to_string();
    for command in ["enable", "rotate-secret", "deliveries"] {
        let (code, message) =
            trustgate_exits(dir, &["webhook", command, "--customer", "acme", "--id", unknown.as_str()]).await;
        assert_eq!(code, 4, "{command}: {message}");
        assert!(message.contains("no webhook endpoint"), "{command}: {message}");
    }
    let help = trustgate_text(dir, &["webhook", "--help"]).await;
    for command in ["list", "enable", "rotate-secret", "replay", "deliveries"] {
        assert!(help.contains(command), "webhook --help names {command}: {help}");
    }
}
