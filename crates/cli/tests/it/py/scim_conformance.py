"""Runs scim2-tester (pinned by .ci/scim2-tester) against a live Trustgate SCIM service provider.

Usage: scim_conformance.py BASE_URL TOKEN. Prints one JSON object: every check with its status,
and the counts; exits 0 when no check failed.
"""

import json
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base_url, token = sys.argv[1], sys.argv[2]
client = SyncSCIMClient(Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}))
results = check_server(client)
checks = [
    {"title": r.title, "status": r.status.name, "reason": r.reason, "resourceType": r.resource_type}
    for r in results
]
failed = [c for c in checks if c["status"] in ("ERROR", "CRITICAL")]
print(json.dumps({"checks": checks, "failed": len(failed), "total": len(checks)}))
sys.exit(1 if failed else 0)
