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
    if let Some(hidden) = text.chars().find(|&c| is_invisible(c)) {
        return Err(ValidationError::invalid(
            field,
            format!(
                "{field} must not contain invisible or bidirectional-control characters (found U+{:04X}); \
                 they can make a name display as something else",
                u32::from(hidden)
            ),
        ));
    }
    Ok(text.to_owned())
}

/// Characters that draw nothing or reorder what follows: Unicode's format characters (category
/// Cf: the bidirectional overrides, embeddings and isolates, zero-width characters, soft hyphen,
/// tags, …), the line and paragraph separators, and the fillers that render as blank. A
/// right-to-left override alone makes `gnp.exe` display as `exe.png`.
/// Source: https://www.unicode.org/Public/UCD/latest/ucd/extracted/DerivedGeneralCategory.txt
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

pub(crate) fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    INVISIBLE.iter().any(|&(low, high)| (low..=high).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_bidirectional_controls_and_invisible_characters() {
        for name in [
            "gnp\u{202E}exe.png",
            "a\u{2066}b\u{2069}",
            "zero\u{200B}width",
            "soft\u{00AD}hyphen",
            "tag\u{E0041}",
            "line\u{2028}break",
            "filler\u{3164}",
        ] {
            let refused = label("name", name, 100).unwrap_err();
            assert_eq!(refused.kind, "invalidString", "{name:?}");
            assert!(refused.detail.contains("invisible or bidirectional-control"), "{}", refused.detail);
        }
        assert_eq!(label("name", "Zoë's café – 東京 ✓", 100), Ok("Zoë's café – 東京 ✓".to_owned()));
        assert_eq!(label("name", "\u{200B}pasted\u{FEFF}", 100), Ok("pasted".to_owned()), "trimmed at the ends");
    }
}
