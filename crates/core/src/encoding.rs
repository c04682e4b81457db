use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends `bytes` in base64url to `text`, which a caller sizes once for the whole token.
pub(crate) fn push_b64url(text: &mut String, bytes: &[u8]) {
    URL_SAFE_NO_PAD.encode_string(bytes, text);
}

pub(crate) fn from_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Fills a fixed-size array from aws-lc's CSPRNG: a per-thread DRBG seeded and reseeded from the
/// operating system (and reseeded after a fork), the generator that makes the signing keys and the
/// ECDSA nonces. A system call a token id, as `getrandom` makes, cost a grant about 1% (issue #26).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The CSPRNG failing is unrecoverable: continuing would hand out predictable secrets.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut bytes).expect("the random number generator failed");
    bytes
}
