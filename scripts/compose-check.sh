#!/usr/bin/env bash
# Validates docker-compose.yml with `docker-compose config` (Debian's docker-compose; `docker
# compose config` reads the same file) using .env.example, then checks the topology the
# README promises. Prints TAP.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
"${compose[@]}" --env-file .env.example -f docker-compose.yml config >"$rendered"
python3 - "$rendered" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
s = doc["services"]
checks = []
def check(name, ok, detail=""):
    checks.append((name, bool(ok), detail))

check("the five services and the bucket job are there",
      set(s) == {"dispatch-api", "dispatch-worker", "openclaw-gateway", "postgres", "minio", "minio-init"}, sorted(s))
nets = lambda name: sorted(s[name].get("networks", {}) or [])
check("the gateway is on the control network only", nets("openclaw-gateway") == ["control"], nets("openclaw-gateway"))
check("postgres and minio are on the data network only", nets("postgres") == ["data"] and nets("minio") == ["data"])
check("the data network is internal", doc["networks"]["data"].get("internal") is True)
on_control = sorted(n for n in s if "control" in nets(n))
check("the gateway's network holds only the dispatch API and the worker besides it",
      on_control == ["dispatch-api", "dispatch-worker", "openclaw-gateway"], on_control)
published = {n: [str(p.get("host_ip", "")) + ":" + str(p.get("published", "")) if isinstance(p, dict) else str(p) for p in s[n].get("ports", [])] for n in s if s[n].get("ports")}
check("only the API and the gateway publish ports, on loopback",
      set(published) == {"dispatch-api", "openclaw-gateway"} and all(p.startswith("127.0.0.1:") for ps in published.values() for p in ps), published)
check("postgres has a volume and a health check", s["postgres"].get("volumes") and s["postgres"].get("healthcheck"))
check("minio has a volume and the bucket is created before the API starts",
      s["minio"].get("volumes") and "mc mb" in " ".join(s["minio-init"]["entrypoint"])
      and s["dispatch-api"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully")
check("the worker runs `real-dispatch worker` from the API's image",
      s["dispatch-worker"]["command"] == ["real-dispatch", "worker"] and s["dispatch-worker"]["image"] == s["dispatch-api"]["image"])
env = s["dispatch-api"]["environment"]
check("the API and worker reach the gateway's webhook",
      env.get("RD_OPENCLAW_HOOK_URL") == "http://openclaw-gateway:18789/hooks/agent" and s["dispatch-worker"]["environment"] == env)
check("secrets come from the env file", env["DATABASE_URL"].startswith("postgres://dispatch:change-me@"), env["DATABASE_URL"])
dockerfile = open("Dockerfile").read()
check("the dispatch image runs as a non-root user", "\nUSER dispatch" in dockerfile and "FROM debian:bookworm-slim" in dockerfile)
def mounts(service):
    for v in s[service].get("volumes", []):
        if isinstance(v, dict):
            yield v.get("target"), bool(v.get("read_only"))
        else:
            parts = str(v).split(":")
            yield (parts[1] if len(parts) > 1 else parts[0]), parts[-1] == "ro"
check("the gateway mounts the agents' policies read-only",
      ("/opt/real-dispatch-plugin/agents", True) in set(mounts("openclaw-gateway")), list(mounts("openclaw-gateway")))
check("the API and the worker keep the audit key in one volume",
      ("/srv/real-dispatch/data", False) in set(mounts("dispatch-api"))
      and set(mounts("dispatch-api")) == set(mounts("dispatch-worker")), list(mounts("dispatch-worker")))
genv = s["openclaw-gateway"]["environment"]
check("each agent can have its own Real Dispatch token",
      all(f"REAL_DISPATCH_TOKEN_{a}" in genv for a in ["INTAKE", "SCHEDULING", "TECH_LIAISON", "CLOSEOUT"]), sorted(genv))
gateway_dockerfile = open("integrations/openclaw/Dockerfile").read()
check("the gateway image runs as a non-root user", "\nUSER node" in gateway_dockerfile)

print("TAP version 13")
for i, (name, ok, detail) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - compose: {name}" + ("" if ok else f"  # {detail}"))
print(f"1..{len(checks)}")
passed = sum(ok for _, ok, _ in checks)
print(f"# pass {passed}")
print(f"# fail {len(checks) - passed}")
sys.exit(0 if passed == len(checks) else 1)
PY
