//! The filters this service provider answers (RFC 7644 §3.4.2.2): `userName eq "…"` and
//! `externalId eq "…"`, the two that Entra ID and Okta send before creating a user. Anything
//! else is refused with `invalidFilter`, never answered with a wrong list.

use trustgate_store::ScimFilter;

use super::error::ScimError;
use super::resource::attribute_name;

pub fn parse(text: Option<&str>) -> Result<ScimFilter, ScimError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(ScimFilter::All) };
    let refuse = || {
        ScimError::bad_request(
            "invalidFilter",
            "only the filters userName eq \"…\" and externalId eq \"…\" are supported",
        )
    };
    let (attribute, rest) = text.split_once(char::is_whitespace).ok_or_else(refuse)?;
    let (operator, value) = rest.trim_start().split_once(char::is_whitespace).ok_or_else(refuse)?;
    if !operator.eq_ignore_ascii_case("eq") {
        return Err(refuse());
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| refuse())?;
    // No stored name holds one (they are refused on write), and PostgreSQL cannot compare with a
    // NUL: refused here as the bad input it is, not a 500 (issue #20).
    if value.chars().any(char::is_control) {
        return Err(refuse());
    }
    match attribute_name(attribute).to_ascii_lowercase().as_str() {
        "username" => Ok(ScimFilter::UserName(value)),
        "externalid" => Ok(ScimFilter::ExternalId(value)),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_and_external_id_equality_are_the_supported_filters() {
        assert_eq!(
            parse(Some("userName eq \"ada@example.com\"")).ok(),
            Some(ScimFilter::UserName("ada@example.com".into()))
        );
        assert_eq!(parse(Some("EXTERNALID Eq \"x 1\"")).ok(), Some(ScimFilter::ExternalId("x 1".into())));
        assert_eq!(
            parse(Some("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"")).ok(),
            Some(ScimFilter::UserName("a".into()))
        );
        assert_eq!(parse(None).ok(), Some(ScimFilter::All));
        for refused in
            ["userName sw \"a\"", "displayName eq \"a\"", "userName eq a", "userName", "userName eq \"a\\u0000\""]
        {
            assert_eq!(parse(Some(refused)).err().and_then(|e| e.scim_type), Some("invalidFilter"), "{refused}");
        }
    }
}
