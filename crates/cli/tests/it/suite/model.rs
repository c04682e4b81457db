//! The model-based test of the rules (issue #20, item 8): random sequences of operations by the
//! administrators and API clients of two customers — A hostile, B the victim — driven through the
//! real Platform API, management API, SCIM, invitation pages and operator CLI, with a small
//! reference model of the rules (`model/reference.rs`) checked against the server after every
//! step. docs/security.md ("Model-based test of the rules") lists what is driven and not yet.
//!
//! After every step, through the server and its store:
//! - every client's token is authorised exactly as the model says (R4, R5, R7, SP2, SP4): a
//!   token issued at creation and a fresh one, on routes needing `administrators`,
//!   `notifications` and `systemLog`;
//! - a deleted client (its own deletion, its owner's removal or deletion: R6) gets 401 on its
//!   tokens and `invalid_client` for its secrets; a revoked token gets 401;
//! - each customer's administrators, principals, every owner's clients and every client's
//!   secrets are exactly the model's (so nothing any actor of A does changes B), principals
//!   untouched by what happens to their creator (SP5);
//! - every administrator lists exactly their own clients and, if Full, every principal, and
//!   nothing in a customer they do not belong to (R3, SP3);
//! - every principal's secret expires (SP6);
//! - each customer's webhook endpoint is untouched by the other's actors, and its receiver is
//!   sent only its own customer's records;
//! - each customer's groups (issue #25), their access and members are exactly the model's: no
//!   SCIM token or API client of A reaches B's groups, and a member's clients hold their own
//!   access joined with their groups' (R5 through groups), or are deleted when the last goes (R6).
//!
//! Knobs (environment):
//! - `TRUSTGATE_MODEL_CASES` — sequences per store (default 100);
//! - `TRUSTGATE_MODEL_STEPS` — most steps per sequence (default 30);
//! - `TRUSTGATE_MODEL_SEED` — replays the run printed with this seed (a `u64`);
//! - `TRUSTGATE_MODEL_SHRINK` — most shrinking iterations after a failure (default 256);
//!
//! One server per store for the whole run; each sequence gets two fresh customers (customers
//! share nothing, and a fresh server per sequence would cost a PostgreSQL database each).

mod reference;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::AdminStatus;
use trustgate_core::client::ClientKind;
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::random_token;

use crate::harness::{custom, notification, status_and_json, Session, TestAdmin, TestApp};
use reference::{Acc, Kind, Model, Op, Rules, A, ADMINISTRATORS, API_CLIENTS, B, NOTIFICATIONS, SYSTEM_LOG};

/// A grant refused as bad credentials — or, once the checks have presented a dead secret often
/// enough, throttled: an unknown client id is locked out like a known one (issue #21), and
/// either way no token is issued.
fn grant_refused(status: StatusCode, body: &Value) -> bool {
    (status == StatusCode::BAD_REQUEST && body["error"] == "invalid_client")
        || (status == StatusCode::TOO_MANY_REQUESTS && body["error"] == "slow_down")
}

/// Routes a client's token is probed on, with the permission each needs.
const PROBES: [(u8, &str); 3] =
    [(ADMINISTRATORS, "/administrators"), (NOTIFICATIONS, "/notifications/items"), (SYSTEM_LOG, "/systemlog/records")];

type Checked = Result<(), String>;

struct Settings {
    cases: u32,
    steps: usize,
    seed: u64,
    shrink: u32,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: u64| {
            std::env::var(name).ok().map_or(default, |v| v.trim().parse().unwrap_or_else(|_| panic!("{name}={v}")))
        };
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Settings {
            cases: u32::try_from(number("TRUSTGATE_MODEL_CASES", 100)).expect("cases"),
            steps: usize::try_from(number("TRUSTGATE_MODEL_STEPS", 30)).expect("steps").max(1),
            seed: number("TRUSTGATE_MODEL_SEED", random),
            shrink: u32::try_from(number("TRUSTGATE_MODEL_SHRINK", 256)).expect("shrink"),
        }
    }
}

fn to_access(acc: Acc) -> Access {
    match acc {
        Acc::Full => Access::Full,
        Acc::Custom(bits) => {
            let all = [
                (ADMINISTRATORS, Permission::ADMINISTRATORS),
                (API_CLIENTS, Permission::API_CLIENTS),
                (NOTIFICATIONS, Permission::NOTIFICATIONS),
                (SYSTEM_LOG, Permission::SYSTEM_LOG),
            ];
            custom(&all.into_iter().filter(|(bit, _)| bits & bit != 0).map(|(_, p)| p).collect::<Vec<_>>())
        }
    }
}

fn access_body(acc: Acc) -> Value {
    let policies: Vec<Value> = acc.policies().into_iter().map(|p| json!({ "name": p })).collect();
    json!({ "accessType": acc.access_type(), "policies": policies })
}

fn name(customer: usize) -> &'static str {
    if customer == A {
        "A"
    } else {
        "B"
    }
}

struct SutClient {
    id: ClientId,
    /// Every secret ever added, in the model's order: (id, secret).
    secrets: Vec<(String, String)>,
    /// A token issued when the client was made (or after its revocation), kept to test R5/SP4.
    token: String,
}

/// The system under test: the real server, and what the model's indices stand for there.
struct Sut<'a> {
    app: &'a TestApp,
    customers: [CustomerId; 2],
    admins: Vec<TestAdmin>,
    /// Each administrator's subject at the identity provider.
    subjects: Vec<String>,
    sessions: Vec<Session>,
    /// Each customer's SCIM provisioning token.
    scim: [String; 2],
    /// The invitation links the API answered with, by (administrator, customer).
    invitations: HashMap<(usize, usize), String>,
    clients: Vec<SutClient>,
    revoked: Vec<String>,
    /// Each customer's webhook endpoint, subscribed by its Full administrator: (id, receiver).
    webhooks: Vec<(String, crate::webhook_receiver::Receiver)>,
    /// The groups' ids, in the model's order.
    groups: Vec<String>,
    step: usize,
}

impl<'a> Sut<'a> {
    /// Two fresh customers in the state of [`Model::initial`].
    async fn new(app: &'a TestApp) -> Sut<'a> {
        let customers = [app.customer().await, app.customer().await];
        let admins = vec![
            app.federated_admin(&customers[A], Access::Full).await,
            app.federated_admin(&customers[B], Access::Full).await,
            app.federated_admin(&customers[B], Access::Full).await,
            app.admin(&customers[B], custom(&[Permission::ADMINISTRATORS, Permission::API_CLIENTS])).await,
        ];
        app.join(&customers[A], &admins[2], custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS])).await;
        // Two hold an authenticator app, one a passkey alone: a reset removes either kind.
        for enrolled in &admins[1..3] {
            crate::totp::enrol(app, enrolled).await;
        }
        crate::passkeys::enrol(app, &admins[3]).await;
        let subjects = vec![
            format!("ext-{}", admins[0].id),
            format!("ext-{}", admins[1].id),
            format!("ext-{}", admins[2].id),
            String::new(),
        ];
        let mut sut = Sut {
            app,
            customers,
            admins,
            subjects,
            sessions: Vec::new(),
            scim: [String::new(), String::new()],
            invitations: HashMap::new(),
            clients: Vec::new(),
            revoked: Vec::new(),
            webhooks: Vec::new(),
            groups: Vec::new(),
            step: 0,
        };
        for c in [A, B] {
            let session = app.session_for(&sut.admins[c]).await;
            let body = json!({ "name": format!("{} provisioning", name(c)), "provider": "AzureAd" });
            let (status, token) =
                app.as_admin(&session, Method::POST, &sut.management(c, "scim-tokens"), Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{token}");
            sut.scim[c] = token["secret"].as_str().expect("the SCIM token").to_owned();
        }
        // Admin 4: provisioned by B's identity provider, with no access of their own.
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "group-only@b.example",
            "externalId": "oid-group-only",
            "emails": [{ "value": "group-only@b.example", "primary": true }],
        });
        let (status, created) = sut.scim(B, B, Method::POST, "/Users", Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = AdminId::parse(created["id"].as_str().expect("the user id")).expect("an admin id");
        sut.admins.push(TestAdmin { id, email: "group-only@b.example".to_owned(), password: String::new() });
        sut.subjects.push("oid-group-only".to_owned());
        for (c, members) in [(A, vec![2]), (B, vec![3, 4])] {
            let members: Vec<Value> =
                members.iter().map(|&m| json!({ "value": sut.admins[m].id.to_string() })).collect();
            let group = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("{} operators", name(c)),
                "members": members,
            });
            let (status, created) = sut.scim(c, c, Method::POST, "/Groups", Some(group)).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            sut.groups.push(created["id"].as_str().expect("the group id").to_owned());
        }
        let operators = trustgate_core::ids::GroupId::parse(&sut.groups[A]).expect("a group id");
        app.store
            .set_group_access(&sut.customers[A], operators, custom(&[Permission::SYSTEM_LOG]), &Actor::System)
            .await
            .expect("the group's access");
        let operators = trustgate_core::ids::GroupId::parse(&sut.groups[B]).expect("a group id");
        let granted = custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS]);
        app.store.set_group_access(&sut.customers[B], operators, granted, &Actor::System).await.expect("the access");
        for c in [A, B] {
            let receiver = crate::webhook_receiver::Receiver::start().await;
            let session = app.session_for(&sut.admins[c]).await;
            let body = json!({ "url": receiver.url, "description": format!("{} events", name(c)) });
            let (status, created) =
                app.as_admin(&session, Method::POST, &sut.management(c, "webhooks"), Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            sut.webhooks.push((created["id"].as_str().expect("the endpoint id").to_owned(), receiver));
        }
        for (customer, owner) in [(A, 0), (B, 1), (A, 2), (B, 2), (B, 4)] {
            let made = app.client(&sut.customers[customer], &sut.admins[owner]).await;
            let token = app.token(&made).await;
            let secret_id = sut.secret_ids(customer, made.id).await.into_iter().next().expect("a first secret");
            sut.clients.push(SutClient { id: made.id, secrets: vec![(secret_id, made.secret)], token });
        }
        sut
    }

    async fn secret_ids(&self, customer: usize, client: ClientId) -> Vec<String> {
        let secrets = self.app.store.client_secrets(&self.customers[customer], client, &Actor::System).await;
        secrets.expect("secrets").iter().map(|s| s.id.to_string()).collect()
    }

    /// A session for every administrator who still exists: sessions end when an administrator is
    /// disabled or leaves their last customer, and re-enabling does not revive them.
    async fn refresh_sessions(&mut self, model: &Model) {
        for (i, admin) in self.admins.iter().enumerate() {
            if model.admins[i].deleted && i < self.sessions.len() {
                continue;
            }
            let Some(session) = session_for(self.app, admin.id).await else { continue };
            if i < self.sessions.len() {
                self.sessions[i] = session;
            } else {
                self.sessions.push(session);
            }
        }
    }

    fn live_secret(&self, model: &Model, client: usize) -> &str {
        let alive = model.clients[client].secrets.iter().rposition(|s| s.alive).unwrap_or(0);
        &self.clients[client].secrets[alive].1
    }

    async fn grant(&self, client: usize, secret: &str) -> (StatusCode, Value) {
        let id = self.clients[client].id.to_string();
        self.app
            .oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", secret)])
            .await
    }

    async fn platform(
        &self,
        method: Method,
        path: &str,
        by: usize,
        customer: usize,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.app.call(method, path, &self.clients[by].token, &self.customers[customer], body).await
    }

    async fn manage(&self, by: usize, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.app.as_admin(&self.sessions[by], method, path, body).await
    }

    fn management(&self, customer: usize, rest: &str) -> String {
        format!("/api/v1/customers/{}/{rest}", self.customers[customer])
    }

    /// A SCIM call with customer `scim`'s provisioning token, at `/scim/v2/{customer}{path}`.
    async fn scim(
        &self,
        scim: usize,
        customer: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = self.app.url(&format!("/scim/v2/{}{path}", self.customers[customer]));
        let mut request =
            self.app.http.request(method, url).header("authorization", format!("Bearer {}", self.scim[scim]));
        if let Some(body) = body {
            request = request.header("content-type", "application/scim+json").body(body.to_string());
        }
        status_and_json(request.send().await.expect("send")).await
    }

    /// Runs the operator CLI; whether it succeeded, and its output.
    async fn cli(&self, args: &[&str]) -> (bool, String) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(self.app.dir.path()).arg("--json");
        if let Some(url) = self.app.database_url() {
            command.arg("--database").arg(url);
        }
        command.args(args).stdin(std::process::Stdio::null()).env_remove("TRUSTGATE_SERVER_KEY");
        let output =
            tokio::task::spawn_blocking(move || command.output()).await.expect("thread").expect("run trustgate");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text.trim().to_owned())
    }

    /// Takes in the administrator the server created, named by `created[field]`, as the newest
    /// one, with a session of their own.
    async fn admit(&mut self, created: &Value, field: &str, email: String, subject: String) -> Checked {
        let id = created[field].as_str().and_then(|id| AdminId::parse(id).ok());
        let id = id.ok_or(format!("no {field} in {created}"))?;
        self.admins.push(TestAdmin { id, email, password: String::new() });
        self.subjects.push(subject);
        self.sessions.push(self.app.session_for(self.admins.last().expect("pushed")).await);
        Ok(())
    }

    async fn new_client(&mut self, customer: usize, created: &Value) -> Checked {
        let id = created["id"].as_str().and_then(|id| ClientId::parse(id).ok()).ok_or(format!("no id in {created}"))?;
        let secret = created["secret"].as_str().ok_or(format!("no secret in {created}"))?.to_owned();
        let secret_id = self.secret_ids(customer, id).await.into_iter().next().ok_or("no secret stored")?;
        self.clients.push(SutClient { id, secrets: vec![(secret_id, secret.clone())], token: String::new() });
        let index = self.clients.len() - 1;
        let (status, body) = self.grant(index, &secret).await;
        self.clients[index].token =
            body["access_token"].as_str().ok_or(format!("a new client gets no token: {status} {body}"))?.to_owned();
        Ok(())
    }

    /// Runs `op` on the server and checks that it succeeds exactly when the model allows it.
    async fn apply(&mut self, model: &Model, op: &Op) -> Checked {
        let allowed = model.allowed(op);
        let admin_id = |i: usize| self.admins[i].id.to_string();
        let client_id = |i: usize| self.clients[i].id.to_string();
        let (status, body) = match *op {
            Op::CreateAdmin { by, customer, access, twin } => {
                let local = random_token()[..12].to_lowercase().replace(['-', '_'], "x");
                let email = format!("m{local}@{}.example", name(customer).to_lowercase());
                let mut body = access_body(access);
                body["providerType"] = json!("AzureAd");
                body["type"] = json!("AdministratorUser");
                body["email"] = json!(email);
                let subject = twin.map_or_else(|| format!("sub-{email}"), |t| self.subjects[t].clone());
                body["externalUserId"] = json!(subject);
                let (status, created) =
                    self.platform(Method::POST, "/administrators/$create", by, customer, Some(body)).await;
                if status.is_success() && allowed {
                    self.admit(&created, "userId", email, subject).await?;
                }
                (status, created)
            }
            Op::SetAdminAccess { by, customer, admin, access } => {
                let path = format!("/administrators/access?id={}", admin_id(admin));
                self.platform(Method::PUT, &path, by, customer, Some(access_body(access))).await
            }
            Op::RemoveAdmin { by, customer, admin } => {
                self.platform(Method::DELETE, &format!("/administrators/{}", admin_id(admin)), by, customer, None).await
            }
            Op::ListAdmins { by, customer } => {
                let (status, list) =
                    self.platform(Method::GET, "/administrators?maxItemCount=200", by, customer, None).await;
                if status.is_success() && allowed {
                    let held = model.client_access(by).expect("allowed");
                    let (admins, principals, groups) = model.listed_admins(customer, held);
                    let want: BTreeSet<String> = admins
                        .iter()
                        .map(|&i| admin_id(i))
                        .chain(principals.iter().map(|&c| client_id(c)))
                        .chain(groups.iter().map(|&g| self.groups[g].clone()))
                        .collect();
                    let got = listed(&list, "userId");
                    if got != want {
                        return Err(format!("{op:?} lists {got:?}; the model says {want:?}"));
                    }
                }
                (status, list)
            }
            Op::PostNotification { by, customer } => {
                let response = self
                    .app
                    .http
                    .post(self.app.url(&format!("/{}/notifications/items", self.customers[customer])))
                    .header("authorization", format!("CwsAuth Bearer={}", self.clients[by].token))
                    .json(&notification())
                    .send()
                    .await
                    .expect("send");
                status_and_json(response).await
            }
            Op::Revoke { by, of } => {
                let id = client_id(by);
                let secret = self.live_secret(model, by).to_owned();
                let token = self.clients[of].token.clone();
                let form = [("client_id", id.as_str()), ("client_secret", &secret), ("token", &token)];
                let response = self
                    .app
                    .http
                    .post(self.app.url("/oauth2/revoke"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(serde_urlencoded::to_string(form).expect("form"))
                    .send()
                    .await
                    .expect("send");
                let answer = status_and_json(response).await;
                if answer.0.is_success() && allowed && by == of {
                    self.revoked.push(token);
                    let (status, body) = self.grant(of, &secret).await;
                    self.clients[of].token = body["access_token"]
                        .as_str()
                        .ok_or(format!("no token after revoking: {status} {body}"))?
                        .to_owned();
                }
                answer
            }
            Op::CreateClient { by, customer } => {
                let body = json!({ "name": format!("model client {}", self.clients.len()) });
                let (status, created) =
                    self.manage(by, Method::POST, &self.management(customer, "api-clients"), Some(body)).await;
                if status.is_success() && allowed {
                    self.new_client(customer, &created).await?;
                }
                (status, created)
            }
            Op::DeleteClient { by, customer, client } => {
                let path = self.management(customer, &format!("api-clients/{}", client_id(client)));
                self.manage(by, Method::DELETE, &path, None).await
            }
            Op::CreatePrincipal { by, customer, access } => {
                let mut body = access_body(access);
                body["name"] = json!(format!("model principal {}", self.clients.len()));
                let path = self.management(customer, "service-principals");
                let (status, created) = self.manage(by, Method::POST, &path, Some(body)).await;
                if status.is_success() && allowed {
                    self.new_client(customer, &created).await?;
                }
                (status, created)
            }
            Op::SetPrincipalAccess { by, customer, client, access } => {
                let path = self.management(customer, &format!("service-principals/{}/access", client_id(client)));
                self.manage(by, Method::PUT, &path, Some(access_body(access))).await
            }
            Op::DeletePrincipal { by, customer, client } => {
                let path = self.management(customer, &format!("service-principals/{}", client_id(client)));
                self.manage(by, Method::DELETE, &path, None).await
            }
            Op::AddSecret { by, customer, client, expires } => {
                let body = if expires {
                    let at = OffsetDateTime::now_utc() + time::Duration::days(30);
                    json!({ "expiresAt": at.format(&Rfc3339).expect("a time") })
                } else {
                    json!({})
                };
                let path = self.management(customer, &format!("api-clients/{}/secrets", client_id(client)));
                let (status, created) = self.manage(by, Method::POST, &path, Some(body)).await;
                if status.is_success() && allowed {
                    let id = created["id"].as_str().ok_or(format!("no id in {created}"))?.to_owned();
                    let secret = created["secret"].as_str().ok_or(format!("no secret in {created}"))?.to_owned();
                    self.clients[client].secrets.push((id, secret));
                }
                (status, created)
            }
            Op::DeleteSecret { by, customer, client, secret } => {
                let (id, value) = self.clients[client].secrets[secret].clone();
                let path = self.management(customer, &format!("api-clients/{}/secrets/{id}", client_id(client)));
                let answer = self.manage(by, Method::DELETE, &path, None).await;
                if answer.0.is_success() {
                    let (status, body) = self.grant(client, &value).await;
                    if !grant_refused(status, &body) {
                        return Err(format!("{op:?}: the deleted secret still answers {status} {body}"));
                    }
                }
                answer
            }
            Op::Convert { by, customer, client } => {
                let path = self.management(customer, &format!("api-clients/{}/convert", client_id(client)));
                self.manage(by, Method::POST, &path, None).await
            }
            Op::Invite { by, customer, access, whom } => {
                let email = match whom {
                    Some(w) => self.admins[w].email.clone(),
                    None => {
                        let local = random_token()[..12].to_lowercase().replace(['-', '_'], "x");
                        format!("i{local}@{}.example", name(customer ^ 1).to_lowercase())
                    }
                };
                let mut body = access_body(access);
                body["providerType"] = json!("CitrixSts");
                body["type"] = json!("AdministratorUser");
                body["email"] = json!(email);
                let (status, created) =
                    self.platform(Method::POST, "/administrators/$create", by, customer, Some(body)).await;
                if status.is_success() && allowed {
                    let id = created["userId"].as_str().and_then(|id| AdminId::parse(id).ok());
                    let id = id.ok_or(format!("no userId in {created}"))?;
                    let admin = match whom {
                        Some(w) if self.admins[w].id == id => w,
                        Some(w) => return Err(format!("{op:?}: invited {id}, not admin {w} ({})", self.admins[w].id)),
                        None => {
                            self.admins.push(TestAdmin { id, email, password: String::new() });
                            self.subjects.push(String::new());
                            self.sessions.push(self.app.session_for(self.admins.last().expect("pushed")).await);
                            self.admins.len() - 1
                        }
                    };
                    if let Some(url) = created["invitationUrl"].as_str() {
                        self.invitations.insert((admin, customer), url.to_owned());
                    }
                }
                (status, created)
            }
            Op::AcceptAsInviter { admin, customer } => match self.invitations.get(&(admin, customer)) {
                Some(link) => accept_as_inviter(self.app, link).await,
                None => (StatusCode::NOT_FOUND, json!("the API answered with no link to accept")),
            },
            Op::ScimCreate { scim, customer } => {
                let local = random_token()[..12].to_lowercase().replace(['-', '_'], "x");
                let email = format!("p{local}@{}.example", name(scim).to_lowercase());
                let subject = format!("oid-{local}");
                let user = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": email,
                    "externalId": subject,
                    "emails": [{ "value": email, "type": "work", "primary": true }],
                    "active": true,
                });
                let (status, created) = self.scim(scim, customer, Method::POST, "/Users", Some(user)).await;
                if status.is_success() && allowed {
                    self.admit(&created, "id", email, subject).await?;
                }
                (status, created)
            }
            Op::ScimSetActive { scim, customer, admin, active } => {
                let patch = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{ "op": "Replace", "path": "active", "value": active }],
                });
                self.scim(scim, customer, Method::PATCH, &format!("/Users/{}", admin_id(admin)), Some(patch)).await
            }
            Op::ScimDelete { scim, customer, admin } => {
                self.scim(scim, customer, Method::DELETE, &format!("/Users/{}", admin_id(admin)), None).await
            }
            Op::ScimCreateGroup { scim, customer } => {
                let name = format!("group {}", self.groups.len());
                let group = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "externalId": format!("oid-{}", random_token()[..12].to_lowercase()),
                });
                let (status, created) = self.scim(scim, customer, Method::POST, "/Groups", Some(group)).await;
                if status.is_success() && allowed {
                    self.groups.push(created["id"].as_str().ok_or(format!("no id in {created}"))?.to_owned());
                }
                (status, created)
            }
            Op::ScimGroupMember { scim, customer, group, admin, add } => {
                let member = admin_id(admin);
                let operation = if add {
                    json!({ "op": "add", "path": "members", "value": [{ "value": member }] })
                } else {
                    json!({ "op": "Remove", "path": format!("members[value eq \"{member}\"]") })
                };
                let patch = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [operation],
                });
                let path = format!("/Groups/{}", self.groups[group]);
                self.scim(scim, customer, Method::PATCH, &path, Some(patch)).await
            }
            Op::ScimDeleteGroup { scim, customer, group } => {
                self.scim(scim, customer, Method::DELETE, &format!("/Groups/{}", self.groups[group]), None).await
            }
            Op::SetGroupAccess { by, customer, group, access } => {
                let path = format!("/administrators/access?id=OID:/citrix/{}", self.groups[group]);
                self.platform(Method::PUT, &path, by, customer, Some(access_body(access))).await
            }
            Op::DisableAdmin { admin } | Op::EnableAdmin { admin } => {
                let verb = if matches!(op, Op::DisableAdmin { .. }) { "disable" } else { "enable" };
                let (ok, out) = self.cli(&["admin", verb, "--admin", &admin_id(admin)]).await;
                (if ok { StatusCode::OK } else { StatusCode::CONFLICT }, Value::String(out))
            }
            Op::DeleteAdmin { admin } => {
                let (ok, out) = self.cli(&["admin", "delete", "--admin", &admin_id(admin)]).await;
                (if ok { StatusCode::OK } else { StatusCode::CONFLICT }, Value::String(out))
            }
            Op::SetPolicy { customer, suspend } => {
                let policy = if suspend { "suspend-clients" } else { "keep-active" };
                let id = self.customers[customer].to_string();
                let args = ["customer", "set-policy", "--customer", &id, "--disabled-owner-policy", policy];
                let (ok, out) = self.cli(&args).await;
                (if ok { StatusCode::OK } else { StatusCode::CONFLICT }, Value::String(out))
            }
            Op::SetLostAccessPolicy { customer, keep } => {
                let policy = if keep { "keep-in-customer" } else { "remove-from-customer" };
                let id = self.customers[customer].to_string();
                let args = ["customer", "set-lost-access-policy", "--customer", &id, "--lost-access-policy", policy];
                let (ok, out) = self.cli(&args).await;
                (if ok { StatusCode::OK } else { StatusCode::CONFLICT }, Value::String(out))
            }
            Op::RotateServerKey => {
                let (ok, out) = self.cli(&["keys", "rotate-server-key"]).await;
                (if ok { StatusCode::OK } else { StatusCode::CONFLICT }, Value::String(out))
            }
            Op::ResetFactor { by, customer, admin } => {
                let path = format!(
                    "/console/c/{}/administrators/{}/reset-second-factor",
                    self.customers[customer],
                    admin_id(admin)
                );
                let session = &self.sessions[by];
                let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build();
                let response = no_redirects
                    .map_err(|e| e.to_string())?
                    .post(self.app.url(&path))
                    .header("cookie", &session.cookie)
                    .form(&[("csrf", session.csrf.as_str())])
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                // The console answers a done reset by sending the browser back to the list; a
                // session that no longer holds (its administrator deleted) is sent to sign in.
                let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
                let status = match response.status() {
                    StatusCode::SEE_OTHER if location.contains("done=mfa-reset") => StatusCode::OK,
                    StatusCode::SEE_OTHER => StatusCode::UNAUTHORIZED,
                    other => other,
                };
                (status, Value::Null)
            }
        };
        if status.is_server_error() || status.is_success() != allowed {
            let rules = if allowed { "allowed" } else { "refused" };
            return Err(format!("{op:?}: the server answered {status} {body}; the rules say it is {rules}"));
        }
        Ok(())
    }

    /// Everything the model says about the server, checked through the server and its store.
    async fn check(&mut self, model: &Model) -> Checked {
        self.step += 1;
        self.refresh_sessions(model).await;
        self.check_store(model).await?;
        self.check_tokens(model).await?;
        self.check_listings(model).await?;
        self.check_webhooks().await
    }

    /// Each customer's webhook endpoint is untouched by anything the other does, and its
    /// receiver has only ever been sent its own customer's records; A's Full administrator does
    /// not reach B's endpoint through A.
    async fn check_webhooks(&self) -> Checked {
        for c in [A, B] {
            let (id, receiver) = &self.webhooks[c];
            let endpoints = self.app.store.webhooks(&self.customers[c], &Actor::System).await;
            let endpoints = endpoints.map_err(|e| format!("the store failed: {e}"))?;
            let ours = endpoints.iter().any(|e| e.id.to_string() == *id && e.url == receiver.url);
            if endpoints.len() != 1 || !ours {
                return Err(format!("{}'s webhook endpoints changed: {endpoints:?}", name(c)));
            }
            for delivery in receiver.deliveries() {
                let customer = delivery.json()["data"]["customerId"].as_str().unwrap_or_default().to_owned();
                if customer != self.customers[c].as_str() {
                    return Err(format!("{}'s webhook receiver was sent a record of {customer}", name(c)));
                }
            }
        }
        if let Some(session) = self.sessions.first() {
            let other = format!("webhooks/{}", self.webhooks[B].0);
            for method in [Method::GET, Method::DELETE] {
                let (status, body) =
                    self.app.as_admin(session, method.clone(), &self.management(A, &other), None).await;
                if status.is_success() {
                    return Err(format!("A's administrator reached B's webhook endpoint: {method} {status} {body}"));
                }
            }
            for action in ["enable", "rotate-secret"] {
                let path = self.management(A, &format!("{other}/{action}"));
                let (status, body) = self.app.as_admin(session, Method::POST, &path, None).await;
                if status.is_success() {
                    return Err(format!(
                        "A's administrator reached B's webhook endpoint: POST {action} {status} {body}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Each customer's administrators, principals, clients and secrets are the model's.
    async fn check_store(&self, model: &Model) -> Checked {
        let store = &self.app.store;
        let failed = |e: trustgate_store::StoreError| format!("the store failed: {e}");
        for (i, admin) in self.admins.iter().enumerate() {
            let held = store.totp(admin.id).await.map_err(failed)?.is_some_and(|t| t.confirmed)
                || !store.passkeys(admin.id).await.map_err(failed)?.is_empty();
            if held != model.admins[i].factor && !model.admins[i].deleted {
                return Err(format!(
                    "admin {i} holds a second factor: {held}; the model says {}",
                    model.admins[i].factor
                ));
            }
        }
        for c in [A, B] {
            let customer = &self.customers[c];
            let members = store.members(customer, None, 1000).await.map_err(failed)?;
            let got: BTreeMap<String, (Access, bool, bool)> = members
                .iter()
                .map(|m| {
                    let disabled = m.admin.status == AdminStatus::Disabled;
                    (m.admin.id.to_string(), (m.access.clone(), disabled, m.pending.is_some()))
                })
                .collect();
            let want: BTreeMap<String, (Access, bool, bool)> = (0..model.admins.len())
                .filter_map(|i| {
                    let a = &model.admins[i];
                    let held = a.member[c].map(|acc| (acc, false)).or(a.pending[c].map(|acc| (acc, true)));
                    held.map(|(acc, pending)| (self.admins[i].id.to_string(), (to_access(acc), a.disabled, pending)))
                })
                .collect();
            if got != want {
                return Err(format!("customer {}'s administrators are {got:?}; the model says {want:?}", name(c)));
            }
            let (_, groups) =
                store.groups(customer, &trustgate_store::GroupFilter::All, 0, 1000).await.map_err(failed)?;
            let got: BTreeMap<String, (Access, BTreeSet<String>)> = groups
                .iter()
                .map(|g| (g.id.to_string(), (g.access.clone(), g.members.iter().map(ToString::to_string).collect())))
                .collect();
            let want: BTreeMap<String, (Access, BTreeSet<String>)> = model
                .groups_of(c)
                .into_iter()
                .map(|g| {
                    let members = model.groups[g].members.iter().map(|&m| self.admins[m].id.to_string()).collect();
                    (self.groups[g].clone(), (to_access(model.groups[g].access), members))
                })
                .collect();
            if got != want {
                return Err(format!("customer {}'s groups are {got:?}; the model says {want:?}", name(c)));
            }
            let principals = store.principals(customer, None, 1000, &Actor::System).await.map_err(failed)?;
            let got: BTreeMap<String, Access> = principals
                .iter()
                .filter_map(|p| match &p.kind {
                    ClientKind::ServicePrincipal { access } => Some((p.id.to_string(), access.clone())),
                    ClientKind::SecureClient { .. } => None,
                })
                .collect();
            let want: BTreeMap<String, Access> = model
                .principals_of(c)
                .into_iter()
                .map(|p| match model.clients[p].kind {
                    Kind::Principal { access, .. } => (self.clients[p].id.to_string(), to_access(access)),
                    Kind::Secure { .. } => unreachable!("a principal"),
                })
                .collect();
            if got != want {
                return Err(format!("customer {}'s service principals are {got:?}; the model says {want:?}", name(c)));
            }
            for (i, admin) in self.admins.iter().enumerate() {
                let got: BTreeSet<String> = store
                    .clients_of(customer, admin.id)
                    .await
                    .map_err(failed)?
                    .iter()
                    .map(|k| k.id.to_string())
                    .collect();
                let want: BTreeSet<String> =
                    model.clients_of(i, c).into_iter().map(|k| self.clients[k].id.to_string()).collect();
                if got != want {
                    return Err(format!("admin {i} owns {got:?} in customer {}; the model says {want:?}", name(c)));
                }
            }
        }
        for (k, client) in model.clients.iter().enumerate().filter(|(_, k)| k.alive) {
            let customer = &self.customers[client.customer];
            let secrets = store.client_secrets(customer, self.clients[k].id, &Actor::System).await.map_err(failed)?;
            let got: BTreeSet<String> = secrets.iter().map(|s| s.id.to_string()).collect();
            let want: BTreeSet<String> = (0..client.secrets.len())
                .filter(|&s| client.secrets[s].alive)
                .map(|s| self.clients[k].secrets[s].0.clone())
                .collect();
            if got != want {
                return Err(format!("client {k} holds secrets {got:?}; the model says {want:?}"));
            }
            let never: Vec<String> =
                secrets.iter().filter(|s| s.expires_at.is_none()).map(|s| s.id.to_string()).collect();
            if client.is_principal() && !never.is_empty() {
                return Err(format!("SP6: principal {k} holds secrets that never expire: {never:?}"));
            }
        }
        Ok(())
    }

    /// Every token is authorised as the model says, on every probe; a dead client's are refused.
    async fn check_tokens(&self, model: &Model) -> Checked {
        for (k, client) in model.clients.iter().enumerate() {
            let customer = client.customer;
            let secret = self.live_secret(model, k).to_owned();
            let (status, body) = self.grant(k, &secret).await;
            let access = model.client_access(k);
            if !client.alive {
                if !grant_refused(status, &body) {
                    return Err(format!("R6: deleted client {k} still gets {status} {body} for its secret"));
                }
                let (status, body) = self.platform(Method::GET, PROBES[1].1, k, customer, None).await;
                if status != StatusCode::UNAUTHORIZED {
                    return Err(format!("R6: deleted client {k}'s token gets {status} {body}"));
                }
                continue;
            }
            let fresh = match (status.is_success(), access.is_some()) {
                (true, true) => body["access_token"].as_str().unwrap_or_default().to_owned(),
                (false, false) => String::new(),
                _ => {
                    return Err(format!("client {k} ({access:?}, model {client:?}) asks for a token: {status} {body}"));
                }
            };
            let rotating = PROBES[(self.step + k) % PROBES.len()];
            let tokens = PROBES
                .iter()
                .map(|&p| (p, &self.clients[k].token))
                .chain((!fresh.is_empty()).then_some((rotating, &fresh)));
            for ((bit, path), token) in tokens {
                let (status, body) = self.app.get(path, token, &self.customers[customer]).await;
                let want = if access.is_some_and(|a| a.allows(bit)) { StatusCode::OK } else { StatusCode::FORBIDDEN };
                if status != want {
                    let age = if *token == fresh { "a fresh" } else { "an issued" };
                    return Err(format!(
                        "client {k} with {age} token on {path}: {status} {body}; the model says {want} ({access:?}, {client:?})"
                    ));
                }
            }
        }
        for token in &self.revoked {
            let (status, body) = self.app.get(PROBES[1].1, token, &self.customers[A]).await;
            let (status_b, _) = self.app.get(PROBES[1].1, token, &self.customers[B]).await;
            if status != StatusCode::UNAUTHORIZED && status_b != StatusCode::UNAUTHORIZED {
                return Err(format!("a revoked token gets {status} {body}"));
            }
        }
        Ok(())
    }

    /// Every administrator lists exactly their own clients and, if Full, every principal; in a
    /// customer they do not belong to, nothing (R3, SP3).
    async fn check_listings(&self, model: &Model) -> Checked {
        for i in (0..self.admins.len()).filter(|&i| !model.admins[i].deleted) {
            for c in [A, B] {
                let held = model.admin_access(i, c);
                let (status, list) = self.manage(i, Method::GET, &self.management(c, "api-clients"), None).await;
                let want = held
                    .filter(|a| a.allows(API_CLIENTS))
                    .map(|_| model.clients_of(i, c).into_iter().map(|k| self.clients[k].id.to_string()).collect());
                compare(&format!("R3: admin {i} lists the API clients of customer {}", name(c)), status, &list, want)?;
                let path = self.management(c, "service-principals");
                let (status, list) = self.manage(i, Method::GET, &path, None).await;
                let want = (held == Some(Acc::Full))
                    .then(|| model.principals_of(c).into_iter().map(|k| self.clients[k].id.to_string()).collect());
                compare(&format!("SP3: admin {i} lists the principals of customer {}", name(c)), status, &list, want)?;
            }
        }
        Ok(())
    }
}

/// A session as sign-in opens one; `None` once the administrator is gone from the store (an
/// invitee whose invitation was withdrawn, a deprovisioned user).
async fn session_for(app: &TestApp, admin: AdminId) -> Option<Session> {
    let (id, csrf) = (random_token(), random_token());
    let now = OffsetDateTime::now_utc();
    let session = trustgate_store::Session {
        admin_id: admin,
        csrf_token: csrf.clone(),
        expires_at: now + time::Duration::hours(1),
        customer_id: None,
    };
    app.store.admin(admin).await.ok().flatten()?;
    app.store.create_session(&app.server_key.digest(&id), &session, now).await.ok()?;
    Some(Session { cookie: format!("tg_session={id}"), csrf })
}

/// Opens an invitation link and posts its form, with a password, as its holder's browser would.
/// A redirect (303) is an accepted invitation.
async fn accept_as_inviter(app: &TestApp, link: &str) -> (StatusCode, Value) {
    let (status, page, cookie) = crate::harness::open_invitation(app, link).await;
    let hidden = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        page.find(&marker).and_then(|at| page[at + marker.len()..].split('"').next()).map(str::to_owned)
    };
    let (Some(csrf), Some(token), Some(cookie)) = (hidden("csrf"), hidden("token"), cookie) else {
        return (if status.is_success() { StatusCode::UNPROCESSABLE_ENTITY } else { status }, Value::String(page));
    };
    let password = "the inviter's own passphrase";
    let form = [("csrf", csrf.as_str()), ("token", &token), ("password", password), ("password_again", password)];
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let response = browser
        .post(app.url("/console/invitation"))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .expect("post the form");
    let (status, body) = status_and_json(response).await;
    (if status == StatusCode::SEE_OTHER { StatusCode::OK } else { status }, body)
}

/// The `field` of every item of a list answer.
fn listed(list: &Value, field: &str) -> BTreeSet<String> {
    list["items"].as_array().into_iter().flatten().filter_map(|i| i[field].as_str().map(str::to_owned)).collect()
}

/// A list answer against the model: `Some(ids)` must be listed exactly, `None` refused.
fn compare(what: &str, status: StatusCode, list: &Value, want: Option<BTreeSet<String>>) -> Checked {
    match want {
        Some(want) => {
            let got = listed(list, "id");
            if status != StatusCode::OK || got != want {
                return Err(format!("{what}: {status} {got:?}; the model says {want:?}"));
            }
        }
        None if status.is_success() || status.is_server_error() => {
            return Err(format!("{what}: {status} {list}; the model says it is refused"));
        }
        None => {}
    }
    Ok(())
}

/// One sequence: fresh customers, then each step applied to the server and the model, and every
/// rule checked after it.
async fn run_case(
    app: &TestApp,
    initial: Model,
    ops: Vec<Op>,
    seen: Option<Arc<AtomicUsize>>,
    tally: &Tally,
) -> Result<(), (usize, String)> {
    let mut sut = Sut::new(app).await;
    let mut model = initial;
    sut.check(&model).await.map_err(|e| (0, format!("before any step: {e}")))?;
    for (i, op) in ops.iter().enumerate() {
        if let Some(seen) = &seen {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        tally.steps.fetch_add(1, Ordering::Relaxed);
        if model.allowed(op) {
            tally.allowed.fetch_add(1, Ordering::Relaxed);
        }
        sut.apply(&model, op).await.map_err(|e| (i + 1, format!("step {}: {e}", i + 1)))?;
        model.apply(op);
        sut.check(&model).await.map_err(|e| (i + 1, format!("after step {} ({op:?}): {e}", i + 1)))?;
    }
    Ok(())
}

/// How many steps ran, and how many of them the rules allowed (the rest were refused).
#[derive(Default)]
struct Tally {
    steps: AtomicUsize,
    allowed: AtomicUsize,
}

fn explore(app: &TestApp, runtime: &tokio::runtime::Handle, store: &str) {
    let settings = Settings::from_env();
    let replay = format!(
        "TRUSTGATE_MODEL_SEED={} TRUSTGATE_MODEL_CASES={} TRUSTGATE_MODEL_STEPS={}",
        settings.seed, settings.cases, settings.steps
    );
    eprintln!(
        "model of the rules on {store}: {} sequences of up to {} steps; replay with {replay}",
        settings.cases, settings.steps
    );
    let config = Config {
        cases: settings.cases,
        max_shrink_iters: settings.shrink,
        failure_persistence: None,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&settings.seed.to_le_bytes());
    }
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let started = std::time::Instant::now();
    let tally = Tally::default();
    // The last failing sequence as it ran (the shortest, once shrinking is done).
    let last_failure: Mutex<Option<(String, Vec<Op>)>> = Mutex::new(None);
    let result = runner.run(&Rules::sequential_strategy(1..=settings.steps), |(initial, ops, seen)| {
        let mut ran = ops.clone();
        runtime.block_on(run_case(app, initial, ops, seen, &tally)).map_err(|(steps, reason)| {
            ran.truncate(steps);
            *last_failure.lock().expect("not poisoned") = Some((reason.clone(), ran));
            TestCaseError::fail(reason)
        })
    });
    eprintln!(
        "model of the rules on {store}: {} steps ({} allowed, the rest refused) in {:.1?}",
        tally.steps.load(Ordering::Relaxed),
        tally.allowed.load(Ordering::Relaxed),
        started.elapsed()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(..)) => {
            let (reason, ops) = last_failure.lock().expect("not poisoned").take().expect("a failing sequence");
            let steps: Vec<String> = ops.iter().enumerate().map(|(i, op)| format!("  {:>2}. {op:?}", i + 1)).collect();
            panic!(
                "a sequence breaks the rules on {store}: {reason}\nminimal sequence ({} steps; customer 0 is A, 1 is B; \
                 admins 0-3 and clients 0-3 as in Model::initial):\n{}\nreplay with {replay}",
                ops.len(),
                steps.join("\n")
            );
        }
        Err(TestError::Abort(reason)) => panic!("the model's run stopped on {store}: {reason} (replay with {replay})"),
    }
}

/// Issue #20 item 8: the hostile customer's administrators and clients, and the victim's own,
/// act at random through the API and the CLI; after every step, every rule still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_of_operations_by_two_customers_breaks_the_rules() {
    // Webhook receivers run on this machine's loopback interface.
    let config = trustgate_server::ServerConfig { webhooks_allow_private: true, ..Default::default() };
    let Some(app) = super::app_with(config).await else { return };
    let store = if app.database_url().is_some() { "PostgreSQL" } else { "SQLite" };
    // The CLI's changes reach this node's caches before the command returns, as with `serve`.
    let _socket = trustgate_server::control_socket::ControlSocket::open(app.dir.path(), app.state.clone())
        .await
        .expect("the control socket");
    let app = Arc::new(app);
    let runtime = tokio::runtime::Handle::current();
    let explored = app.clone();
    let outcome = tokio::task::spawn_blocking(move || explore(&explored, &runtime, store)).await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
