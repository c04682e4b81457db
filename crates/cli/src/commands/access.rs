//! Access as the command line gives it (`--access`, `--permission`) and prints it.

use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use trustgate_core::access::Access;
use trustgate_core::catalog::Catalog;
use trustgate_store::Store;

use super::failure::{given, Failure};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AccessArg {
    /// Everything in the customer.
    Full,
    /// Only the permissions given with --permission (at least one).
    Custom,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Full access, or Custom with the permissions of --permission.
    #[arg(long, value_enum)]
    pub access: AccessArg,
    /// A permission for Custom access (repeat, or separate with commas): a Platform one
    /// (administrators, apiClients, notifications, systemLog, resourceLocations) or one of the
    /// catalog's, written service.name (orders.read).
    #[arg(long = "permission", value_delimiter = ',')]
    pub permissions: Vec<String>,
}

impl AccessArgs {
    /// Reads the options against the stored catalog, the one every node offers.
    pub(super) async fn access(&self, store: &dyn Store) -> anyhow::Result<Access> {
        let catalog = store.catalog().await?;
        Ok(self.access_in(&catalog)?)
    }

    fn access_in(&self, catalog: &Catalog) -> Result<Access, Failure> {
        let set = given("--permission", self.permissions.iter().map(|p| catalog.resolve(p)).collect())?;
        let access = match self.access {
            AccessArg::Full if !self.permissions.is_empty() => {
                return Err(Failure::invalid("--permission applies to --access custom only"))
            }
            AccessArg::Full => Access::Full,
            AccessArg::Custom => Access::Custom(set),
        };
        // The store refuses it too, whatever the path; said here in the words of the command line.
        trustgate_core::lifecycle::grantable(&access).map_err(|_| {
            let names = catalog.entries().map(|e| e.permission.to_string()).collect::<Vec<_>>().join(", ");
            Failure::invalid(format!("--access custom needs at least one --permission ({names})"))
        })?;
        Ok(access)
    }
}

/// As the Administrators API answers: Full access lists no policies, since it holds every one.
pub(super) fn access_json(access: &Access) -> Value {
    match access {
        Access::Full => json!({ "accessType": "Full", "policies": null }),
        Access::Custom(set) => {
            json!({ "accessType": "Custom", "policies": set.iter().map(ToString::to_string).collect::<Vec<_>>() })
        }
    }
}

pub(super) fn access_text(access: &Access) -> String {
    match access {
        Access::Full => "Full".to_owned(),
        Access::Custom(set) => {
            format!("Custom: {}", set.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

/// The customer a command is about (`--customer`).
#[derive(Debug, Args)]
pub struct CustomerArg {
    /// The customer's id (see `trustgate customer list`).
    #[arg(id = "customer", long = "customer", value_name = "CUSTOMER")]
    pub id: String,
}
