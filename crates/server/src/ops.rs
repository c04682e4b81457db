//! Operations that more than one front door performs (management API, operator CLI, console),
//! so each rule is enforced in one place whatever the path.

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{parse_client_name, ApiClient};
use trustgate_core::event::{self, Actor};
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, ServerKey};
use trustgate_core::ValidationError;
use trustgate_store::{Member, Store};

use crate::error::ApiError;
use crate::password;

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

/// Checks an administrator's e-mail and password. Every customer the administrator belongs to
/// logs the attempt, success or failure (R10); an unknown e-mail takes as long as a wrong password.
pub async fn authenticate(store: &dyn Store, email: &str, password: String) -> Result<Admin, ApiError> {
    let email = Email::parse(email)?;
    if password.len() > password::MAX_PASSWORD_LEN {
        return Err(ValidationError::too_long("password", password::MAX_PASSWORD_LEN).into());
    }
    let admin = store.admin_by_email(&email).await?;
    let stored = match &admin {
        Some(a) => store.password_hash(a.id).await?,
        None => None,
    };
    let matches = password::verify(password, stored).await;
    let now = OffsetDateTime::now_utc();
    let Some(admin) = admin else { return Err(bad_sign_in()) };
    for membership in store.memberships(admin.id).await? {
        store.append_log(&event::sign_in(&membership.customer.id, &admin, matches, now)).await?;
    }
    if matches {
        Ok(admin)
    } else {
        Err(bad_sign_in())
    }
}

fn bad_sign_in() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "Invalid e-mail or password." }
}
