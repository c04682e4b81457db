/// Why a value given by a caller was refused; `field` names the input, `kind` follows the
/// Citrix error catalogue (`missing`, `tooLong`, `invalidString`, `invalidEnum`, `outOfRange`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct ValidationError {
    pub field: &'static str,
    pub kind: &'static str,
    pub detail: String,
}

impl ValidationError {
    pub fn missing(field: &'static str) -> Self {
        Self { field, kind: "missing", detail: format!("{field} is required") }
    }

    pub fn too_long(field: &'static str, max: usize) -> Self {
        Self { field, kind: "tooLong", detail: format!("{field} must be at most {max} characters") }
    }

    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self { field, kind: "invalidString", detail: detail.into() }
    }

    pub fn invalid_enum(field: &'static str, allowed: &[&str]) -> Self {
        Self { field, kind: "invalidEnum", detail: format!("{field} must be one of: {}", allowed.join(", ")) }
    }

    pub fn out_of_range(field: &'static str, detail: impl Into<String>) -> Self {
        Self { field, kind: "outOfRange", detail: detail.into() }
    }
}

/// Trims surrounding whitespace and the zero-width characters that copying from web pages drags along.
pub(crate) fn trim_pasted(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}'))
}

/// A short human label (names of clients, customers, administrators): 1..=max characters, no control characters.
pub(crate) fn label(field: &'static str, text: &str, max: usize) -> Result<String, ValidationError> {
    let text = trim_pasted(text);
    if text.is_empty() {
        return Err(ValidationError::missing(field));
    }
    if text.chars().count() > max {
        return Err(ValidationError::too_long(field, max));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::invalid(field, format!("{field} must not contain control characters")));
    }
    Ok(text.to_owned())
}
