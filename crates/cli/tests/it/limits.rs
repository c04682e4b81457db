//! What a stranger can cost the server: floods of wrong passwords, and connections that send
//! nothing or drip-feed. These run the real `trustgate serve` binary, to read its memory from
//! /proc and to set its limits through its flags.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TempDir;

/// A `trustgate serve` child process on a fresh data directory, with its first administrator.
struct Served {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    url: String,
    addr: String,
    customer: String,
    email: String,
    password: String,
    dir: TempDir,
}

impl Served {
    fn start(flags: &[&str]) -> Self {
        let dir = TempDir::new();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env_remove("TRUSTGATE_SERVER_KEY")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start trustgate serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut url, mut customer, mut email, mut password) = (None, None, None, None);
        loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).expect("read the server's output") > 0, "the server stopped");
            let words: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("Trustgate is listening on") {
                url = Some(words[4].to_owned());
            } else if line.starts_with("First start: created customer") {
                customer = Some(words[4].to_owned());
            } else if line.trim_start().starts_with("Sign in at") {
                email = Some(words[6].to_owned());
                password = Some(words[9].to_owned());
            } else if line.starts_with("API description") {
                break;
            }
        }
        let url = url.expect("the listening address");
        Self {
            child,
            _stdout: stdout,
            addr: url.trim_start_matches("http://").to_owned(),
            url,
            customer: customer.expect("the first customer"),
            email: email.expect("the first administrator"),
            password: password.expect("their password"),
            dir,
        }
    }

    /// `trustgate --json args…` on the server's data directory, which must succeed.
    fn operate(&self, args: &[&str]) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
            .arg("--data-dir")
            .arg(self.dir.path())
            .arg("--json")
            .args(args)
            .env_remove("TRUSTGATE_SERVER_KEY")
            .output()
            .expect("run trustgate");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON")
    }

    /// A line of /proc/<pid>/status, in MiB.
    fn memory_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        kib / 1024.0
    }

    /// A client of the first administrator, made with the CLI as an operator would.
    fn client(&self) -> (String, String) {
        let args = ["client", "create", "--customer", &self.customer, "--admin", &self.email, "--name", "steady"];
        let created = self.operate(&args);
        (created["id"].as_str().expect("id").to_owned(), created["secret"].as_str().expect("secret").to_owned())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn grant(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> StatusCode {
    let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    http.post(format!("{url}/cctrustoauth2/root/tokens/clients")).form(&form).send().await.expect("send").status()
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_keeps_memory_fixed_and_token_grants_served() {
    // A flood from many addresses escapes the per-address sign-in throttle; a limit too high to
    // trip stands in for them, so every wrong password reaches the hashing bound.
    // Likewise a connection share too high to reach.
    let server = Served::start(&[
        "--password-hashes",
        "2",
        "--password-wait",
        "1s",
        "--sign-in-failure-limit",
        "1000000",
        "--max-connections-per-source",
        "512",
    ]);
    let (id, secret) = server.client();
    // The sign-in after the flood checks the password alone: the first customer's second factor
    // (issue #25) is not what this test is about.
    server.operate(&["customer", "set-mfa-policy", "--customer", &server.customer, "--require-local-mfa", "false"]);
    let http = reqwest::Client::new();
    assert_eq!(grant(&http, &server.url, &id, &secret).await, StatusCode::OK);

    let attack: Vec<_> = (0..256)
        .map(|i| {
            let (http, url, email) = (http.clone(), server.url.clone(), server.email.clone());
            tokio::spawn(async move {
                let body = json!({ "email": email, "password": format!("wrong password number {i}") });
                let response = http.post(format!("{url}/api/v1/session")).json(&body).send().await.expect("send");
                let status = response.status();
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or("").to_owned());
                let body: Value = response.json().await.expect("a JSON body");
                (status, retry_after, body)
            })
        })
        .collect();
    // Another client keeps getting tokens while the wrong passwords are checked.
    let mut grants = Vec::new();
    while !attack.iter().all(|a| a.is_finished()) {
        grants.push(grant(&http, &server.url, &id, &secret).await);
    }
    let mut answers = Vec::new();
    for a in attack {
        answers.push(a.await.expect("attack task"));
    }

    assert!(!grants.is_empty() && grants.iter().all(|s| *s == StatusCode::OK), "grants during the flood: {grants:?}");
    let (refused, busy): (Vec<_>, Vec<_>) =
        answers.iter().partition(|(status, ..)| *status == StatusCode::UNAUTHORIZED);
    assert!(!refused.is_empty(), "some wrong passwords were checked and refused");
    for (status, retry_after, body) in &busy {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        assert_eq!(body["type"], "https://errors-api.cloud.com/common/serviceUnavailable");
    }
    let peak = server.memory_mib("VmHWM:");
    assert!(peak < 200.0, "the server's resident memory peaked at {peak:.0} MiB");
    // The sign-in still works for the administrator once the flood is over.
    let body = json!({ "email": server.email, "password": server.password });
    let response = http.post(format!("{}/api/v1/session", server.url)).json(&body).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn after_every_burst_of_sign_ins_the_idle_hashing_thread_gives_its_memory_back() {
    // One hashing thread, so every burst reuses it: glibc gave back the first block it freed but
    // kept later ones, until the block was reserved past its largest mapping threshold.
    let server = Served::start(&["--password-hashes", "1", "--sign-in-failure-limit", "1000000"]);
    let http = reqwest::Client::new();
    // The first start hashed the administrator's password: its memory goes first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for burst in 1..=3 {
        let before = server.memory_mib("VmRSS:");
        for i in 0..3 {
            let body = json!({ "email": server.email, "password": format!("wrong password number {i}") });
            let response = http.post(format!("{}/api/v1/session", server.url)).json(&body).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let busy = server.memory_mib("VmRSS:");
        assert!(busy - before > 15.0, "burst {burst}: argon2's 19 MiB in use ({before:.0} → {busy:.0} MiB)");
        let mut idle = busy;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            idle = server.memory_mib("VmRSS:");
            if busy - idle > 15.0 {
                break;
            }
        }
        assert!(busy - idle > 15.0, "burst {burst}: memory given back once idle ({busy:.0} → {idle:.0} MiB)");
    }
}

/// Reads until the server closes the connection; `None` if it is still open after `bound`.
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin), bound: Duration) -> Option<String> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(bound, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// Writes `text` one byte every `pause`, stopping when the server hangs up.
async fn drip(stream: &mut (impl AsyncWrite + Unpin), text: &str, pause: Duration) {
    for byte in text.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Drip-feeds `text` while reading what the server answers, until it hangs up.
async fn drip_and_read(stream: TcpStream, text: String) -> Option<String> {
    let (mut reader, mut writer) = stream.into_split();
    let (answer, ()) =
        tokio::join!(read_until_closed(&mut reader, PATIENCE), drip(&mut writer, &text, Duration::from_millis(500)));
    answer
}

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn idle_and_drip_fed_connections_are_closed_while_other_requests_are_served() {
    let flags = ["--header-timeout", "1s", "--body-timeout", "1s", "--idle-timeout", "2s"];
    let server = Served::start(&flags);
    let addr = server.addr.clone();
    let connect = || TcpStream::connect(addr.clone());

    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(connect().await.expect("connect"));
    }
    let mut kept_alive = connect().await.expect("connect");
    kept_alive.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("write");
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: slow\r\nAccept: */*\r\n\r\n");
    let dripping_head = tokio::spawn(drip_and_read(connect().await.expect("connect"), head));
    let body = r#"{"email":"admin@example.com","password":"a password that arrives slowly"}"#;
    let mut drip_body = connect().await.expect("connect");
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    drip_body.write_all(request.as_bytes()).await.expect("write");
    let dripping_body = tokio::spawn(drip_and_read(drip_body, body.to_owned()));

    // The slow and silent connections do not hold anyone else up.
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let response = http.get(format!("{}/healthz", server.url)).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
    }

    for mut socket in silent {
        assert!(read_until_closed(&mut socket, PATIENCE).await.is_some(), "a silent connection was left open");
    }
    let answered = read_until_closed(&mut kept_alive, PATIENCE).await.expect("an idle kept-alive connection is closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let refused = dripping_head.await.expect("task").expect("a drip-fed header is cut off");
    assert!(refused.is_empty() || refused.starts_with("HTTP/1.1 408"), "{refused}");
    let timed_out = dripping_body.await.expect("task").expect("a drip-fed body is cut off");
    assert!(timed_out.starts_with("HTTP/1.1 408"), "{timed_out}");
    assert!(timed_out.contains("requestTimeout"), "{timed_out}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_and_the_service_recovers_from_them() {
    let server = Served::start(&["--header-timeout", "1s", "--max-connections", "4"]);
    let mut silent = Vec::new();
    // From another address: one source over its share (here 2) has its new connections closed.
    for _ in 0..20 {
        silent.push(connect_from("127.0.0.2", &server.addr).await);
    }
    let http = reqwest::Client::builder().timeout(PATIENCE).build().expect("client");
    let response = http.get(format!("{}/healthz", server.url)).send().await.expect("served once the cap frees up");
    assert_eq!(response.status(), StatusCode::OK);
    for mut socket in silent {
        assert!(read_until_closed(&mut socket, PATIENCE).await.is_some(), "a silent connection was left open");
    }
}

/// A connection from `source` (any 127.x address is this host's loopback).
async fn connect_from(source: &str, addr: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{source}:0").parse().expect("source")).expect("bind");
    socket.connect(addr.parse().expect("address")).await.expect("connect")
}

/// Whether the server has closed `stream`: it reads end-of-stream or an error rather than waiting.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Issue #21: one stranger holding every slot — idle after one request, or never finishing its
/// headers — used to keep new clients waiting past 30 s. At the cap the connection that has waited
/// longest for a request makes room, one source holds at most its share, and a new client is
/// served at once.
#[tokio::test]
async fn strangers_holding_every_slot_idle_or_half_sent_do_not_keep_a_new_client_waiting() {
    let flags = ["--max-connections", "16", "--max-connections-per-source", "8", "--idle-timeout", "120s"];
    let server = Served::start(&flags);
    let addr = server.addr.clone();
    let mut idle = Vec::new();
    for round in 0..3 {
        for _ in 0..8 {
            let mut stream = connect_from("127.0.0.2", &addr).await;
            let _ = stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await;
            let mut buf = [0u8; 512];
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
            assert!(read.is_ok(), "round {round}: answered or closed, never left waiting");
            idle.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut half_sent = Vec::new();
    for _ in 0..8 {
        let mut stream = connect_from("127.0.0.3", &addr).await;
        stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.expect("write");
        half_sent.push(stream);
    }

    // Held, not just opened: a connection that began waiting a moment ago is never closed for room.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().expect("client");
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let response = http.get(format!("{}/healthz", server.url)).send().await.expect("served within a second");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
    let mut still_open = 0;
    for stream in &mut idle {
        if !closed_by_server(stream).await {
            still_open += 1;
        }
    }
    assert!((1..=8).contains(&still_open), "one source holds at most its share: {still_open} open");
}

/// Issue #21: 512 unfinished 390 KB heads held 240 MiB. A connection buffers at most about 32 KiB
/// of a head (and one read more): a longer one is refused with 431 and its connection closed.
#[tokio::test]
async fn a_request_head_over_32_kib_is_refused_and_not_buffered() {
    let server = Served::start(&[]);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let filler = "a".repeat(100 * 1024);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Filler: {filler}\r\n\r\n", server.addr);
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = read_until_closed(&mut stream, PATIENCE).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let response = reqwest::get(format!("{}/healthz", server.url)).await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}
