// npm `jose` (pinned in package.json) verifies a Trustgate token against the JWKS fetched from the server.
// Usage: node verify_token.mjs <jwks-url> <token> <algorithm> <issuer> <audience>
// Prints one JSON line with the verified header and claims; exits non-zero on any failure.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, token, algorithm, issuer, audience] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUrl));
const { payload, protectedHeader } = await jwtVerify(token, keys, { algorithms: [algorithm], issuer, audience });
console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
