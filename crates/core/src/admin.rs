//! Administrators: local (password sign-in) or federated from an external identity provider.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::AdminId;
use crate::validate::{label, trim_pasted, ValidationError};

/// Where an administrator's identity lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Signs in to Trustgate with e-mail and password (`CitrixSts` on the Citrix wire, as is
    /// Okta, which Citrix names only as an external provider).
    Local,
    AzureAd,
    Okta,
    Google,
    Ad,
}

impl Provider {
    pub const ALL: [Provider; 5] = [Provider::Local, Provider::AzureAd, Provider::Okta, Provider::Google, Provider::Ad];

    /// The stored name, also the console's and the CLI's; the server maps it to Citrix's
    /// `providerType` and `externalProviderType`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Provider::Local => "CitrixSts",
            Provider::AzureAd => "AzureAd",
            Provider::Okta => "Okta",
            Provider::Google => "Google",
            Provider::Ad => "Ad",
        }
    }

    /// Accepts the wire names and the CLI spellings (`local`, `azure-ad`), case-insensitively.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let wanted = text.trim().replace(['-', '_'], "").to_ascii_lowercase();
        if wanted == "local" {
            return Ok(Provider::Local);
        }
        Self::ALL
            .into_iter()
            .find(|p| p.wire_name().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| ValidationError::invalid_enum("providerType", &Self::ALL.map(Provider::wire_name)))
    }

    pub fn is_federated(self) -> bool {
        self != Provider::Local
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Whether the administrator's identity provider currently lets them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminStatus {
    Active,
    Disabled,
}

impl AdminStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminStatus::Active => "active",
            AdminStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(AdminStatus::Active),
            "disabled" => Some(AdminStatus::Disabled),
            _ => None,
        }
    }
}

/// A normalised e-mail address: trimmed, lower-case, one `@` with text on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = trim_pasted(text).to_lowercase();
        if text.is_empty() {
            return Err(ValidationError::missing("email"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(ValidationError::too_long("email", Self::MAX_LEN));
        }
        let valid = matches!(text.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(ValidationError::invalid("email", "email must look like name@example.com"));
        }
        Ok(Self(text))
    }

    /// An address given for a new administrator or invitee: as `parse`, and the domain must be a
    /// name with a dot and no empty label (`name@example.com`, not `a@b`). Stored addresses are
    /// read with `parse`, so one accepted before this check still loads.
    pub fn parse_new(text: &str) -> Result<Self, ValidationError> {
        let email = Self::parse(text)?;
        let domain = email.0.rsplit_once('@').map_or("", |(_, domain)| domain);
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(ValidationError::invalid("email", "email must look like name@example.com"));
        }
        Ok(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Display names follow the Citrix rule: at most 256 characters, none of `< > : / \`.
pub fn parse_display_name(text: &str) -> Result<String, ValidationError> {
    let name = label("displayName", text, 256)?;
    if name.contains(['<', '>', ':', '/', '\\']) {
        return Err(ValidationError::invalid("displayName", "displayName must not contain < > : / \\"));
    }
    Ok(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: AdminId,
    pub email: Email,
    pub display_name: String,
    pub provider: Provider,
    /// The id at the external provider; `None` for local administrators.
    pub external_id: Option<String>,
    /// Which directory of the provider the administrator comes from, as Citrix's `providerId`:
    /// the Azure AD (Entra) tenant id, or the Active Directory domain. `None` when not given.
    pub provider_id: Option<String>,
    pub status: AdminStatus,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_from_wire_and_cli_spellings() {
        assert_eq!(Provider::parse("azure-ad"), Ok(Provider::AzureAd));
        assert_eq!(Provider::parse("CitrixSts"), Ok(Provider::Local));
        assert_eq!(Provider::parse("local"), Ok(Provider::Local));
        assert!(Provider::parse("ldap").is_err());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse(" Ada@Example.COM ").map(|e| e.0), Ok("ada@example.com".to_owned()));
        assert!(Email::parse_new("a@b").is_err());
        assert!(Email::parse_new("a@b.").is_err());
        assert!(Email::parse_new("a@.b").is_err());
        assert_eq!(Email::parse_new("Ada@Example.com").map(|e| e.0), Ok("ada@example.com".to_owned()));
        assert!(Email::parse("ada").is_err());
        assert!(Email::parse("a@b@c").is_err());
    }

    #[test]
    fn display_names_refuse_markup_characters() {
        assert!(parse_display_name("Ada <script>").is_err());
        assert_eq!(parse_display_name(" Ada Lovelace "), Ok("Ada Lovelace".to_owned()));
    }
}
