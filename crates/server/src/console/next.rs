//! Where to go after signing in: the console page a signed-out visitor asked for. Only a path of
//! this console on this origin is followed, never another site (an open redirect would let a
//! phishing link borrow the console's address).

use super::PREFIX;

/// The longest destination followed: console paths are short, and a sign-in through a provider
/// keeps its destination until the provider answers (issue #20: 2 KB ones were stored unthrottled).
pub const MAX_LEN: usize = 512;

/// `next` if it is a plain local path inside the console, else `None`.
///
/// Refused: anything not starting with `/console` as a whole path segment (`https://…`,
/// `//host`, `/\host` which browsers read as `//host`), and any backslash, `//`, dot segment,
/// percent-escape in the path, control or non-ASCII character, so what the browser resolves is exactly what was checked.
pub fn local_path(next: &str) -> Option<&str> {
    let rest = next.strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
        return None;
    }
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let plain = next.bytes().all(|b| b.is_ascii_graphic()) && !next.contains('\\');
    // Console paths never need an escape, so any `%` in the path is refused with the dot segments.
    let dotted = path.split('/').any(|segment| matches!(segment, "." | "..") || segment.contains('%'));
    (plain && !path.contains("//") && !dotted && next.len() <= MAX_LEN).then_some(next)
}

/// The `next=` query parameter carrying `path`.
pub fn query(path: &str) -> String {
    serde_urlencoded::to_string([("next", path)]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{local_path, MAX_LEN};

    #[test]
    fn only_local_console_paths_are_followed_after_sign_in() {
        for good in ["/console", "/console/c/abc/system-log", "/console/c/abc/administrators?sort=email&page=2"] {
            assert_eq!(local_path(good), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example/console",
            "//evil.example/console",
            "/\\evil.example",
            "/console\\..\\..\\evil",
            "/consoled",
            "/console//evil.example",
            "/console/../api",
            "/console/%2e%2e/api",
            "/console/%2fevil",
            "/console/c/x\r\nSet-Cookie: a=b",
            "javascript:alert(1)",
            "/console/ü",
            &format!("/console/{}", "a".repeat(MAX_LEN)),
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
