//! An `orders` service behind Trustgate: `GET /orders` needs `orders.read`, `POST /orders`
//! needs `orders.write`, and every handler knows its caller.
//!
//! The operator adds the `orders` service to Trustgate's permission catalog and creates the
//! service's resource server (`trustgate resource-server create --name orders`), then:
//!
//! ```sh
//! TRUSTGATE_ISSUER=https://trustgate.example.com \
//! TRUSTGATE_AUDIENCE=https://api.example.com \
//! ORDERS_RESOURCE_SERVER_ID=… ORDERS_RESOURCE_SERVER_SECRET=… \
//! cargo run -p trustgate-tower --example orders_service
//! ```

use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use trustgate_tower::{require, Caller, Trustgate};

async fn list_orders(caller: Caller) -> Json<Value> {
    Json(json!({ "customer": caller.customer_id, "orders": [] }))
}

async fn create_order(caller: Caller) -> Json<Value> {
    Json(json!({ "customer": caller.customer_id, "createdBy": caller.principal_id }))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trustgate = Trustgate::builder(env("TRUSTGATE_ISSUER")?)
        .audience(env("TRUSTGATE_AUDIENCE")?)
        .resource_server(env("ORDERS_RESOURCE_SERVER_ID")?, env("ORDERS_RESOURCE_SERVER_SECRET")?)
        // A reduced owner's client is refused at most this long after the change.
        .decision_ttl(Duration::from_secs(5))
        .build()?;

    let app = Router::new()
        .route(
            "/orders",
            get(list_orders)
                .route_layer(require("orders.read"))
                .merge(post(create_order).route_layer(require("orders.write"))),
        )
        .layer(trustgate.layer());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("orders service on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
