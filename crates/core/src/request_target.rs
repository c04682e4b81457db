//! What the gateway's decision takes as the path of a proxied request, and which request targets
//! it refuses because the services behind a proxy would read them differently (issue #20).
//!
//! A rule `GET /files/*` is only as good as the agreement between the path it is matched against
//! and the path the backend finally serves. Backends disagree on dot segments hidden behind
//! encodings (`%2e`, a double-encoded `%252e`, the overlong UTF-8 `%c0%ae`, the fullwidth dot that
//! best-fit mappings turn into `.`), on `;` parameters inside a segment (Tomcat and Spring read
//! `..;` as `..`), on fragments that nginx forwards raw, and on repeated or empty slashes. Rather
//! than guess how a given backend normalises, the decision refuses every such target with 400.
//!
//! The path is the target up to its first `?`, as the proxy sent it, never decoded; the query is
//! not read.

use crate::validate::ValidationError;

/// The header or parameter the target arrived in, named in the refusal.
const FIELD: &str = "request target";

/// The path of `target`, checked: it starts with `/`; every byte is printable ASCII; it holds no
/// fragment, no `;`, no backslash, no empty, `.` or `..` segment (one trailing slash is allowed); and its percent-escapes are
/// well formed and stand for printable ASCII other than `.`, `/`, `\`, `;`, `%`, `?` and `#`.
/// Escaped non-ASCII bytes are refused outright: overlong and best-fit forms of the characters
/// above are spelled with them.
pub fn path_of(target: &str) -> Result<&str, ValidationError> {
    if target.contains('#') {
        return Err(refused("holds a fragment ('#'), which a proxy may forward as part of the path"));
    }
    if let Some(byte) = target.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(refused(format!("holds the byte 0x{byte:02x}; only printable ASCII is read")));
    }
    let path = target.split('?').next().unwrap_or_default();
    let Some(body) = path.strip_prefix('/') else {
        return Err(refused("does not start with '/'"));
    };
    if path.contains(';') {
        return Err(refused("holds ';', which some servers read as a parameter ('..;' as '..')"));
    }
    if path.contains('\\') {
        return Err(refused("holds a backslash, which some servers read as '/'"));
    }
    // One trailing slash is how many SDKs spell a collection (`/api/orders/`): it ends the path
    // rather than opening an empty segment. Two (`/api/orders//`) are still refused.
    let body = match body.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => body,
    };
    if body.is_empty() {
        return Ok(path);
    }
    for segment in body.split('/') {
        match segment {
            "" => return Err(refused("holds an empty segment ('//'), which some servers merge")),
            "." | ".." => return Err(refused("holds a dot segment")),
            _ => check_escapes(segment)?,
        }
    }
    Ok(path)
}

fn check_escapes(segment: &str) -> Result<(), ValidationError> {
    let bytes = segment.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'%') {
        let start = at + offset;
        let hex = bytes.get(start + 1..start + 3).and_then(|h| std::str::from_utf8(h).ok());
        let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
            return Err(refused("holds a '%' that is not followed by two hex digits"));
        };
        if !(0x20..=0x7e).contains(&byte) {
            return Err(refused(format!(
                "holds the escaped byte %{byte:02X}; escaped control and non-ASCII bytes are refused"
            )));
        }
        if matches!(byte, b'.' | b'/' | b'\\' | b';' | b'%' | b'?' | b'#') {
            return Err(refused(format!("holds an escaped '{}', which servers decode differently", byte as char)));
        }
        at = start + 3;
    }
    Ok(())
}

fn refused(why: impl Into<String>) -> ValidationError {
    ValidationError::invalid(FIELD, format!("the request target {}", why.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_and_the_query_is_left_out() {
        assert_eq!(path_of("/orders/42?full=1&x=%2e%2e"), Ok("/orders/42"));
        assert_eq!(path_of("/"), Ok("/"));
        assert_eq!(path_of("/files/a%20b/c~d-e_f.txt"), Ok("/files/a%20b/c~d-e_f.txt"));
        assert_eq!(path_of("/files/..a/a..b"), Ok("/files/..a/a..b"));
        // Citrix SDKs end collection paths with a slash (issue #22).
        assert_eq!(path_of("/api/orders/"), Ok("/api/orders/"));
        assert_eq!(path_of("/api/orders/?page=2"), Ok("/api/orders/"));
    }

    /// Each target a backend reads as `/admin/users` (or some other place than it says) while
    /// the rule `GET /files/*` would match it as written.
    #[test]
    fn targets_that_backends_normalise_differently_are_refused() {
        for target in [
            "/files/..;/admin/users",
            "/files/x;jsessionid=1/y",
            "/files/%2e%2e/admin/users",
            "/files/%2E./admin",
            "/files/%252e%252e/admin/users",
            "/files/%c0%ae%c0%ae/admin/users",
            "/files/%ef%bc%8e%ef%bc%8e/admin/users",
            "/files/x#/../../admin/users",
            "/files/../admin/users",
            "/files/./x",
            "/files//x",
            "/files/x//",
            "//",
            "/files/../",
            "/files/a%2fb",
            "/files/a%5cb",
            "/files\\..\\admin",
            "/files/%00",
            "/files/%zz",
            "/files/%4",
            "/files/\u{ff0e}\u{ff0e}/admin",
            "/files/a b",
            "files/x",
            "",
        ] {
            assert!(path_of(target).is_err(), "{target:?} passed");
        }
    }
}
