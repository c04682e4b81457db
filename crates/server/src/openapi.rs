//! The root of the OpenAPI document, its security schemes, the bodies of the token, key and
//! discovery endpoints, whose serialised types are not described by `ToSchema`, and the
//! parameters and error answers that routes share. Schemathesis
//! (`.ci/schemathesis`) checks every answer against the document.

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{GatewayError, OAuthErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trustgate",
        description = "API clients for a multi-tenant platform, wire-compatible with Citrix Cloud. \
            Platform APIs take `Authorization: CwsAuth Bearer=<token>` (or `Bearer <token>`) and \
            `Citrix-CustomerId`; what a client may do is its owner's current access, looked up on every \
            call. The management API (`/api/v1/…`) takes the console session cookie, and the \
            `X-CSRF-Token` header on every call that changes something. Errors use the Citrix gateway \
            shape; the token endpoints answer as RFC 6749 §5.2 and as the legacy trust service."
    ),
    paths(crate::gateway::decision::envoy),
    // The bodies of the shared error answers below, which name them by reference only.
    components(schemas(GatewayError, OAuthErrorBody)),
    modifiers(&SecuritySchemes),
    security(("CwsAuth" = []), ("Bearer" = [])),
    tags(
        (name = "tokens", description = "Client credentials to one-hour tokens, and the keys that verify them"),
        (name = "notifications", description = "Platform API: Notifications"),
        (name = "administrators", description = "Platform API: Administrators (R5, R6 apply to their API clients)"),
        (name = "systemlog", description = "Platform API: SystemLog"),
        (name = "webhooks", description = "Platform API: webhook subscriptions in Citrix's shape (docs/webhooks.md)"),
        (name = "management", description = "Trustgate's own management API: sign-in, API clients and the permission catalog"),
        (name = "gateway", description = "Forward-auth decisions for nginx, Traefik, Caddy and Envoy, by the catalog's route rules"),
        (name = "meta", description = "Health, readiness and this document"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "CwsAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`CwsAuth Bearer=<token>`, with the token from `/cctrustoauth2/{customer}/tokens/clients`",
            ))),
        );
        components.add_security_scheme(
            "Bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "Session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE,
                "Set by `POST /api/v1/session`; calls that change something also send `X-CSRF-Token`",
            ))),
        );
    }
}

/// The shapes of those bodies, declared by uninhabited types that exist only to be described.
macro_rules! described {
    ($(#[doc = $doc:literal])* $name:ident => $schema:expr) => {
        $(#[doc = $doc])*
        pub enum $name {}

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $name {}
    };
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

fn object<const N: usize>(description: &str, fields: [(&str, RefOr<Schema>); N]) -> ObjectBuilder {
    fields.into_iter().fold(
        ObjectBuilder::new().schema_type(Type::Object).description(Some(description)),
        |object, (name, schema)| object.property(name, schema).required(name),
    )
}

described!(
    /// RFC 6749 §5.1, as Citrix answers it: `expires_in` is the string `"3600"`.
    TokenResponse => object("An access token", [
        ("token_type", string("Always `bearer`").enum_values(Some(["bearer"])).into()),
        ("access_token", string("A JWT; send it as `Authorization: CwsAuth Bearer=<token>`").into()),
        ("expires_in", string("Seconds the token lives, as a string").examples(["3600"]).into()),
    ])
    // Optional: only the answer to a JSON request body carries it.
    .property(
        "token",
        string("The same JWT as `access_token`, sent only when the request body was JSON (the legacy trust shape's name)"),
    )
);

described!(
    /// The legacy trust service's answer: `expiresIn` is the number 3600.
    LegacyTokenResponse => object("An access token, legacy shape", [
        ("principal", string("The e-mail of the client's owner; a service principal's name").into()),
        ("subject", string("The client id").into()),
        ("token", string("A JWT; send it as `Authorization: CwsAuth Bearer=<token>`").into()),
        ("openIdToken", string("An ID token for the client").into()),
        ("expiresIn", ObjectBuilder::new().schema_type(Type::Integer).description(Some("Seconds the token lives")).into()),
    ])
);

described!(
    /// A JSON Web Key Set (RFC 7517): the public keys that verify tokens, by `kid`.
    Jwks => object("A JSON Web Key Set", [(
        "keys",
        ArrayBuilder::new()
            .items(object("A public key", [
                ("kty", string("Key type, e.g. `OKP`").into()),
                ("kid", string("Key id, as in the `kid` of a token's header").into()),
                ("use", string("Always `sig`").into()),
                ("alg", string("The signing algorithm, e.g. `EdDSA`").into()),
            ]))
            .into(),
    )])
);

described!(
    /// RFC 6749 §4.4.2 client credentials, in the body or (id and secret) as HTTP Basic (§2.3.1).
    ClientCredentialsForm => object("A client-credentials grant", [
        ("grant_type", string("Always `client_credentials`").enum_values(Some(["client_credentials"])).into()),
    ])
    .property("client_id", string("The client id, unless sent as HTTP Basic"))
    .property("client_secret", string("The client secret, unless sent as HTTP Basic"))
);

described!(
    /// Client credentials as JSON: the legacy trust service's body, which the OAuth endpoint takes
    /// too (some published modules send it there); property names are matched case-insensitively.
    ClientCredentialsJson => object(
        "Client credentials as JSON, property names in any case (`ClientId` works too); on the OAuth \
         endpoint `grant_type` is implied",
        [
            ("clientId", string("The client id").into()),
            ("clientSecret", string("The client secret").into()),
        ],
    )
);

fn strings(description: &str) -> ArrayBuilder {
    ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)).description(Some(description))
}

described!(
    /// RFC 8414 authorization server metadata, which is also valid OpenID Provider metadata.
    ServerMetadata => object("Where a standard OAuth library finds this deployment's endpoints and keys", [
        ("issuer", string("The `iss` of every token; the base of the URLs below").into()),
        ("token_endpoint", string("The client-credentials token endpoint").into()),
        ("jwks_uri", string("The keys that verify tokens").into()),
        ("revocation_endpoint", string("RFC 7009 token revocation").into()),
        ("introspection_endpoint", string("RFC 7662 token introspection, for resource servers").into()),
        ("introspection_endpoint_auth_methods_supported", strings("`client_secret_basic`, `client_secret_post`").into()),
        ("grant_types_supported", strings("Always `client_credentials`").into()),
        ("token_endpoint_auth_methods_supported", strings("`client_secret_basic`, `client_secret_post`").into()),
        ("response_types_supported", strings("Empty: there is no authorization endpoint").into()),
        ("subject_types_supported", strings("Always `public`").into()),
        ("id_token_signing_alg_values_supported", strings("The algorithms of the live signing keys, the signing one first").into()),
    ])
);

described!(
    /// RFC 7009 §2.1: the token to revoke, and the client's credentials in the body or as HTTP Basic.
    RevocationForm => object("A token revocation request", [
        ("token", string("The access token to revoke").into()),
    ])
    .property("token_type_hint", string("Accepted and ignored: only access tokens exist"))
    .property("client_id", string("The client id, unless sent as HTTP Basic"))
    .property("client_secret", string("The client secret, unless sent as HTTP Basic"))
);

described!(
    /// RFC 7662 §2.1: the token to introspect, and the resource server's credentials in the body
    /// or as HTTP Basic.
    IntrospectionForm => object("A token introspection request", [
        ("token", string("The access token to introspect").into()),
    ])
    .property("token_type_hint", string("Accepted and ignored: only access tokens exist"))
    .property("client_id", string("The resource server's id, unless sent as HTTP Basic"))
    .property("client_secret", string("The resource server's secret, unless sent as HTTP Basic"))
);

described!(
    /// RFC 7662 §2.2. An inactive token (malformed, forged, expired, revoked, of a deleted client,
    /// an owner removed or suspended) is `{"active": false}` and nothing else.
    IntrospectionResponse => object("Whether the token is active now, and what it may do", [
        ("active", ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Whether the token is active now")).into()),
    ])
    .property("client_id", string("The API client the token was issued to"))
    .property("sub", string("The token's subject: the client id"))
    .property("token_type", string("Always `Bearer`"))
    .property("exp", ObjectBuilder::new().schema_type(Type::Integer).description(Some("Expiry, seconds since the epoch")))
    .property("iat", ObjectBuilder::new().schema_type(Type::Integer).description(Some("Issue time, seconds since the epoch")))
    .property("iss", string("The issuer"))
    .property("aud", string("The audience"))
    .property("jti", string("The token's id"))
    .property("customer_id", string("The client's customer"))
    .property("principal", object("Whose rights the client acts with", [
        ("id", string("The owner's administrator id, or the service principal's id").into()),
        ("kind", string("`administrator` or `service_principal`").enum_values(Some(["administrator", "service_principal"])).into()),
    ]))
    .property("permissions", strings("The client's effective permissions now, as `orders.read` or a Platform one (`notifications`)"))
    .property("access_type", string("`Full` or `Custom`").enum_values(Some(["Full", "Custom"])))
);

/// The refusals and failures several routes document alike, one type a set, named for the routes
/// that answer with it: a route lists it beside its own success, `responses((status = 200, …),
/// SessionErrors)`. Declared by uninhabited types, as the bodies above.
macro_rules! refusals {
    ($(#[doc = $doc:literal])* $name:ident => $body:ty, $($status:literal => $description:expr),+ $(,)?) => {
        $(#[doc = $doc])*
        pub enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                refusals::<$body>(&[$(($status, $description)),+])
            }
        }
    };
}

/// Each status's answer, with a JSON body of type `B`.
fn refusals<B: ToSchema>(statuses: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|&(status, description)| {
            let body = ContentBuilder::new().schema(Some(Ref::from_schema_name(B::name()))).build();
            let response = ResponseBuilder::new().description(description).content("application/json", body);
            (status.to_owned(), response.build().into())
        })
        .collect()
}

const STORE_UNAVAILABLE: &str = "The store is unavailable";

refusals!(
    /// A route whose refusals are its own: only the failure is shared.
    StoreUnavailable => GatewayError,
    "5XX" => STORE_UNAVAILABLE,
);

refusals!(
    /// A management API route that takes the console session.
    SessionErrors => GatewayError,
    "4XX" => "Refused: 400 invalid input, 401 not signed in, 403 missing X-CSRF-Token or the access does not allow it, 404 not a member of the customer",
    "5XX" => STORE_UNAVAILABLE,
);

refusals!(
    /// A management API route that only a Full administrator of the customer may call.
    FullAdministratorErrors => GatewayError,
    "4XX" => "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator, 404 not a member of the customer",
    "5XX" => STORE_UNAVAILABLE,
);

refusals!(
    /// A platform API route, called with a client's token for its owner's customer.
    PlatformErrors => GatewayError,
    "4XX" => "Refused: 400 invalid input, 401 missing or invalid token, 403 the owner's access does not allow it",
    "5XX" => STORE_UNAVAILABLE,
);

refusals!(
    /// A platform Administrators route, which may name an administrator or be refused by a rule.
    AdministratorsErrors => GatewayError,
    "4XX" => "Refused: 400 invalid input, 401 missing or invalid token, 403 the owner's access does not allow it, 404 not found, 409 refused by a rule",
    "5XX" => STORE_UNAVAILABLE,
);

refusals!(
    /// An OAuth endpoint: RFC 6749 §5.2 errors.
    OAuthErrors => OAuthErrorBody,
    "4XX" => "RFC 6749 §5.2 error",
    "5XX" => "`temporarily_unavailable` or `server_error`",
);

/// The parameters several routes take alike, one type each: a route lists it among its own,
/// `params(CustomerPath, ("id" = String, Path, …), CsrfHeader)`. Declared by uninhabited types.
macro_rules! parameter {
    ($(#[doc = $doc:literal])* $name:ident => $parameter:literal in $in:ident, $description:literal) => {
        $(#[doc = $doc])*
        pub enum $name {}

        impl utoipa::IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                vec![required_string($parameter, ParameterIn::$in, $description)]
            }
        }
    };
}

fn required_string(name: &str, parameter_in: ParameterIn, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(parameter_in)
        .description(Some(description))
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

parameter!(
    /// The customer of a management API route, in its path.
    CustomerPath => "customer" in Path, "A customer the administrator belongs to"
);

parameter!(
    /// The session's CSRF token, on every management API call that changes something.
    CsrfHeader => "X-CSRF-Token" in Header, "The session's `csrfToken`"
);

parameter!(
    /// The customer of a platform API call, in Citrix's header.
    CustomerHeader => "Citrix-CustomerId" in Header, "The customer the call is for"
);
