"""PyJWT (pinned in .ci/pyjwt) verifies a Trustgate token against the JWKS fetched from the server.

Usage: verify_token.py <jwks-url> <token> <algorithm> <issuer> <audience>
Prints one JSON line with the verified header and claims; exits non-zero on any failure.
"""

import json
import sys

import jwt

jwks_url, token, algorithm, issuer, audience = sys.argv[1:]
# The key is chosen by the token's `kid` from the published set; the algorithm is pinned by the caller.
signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, signing_key, algorithms=[algorithm], issuer=issuer, audience=audience)
print(json.dumps({"header": jwt.get_unverified_header(token), "claims": claims, "version": jwt.__version__}))
