//! The wrk Lua scripts: what each measurement sends, and the summary hook that reports it.

pub(super) const DONE_HOOK: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

/// The token scripts' shared part: `load_requests(variable, pattern)` reads the file the
/// environment variable names, each line matched by `pattern` into a client id and secret, and
/// formats one token request a line into `requests`.
macro_rules! token_requests {
    () => {
        r#"
local requests, i = {}, 0
local function load_requests(variable, pattern)
  for line in io.lines(os.getenv(variable)) do
    local id, secret = line:match(pattern)
    requests[#requests + 1] = wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
      {["Content-Type"] = "application/x-www-form-urlencoded"},
      "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret)
  end
end
"#
    };
}

/// Every script formats its requests once, in `init` (where wrk has set the `Host` header, which
/// Node's HTTP server requires): `/healthz`, the baseline, is sent by wrk without a script, and a
/// request built in Lua each time would charge its building to the figure the baseline is divided
/// into (issue #26: wrk shares the server's two cores).
pub(super) const TOKEN_SCRIPT: &str = concat!(
    token_requests!(),
    r#"
init = function()
  load_requests("TG_BENCH_CREDS", "([^ ]+) ([^ ]+)")
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"#
);

/// One client id, always with a wrong secret: an attacker guessing.
pub(super) const WRONG_SECRET_SCRIPT: &str = r#"
local body = "grant_type=client_credentials&client_id=" .. os.getenv("TG_BENCH_ATTACKED") .. "&client_secret=tgs_wrong"
request = function()
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"#;

/// Token requests naming a fresh random client id each time (an attacker spraying made-up ids),
/// with the well-formed secret of the first line of `TG_BENCH_CREDS`.
pub(super) const RANDOM_ID_SCRIPT: &str = r#"
local secret = io.lines(os.getenv("TG_BENCH_CREDS"))():match("[^ ]+ ([^ ]+)")
local function hex(n) return string.format("%04x", math.random(0, 65535)) end
request = function()
  local id = hex() .. hex() .. "-" .. hex() .. "-4" .. hex():sub(2) .. "-a" .. hex():sub(2) .. "-" .. hex() .. hex() .. hex()
  return wrk.format("POST", "/cctrustoauth2/root/tokens/clients",
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret)
end
"#;

/// Each wrk thread seeds its own generator (a table's address differs per Lua state), so the
/// threads do not send the same sequence.
pub(super) const UNIFORM_SEED: &str = r#"
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
"#;

/// Grants of clients drawn uniformly from every seeded client: a working set that can miss.
pub(super) const UNIFORM_TOKEN_SCRIPT: &str = concat!(
    token_requests!(),
    r#"
init = function()
  load_requests("TG_BENCH_ALL", "[^ ]+ ([^ ]+) ([^ ]+)")
end
request = function()
  return requests[math.random(#requests)]
end
"#
);

/// Calls with tokens drawn uniformly from one token per seeded client.
pub(super) const UNIFORM_CALL_SCRIPT: &str = r#"
local calls = {}
for line in io.lines(os.getenv("TG_BENCH_ALL")) do
  local customer, token = line:match("([^ ]+) ([^ ]+)")
  calls[#calls + 1] = {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer}
end
request = function()
  return wrk.format("GET", "/notifications/items", calls[math.random(#calls)])
end
"#;

pub(super) const CALL_SCRIPT: &str = r#"
local requests, i = {}, 0
init = function()
  for line in io.lines(os.getenv("TG_BENCH_TOKENS")) do
    local customer, token = line:match("([^ ]+) ([^ ]+)")
    requests[#requests + 1] = wrk.format("GET", "/notifications/items",
      {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer})
  end
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"#;

/// The decision endpoint asked as nginx's `auth_request` does, for the call of [`CALL_SCRIPT`]:
/// the rule of [`BENCH_CATALOG`] matches it, so each decision reads the owner's rights.
pub(super) const GATEWAY_SCRIPT: &str = r#"
local requests, i = {}, 0
init = function()
  for line in io.lines(os.getenv("TG_BENCH_TOKENS")) do
    local customer, token = line:match("([^ ]+) ([^ ]+)")
    requests[#requests + 1] = wrk.format("GET", "/gateway/authorize",
      {["Authorization"] = "CwsAuth Bearer=" .. token, ["Citrix-CustomerId"] = customer,
       ["X-Original-Method"] = "GET", ["X-Original-URI"] = "/notifications/items"})
  end
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"#;
