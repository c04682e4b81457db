// The peer of `trustgate bench --peer node-oauth2-server`: the npm `@node-oauth/oauth2-server`
// package (the library Express and Koa OAuth servers are built on), doing what a Trustgate grant
// does, so the same wrk load can be sent to both. Usage:
//
//   node scripts/bench_peer_node_oauth2_server.mjs <dir holding node_modules> <clients file> <alg>
//
// <clients file> holds one `client_id client_secret` line per client; <alg> is ES256, EdDSA or
// RS256. Configuration, as the package's documentation has it for a production server
// (documented in BENCHMARKS.md):
// - the client credentials grant only; the client authenticates with its id and secret in the form
//   body (as the bench sends them to Trustgate), the secret compared in constant time;
// - the model keeps clients in memory and issues JWT access tokens (`generateAccessToken`, signed
//   with `jose` using <alg>, living one hour as Trustgate's do); `saveToken` stores nothing, as JWT
//   access tokens need no storage;
// - the token endpoint at Trustgate's path, on node's own http server, one worker process per core
//   (node's `cluster`), run with NODE_ENV=production.
// Prints `http://127.0.0.1:<port>` on one line once every worker listens, then serves until its
// standard input closes (so it never outlives the bench).
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [modules, clientsFile, alg] = process.argv.slice(2);
const TOKEN_PATH = '/cctrustoauth2/root/tokens/clients';
const LIFETIME = 3600;

if (cluster.isPrimary) {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'EdDSA'
      ? crypto.generateKeyPairSync('ed25519')
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = privateKey.export({ format: 'pem', type: 'pkcs8' });
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
  const require = createRequire(path.join(path.resolve(modules), 'package.json'));
  const OAuth2Server = require('@node-oauth/oauth2-server');
  const { SignJWT } = await import(require.resolve('jose'));
  const signingKey = crypto.createPrivateKey(process.env.BENCH_PEER_KEY);
  const clients = new Map(fs.readFileSync(clientsFile, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [id, secret] = line.split(' ');
    return [id, { id, secret: Buffer.from(secret), grants: ['client_credentials'] }];
  }));
  const oauth = new OAuth2Server({
    accessTokenLifetime: LIFETIME,
    model: {
      async getClient(id, secret) {
        const client = clients.get(id);
        const given = Buffer.from(secret ?? '');
        if (!client || given.length !== client.secret.length || !crypto.timingSafeEqual(given, client.secret)) {
          return null;
        }
        return client;
      },
      async getUserFromClient(client) {
        return { id: client.id };
      },
      async generateAccessToken(client) {
        return new SignJWT({ client_id: client.id })
          .setProtectedHeader({ alg, kid: `bench-${alg}` })
          .setSubject(client.id)
          .setIssuedAt()
          .setExpirationTime(`${LIFETIME}s`)
          .setJti(crypto.randomUUID())
          .sign(signingKey);
      },
      async saveToken(token, client, user) {
        return { ...token, client, user };
      },
    },
  });
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== TOKEN_PATH) {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      const request = new OAuth2Server.Request({ method: req.method, headers: req.headers, query: {}, body });
      const response = new OAuth2Server.Response({ headers: {} });
      try {
        await oauth.token(request, response);
      } catch (error) {
        response.status = error.code ?? 500;
        response.body = { error: error.name, error_description: error.message };
      }
      res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
      res.end(JSON.stringify(response.body));
    });
  });
  // Workers share one listening socket: port 0 gives all of them the same port.
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  process.send(server.address().port);
}
