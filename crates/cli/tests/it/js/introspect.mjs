// openid-client (v6) as a resource server against a live Trustgate: discovery, then RFC 7662
// token introspection of one token with the resource server's secret in the body and with HTTP Basic.
// Usage: node introspect.mjs <issuer> <resource server id> <secret> <token>
// Prints one JSON line per method; exits non-zero on any failure.
import * as client from 'openid-client';

const [issuer, id, secret, token] = process.argv.slice(2);
const methods = { client_secret_post: client.ClientSecretPost, client_secret_basic: client.ClientSecretBasic };

for (const [method, authentication] of Object.entries(methods)) {
  // The test server is on loopback http://; openid-client refuses http:// issuers without this.
  const config = await client.discovery(new URL(issuer), id, undefined, authentication(secret), {
    execute: [client.allowInsecureRequests],
  });
  const introspection = await client.tokenIntrospection(config, token, { token_type_hint: 'access_token' });
  console.log(JSON.stringify({
    method,
    introspection_endpoint: config.serverMetadata().introspection_endpoint,
    introspection,
  }));
}
