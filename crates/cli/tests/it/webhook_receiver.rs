//! A webhook receiver for the tests: an HTTP server on an ephemeral loopback port that keeps
//! every delivery it gets and answers the status a test sets.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// What a receiver got: each delivery's `webhook-id`, `webhook-timestamp`, `webhook-signature`
/// and body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on an ephemeral loopback port, answering `status` to every delivery.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Delivery>>>,
    status: Arc<std::sync::atomic::AtomicU16>,
    /// How long it takes to answer, in milliseconds.
    delay: Arc<std::sync::atomic::AtomicU64>,
}

impl Receiver {
    pub async fn start() -> Self {
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (got_in, status_in, delay_in) = (got.clone(), status.clone(), delay.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (got, status, delay) = (got_in.clone(), status_in.clone(), delay_in.clone());
                async move {
                    let delay = delay.load(std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                    let header =
                        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    got.lock().unwrap().push(Delivery {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                        headers: headers
                            .iter()
                            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                            .collect(),
                    });
                    let code = status.load(std::sync::atomic::Ordering::SeqCst);
                    axum::http::StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got, status, delay }
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn answer_after(&self, millis: u64) {
        self.delay.store(millis, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// The `seq` of each record delivered with a 2xx, in the order received (duplicates kept).
    pub fn seqs(&self) -> Vec<i64> {
        self.deliveries().iter().map(|d| d.json()["seq"].as_i64().unwrap()).collect()
    }
}
