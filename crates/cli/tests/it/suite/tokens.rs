//! The token endpoints, byte for byte as Citrix scripts expect them (reference §7.1, §7.2).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::json;
use trustgate_core::access::Access;
use trustgate_core::token::Algorithm;

use crate::harness::{claims_of, header_of, status_and_json, with_client, TestApp, TestClient, FORM};

async fn app_with_client() -> Option<(TestApp, TestClient)> {
    with_client(super::app().await).await
}

#[tokio::test]
async fn oauth_endpoint_issues_a_one_hour_bearer_with_expires_in_as_a_string() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={}", client.secret);
    let response = app.post_raw("/cctrustoauth2/root/tokens/clients", FORM, form).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().contains_key("x-cws-transactionid"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], json!("3600"));
    assert_eq!(body.as_object().unwrap().len(), 3, "no refresh token or other fields (R9): {body}");
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], json!(id));
    assert_eq!(claims["customer_id"], json!(client.customer.as_str()));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(claims["user_id"].is_string() && claims["jti"].is_string());
}

/// Each algorithm a deployment may choose signs its tokens, whose key is published with the
/// parameters verifiers need (RFC 7518 §6, RFC 8037 §2) and nothing private.
#[tokio::test]
async fn tokens_are_jwts_of_the_chosen_algorithm_whose_key_is_published() {
    let expected = [
        (Algorithm::EdDsa, json!({ "kty": "OKP", "crv": "Ed25519" }), &["x"][..]),
        (Algorithm::Es256, json!({ "kty": "EC", "crv": "P-256" }), &["x", "y"][..]),
        (Algorithm::Rs256, json!({ "kty": "RSA" }), &["n", "e"][..]),
    ];
    for (algorithm, kind, public) in expected {
        let config = trustgate_server::ServerConfig { signing_algorithm: algorithm, ..Default::default() };
        let Some(app) = super::app_with(config).await else { return };
        let (_, _, token) = app.customer_with_token(Access::Full).await;
        let header = header_of(&token);
        assert_eq!(header["alg"], algorithm.as_str());
        let jwks = app.jwks().await;
        let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid published");
        let mut fields: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut wanted: Vec<&str> = ["alg", "kid", "use"]
            .into_iter()
            .chain(kind.as_object().unwrap().keys().map(String::as_str))
            .chain(public.iter().copied())
            .collect();
        wanted.sort_unstable();
        assert_eq!(fields, wanted, "{algorithm}: exactly the public parameters");
        for (name, value) in kind.as_object().unwrap() {
            assert_eq!(&key[name], value, "{algorithm}");
        }
        assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some(algorithm.as_str()), Some("sig")));
    }
}

#[tokio::test]
async fn the_path_may_name_root_or_the_clients_customer_but_not_another() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let form =
        [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", client.secret.as_str())];
    assert_eq!(app.oauth(client.customer.as_str(), &form).await.0, StatusCode::OK);
    let other = app.customer().await;
    let (status, body) = app.oauth(other.as_str(), &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn http_basic_client_authentication_and_a_charset_are_accepted() {
    let Some((app, client)) = app_with_client().await else { return };
    let basic = STANDARD.encode(format!("{}:{}", client.id, client.secret));
    let request =
        app.http.post(app.url("/cctrustoauth2/root/tokens/clients")).header("authorization", format!("Basic {basic}"));
    let request = request.header("content-type", "application/x-www-form-urlencoded; charset=UTF-8");
    let response = request.body("grant_type=client_credentials").send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn bad_credentials_get_invalid_client_with_the_citrix_description() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let wrong_secret = trustgate_core::secret::ClientSecret::generate();
    for (client_id, secret) in [
        (id.as_str(), wrong_secret.expose()),
        ("6c1e2b8e-0000-4000-8000-000000000000", client.secret.as_str()),
        ("not-a-uuid", client.secret.as_str()),
        (id.as_str(), "short"),
    ] {
        let (status, body) = app
            .oauth("root", &[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"error":"invalid_client","error_description":"Invalid client id or client secret."}));
    }
}

#[tokio::test]
async fn wrong_grant_types_and_malformed_requests_get_rfc6749_errors() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let (status, body) =
        app.oauth("root", &[("grant_type", "password"), ("client_id", &id), ("client_secret", &client.secret)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    let (status, body) = app.oauth("root", &[("client_id", &id), ("client_secret", &client.secret)]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = app
        .oauth(
            "root",
            &[("grant_type", "client_credentials"), ("grant_type", "client_credentials"), ("client_id", &id)],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    let json_body =
        app.post_json("/cctrustoauth2/root/tokens/clients", &json!({"grant_type": "client_credentials"})).await;
    let (status, body) = status_and_json(json_body).await;
    // A JSON body is read like the form (issue #9), so one without credentials is answered as a form without them.
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    let (status, body) =
        status_and_json(app.post_raw("/cctrustoauth2/root/tokens/clients", "text/plain", "x").await).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let Some((app, _)) = app_with_client().await else { return };
    let huge = format!("grant_type=client_credentials&client_id={}", "a".repeat(200_000));
    let response = app.post_raw("/cctrustoauth2/root/tokens/clients", FORM, huge).await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn legacy_endpoint_takes_json_in_any_property_case_and_answers_expires_in_as_a_number() {
    let Some((app, client)) = app_with_client().await else { return };
    for body in [
        json!({"clientId": client.id.to_string(), "clientSecret": client.secret}),
        json!({"ClientId": client.id.to_string(), "ClientSecret": client.secret}),
        json!({"CLIENTID": client.id.to_string(), "clientsecret": client.secret}),
    ] {
        let response = app.post_json("/root/tokens/clients", &body).await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["expiresIn"], json!(3600));
        assert_eq!(body["subject"], json!(client.id.to_string()));
        assert!(body["principal"].as_str().unwrap().contains('@'));
        let token = body["token"].as_str().unwrap();
        assert_eq!(app.get("/notifications/items", token, &client.customer).await.0, StatusCode::OK);
        // The OpenID token identifies the client but is not a bearer token.
        let id_token = body["openIdToken"].as_str().unwrap();
        assert_eq!(app.get("/notifications/items", id_token, &client.customer).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn legacy_endpoint_answers_non_json_with_a_model_state_error() {
    let Some((app, client)) = app_with_client().await else { return };
    let path = format!("/{}/tokens/clients", client.customer);
    let response = app.http.post(app.url(&path)).body("clientId=x").send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "The request is invalid.");
    assert!(body["modelState"]["credentials"].is_array());
    let response = app.post_json(&path, &json!({"clientId": client.id.to_string(), "clientSecret": "tgs_wrong"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn after_a_key_rotation_new_tokens_use_the_new_key_and_old_tokens_keep_working() {
    let Some((app, client)) = app_with_client().await else { return };
    let old_token = app.token(&client).await;
    let old_kid = claims_header_kid(&old_token);
    let vault = trustgate_core::custody::KeyVault::new(&app.server_key);
    let key = trustgate_server::keys::rotate(app.store.as_ref(), &vault, None, false).await.unwrap();
    let mut new_token = app.token(&client).await;
    for _ in 0..100 {
        if claims_header_kid(&new_token) == key.kid() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        new_token = app.token(&client).await;
    }
    assert_eq!(claims_header_kid(&new_token), key.kid(), "the server signs with the new key");
    let jwks = app.jwks().await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&key.kid()));
    assert_eq!(app.get("/notifications/items", &old_token, &client.customer).await.0, StatusCode::OK);
    assert_eq!(app.get("/notifications/items", &new_token, &client.customer).await.0, StatusCode::OK);
}

fn claims_header_kid(token: &str) -> String {
    header_of(token)["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn token_endpoints_answer_with_one_trailing_slash() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let response = app.post_form("/cctrustoauth2/root/tokens/clients/", &client.credentials()).await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    let response =
        app.post_json("/root/tokens/clients/", &json!({"clientId": id, "clientSecret": client.secret})).await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["token"].is_string());
}

#[tokio::test]
async fn the_oauth_endpoint_also_takes_the_legacy_json_credentials_in_any_case() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let path = "/cctrustoauth2/root/tokens/clients";
    let response = app.post_json(path, &json!({"ClientID": id, "clientsecret": client.secret})).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    // The form's response shape, plus the trust shape's `token` that WEM's
    // PowerShell module reads from a JSON request's answer (issue #22).
    assert_eq!(keys, ["access_token", "expires_in", "token", "token_type"], "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], json!("3600"));
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["sub"], json!(id));
    assert_eq!(body["token"], body["access_token"]);

    let wrong = json!({"clientId": id, "clientSecret": "tgs_not-the-secret"});
    let (status, body) = status_and_json(app.post_json(path, &wrong).await).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_client")), "{body}");
    let twice = json!({"clientId": id, "CLIENTID": id, "clientSecret": client.secret});
    let (status, body) = status_and_json(app.post_json(path, &twice).await).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{body}");
    let (status, body) = status_and_json(app.post_raw(path, "application/json", "{not json").await).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{body}");
}

#[tokio::test]
async fn revocation_stays_form_only() {
    let Some((app, client)) = app_with_client().await else { return };
    let token = app.token(&client).await;
    let body = json!({"client_id": client.id.to_string(), "client_secret": client.secret, "token": token});
    let (status, body) = status_and_json(app.post_json("/oauth2/revoke", &body).await).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{body}");
    let (status, _) = app.get("/systemlog/records", &token, &client.customer).await;
    assert_eq!(status, StatusCode::OK, "the token is not revoked");
}

#[tokio::test]
async fn both_token_endpoints_answer_in_citrix_field_order() {
    let Some((app, client)) = app_with_client().await else { return };
    let id = client.id.to_string();
    let raw = app.post_form("/cctrustoauth2/root/tokens/clients", &client.credentials()).await.text().await.unwrap();
    assert!(raw.starts_with("{\"token_type\":\"bearer\",\"access_token\":\""), "{raw}");
    assert!(raw.ends_with(",\"expires_in\":\"3600\"}"), "{raw}");
    let legacy = json!({"clientId": id, "clientSecret": client.secret});
    let raw = app.post_json("/root/tokens/clients", &legacy).await.text().await.unwrap();
    crate::harness::assert_key_order(&raw, &["principal", "subject", "token", "openIdToken", "expiresIn"]);
    assert!(raw.ends_with(",\"expiresIn\":3600}"), "{raw}");
}

/// Issue #21: a token's `header.payload.` with anything else as its signature is refused on every
/// surface, as every JWKS verifier refuses it — and it never becomes a verified-token cache entry.
#[tokio::test]
async fn a_token_whose_signature_is_replaced_is_refused_by_the_platform_the_gateway_and_introspection() {
    let Some(app) = super::app().await else { return };
    app.apply_catalog(crate::gateway::ORDERS_CATALOG).await;
    let (customer, _, client) = app.customer_with_client(Access::Full).await;
    let token = app.token(&client).await;
    assert_eq!(app.get("/notifications/items", &token, &customer).await.0, StatusCode::OK);
    let resource_server = app.cli(&["resource-server", "create", "--name", "orders"]).await;
    let (rs_id, rs_secret) =
        (resource_server["id"].as_str().unwrap().to_owned(), resource_server["secret"].as_str().unwrap().to_owned());
    let signed = token.rsplit_once('.').unwrap().0;
    let zeros = URL_SAFE_NO_PAD.encode([0u8; 64]);
    let held = || async {
        crate::observability::scrape(&app).await.value("trustgate_cache_entries", &[("cache", "verified_tokens")])
    };
    let verified_before = held().await;

    for signature in ["", "xxx", zeros.as_str()] {
        let forged = format!("{signed}.{signature}");
        let (status, body) = app.get("/notifications/items", &forged, &customer).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "platform, signature {signature:?}: {body}");
        let decision = app.nginx_decision(&forged, &customer, "/orders/1").await;
        assert_eq!(decision, StatusCode::UNAUTHORIZED, "gateway, signature {signature:?}");
        let form = [("token", forged.as_str())];
        let response =
            app.http.post(app.url("/oauth2/introspect")).basic_auth(&rs_id, Some(&rs_secret)).form(&form).send().await;
        let (status, body) = status_and_json(response.unwrap()).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"active": false})), "introspection, {signature:?}");
    }
    assert_eq!(held().await, verified_before, "a refused token is never cached");
}
