//! Operations that more than one front door performs (management API, operator CLI, console),
//! so each rule is enforced in one place whatever the path.

use std::net::IpAddr;

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{parse_client_name, ApiClient};
use trustgate_core::event::{self, Actor};
use trustgate_core::ids::{AdminId, ClientId, CustomerId, ScimTokenId};
use trustgate_core::provisioning::{self, ProvisioningToken, ScimToken};
use trustgate_core::secret::{ClientSecret, ServerKey};
use trustgate_core::ValidationError;
use trustgate_store::{Member, Store};

use crate::error::ApiError;
use crate::password;
use crate::refusals::Subject;
use crate::state::AppState;
use crate::throttle::retry_after_secs;

/// Creates an API client owned by `owner` in `customer` (R1) and returns its secret, the only
/// time it exists in clear (R2). Refused once the owner holds `cap` clients there.
pub async fn new_client(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    owner: &Admin,
    name: &str,
    cap: u64,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let client = ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        owner_id: owner.id,
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    };
    let secret = ClientSecret::generate();
    store.create_client(&client, &server_key.verifier(&secret), cap, actor).await?;
    Ok((client, secret))
}

/// Who an administrator-management operation adds, as the caller described them.
pub struct NewAdmin {
    pub email: Email,
    pub display_name: String,
    pub provider: Provider,
    /// The subject at a federated provider; ignored for local administrators.
    pub external_id: Option<String>,
}

impl NewAdmin {
    /// The administrator to create if the store knows no one with the same identity.
    pub fn candidate(self) -> Admin {
        Admin {
            id: AdminId::generate(),
            external_id: if self.provider.is_federated() { self.external_id } else { None },
            email: self.email,
            display_name: self.display_name,
            provider: self.provider,
            status: AdminStatus::Active,
            created_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Adds an administrator to `customer` with `access`. Who may, and how an existing person is
/// recognised, is decided inside the store's transaction (`trustgate_core::lifecycle`).
pub async fn add_admin(
    store: &dyn Store,
    customer: &CustomerId,
    new: NewAdmin,
    access: Access,
    actor: &Actor,
) -> Result<Member, ApiError> {
    Ok(store.add_admin(customer, &new.candidate(), None, access, actor).await?.0)
}

/// Checks an administrator's e-mail and password from `source`. A success is written to the system
/// log of every customer the administrator belongs to; failures are counted there (R10, at most
/// one record per administrator and customer per window) and throttled per e-mail and source
/// address. An unknown e-mail costs the same reads and hash as a wrong password, and is throttled
/// alike, so neither the time nor a 429 tells whether an account exists.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    source: Option<IpAddr>,
) -> Result<Admin, ApiError> {
    let email = Email::parse(email)?;
    if password.len() > password::MAX_PASSWORD_LEN {
        return Err(ValidationError::too_long("password", password::MAX_PASSWORD_LEN).into());
    }
    let key = (email, source);
    if let Err(wait) = state.throttles.sign_ins.check(&key) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    let store = state.store.as_ref();
    let admin = store.admin_by_email(&key.0).await?;
    let id = admin.as_ref().map_or_else(AdminId::generate, |a| a.id);
    let stored = store.password_hash(id).await?;
    let matches = password::verify(password, stored).await?;
    let memberships = store.memberships(id).await?;
    let now = OffsetDateTime::now_utc();
    let Some(admin) = admin else {
        state.throttles.sign_ins.failed(&key);
        return Err(bad_sign_in());
    };
    if matches {
        for membership in &memberships {
            store.append_log(&event::sign_in(&membership.customer.id, &admin, true, now)).await?;
        }
        return Ok(admin);
    }
    state.throttles.sign_ins.failed(&key);
    for membership in memberships {
        let entry = || event::sign_in(&membership.customer.id, &admin, false, now);
        state.refused(&Subject::SignIn(membership.customer.id.clone(), admin.clone()), entry, source).await;
    }
    Err(bad_sign_in())
}

fn bad_sign_in() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "Invalid e-mail or password." }
}

/// Creates a SCIM provisioning token for `customer` and returns it in clear, the only time it
/// exists so. Only a Full administrator (or the operator) may; the store checks it.
pub async fn new_scim_token(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    name: &str,
    provider: &str,
    created_by: &str,
    actor: &Actor,
) -> Result<(ScimToken, ProvisioningToken), ApiError> {
    let token = ScimToken {
        id: ScimTokenId::generate(),
        customer_id: customer.clone(),
        name: provisioning::parse_token_name(name)?,
        provider: provisioning::parse_token_provider(provider)?,
        created_at: OffsetDateTime::now_utc(),
        created_by: created_by.to_owned(),
    };
    let secret = ProvisioningToken::generate();
    store.create_scim_token(&token, &server_key.digest(secret.expose()), actor).await?;
    Ok((token, secret))
}
