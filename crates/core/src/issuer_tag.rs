//! The issuer tag: a MAC that only the deployment that issued a token can make, carried in the
//! token's JWS header, so that deployment can authenticate its own tokens with one HMAC instead of
//! a signature check (issue #13). Third parties ignore it and verify the signature as before.
//!
//! The tag covers the key id and the encoded claims, under a key derived from the server key: like
//! the sealed signing keys, a copy of the database without the server key cannot make one.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;

use crate::encoding::{b64url, from_b64url};
use crate::secret::ServerKey;

/// The private JOSE header parameter (RFC 7515 §4.3) that carries the tag. It is not listed in
/// `crit`, so verifiers that do not know it ignore it, as RFC 7515 §4 requires.
pub(crate) const HEADER_PARAMETER: &str = "tgt";
/// Separates this use of the server key from every other; the other HMAC inputs (secrets,
/// session ids) are base64url and cannot contain a space, so none can collide with it.
const LABEL: &str = "trustgate issuer tag v1";
/// HMAC-SHA-256 truncated to 128 bits (as RFC 2104 §5 allows): forging one takes 2^128 tries
/// on average, each a request.
const TAG_LEN: usize = 16;

/// The key that makes and checks issuer tags. Every node of a deployment shares the server key,
/// so every node checks every node's tags. It prints nothing of itself.
#[derive(Clone)]
pub struct TagKey(hmac::Key);

impl TagKey {
    pub fn new(server_key: &ServerKey) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, &server_key.derive(LABEL)))
    }

    /// The tag of a token signed by key `kid` with `payload`, its claims as encoded in the token.
    pub(crate) fn tag(&self, kid: &str, payload: &str) -> String {
        b64url(&self.mac(kid, payload))
    }

    /// Whether `tag` is the tag of `kid` and `payload`, compared in constant time.
    pub(crate) fn holds(&self, tag: &str, kid: &str, payload: &str) -> bool {
        let Some(presented) = from_b64url(tag) else { return false };
        verify_slices_are_equal(&presented, &self.mac(kid, payload)).is_ok()
    }

    /// Key ids and base64url contain no `.`, so the input names one (kid, payload) pair only.
    fn mac(&self, kid: &str, payload: &str) -> [u8; TAG_LEN] {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(kid.as_bytes());
        context.update(b".");
        context.update(payload.as_bytes());
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&context.sign().as_ref()[..TAG_LEN]);
        tag
    }
}

impl fmt::Debug for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TagKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_holds_only_for_its_kid_payload_and_key() {
        let key = TagKey::new(&ServerKey::generate());
        let tag = key.tag("kid1", "cGF5bG9hZA");
        assert_eq!(tag.len(), 22, "16 bytes in unpadded base64url");
        assert!(key.holds(&tag, "kid1", "cGF5bG9hZA"));
        assert!(!key.holds(&tag, "kid2", "cGF5bG9hZA"));
        assert!(!key.holds(&tag, "kid1", "cGF5bG9hZB"));
        assert!(!key.holds(&tag[..21], "kid1", "cGF5bG9hZA"));
        assert!(!key.holds("not base64!", "kid1", "cGF5bG9hZA"));
        assert!(!TagKey::new(&ServerKey::generate()).holds(&tag, "kid1", "cGF5bG9hZA"));
    }

    #[test]
    fn the_same_server_key_makes_the_same_tags_on_every_node() {
        let server_key = ServerKey::generate();
        let copy = ServerKey::from_encoded(&server_key.encode()).unwrap_or_else(|| unreachable!());
        assert_eq!(TagKey::new(&server_key).tag("k", "p"), TagKey::new(&copy).tag("k", "p"));
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        assert_eq!(format!("{:?}", TagKey::new(&ServerKey::generate())), "TagKey(<redacted>)");
    }
}
