//! Response headers every answer carries: a transaction id (echoed when the caller sent
//! `Citrix-TransactionId`) and the baseline security headers.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

const CITRIX_TRANSACTION: HeaderName = HeaderName::from_static("citrix-transactionid");
const CWS_TRANSACTION: HeaderName = HeaderName::from_static("x-cws-transactionid");

pub async fn stamp(request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(&CITRIX_TRANSACTION)
        .filter(|v| v.len() <= 64 && v.to_str().is_ok_and(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
        .cloned();
    let mut response = next.run(request).await;
    let id = given.unwrap_or_else(|| {
        HeaderValue::from_str(&trustgate_core::ids::random_uuid()).unwrap_or(HeaderValue::from_static("-"))
    });
    let headers = response.headers_mut();
    headers.insert(CWS_TRANSACTION, id.clone());
    headers.insert(CITRIX_TRANSACTION, id);
    headers.insert(
        axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Cws-TransactionId, Citrix-TransactionId"),
    );
    headers.insert(axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
