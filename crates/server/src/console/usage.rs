//! How to use a client just created (issue #22 item 11): where its script gets a token, the
//! headers every call carries, and a curl example to paste. Shown only in the one-time dialog,
//! beside the Secret it contains, so it lives exactly as long as that one page view.

use trustgate_core::access::{Access, Permission};
use trustgate_core::ids::{ClientId, CustomerId};

use crate::oauth::discovery::TOKEN_PATH;

/// The example's API call: the first of these the client's access allows, so the example
/// answers 200 rather than 403.
const EXAMPLE_CALLS: [(Permission, &str); 3] = [
    (Permission::SYSTEM_LOG, "/systemlog/records"),
    (Permission::NOTIFICATIONS, "/notifications/items"),
    (Permission::ADMINISTRATORS, "/administrators"),
];

pub struct Usage {
    pub token_url: String,
    pub customer_id: String,
    /// `None` when the client may call none of the example APIs: the example then prints the token.
    pub api_url: Option<String>,
    pub curl: String,
}

impl Usage {
    /// `public_url` is the issuer's URL, where this Trustgate is reached.
    pub fn new(public_url: &str, customer: &CustomerId, id: ClientId, secret: &str, access: &Access) -> Self {
        let base = public_url.trim_end_matches('/');
        let token_url = format!("{base}{TOKEN_PATH}");
        let api_url = EXAMPLE_CALLS.iter().find(|(p, _)| access.allows(p)).map(|(_, path)| format!("{base}{path}"));
        // sed rather than jq: every shell that has curl has sed.
        let mut curl = format!(
            "TOKEN=$(curl -sS {} \\\n  --data-urlencode grant_type=client_credentials \\\n  --data-urlencode {} \\\n  --data-urlencode {} \\\n  | sed -n 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/p')\n",
            quoted(&token_url),
            quoted(&format!("client_id={id}")),
            quoted(&format!("client_secret={secret}")),
        );
        match &api_url {
            Some(api) => curl.push_str(&format!(
                "curl -sS {} \\\n  -H \"Authorization: CwsAuth Bearer=$TOKEN\" \\\n  -H {}",
                quoted(api),
                quoted(&format!("Citrix-CustomerId: {customer}")),
            )),
            None => curl.push_str("echo \"$TOKEN\""),
        }
        Self { token_url, customer_id: customer.to_string(), api_url, curl }
    }
}

/// One POSIX shell word, whatever `s` holds.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustgate_core::access::PermissionSet;

    #[test]
    fn the_example_calls_an_api_the_client_may_call_and_quotes_every_value() {
        let customer = CustomerId::parse("acme").unwrap();
        let id = ClientId::generate();
        let full = Usage::new("https://id.example.com/", &customer, id, "tgs_x'y", &Access::Full);
        assert_eq!(full.token_url, "https://id.example.com/cctrustoauth2/root/tokens/clients");
        assert_eq!(full.api_url.as_deref(), Some("https://id.example.com/systemlog/records"));
        assert!(full.curl.contains(r"'client_secret=tgs_x'\''y'"), "{}", full.curl);
        assert!(full.curl.contains("-H 'Citrix-CustomerId: acme'"), "{}", full.curl);

        let notifications = Access::Custom(PermissionSet::from_iter([Permission::NOTIFICATIONS]));
        let limited = Usage::new("https://id.example.com", &customer, id, "s", &notifications);
        assert_eq!(limited.api_url.as_deref(), Some("https://id.example.com/notifications/items"));

        let none = Usage::new("https://id.example.com", &customer, id, "s", &Access::Custom(PermissionSet::empty()));
        assert_eq!(none.api_url, None);
        assert!(none.curl.ends_with("echo \"$TOKEN\""), "{}", none.curl);
    }
}
