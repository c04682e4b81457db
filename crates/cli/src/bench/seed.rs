//! Seeding the scratch store: customers, administrators, API clients and principals in bulk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::client_secrets::NewSecret;
use trustgate_core::customer::{Customer, DisabledOwnerPolicy};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, SecretId};
use trustgate_store::Store;

use trustgate_server::actions;
use trustgate_server::keys::server_key_file;

use super::BenchArgs;

/// The catalog the seed applies with `--gateway`: without a rule for the path the gateway figure
/// asks about, every decision would be the closed-by-default 403 and the figure would measure
/// refusals. The rule needs `notifications`, which every owner of the hot set holds.
pub(super) const BENCH_CATALOG: &str = r#"
[[route]]
method = "GET"
path = "/notifications/items"
permission = "notifications"
"#;

pub(super) struct Seeded {
    /// (customer, admin) of every owner, for access changes under load.
    pub(super) owners: Vec<(CustomerId, AdminId)>,
    /// The hot set: a spread of up to 5,000 clients of Custom-access owners.
    pub(super) creds: Vec<(CustomerId, String, String)>,
    /// The same for service principals, whose grants are measured next to the clients'.
    pub(super) principal_creds: Vec<(CustomerId, String, String)>,
    /// `customer id secret` lines of every client but the one the attack scenario locks out: the
    /// uniform working set.
    pub(super) all_creds: PathBuf,
}

/// Service principals seeded in each customer (a few: automation identities, not one per person).
pub(super) const PRINCIPALS_PER_CUSTOMER: u32 = 4;

/// Owners hold Custom access, so every call evaluates a permission set live.
pub(super) fn owner_access(wide: bool) -> Access {
    let base = [Permission::NOTIFICATIONS, Permission::API_CLIENTS];
    if wide {
        Access::Custom(base.into_iter().chain([Permission::SYSTEM_LOG]).collect())
    } else {
        Access::Custom(base.into_iter().collect())
    }
}

/// Unknown client ids the bench repeats, and clients the peer is given.
pub(super) const UNKNOWN_IDS: usize = 1_000;
pub(super) const PEER_CLIENTS: usize = 1_000;

/// `id secret` lines of `count` made-up clients, in Trustgate's formats.
pub(super) fn fresh_creds(count: usize) -> String {
    (0..count).map(|_| format!("{} {}\n", ClientId::generate(), ClientSecret::generate().expose())).collect()
}

/// Clients per bulk insert: one transaction each, so progress shows and memory stays small.
pub(super) const SEED_BATCH: usize = 20_000;

pub(super) async fn seed(
    store: &dyn Store,
    data_dir: &Path,
    scratch: &Path,
    args: &BenchArgs,
) -> anyhow::Result<Seeded> {
    use std::io::Write as _;
    let key = server_key_file::load_ring(data_dir)?.current().clone();
    let now = OffsetDateTime::now_utc();
    let per_admin = args.clients.div_ceil(args.admins.max(1));
    let sample_every = (args.clients / 5_000).max(1);
    let (mut owners, mut creds, mut principal_creds) = (Vec::new(), Vec::new(), Vec::new());
    if args.gateway {
        // As `trustgate catalog apply` does: the file's checks, then the store's one transaction.
        let catalog = trustgate_server::gateway::catalog_file::parse(BENCH_CATALOG)?;
        store.apply_catalog(&catalog, false, &Actor::System).await?;
    }
    let all_creds = scratch.join("all-creds.txt");
    let mut all = std::io::BufWriter::new(std::fs::File::create(&all_creds)?);
    let mut batch = Vec::with_capacity(SEED_BATCH);
    let started = Instant::now();
    let mut made = 0u32;
    for c in 0..args.customers {
        let customer = Customer {
            id: CustomerId::parse(&format!("bench{c:05}"))?,
            name: format!("Bench customer {c}"),
            disabled_owner_policy: DisabledOwnerPolicy::KeepActive,
            require_local_mfa: false,
            lost_access_policy: trustgate_core::customer::LostAccessPolicy::RemoveFromCustomer,
            created_at: now,
        };
        store.create_customer(&customer, &Actor::System).await?;
        for _ in 0..PRINCIPALS_PER_CUSTOMER {
            let (principal, secret) = actions::clients::new_principal(
                store,
                &key,
                &customer.id,
                "bench",
                owner_access(true),
                None,
                &Actor::System,
            )
            .await?;
            principal_creds.push((customer.id.clone(), principal.id.to_string(), secret.expose().to_owned()));
        }
        for a in 0..(args.admins / args.customers.max(1)) {
            let admin = Admin {
                id: AdminId::generate(),
                email: Email::parse(&format!("admin{a}@{}.bench.test", customer.id))?,
                display_name: format!("Bench admin {a}"),
                provider: Provider::Local,
                external_id: None,
                provider_id: None,
                status: AdminStatus::Active,
                created_at: now,
            };
            store.create_admin(&admin, None).await?;
            let access = if a == 0 { Access::Full } else { owner_access(true) };
            store.add_member(&customer.id, admin.id, access, &Actor::System).await?;
            if a != 0 {
                owners.push((customer.id.clone(), admin.id));
            }
            for _ in 0..per_admin {
                if made >= args.clients {
                    break;
                }
                let client = ApiClient {
                    id: ClientId::generate(),
                    customer_id: customer.id.clone(),
                    kind: ClientKind::SecureClient { owner: admin.id },
                    name: "bench".to_owned(),
                    created_at: now,
                    last_used_at: None,
                };
                let secret_id = SecretId::generate();
                let secret = ClientSecret::generate_as(secret_id);
                let sampled = made.is_multiple_of(sample_every) && a != 0;
                // The first sampled client is the one the attack scenario locks out.
                if !(sampled && creds.is_empty()) {
                    writeln!(all, "{} {} {}", customer.id, client.id, secret.expose())?;
                }
                if sampled {
                    creds.push((customer.id.clone(), client.id.to_string(), secret.expose().to_owned()));
                }
                batch.push((
                    client,
                    NewSecret { id: secret_id, verifier: key.verifier(&secret), created_at: now, expires_at: None },
                ));
                if batch.len() == SEED_BATCH {
                    store.seed_clients(&batch).await?;
                    batch.clear();
                }
                made += 1;
                if made.is_multiple_of(100_000) {
                    eprintln!("  seeded {made} clients ({:.0}/s)", f64::from(made) / started.elapsed().as_secs_f64());
                }
            }
        }
    }
    store.seed_clients(&batch).await?;
    store.refresh_statistics().await?;
    all.flush()?;
    eprintln!("  seeded {made} clients in {:.1}s", started.elapsed().as_secs_f64());
    Ok(Seeded { owners, creds, principal_creds, all_creds })
}
