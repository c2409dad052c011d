"""Merges the soak runs (bench/soak) into one JSON report, prints the accounting table and the
must-hold lines, and draws latency and error rate over time. Exit 1 when a must-hold fails."""
import json
import os
import sys

work, out_path, chart_path = sys.argv[1], sys.argv[2], sys.argv[3]
runs = []
for name in ["memory", "dynamodb-faults", "dynamodb-jwks-beyond-stale"]:
    p = os.path.join(work, name + ".json")
    if os.path.exists(p):
        with open(p) as f:
            runs.append(json.load(f))
with open(out_path, "w") as f:
    json.dump({"runs": runs}, f, indent=2)

def hs(h):
    return " ".join(f"{k}:{v}" for k, v in sorted(h.items())) or "-"

def refused(r):
    return " ".join(f"{k}:{v}" for k, v in sorted(r.items())) or "-"

ok = True
for run in runs:
    print()
    print(f"soak {run['label']}: {run['store']} store, {run['connections']} connections of "
          f"{run['users']} users, {run['rate_per_connection']} messages/s each, {run['seconds']} s "
          f"(opened in {run['opened_in_s']:.1f} s)")
    cols = ["phase", "s", "sent", "acked", "refused", "unansw.", "delivered", "lost",
            "reply p50/p99/p999 ms", "delivery p50/p99/p999 ms", "handshakes"]
    rows = []
    for p in run["phases"]:
        r, d = p["reply_ms"], p["delivery_ms"]
        rows.append([p["phase"], f"{p['from_s']:.0f}-{p['to_s']:.0f}", p["sent"], p["acknowledged"],
                     refused(p["refused"]), p["unanswered"] + p["answered_after_5s"], p["delivered"],
                     p["lost"], f"{r['p50']:.1f}/{r['p99']:.1f}/{r['p999']:.1f}",
                     f"{d['p50']:.1f}/{d['p99']:.1f}/{d['p999']:.1f}", hs(p["handshakes"])])
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]
    print("  ".join(str(c).ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    srv = run["server"]
    rec = run["recovery_s"]
    print(f"misdelivered {run['misdelivered']}, duplicated {run['duplicated']}, connections dropped "
          f"{run['connections_dropped']}; recovery: DynamoDB {rec['dynamodb']}, JWKS handshakes "
          f"{rec['jwks_handshakes']} s; server RSS {srv['rss_kib_start']//1024} → "
          f"{srv['rss_kib_end']//1024} MiB (cold {srv['rss_kib_cold']//1024}), descriptors "
          f"{srv['fds_start_without_pools']} → {srv['fds_end_without_pools']} "
          f"(keep-alive pools aside: {srv['fd_kinds_end'].get('pool', 0)} at the end)"
          + (f"; bindings left {run['bindings_left']}" if run.get("bindings_left") is not None else ""))
    for m in run["must_hold"]:
        print(f"  [{'ok  ' if m['holds'] else 'FAIL'}] {m['what']}")
    ok = ok and run["ok"]

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 3.2 * max(1, len(runs))), squeeze=False)
    for ax, run in zip(axes[:, 0], runs):
        t = [x["second"] for x in run["timeline"]]
        ax.plot(t, [x["p50_ms"] for x in run["timeline"]], label="reply p50 ms")
        ax.plot(t, [x["p99_ms"] for x in run["timeline"]], label="reply p99 ms")
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax2 = ax.twinx()
        rate = [(x["errors"] / x["sent"] * 100) if x["sent"] else 0 for x in run["timeline"]]
        ax2.plot(t, rate, color="tab:red", alpha=0.6, label="errors %")
        ax2.set_ylabel("errors %")
        ax2.set_ylim(0, 100)
        for f in run["faults"]:
            ax.axvspan(f["from_s"], f["to_s"], color="grey", alpha=0.2)
            ax.text(f["from_s"], ax.get_ylim()[1], f["name"], fontsize=8, va="top")
        ax.set_title(f"{run['label']} ({run['connections']} connections × {run['rate_per_connection']}/s)")
        ax.set_xlabel("seconds")
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=110)
    print(f"\nchart: {chart_path}")
except ImportError:
    print("matplotlib not installed: no chart")

print(f"\nsoak: {'every must-hold line held' if ok else 'a must-hold line FAILED'}")
sys.exit(0 if ok else 1)
