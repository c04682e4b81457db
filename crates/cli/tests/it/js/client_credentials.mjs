// openid-client (v6) against a live Trustgate: discovery, then a client-credentials grant with the
// secret in the body and with HTTP Basic, then revokes the token it got with HTTP Basic (RFC 7009).
// Usage: node client_credentials.mjs <issuer> <id> <secret> [oidc|oauth2]
// `oauth2` discovers by RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the
// issuer's path, §3.1); the default `oidc` appends `/.well-known/openid-configuration` to it.
// Prints one JSON line per method; exits non-zero on any failure.
import * as client from 'openid-client';

const [issuer, clientId, secret, algorithm = 'oidc'] = process.argv.slice(2);
const methods = { client_secret_post: client.ClientSecretPost, client_secret_basic: client.ClientSecretBasic };

for (const [method, authentication] of Object.entries(methods)) {
  // The test server is on loopback http://; openid-client refuses http:// issuers without this.
  const config = await client.discovery(new URL(issuer), clientId, undefined, authentication(secret), {
    execute: [client.allowInsecureRequests],
    algorithm,
  });
  const metadata = config.serverMetadata();
  const tokens = await client.clientCredentialsGrant(config);
  const revoked = method === 'client_secret_basic';
  if (revoked) {
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
  }
  console.log(JSON.stringify({
    method,
    issuer: metadata.issuer,
    token_endpoint: metadata.token_endpoint,
    revocation_endpoint: metadata.revocation_endpoint,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    access_token: tokens.access_token,
    revoked,
  }));
}
