// The peer of `trustgate bench --peer oidc-provider` (issue #13): the npm `oidc-provider` package,
// a certified OpenID provider, configured to do what a Trustgate grant does, so the same wrk load
// can be sent to both. Usage:
//
//   node scripts/bench_peer_oidc_provider.mjs <dir holding node_modules/oidc-provider> <clients file> <alg>
//
// <clients file> holds one `client_id client_secret` line per client; <alg> is ES256, EdDSA or
// RS256. Configuration (documented in BENCHMARKS.md):
// - the client credentials grant only, each client authenticating with `client_secret_post`
//   (id and secret in the form body, as the bench sends them to Trustgate);
// - one resource server, the default resource of every grant, whose access tokens are JWTs
//   signed with <alg> and live one hour (Trustgate's lifetime, R9);
// - the token endpoint at Trustgate's path, so wrk sends byte-for-byte the same requests;
// - clients and keys in memory (the package's default in-memory adapter; JWT access tokens are
//   not stored), one key generated at start and shared by every worker;
// - one worker process per core (node's `cluster`), as a Node deployment would use the machine,
//   with NODE_ENV=production, as the package's documentation asks of a production deployment.
// Prints `http://127.0.0.1:<port>` on one line once every worker listens, then serves until its
// standard input closes (so it never outlives the bench).
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, clientsFile, alg] = process.argv.slice(2);
const TOKEN_PATH = '/cctrustoauth2/root/tokens/clients';
const RESOURCE = 'urn:trustgate:bench';

function generateKey() {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'EdDSA'
      ? crypto.generateKeyPairSync('ed25519')
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `bench-${alg}`, alg, use: 'sig' };
}

if (cluster.isPrimary) {
  const key = JSON.stringify(generateKey());
  const workers = os.availableParallelism();
  let listening = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork({ BENCH_PEER_KEY: key, NODE_ENV: 'production' }).on('message', (port) => {
      listening += 1;
      if (listening === workers) console.log(`http://127.0.0.1:${port}`);
    });
  }
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const worker of Object.values(cluster.workers)) worker.kill();
    process.exit(0);
  });
} else {
  // The package is ESM with no `exports` map: import its entry point from the given directory.
  const dir = path.join(path.resolve(modules), 'node_modules', 'oidc-provider');
  const entry = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).main ?? 'lib/index.js';
  const { default: Provider } = await import(pathToFileURL(path.join(dir, entry)).href);
  const clients = fs.readFileSync(clientsFile, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [id, secret] = line.split(' ');
    return {
      client_id: id,
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
      // Its keys are all of <alg>: the package checks this against them though no ID token is made.
      id_token_signed_response_alg: alg,
    };
  });
  const server = http.createServer();
  // Workers share one listening socket: port 0 gives all of them the same port.
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients,
    jwks: { keys: [JSON.parse(process.env.BENCH_PEER_KEY)] },
    cookies: { keys: ['trustgate-bench-peer'] },
    routes: { token: TOKEN_PATH },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: '',
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, error) => { console.error(error); });
  server.on('request', provider.callback());
  process.send(port);
}
