"""Turns bench/run's JSON lines into one table and bench/results/latest.json."""
import json
import os
import platform
import subprocess
import sys
import time

lines_path, out_path, seconds, tokens = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(l) for l in open(lines_path) if l.strip().startswith("{")]


def get(bench, contender, alg):
    """The measurement of `contender`; rounds of it (verification runs in alternating rounds)
    merged into one rate: all calls over all the time they took."""
    found = [r for r in rows if r["bench"] == bench and r["contender"] == contender and r["alg"] == alg]
    if len(found) <= 1:
        return found[0] if found else None
    calls = sum(r["calls"] for r in found)
    secs = sum(r["calls"] / r["per_second"] for r in found)
    per_round = [r["per_second"] for r in found]
    return {**found[0], "per_second": calls / secs, "calls": calls, "rounds": len(found),
            "per_round": per_round}


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


targets = {"RS256": 3.0, "ES256": 1.4, "EdDSA": 3.0}
table = []
print()
print("Token verification, single core (verifies/s, same keys and tokens for everyone)")
print(f"{'alg':<6} {'wsauth':>10} {'aws-jwt-verify':>15} {'aws-lc-rs raw':>14} {'wsauth/ajv':>11} "
      f"{'(rounds)':>13} {'target':>7} {'raw/wsauth':>11} {'(rounds)':>13}  target <= 1.05")
for alg in ["RS256", "ES256", "EdDSA"]:
    w = get("verify", "wsauth", alg)
    a = get("verify", "aws-jwt-verify", alg)
    r = get("verify", "aws-lc-rs (raw)", alg)
    if not (w and a and r):
        continue
    ratio = w["per_second"] / a["per_second"]
    floor = r["per_second"] / w["per_second"]
    rounds = lambda x: x.get("per_round", [x["per_second"]])
    peer_rounds = [x / y for x, y in zip(rounds(w), rounds(a))]
    floor_rounds = [y / x for x, y in zip(rounds(w), rounds(r))]
    spread = lambda v: f"{min(v):.2f}-{max(v):.2f}"
    table.append({"alg": alg, "wsauth_per_s": w["per_second"], "aws_jwt_verify_per_s": a["per_second"],
                  "raw_per_s": r["per_second"], "wsauth_over_aws_jwt_verify": ratio,
                  "target_over_aws_jwt_verify": targets[alg], "raw_over_wsauth": floor,
                  "meets_peer_target": ratio >= targets[alg], "within_5pct_of_raw": floor <= 1.05,
                  "wsauth_over_aws_jwt_verify_per_round": peer_rounds, "raw_over_wsauth_per_round": floor_rounds})
    print(f"{alg:<6} {w['per_second']:>10.0f} {a['per_second']:>15.0f} {r['per_second']:>14.0f} "
          f"{ratio:>10.2f}x {spread(peer_rounds):>13} {targets[alg]:>6.1f}x {floor:>10.2f}x {spread(floor_rounds):>13}"
          f"  {'met' if floor <= 1.05 else 'NOT MET'}")

handler = []
print()
print("Authorizer handler, single core: REQUEST event JSON in -> policy JSON out")
print(f"{'alg':<6} {'calls/s':>10} {'allocs/call':>12} {'bytes/call':>11}")
for alg in ["RS256", "ES256", "EdDSA"]:
    h = get("handler", "wsauth", alg)
    if not h:
        continue
    handler.append({"alg": alg, "per_s": h["per_second"], "allocations_per_call": h["allocations_per_call"],
                    "bytes_allocated_per_call": h["bytes_allocated_per_call"]})
    print(f"{alg:<6} {h['per_second']:>10.0f} {h['allocations_per_call']:>12.1f} {h['bytes_allocated_per_call']:>11.0f}")

cold = []
print()
print("Cold start: exec -> first answered invocation (median ms), minimal Runtime API on 127.0.0.1")
print(f"{'function':<36} {'median ms':>10} {'min ms':>8} {'runs':>5} {'zip bytes':>11}  outcome")
for r in rows:
    if r["bench"] != "coldstart":
        continue
    cold.append({k: r.get(k) for k in ["contender", "median_ms", "min_ms", "runs", "zip_bytes", "outcome"]})
    med = f"{r['median_ms']:.1f}" if r.get("median_ms") is not None else "-"
    mn = f"{r['min_ms']:.1f}" if r.get("min_ms") is not None else "-"
    size = str(r["zip_bytes"]) if r.get("zip_bytes") else "(not built)"
    print(f"{r['contender']:<36} {med:>10} {mn:>8} {r['runs']:>5} {size:>11}  {r.get('outcome')}")

gateway = []
print()
print("Gateway: the same WebSocket load client (127.0.0.1)")
print(f"{'gateway':<38} {'handshakes/s':>12} {'ping rt/s':>9} {'ping p50/p99/p999 ms':>22} "
      f"{'send p50/p99 ms':>16} {'broadcast ms':>13} {'idle conns':>10} {'RSS MiB':>8}")
labels = []
for r in rows:
    if r["bench"] == "gateway" and r["contender"] not in labels:
        labels.append(r["contender"])
for label in labels:
    g = {r["alg"]: r for r in rows if r["bench"] == "gateway" and r["contender"] == label}
    hs, ping, send, idle, bc = (g.get(k, {}) for k in ["handshakes", "ping", "sendToUser", "idle", "broadcast"])
    rss = (idle.get("rss_kib_with_idle", 0)) / 1024
    gateway.append({"gateway": label, "handshakes_per_s": hs.get("per_second"),
                    "ping_per_s": ping.get("per_second"), "ping_p50_ms": ping.get("p50_ms"),
                    "ping_p99_ms": ping.get("p99_ms"), "ping_p999_ms": ping.get("p999_ms"),
                    "send_p50_ms": send.get("p50_ms"), "send_p99_ms": send.get("p99_ms"),
                    "send_p999_ms": send.get("p999_ms"),
                    "broadcast_recipients": bc.get("recipients"), "broadcast_received": bc.get("received"),
                    "broadcast_last_delivery_ms": bc.get("last_delivery_ms"),
                    "idle_connections": idle.get("connections"), "rss_kib_before": idle.get("rss_kib_before"),
                    "rss_kib_with_idle": idle.get("rss_kib_with_idle")})
    f = lambda x: "-" if x is None else f"{x:.2f}"
    print(f"{label:<38} {hs.get('per_second', 0):>12.0f} {ping.get('per_second', 0):>9.0f} "
          f"{f(ping.get('p50_ms')) + '/' + f(ping.get('p99_ms')) + '/' + f(ping.get('p999_ms')):>22} "
          f"{f(send.get('p50_ms')) + '/' + f(send.get('p99_ms')):>16} "
          f"{bc.get('last_delivery_ms', 0):>13.0f} {idle.get('connections', 0):>10} {rss:>8.0f}")

chart = os.path.join(os.path.dirname(out_path), "latency.png")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, fig_name, title in [(axes[0], "ping", "ping round trip"), (axes[1], "sendToUser", "sendToUser delivery")]:
        for label in labels:
            g = [r for r in rows if r["bench"] == "gateway" and r["contender"] == label and r["alg"] == fig_name]
            if not g or not g[0].get("samples"):
                continue
            xs = sorted(g[0]["samples"])
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.plot(xs, ys, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of messages")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("wsauth-local vs serverless-offline: latency distributions (same load client, 127.0.0.1)")
    fig.tight_layout()
    fig.savefig(chart, dpi=110)
    print(f"wrote {chart}")
except ImportError:
    print("matplotlib not installed: no chart")

try:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
except OSError:
    node = "unknown"
result = {
    "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cpu": cpu(), "cores": os.cpu_count(), "os": platform.platform(), "node": node},
    "settings": {"seconds_per_measurement": seconds, "tokens_per_alg": tokens, "single_core": True},
    "verify": table,
    "handler": handler,
    "coldstart": cold,
    "gateway": gateway,
    "raw": [{k: v for k, v in r.items() if k != "samples"} for r in rows],
}
os.makedirs(os.path.dirname(out_path), exist_ok=True)
with open(out_path, "w") as f:
    json.dump(result, f, indent=2)
print()
print(f"wrote {out_path}")
