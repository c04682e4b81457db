//! The token endpoints, byte-compatible with Citrix Cloud, and the public keys that verify tokens.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use headers::authorization::Basic;
use headers::{Authorization, HeaderMapExt};
use serde::Serialize;
use serde_json::{Map, Value};
use trustgate_core::token::TOKEN_LIFETIME_SECS;

use crate::error::{LegacyTokenError, OAuthError};
use crate::http::body;
use crate::oauth::grant::{self, PathCustomer};
use crate::state::AppState;
use crate::throttle::Source;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// `POST /cctrustoauth2/{root|customerId}/tokens/clients` — OAuth 2.0 client credentials (RFC 6749 §4.4).
///
/// Trades a client's ID and Secret for a one-hour token. Credentials go in the form body or as
/// HTTP Basic; `expires_in` is the string "3600". Some published modules send the legacy
/// endpoint's JSON `{"clientId","clientSecret"}` here instead: it is accepted, `grant_type` implied,
/// and the answer to a JSON body also carries the token as the legacy shape's `token`, which those
/// modules read.
#[utoipa::path(
    post,
    path = "/cctrustoauth2/{customer}/tokens/clients",
    tag = "tokens",
    security(()),
    params(("customer" = String, Path, description = "`root` or the client's customer id")),
    request_body(content(
        (crate::openapi::ClientCredentialsForm = "application/x-www-form-urlencoded"),
        (crate::openapi::ClientCredentialsJson = "application/json"),
    )),
    responses(
        (status = 200, description = "A token", body = crate::openapi::TokenResponse),
        crate::openapi::OAuthErrors,
    )
)]
pub async fn oauth(State(state): State<AppState>, Path(customer): Path<String>, request: Request) -> Response {
    match oauth_grant(&state, &customer, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn oauth_grant(state: &AppState, customer: &str, request: Request) -> Result<Response, OAuthError> {
    let used_basic = request.headers().contains_key(header::AUTHORIZATION);
    oauth_checked(state, customer, request).await.map_err(|e| if used_basic { e.after_basic() } else { e })
}

async fn oauth_checked(state: &AppState, customer: &str, request: Request) -> Result<Response, OAuthError> {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let form = ClientForm::read_token_request(state, request).await?;
    match form.field("grant_type")? {
        None => return Err(OAuthError::invalid_request("The parameter grant_type is missing.")),
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::unsupported_grant_type()),
    }
    let (client_id, secret) = form.credentials()?;
    let path = PathCustomer::parse(customer).ok_or_else(OAuthError::invalid_client)?;
    let issued = grant::issue(state, client_id, secret, &path, source).await?;
    let token = form.json.then(|| issued.access_token.clone());
    let body = OAuthToken {
        token_type: "bearer",
        access_token: issued.access_token,
        expires_in: TOKEN_LIFETIME_SECS.to_string(),
        token,
    };
    Ok(token_response(body))
}

/// The body of the token or revocation endpoint, as form pairs, with the client's credentials in it
/// or in HTTP Basic (RFC 6749 §2.3.1).
pub(crate) struct ClientForm {
    basic: Option<(String, String)>,
    pairs: Vec<(String, String)>,
    /// The body was the legacy endpoint's JSON rather than a form.
    json: bool,
}

impl ClientForm {
    /// The revocation endpoint's body: a form only, as RFC 7009 defines it.
    pub(crate) async fn read(state: &AppState, request: Request) -> Result<Self, OAuthError> {
        let basic = basic_credentials(request.headers())?;
        // Citrix is strict about the media type; a `charset` parameter is tolerated here.
        if body::media_type(request.headers()).as_deref() != Some(FORM) {
            return Err(OAuthError::invalid_request(format!("The body must be sent as {FORM}.")));
        }
        Self::from_form(basic, state, request).await
    }

    /// The token endpoint's body: the form, or the legacy endpoint's JSON credentials read as a
    /// client-credentials form.
    async fn read_token_request(state: &AppState, request: Request) -> Result<Self, OAuthError> {
        let basic = basic_credentials(request.headers())?;
        match body::media_type(request.headers()).as_deref() {
            Some(FORM) => Self::from_form(basic, state, request).await,
            Some(JSON) => {
                let body = body::bytes(request, state).await.map_err(OAuthError::server)?;
                let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
                    return Err(OAuthError::invalid_request("The JSON body is malformed."));
                };
                let mut pairs = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
                for (wire, name) in [("clientId", "client_id"), ("clientSecret", "client_secret")] {
                    pairs.extend(json_strings(&fields, wire).map(|value| (name.to_owned(), value.to_owned())));
                }
                Ok(Self { basic, pairs, json: true })
            }
            _ => Err(OAuthError::invalid_request(format!("The body must be sent as {FORM} or {JSON}."))),
        }
    }

    async fn from_form(
        basic: Option<(String, String)>,
        state: &AppState,
        request: Request,
    ) -> Result<Self, OAuthError> {
        let body = body::bytes(request, state).await.map_err(OAuthError::server)?;
        let pairs = serde_urlencoded::from_bytes(&body)
            .map_err(|_| OAuthError::invalid_request("The form body is malformed."))?;
        Ok(Self { basic, pairs, json: false })
    }

    /// A parameter given at most once (RFC 6749 §3.2: parameters must not be repeated).
    pub(crate) fn field(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("The parameter {name} is repeated.")));
        }
        Ok(first)
    }

    /// The token a revocation or introspection request names (RFC 7009 and 7662, §2.1). Every
    /// token this server issues is an access token, so `token_type_hint` never changes where the
    /// token is looked up: it is accepted, once, and not otherwise read.
    pub(crate) fn token(&self) -> Result<&str, OAuthError> {
        let token =
            self.field("token")?.ok_or_else(|| OAuthError::invalid_request("The parameter token is missing."))?;
        self.field("token_type_hint")?;
        Ok(token)
    }

    /// The client id and secret, sent one way only: in the body or as HTTP Basic.
    pub(crate) fn credentials(&self) -> Result<(&str, &str), OAuthError> {
        match (&self.basic, self.field("client_id")?, self.field("client_secret")?) {
            (Some(_), _, Some(_)) => {
                Err(OAuthError::invalid_request("Send the client credentials in one way only: the body or HTTP Basic."))
            }
            (Some((id, secret)), _, None) => Ok((id, secret)),
            (None, Some(id), Some(secret)) => Ok((id, secret)),
            (None, _, _) => Err(OAuthError::invalid_client()),
        }
    }
}

/// The string values of a JSON property, its name matched case-insensitively as the legacy trust
/// service does; two spellings of one name are two values, so the form's repetition check applies.
fn json_strings<'a>(fields: &'a Map<String, Value>, name: &'a str) -> impl Iterator<Item = &'a str> {
    fields.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).filter_map(|(_, v)| v.as_str())
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    if !value.as_bytes().get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic ")) {
        return Err(OAuthError::invalid_request("Only HTTP Basic client authentication is accepted here."));
    }
    let Ok(Some(Authorization(basic))) = headers.typed_try_get::<Authorization<Basic>>() else {
        return Err(OAuthError::invalid_client());
    };
    let (id, secret) = (basic.username(), basic.password());
    let unescape = |text: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={text}")).map_err(|_| OAuthError::invalid_client())?;
        pairs.into_iter().next().map(|(_, v)| v).ok_or_else(OAuthError::invalid_client)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// `POST /{root|customerId}/tokens/clients` — the legacy trust service: JSON with
/// case-insensitive `clientId`/`clientSecret`, `expiresIn` a number.
#[utoipa::path(
    post,
    path = "/{customer}/tokens/clients",
    tag = "tokens",
    security(()),
    params(("customer" = String, Path, description = "`root` or the client's customer id")),
    request_body(content = crate::openapi::ClientCredentialsJson, content_type = "application/json"),
    responses(
        (status = 200, description = "A token", body = crate::openapi::LegacyTokenResponse),
        (status = "4XX", description = "The request is invalid", body = crate::error::LegacyTokenErrorBody),
        (status = "5XX", description = "The service is unavailable", body = crate::error::LegacyTokenErrorBody),
    )
)]
pub async fn legacy(State(state): State<AppState>, Path(customer): Path<String>, request: Request) -> Response {
    match legacy_grant(&state, &customer, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn legacy_grant(state: &AppState, customer: &str, request: Request) -> Result<Response, LegacyTokenError> {
    let Source(source) = Source::of(request.extensions(), request.headers(), &state.config.trusted_proxies);
    let body = body::bytes(request, state).await.map_err(|e| LegacyTokenError::invalid(e.to_string()))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return Err(LegacyTokenError::invalid("An error has occurred."));
    };
    let field = |name| json_strings(&fields, name).next().unwrap_or_default();
    let (client_id, secret) = (field("clientId"), field("clientSecret"));
    if client_id.is_empty() || secret.is_empty() {
        return Err(LegacyTokenError::invalid("clientId and clientSecret are required."));
    }
    let path = PathCustomer::parse(customer).ok_or_else(|| LegacyTokenError::from(OAuthError::invalid_client()))?;
    let issued = grant::issue(state, client_id, secret, &path, source).await.map_err(OAuthError::from)?;
    let body = LegacyToken {
        open_id_token: grant::id_token(state, &issued).map_err(|e| OAuthError::from(grant::Refusal::from(e)))?,
        // A service principal has no e-mail: it is named by its name, as its console lists it.
        principal: issued.facts.owner_email.clone().unwrap_or_else(|| issued.facts.client.name.clone()),
        subject: issued.facts.client.id.to_string(),
        token: issued.access_token,
        expires_in: TOKEN_LIFETIME_SECS,
    };
    Ok(token_response(body))
}

// Typed bodies rather than `json!`, whose map sorts keys: scripts that read these as text expect
// Citrix's field order (the schemas in the OpenAPI document are described in routes/doc.rs).
#[derive(Serialize)]
struct OAuthToken {
    token_type: &'static str,
    access_token: String,
    expires_in: String,
    /// The same token under the legacy trust shape's name, only when the request body was JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyToken {
    principal: String,
    subject: String,
    token: String,
    open_id_token: String,
    expires_in: i64,
}

/// A token must not be stored by any cache (RFC 6749 §5.1), on either endpoint.
fn token_response(body: impl Serialize) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /.well-known/jwks.json` — the public keys that verify tokens.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "tokens",
    security(()),
    responses((status = 200, description = "The key set", body = crate::openapi::Jwks))
)]
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.keys().jwks())
}
