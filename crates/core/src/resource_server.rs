//! Resource servers (issue #10): services that receive Trustgate tokens directly and ask the
//! introspection endpoint (RFC 7662) whether one is active. Each is a deployment-level credential
//! the operator creates: it belongs to no customer, and its secret is kept only as a verifier.

use time::OffsetDateTime;

use crate::access::PolicyName;
use crate::ids::ResourceServerId;
use crate::validate::ValidationError;

/// A resource server as listed: never its verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceServer {
    pub id: ResourceServerId,
    /// Unique in the deployment; the operator names it after the service (`orders`).
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// A resource server's name: the shape of a catalog service name, so the two can match.
pub fn parse_name(text: &str) -> Result<String, ValidationError> {
    PolicyName::parse("name", text).map(|name| name.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_the_shape_of_a_service_name() {
        assert_eq!(parse_name(" orders ").as_deref(), Ok("orders"));
        assert!(parse_name("").is_err());
        assert!(parse_name("orders api").is_err());
        assert!(parse_name(&"a".repeat(37)).is_err());
    }
}
