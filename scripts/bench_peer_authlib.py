"""The peer of `trustgate bench --peer authlib`: Authlib's `AuthorizationServer` in Flask, under
gunicorn with one worker per core, doing what a Trustgate grant does, so the same wrk load can be
sent to both. Usage (with the python of `.ci/authlib-peer`, which holds the pinned packages):

    python scripts/bench_peer_authlib.py <clients file> <alg>

<clients file> holds one `client_id client_secret` line per client; <alg> is ES256, EdDSA or RS256.
Configured as Authlib's and gunicorn's documentation have it for production (BENCHMARKS.md):
- the client credentials grant only (`ClientCredentialsGrant`), the client's id and secret in the form
  body (`client_secret_post`, as the bench sends them to Trustgate), the secret compared in constant
  time; clients in memory;
- RFC 9068 JWT access tokens (`JWTBearerTokenGenerator`) signed with <alg>, living one hour
  (Trustgate's lifetime); `save_token` stores nothing, as JWTs need no storage;
- gunicorn's sync workers, one per core, the app preloaded so every worker signs with the same key.
Prints `http://127.0.0.1:<port>` on one line once gunicorn serves, then serves until its standard
input closes (so it never outlives the bench).
"""

import hmac
import os
import signal
import socket
import sys
import threading

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback only: wrk speaks plain HTTP

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask
from gunicorn.app.base import BaseApplication

TOKEN_PATH = "/cctrustoauth2/root/tokens/clients"
LIFETIME = 3600
KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "RS256": ("RSA", 2048)}


class Client(ClientMixin):
    def __init__(self, client_id, secret):
        self.client_id = client_id
        self.secret = secret.encode()

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return ""

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_post"

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]


def create_app(clients_file, alg):
    clients = {}
    with open(clients_file) as lines:
        for line in lines:
            if line.strip():
                client_id, secret = line.split()
                clients[client_id] = Client(client_id, secret)
    kty, crv_or_size = KEY_TYPES[alg]
    key = JsonWebKey.generate_key(kty, crv_or_size, is_private=True, options={"kid": f"bench-{alg}"})

    class Tokens(JWTBearerTokenGenerator):
        def get_jwks(self):
            return {"keys": [key.as_dict(is_private=True)]}

    app = Flask(__name__)
    server = AuthorizationServer(app, query_client=clients.get, save_token=lambda token, request: None)
    server.register_grant(ClientCredentials)
    server.register_token_generator(
        "default",
        Tokens(issuer="http://127.0.0.1", alg=alg, expires_generator=lambda client, grant_type: LIFETIME),
    )

    @app.post(TOKEN_PATH)
    def token():
        return server.create_token_response()

    return app


class Gunicorn(BaseApplication):
    def __init__(self, app, port):
        self.application = app
        self.port = port
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", f"127.0.0.1:{self.port}")
        self.cfg.set("workers", os.cpu_count() or 1)
        self.cfg.set("preload_app", True)
        self.cfg.set("accesslog", None)
        self.cfg.set("loglevel", "warning")
        self.cfg.set("when_ready", lambda _server: print(f"http://127.0.0.1:{self.port}", flush=True))

    def load(self):
        return self.application


def stop_when_stdin_closes():
    sys.stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    clients_file, alg = sys.argv[1:3]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    Gunicorn(create_app(clients_file, alg), port).run()
