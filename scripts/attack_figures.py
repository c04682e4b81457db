#!/usr/bin/env python3
"""Attack figures for docs/security.md (issue #8 items 3-4 and the timing finding).

Starts `trustgate serve` (the binary given) on a fresh data directory and measures, over loopback:
  - what N wrong secrets for one known client id cost: status codes, system-log rows, database growth;
  - the time of a wrong secret for a known client id vs an unknown one (median of alternating tries);
  - the time of a wrong password for a known e-mail vs an unknown one.
The timing runs raise the throttles (through their env variables) so that no try is answered 429.

    python3 scripts/attack_figures.py target/debug/trustgate [--wrong 2000] [--rounds 400]
"""
import argparse, http.client, json, os, re, shutil, sqlite3, statistics, subprocess, sys, tempfile, time, uuid


def start(binary, data_dir, port, env_extra):
    env = dict(os.environ, RUST_LOG="warn", **env_extra)
    proc = subprocess.Popen([binary, "--data-dir", data_dir, "serve", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    email = password = None
    for line in proc.stdout:
        m = re.search(r"with e-mail (\S+) and password (\S+)", line)
        if m:
            email, password = m.groups()
        if line.startswith("API description"):
            break
    return proc, email, password


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def request(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.getheaders(), r.read()


def wrong_secret(c, client_id):
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret=tgs_wrong"
    return request(c, "POST", "/cctrustoauth2/root/tokens/clients", form,
                   {"Content-Type": "application/x-www-form-urlencoded"})[0]


def sign_in(c, email, password):
    return request(c, "POST", "/api/v1/session", json.dumps({"email": email, "password": password}),
                   {"Content-Type": "application/json"})


def make_client(port, email, password):
    c = conn(port)
    status, headers, body = sign_in(c, email, password)
    assert status == 200, body
    cookie = dict(headers)["set-cookie"].split(";")[0]
    me = json.loads(body)
    customer = me["customers"][0]["id"]
    status, _, body = request(c, "POST", f"/api/v1/customers/{customer}/api-clients", json.dumps({"name": "bench"}),
                              {"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": me["csrfToken"]})
    assert status in (200, 201), body
    return json.loads(body)["id"]


def alternate(rounds, a, b):
    ta, tb = [], []
    for _ in range(rounds):
        for f, t in ((a, ta), (b, tb)):
            s = time.perf_counter()
            f()
            t.append(time.perf_counter() - s)
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--wrong", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=400)
    p.add_argument("--sign-in-rounds", type=int, default=60)
    args = p.parse_args()
    port = 18000 + os.getpid() % 1000

    # 1. N wrong secrets for one known client id, default throttles.
    data = tempfile.mkdtemp(prefix="tg-attack-")
    proc, email, password = start(args.binary, data, port, {})
    try:
        client_id = make_client(port, email, password)
        db = os.path.join(data, "trustgate.db")
        rows = lambda: sqlite3.connect(db).execute("SELECT count(*) FROM system_log").fetchone()[0]
        size = lambda: sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data) if f.startswith("trustgate.db"))
        before_rows, before_size = rows(), size()
        c, codes, started = conn(port), {}, time.perf_counter()
        for _ in range(args.wrong):
            code = wrong_secret(c, client_id)
            codes[code] = codes.get(code, 0) + 1
        took = time.perf_counter() - started
        print(f"{args.wrong} wrong secrets for one client: {codes} in {took:.1f} s "
              f"({args.wrong / took:.0f}/s); system-log rows +{rows() - before_rows}, "
              f"database files +{(size() - before_size) / 1e6:.2f} MB")
    finally:
        proc.terminate(); proc.wait(); shutil.rmtree(data, ignore_errors=True)

    # 2. Timing, throttles out of the way.
    data = tempfile.mkdtemp(prefix="tg-timing-")
    lenient = {"TRUSTGATE_CLIENT_FAILURE_LIMIT": "100000000", "TRUSTGATE_SIGN_IN_FAILURE_LIMIT": "100000000"}
    proc, email, password = start(args.binary, data, port, lenient)
    try:
        client_id = make_client(port, email, password)
        unknown = str(uuid.uuid4())
        c = conn(port)
        for _ in range(50):
            wrong_secret(c, client_id); wrong_secret(c, unknown)
        known, unk = alternate(args.rounds, lambda: wrong_secret(c, client_id), lambda: wrong_secret(c, unknown))
        print(f"wrong secret, median of {args.rounds}: known client id {known:.3f} ms, unknown {unk:.3f} ms, "
              f"difference {known - unk:+.3f} ms")
        for _ in range(5):
            sign_in(c, email, "wrong password here"); sign_in(c, "nobody@example.com", "wrong password here")
        known, unk = alternate(args.sign_in_rounds, lambda: sign_in(c, email, "wrong password here"),
                               lambda: sign_in(c, "nobody@example.com", "wrong password here"))
        print(f"wrong password, median of {args.sign_in_rounds}: known e-mail {known:.2f} ms, unknown {unk:.2f} ms, "
              f"difference {known - unk:+.2f} ms")
    finally:
        proc.terminate(); proc.wait(); shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
