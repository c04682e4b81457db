// A real OpenID provider (the `oidc-provider` package) for the console sign-in tests, on an
// ephemeral loopback port. Usage: node oidc_provider.mjs '<config JSON>'
// where the config is { "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
// "accounts": { "<login>": { "email": ..., "email_verified": true, ... } } }, or instead of
// "accounts" an "accountsFile" holding that object, read again at every look-up (so a test can
// change a person's claims, such as their groups, between two sign-ins).
// Its developer login page takes any login named in `accounts` (any password); consent is
// skipped. PKCE (S256) is required of every client. Prints the issuer URL on one line, then
// serves until its standard input closes (so it never outlives the test).
import fs from 'node:fs';
import http from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', ...c,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['trustgate-test-cookie-key'] },
  pkce: { required: () => true },
  // By default the requested scopes' claims go into the ID token itself; with "conform": true
  // they are served by the userinfo endpoint only (the package's own default, OpenID Connect
  // Core §5.4), as several real providers do.
  conformIdTokenClaims: config.conform === true,
  // `groups` as Okta and Entra ID send it, when an account has one.
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'upn', 'groups'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const accounts = config.accountsFile ? JSON.parse(fs.readFileSync(config.accountsFile, 'utf8')) : config.accounts;
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  // A first-party client: the person is not asked to consent.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (_ctx, error) => { console.error(error); });
server.on('request', provider.callback());
console.log(issuer);
// Anything else the package prints goes to standard error, which the test does not read.
console.log = console.error;
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
