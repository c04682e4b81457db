# usage: sign_in_flood.py BINARY CONCURRENCY -> starts `BINARY serve` on a fresh data dir, fires
# CONCURRENCY concurrent wrong sign-ins, prints status counts, VmHWM (peak) and VmRSS after the flood.
# The per-address sign-in throttle is raised so the flood stands for attackers on many addresses
# (issue #8: what bounds memory is the password-hashing pool, not the throttle).
import json, subprocess, sys, tempfile, threading, time, http.client, collections
binary, n = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp()
p = subprocess.Popen([binary, "--data-dir", d, "serve", "--listen", "127.0.0.1:0", "--sign-in-failure-limit", "1000000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
host = email = None
for line in p.stdout:
    if line.startswith("Trustgate is listening on"): host = line.split()[4][7:]
    if "Sign in at" in line: email = line.split()[6]
    if line.startswith("API description"): break
def status(field):
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(field): return int(l.split()[1]) // 1024
counts = collections.Counter(); lock = threading.Lock(); go = threading.Event()
def attack(i):
    h, port = host.split(":")
    c = http.client.HTTPConnection(h, int(port), timeout=600)
    go.wait()
    c.request("POST", "/api/v1/session", json.dumps({"email": email, "password": f"wrong password {i}"}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    with lock: counts[(r.status, r.getheader("Retry-After"))] += 1
print("idle RSS MiB", status("VmRSS:"))
ts = [threading.Thread(target=attack, args=(i,)) for i in range(n)]
[t.start() for t in ts]; start = time.time(); go.set(); [t.join() for t in ts]
print(f"{n} wrong sign-ins in {time.time()-start:.1f}s:", dict(counts))
time.sleep(2)
print("peak RSS (VmHWM) MiB", status("VmHWM:"), "| RSS 2 s after MiB", status("VmRSS:"))
p.kill()
