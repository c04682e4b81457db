//! The SIEM streams against a real receiver: rsyslog (Debian's `rsyslog`, with `rsyslog-gnutls`
//! for TLS) started by each test on a port of its own, writing what it receives to files the test
//! reads; and the JSON lines written to a file. Changes are made through the HTTP API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::ids::CustomerId;
use trustgate_server::jobs::siem::{JsonlTarget, SiemConfig, SyslogTarget, SD_ID};
use trustgate_server::ServerConfig;

use crate::harness::{skip, Backend, Session, TempDir, TestApp};

/// An `rsyslogd` of the test's own, in the foreground, on `port`: imtcp into a ruleset that writes
/// each message as received (`raw.log`) and as rsyslog parsed it (`parsed.log`).
struct Rsyslog {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

fn rsyslogd() -> Option<PathBuf> {
    let found = std::env::var_os("TRUSTGATE_TEST_RSYSLOGD").map(PathBuf::from).or_else(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .map(|dir| dir.join("rsyslogd"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        skip("rsyslogd not installed (apt-get install -y rsyslog rsyslog-gnutls)");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Rsyslog {
    /// `tls`: serve TLS (gtls) with this PEM certificate and key.
    fn start(dir: &Path, tls: Option<(&Path, &Path)>) -> Option<Self> {
        let binary = rsyslogd()?;
        if tls.is_some() && !Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists() {
            let found = std::process::Command::new("find")
                .args(["/usr/lib", "-name", "lmnsd_gtls.so", "-print", "-quit"])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty());
            if !found {
                skip("rsyslog's gtls driver not installed (apt-get install -y rsyslog-gnutls)");
                return None;
            }
        }
        let dir = dir.to_owned();
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let port = free_port();
        let (global_tls, module_tls) = match tls {
            Some((cert, key)) => (
                format!(
                    "global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{cert}\" \
                     DefaultNetstreamDriverCertFile=\"{cert}\" DefaultNetstreamDriverKeyFile=\"{key}\")",
                    cert = cert.display(),
                    key = key.display()
                ),
                " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\"",
            ),
            None => (String::new(), ""),
        };
        let d = dir.display();
        let conf = format!(
            r#"global(workDirectory="{d}/work" maxMessageSize="64k")
{global_tls}
module(load="imtcp"{module_tls})
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="string" string="%protocol-version% %app-name% %msgid% %structured-data%\n")
ruleset(name="siem") {{
  action(type="omfile" file="{d}/raw.log" template="raw")
  action(type="omfile" file="{d}/parsed.log" template="parsed")
}}
input(type="imtcp" port="{port}" ruleset="siem")
"#
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut rsyslog = Self { binary, dir, port, child: None };
        rsyslog.run();
        Some(rsyslog)
    }

    /// Starts rsyslogd and waits until it listens.
    fn run(&mut self) {
        let child = std::process::Command::new(&self.binary)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdout(std::fs::File::create(self.dir.join("rsyslogd.out")).unwrap())
            .stderr(std::fs::File::create(self.dir.join("rsyslogd.err")).unwrap())
            .spawn()
            .expect("rsyslogd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let err = std::fs::read_to_string(self.dir.join("rsyslogd.err")).unwrap_or_default();
            assert!(Instant::now() < deadline, "rsyslogd did not listen on {}: {err}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: whatever rsyslog had not written out is gone with it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn raw(&self) -> String {
        std::fs::read_to_string(self.dir.join("raw.log")).unwrap_or_default()
    }

    fn parsed(&self) -> String {
        std::fs::read_to_string(self.dir.join("parsed.log")).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill();
    }
}

fn config(siem: SiemConfig) -> ServerConfig {
    ServerConfig { siem: SiemConfig { poll_interval: Duration::from_millis(50), ..siem }, ..ServerConfig::default() }
}

/// Creates an API client through the management API; its secret.
async fn create_client(app: &TestApp, session: &Session, customer: &CustomerId, name: &str) -> String {
    let path = format!("/api/v1/customers/{customer}/api-clients");
    let (status, body) = app.as_admin(session, Method::POST, &path, Some(json!({ "name": name }))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().expect("the secret, shown once").to_owned()
}

/// Waits until `text()` holds every record id of the store's log (all customers), for up to `within`.
async fn wait_for_every_record(app: &TestApp, customers: &[&CustomerId], within: Duration, text: impl Fn() -> String) {
    let deadline = Instant::now() + within;
    loop {
        let mut missing = Vec::new();
        let received = text();
        for customer in customers {
            for record in app.log(customer).await {
                if !received.contains(&record.record_id) {
                    missing.push(format!("{} {}", record.seq, record.event_type));
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} records never arrived, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn jsonl(file: &Path) -> ServerConfig {
    config(SiemConfig { jsonl: Some(JsonlTarget::File(file.to_owned())), ..SiemConfig::default() })
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_default()
}

/// The `recordId`s of JSON lines.
fn record_ids(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).expect("one JSON object a line")["recordId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The value of SD-PARAM `name` in a raw RFC 5424 message, unescaped.
fn sd_param(message: &str, name: &str) -> Option<String> {
    let start = message.find(&format!(" {name}=\""))? + name.len() + 3;
    let mut value = String::new();
    let mut chars = message[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '"' => return Some(value),
            c => value.push(c),
        }
    }
    None
}

#[tokio::test]
async fn syslog_over_tcp_is_rfc5424_with_structured_data_that_rsyslog_parses() {
    let dir = TempDir::new();
    let Some(rsyslog) = Rsyslog::start(dir.path(), None) else { return };
    let target = SyslogTarget::parse(&format!("tcp://127.0.0.1:{}", rsyslog.port), None).unwrap();
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, config(SiemConfig { syslog: Some(target), ..SiemConfig::default() }))
            .await
    else {
        return;
    };
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    // A name with every character RFC 5424 §6.3.3 escapes in a PARAM-VALUE.
    let name = r#"quote " backslash \ bracket ] end"#;
    let secret = create_client(&app, &session, &customer, name).await;
    wait_for_every_record(&app, &[&customer], Duration::from_secs(15), || rsyslog.raw()).await;

    let raw = rsyslog.raw();
    let record = app.log_of(&customer, "platform:secureclient/create").await.pop().expect("the creation's record");
    let line = raw.lines().find(|l| l.contains(&record.record_id)).expect("the record's message");
    // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID: facility 10 (authpriv), informational.
    assert!(line.starts_with("<86>1 "), "{line}");
    let header: Vec<&str> = line.splitn(7, ' ').collect();
    assert_eq!(header[1], trustgate_server::platform::shapes::rfc3339(record.at), "{line}");
    assert_eq!(header[3], "trustgate");
    assert_eq!(header[5], "secureclient/create");
    assert!(header[6].starts_with(&format!("[{SD_ID} ")), "{line}");
    assert_eq!(sd_param(line, "customerId").as_deref(), Some(customer.as_str()));
    assert_eq!(sd_param(line, "eventType").as_deref(), Some("platform:secureclient/create"));
    assert_eq!(sd_param(line, "recordId"), Some(record.record_id.clone()));
    assert_eq!(sd_param(line, "actorType").as_deref(), Some("Administrator"));
    assert_eq!(sd_param(line, "actorId"), Some(admin.id.to_string()));
    assert_eq!(sd_param(line, "targetName").as_deref(), Some(name));
    assert!(line.contains(r#"targetName="quote \" backslash \\ bracket \] end""#), "escaped per RFC 5424: {line}");
    assert!(line.ends_with(&format!("\u{feff}{}", record.message)), "MSG is the record's text after a BOM: {line}");
    // rsyslog parsed them as RFC 5424 (protocol version 1), the escaped value within its structured data.
    let parsed = rsyslog.parsed();
    let parsed_line = parsed.lines().find(|l| l.contains(&record.record_id)).expect("parsed");
    assert!(parsed_line.starts_with(&format!("1 trustgate secureclient/create [{SD_ID} ")), "{parsed_line}");
    assert!(parsed_line.ends_with(r#"targetName="quote \" backslash \\ bracket \] end"]"#), "{parsed_line}");
    assert!(!raw.contains(&secret) && !parsed.contains(&secret), "no client secret ever leaves in the stream");
}

#[tokio::test]
async fn syslog_over_tls_reaches_rsyslog_trusting_the_given_ca() {
    let dir = TempDir::new();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, signing_key.serialize_pem()).unwrap();
    let Some(rsyslog) = Rsyslog::start(&dir.path().join("rsyslog"), Some((&cert_file, &key_file))) else { return };
    let url = format!("tls://localhost:{}", rsyslog.port);
    let target = SyslogTarget::parse(&url, Some(&cert_file)).unwrap();
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, config(SiemConfig { syslog: Some(target), ..SiemConfig::default() }))
            .await
    else {
        return;
    };
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let secret = create_client(&app, &session, &customer, "over tls").await;
    wait_for_every_record(&app, &[&customer], Duration::from_secs(15), || rsyslog.raw()).await;
    let parsed = rsyslog.parsed();
    assert!(parsed.lines().all(|l| l.starts_with("1 trustgate ")), "{parsed}");
    assert!(!rsyslog.raw().contains(&secret));

    // A receiver whose certificate the given CA did not sign is not sent a byte.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    let refused_dir = TempDir::new();
    let Some(refusing) = Rsyslog::start(refused_dir.path(), Some((&cert_file, &key_file))) else { return };
    let target = SyslogTarget::parse(&format!("tls://localhost:{}", refusing.port), Some(&other_ca)).unwrap();
    let Some(untrusting) =
        TestApp::spawn_with(Backend::Sqlite, config(SiemConfig { syslog: Some(target), ..SiemConfig::default() }))
            .await
    else {
        return;
    };
    untrusting.customer().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(refusing.raw(), "", "nothing sent to a receiver that failed verification");
}

#[tokio::test]
async fn a_receiver_killed_during_a_burst_gets_every_record_once_restarted() {
    let dir = TempDir::new();
    let Some(mut rsyslog) = Rsyslog::start(dir.path(), None) else { return };
    let target = SyslogTarget::parse(&format!("tcp://127.0.0.1:{}", rsyslog.port), None).unwrap();
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, config(SiemConfig { syslog: Some(target), ..SiemConfig::default() }))
            .await
    else {
        return;
    };
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    for i in 0..200 {
        create_client(&app, &session, &customer, &format!("burst {i}")).await;
        if i == 80 {
            rsyslog.kill();
        }
        if i == 140 {
            rsyslog.run();
        }
    }
    wait_for_every_record(&app, &[&customer], Duration::from_secs(60), || rsyslog.raw()).await;
    let raw = rsyslog.raw();
    let mut received: HashMap<String, usize> = HashMap::new();
    for line in raw.lines() {
        *received.entry(sd_param(line, "recordId").expect("every message carries its record id")).or_default() += 1;
    }
    let log = app.log(&customer).await;
    assert!(log.len() > 200, "{} records", log.len());
    assert!(log.iter().all(|r| received.contains_key(&r.record_id)), "none missing");
}

#[tokio::test]
async fn json_lines_are_the_system_log_apis_records_streamed_by_one_node_of_two() {
    let Some(first) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let files = TempDir::new();
    let (file_a, file_b) = (files.path().join("a.jsonl"), files.path().join("b.jsonl"));
    let jsonl =
        |file: &Path| config(SiemConfig { jsonl: Some(JsonlTarget::File(file.to_owned())), ..SiemConfig::default() });
    // Two nodes of one deployment, each told to write its own file: one streams at a time.
    let node_a = first.second_node_with(jsonl(&file_a)).await;
    let node_b = first.second_node_with(jsonl(&file_b)).await;
    let (customer, _, session) = node_a.customer_with_session(Access::Full).await;
    let mut secrets = Vec::new();
    for i in 0..20 {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        secrets.push(create_client(node, &session, &customer, &format!("jsonl {i}")).await);
    }
    wait_for_every_record(&node_a, &[&customer], Duration::from_secs(15), || read(&file_a) + &read(&file_b)).await;
    let (a, b) = (read(&file_a), read(&file_b));
    assert!(a.is_empty() || b.is_empty(), "one node streams at a time: {} and {} bytes", a.len(), b.len());
    let text = a + &b;

    let mut lines: HashMap<String, Value> = HashMap::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).expect("one JSON object a line");
        let id = value["recordId"].as_str().expect("recordId").to_owned();
        assert!(lines.insert(id, value).is_none(), "each record once in the normal case");
    }
    // The same records, field for field, as the system-log API gives.
    let token = node_a.token(&node_a.client(&customer, &node_a.admin(&customer, Access::Full).await).await).await;
    let (status, page) = node_a.get("/systemlog/records?Limit=200", &token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().expect("items");
    assert!(items.len() >= 21, "{page}");
    let mut compared = 0;
    for item in items {
        if let Some(line) = lines.get(item["recordId"].as_str().expect("recordId")) {
            assert_eq!(line, item);
            compared += 1;
        }
    }
    assert!(compared >= 21, "every record streamed compared: {compared}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "no client secret in the stream");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let streamed = if file_a.exists() { &file_a } else { &file_b };
        assert_eq!(std::fs::metadata(streamed).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_node_that_stops_hands_the_stream_over_and_the_next_resumes_after_the_last_record_written() {
    let Some(first) = TestApp::spawn_on(Backend::Postgres).await else { return };
    let files = TempDir::new();
    let (file_a, file_b) = (files.path().join("a.jsonl"), files.path().join("b.jsonl"));
    let mut node_a = first.second_node_with(jsonl(&file_a)).await;
    let (customer, _, session) = first.customer_with_session(Access::Full).await;
    for i in 0..10 {
        create_client(&first, &session, &customer, &format!("before {i}")).await;
    }
    wait_for_every_record(&first, &[&customer], Duration::from_secs(15), || read(&file_a)).await;
    node_a.stop().await;
    drop(node_a);
    // Within the lease (20 s) only if the stopped node let the stream go.
    let _node_b = first.second_node_with(jsonl(&file_b)).await;
    for i in 0..10 {
        create_client(&first, &session, &customer, &format!("after {i}")).await;
    }
    wait_for_every_record(&first, &[&customer], Duration::from_secs(15), || read(&file_a) + &read(&file_b)).await;
    let (a, b) = (record_ids(&read(&file_a)), record_ids(&read(&file_b)));
    assert!(b.len() >= 10, "{} lines after the hand-over", b.len());
    let before: std::collections::HashSet<&String> = a.iter().collect();
    assert!(b.iter().all(|id| !before.contains(id)), "the next node starts after what the first wrote");
}

/// `trustgate siem reset-cursor`, run against a live node's data directory: the stream sends
/// again the records after the one named, then, from the start, every record the log keeps.
#[tokio::test]
async fn an_operator_resets_a_streams_cursor_and_the_stream_sends_again_from_there() {
    let files = TempDir::new();
    let file = files.path().join("siem.jsonl");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, jsonl(&file)).await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, Access::Full).await;
    for _ in 0..4 {
        app.client(&customer, &owner).await;
    }
    wait_for_every_record(&app, &[&customer], Duration::from_secs(15), || read(&file)).await;
    let records = app.log(&customer).await;
    let times = |id: &str| record_ids(&read(&file)).iter().filter(|r| *r == id).count();
    assert!(records.iter().all(|r| times(&r.record_id) == 1), "each once before the reset");
    let dir = app.dir.path();
    let wait_for = |what: &'static str, check: Box<dyn Fn() -> bool>| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };

    let middle = records[records.len() / 2].seq;
    let output = reset_cursor(dir, &["--after", &middle.to_string()]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["afterSeq"], middle, "{answer}");
    let (first, last) = (records[0].record_id.clone(), records.last().unwrap().record_id.clone());
    let (file_in, last_in) = (file.clone(), last.clone());
    let sent = move |id: &str, n: usize| record_ids(&read(&file_in)).iter().filter(|r| *r == id).count() == n;
    let sent_again = sent.clone();
    wait_for("the records after the one named, sent again", Box::new(move || sent_again(&last_in, 2))).await;
    for record in &records {
        let expected = if record.seq > middle { 2 } else { 1 };
        assert_eq!(times(&record.record_id), expected, "record {} after --after {middle}", record.seq);
    }

    let output = reset_cursor(dir, &["--to-start"]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let last_in = last.clone();
    wait_for("everything sent again", Box::new(move || sent(&last_in, 3))).await;
    assert_eq!(times(&first), 2, "from the start of the log");

    let output = reset_cursor(dir, &["--after", "999999"]).await;
    assert_eq!(output.status.code(), Some(4), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--after"));
    let output = reset_cursor(dir, &[]).await;
    assert_eq!(output.status.code(), Some(2), "--to-start or --after is required");
}

/// `trustgate --json siem reset-cursor --stream jsonl args…` on `dir`, awaited so that the
/// in-process server keeps running meanwhile.
async fn reset_cursor(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--json", "siem", "reset-cursor", "--stream", "jsonl"])
        .args(args)
        .env_remove("TRUSTGATE_SERVER_KEY")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn retention_keeps_what_a_stream_has_still_to_send_while_its_receiver_is_down() {
    let dir = TempDir::new();
    let Some(mut rsyslog) = Rsyslog::start(dir.path(), None) else { return };
    rsyslog.kill();
    let target = SyslogTarget::parse(&format!("tcp://127.0.0.1:{}", rsyslog.port), None).unwrap();
    let config = ServerConfig {
        systemlog_retention: Duration::from_secs(30 * 86_400),
        systemlog_prune_interval: Duration::from_millis(100),
        ..config(SiemConfig { syslog: Some(target), ..SiemConfig::default() })
    };
    // The old record is made old before the node that streams starts: a record whose time changed
    // under a running retention pass could be pruned by a pass that read the backlog just before.
    let keep_all = ServerConfig { systemlog_retention: Duration::from_secs(3650 * 86_400), ..ServerConfig::default() };
    let Some(mut before) = TestApp::spawn_with(Backend::Sqlite, keep_all).await else { return };
    let customer = before.customer().await;
    let mut old = before.log(&customer).await.pop().expect("the customer's creation");
    old.at -= time::Duration::days(400);
    before
        .behind_the_servers_back(&format!(
            "UPDATE system_log SET at = {} WHERE record_id = '{}'",
            old.at.unix_timestamp() * 1000,
            old.record_id
        ))
        .await;
    before.stop().await;
    let data = std::mem::replace(&mut before.dir, TempDir::new());
    drop(before);
    let store = trustgate_store::SqliteStore::open(data.path()).await.expect("open store");
    let key = trustgate::commands::server_key(data.path()).expect("server key");
    let app = TestApp::start_with(std::sync::Arc::new(store), key, data, None, config, None).await;
    // Many passes of retention while the receiver is down: the old record stays.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kept = app.log_of(&customer, &old.event_type).await.iter().any(|r| r.record_id == old.record_id);
    assert!(kept, "a record past the retention that the stream has still to send is kept");

    rsyslog.run();
    wait_for_every_record(&app, &[&customer], Duration::from_secs(30), || rsyslog.raw()).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.log(&customer).await.iter().any(|r| r.record_id == old.record_id) {
        assert!(Instant::now() < deadline, "sent, and past the retention, it goes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_refuses_a_syslog_url_it_cannot_use() {
    let dir = TempDir::new();
    for (url, said) in [
        ("udp://127.0.0.1:514", "--siem-syslog must be tcp://HOST[:PORT] or tls://HOST[:PORT]"),
        ("tcp://127.0.0.1:notaport", "--siem-syslog must be"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--siem-syslog", url])
            .env_remove("TRUSTGATE_DATABASE_URL")
            .env_remove("TRUSTGATE_SERVER_KEY")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{stderr}");
    }
}

#[tokio::test]
async fn json_lines_on_standard_output_are_all_it_carries() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--siem-jsonl", "-"])
        .env_remove("TRUSTGATE_DATABASE_URL")
        .env_remove("TRUSTGATE_SERVER_KEY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("serve.err")).unwrap())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(server.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The first start writes the bootstrap customer's and administrator's records; everything
    // printed until the output goes quiet is read (the start-up lines included, were they there).
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let quiet = if lines.len() < 2 { Duration::from_secs(15) } else { Duration::from_secs(2) };
        match rx.recv_timeout(quiet) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let banner = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    assert!(lines.len() >= 2, "records on standard output: {lines:?}; stderr: {banner}");
    for line in &lines {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("only JSON on stdout: {line:?}"));
        assert!(record["recordId"].is_string(), "{line}");
    }
    assert!(banner.contains("Trustgate is listening on"), "the start-up lines went to standard error: {banner}");
}

#[test]
fn a_syslog_url_names_tcp_or_tls_a_host_and_a_port_defaulting_per_rfc_5425() {
    let parse = |url: &str| SyslogTarget::parse(url, None).map(|t| (t.host, t.port, t.tls.is_some()));
    assert_eq!(parse("tcp://siem.example.net").unwrap(), ("siem.example.net".to_owned(), 514, false));
    assert_eq!(parse("tls://siem.example.net").unwrap(), ("siem.example.net".to_owned(), 6514, true));
    assert_eq!(parse("TCP://10.0.0.5:1514/").unwrap(), ("10.0.0.5".to_owned(), 1514, false));
    assert_eq!(parse("tls://[::1]:6515").unwrap(), ("::1".to_owned(), 6515, true));
    for bad in
        ["udp://h:514", "h:514", "tcp://", "tcp://h:0", "tcp://h:70000", "tcp://user@h", "tcp://h/path", "tcp://[::1"]
    {
        assert!(parse(bad).is_err(), "{bad} is refused");
    }
    let ca = Path::new("/nonexistent/ca.pem");
    assert!(SyslogTarget::parse("tcp://h", Some(ca)).is_err(), "a CA is for tls:// only");
    assert!(SyslogTarget::parse("tls://h", Some(ca)).is_err(), "a CA file that cannot be read stops the start");
}
