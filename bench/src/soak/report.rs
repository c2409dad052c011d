//! The report: the sends, deliveries and handshakes counted phase by phase (before, during and
//! after each fault) and second by second, the "must hold" lines, and the JSON document; one
//! function per section of it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::process::Readings;
use super::traffic::{Sent, Shared};
use super::{Soak, Window};

/// A reply later than this counts as a hang.
const HANG: Duration = Duration::from_secs(5);
/// The service must be back this soon after its dependency.
const RECOVERY: Duration = Duration::from_secs(5);

/// A phase of the load: its name in the report, where it begins and where it ends (seconds on
/// the shared clock; the end not included).
type Bound = (String, f64, f64);

/// The "must hold" lines, in the report's order: what must hold, and whether it did.
type Holds = Vec<(String, bool)>;

/// One phase's counts.
#[derive(Default)]
struct Phase {
    /// Sends made in the phase.
    sent: u64,
    /// Of those, answered without an error.
    acked: u64,
    /// Of those, answered with an error, by its code.
    refused: BTreeMap<String, u64>,
    /// Of those, never answered.
    unanswered: u64,
    /// Of those, answered later than [`HANG`].
    late: u64,
    /// Deliveries the acknowledgements announced (their `delivered`), summed.
    delivered: u64,
    /// Missing receipts with no connection of the recipient closing then: lost by the service.
    lost: u64,
    /// Missing receipts where a connection of the recipient was closing or reconnecting then.
    lost_to_closing: u64,
    /// Every answered send's reply latency (seconds); sorted before the percentiles are read.
    reply_latency: Vec<f64>,
    /// Every receipt's delivery latency (seconds); sorted before the percentiles are read.
    delivery_latency: Vec<f64>,
    /// Handshakes begun in the phase, by status.
    handshakes: BTreeMap<u16, u64>,
}

/// The sends and handshakes, counted: by phase, by second of the load, and what the recoveries
/// are read from.
struct Tally {
    /// Per phase, in the order of the bounds.
    phases: Vec<Phase>,
    /// Per second of the load: sends made, of those refused, and their reply latencies.
    timeline: BTreeMap<u64, (u64, u64, Vec<f64>)>,
    /// When the first acknowledgement of a send made since DynamoDB came back arrived.
    first_ok_after_ddb: Option<f64>,
    /// `internal` answers to sends made more than [`RECOVERY`] after DynamoDB came back.
    errors_after_recovery: u64,
    /// Sends made during an outage that were never answered.
    silent_in_outage: u64,
    /// When the first handshake accepted since the JWKS came back began.
    first_handshake_after_jwks: Option<f64>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] * 1000.0
}

/// The report as JSON, and whether every "must hold" line held: `t0` and `end` bound the load,
/// `back` is when DynamoDB Local and the JWKS came back (if they went).
pub(super) fn report(
    s: &Soak,
    shared: &Shared,
    windows: &[Window],
    (t0, end): (f64, f64),
    (ddb_back_at, jwks_back_at): (Option<f64>, Option<f64>),
    opened_in: f64,
    server: &Readings,
) -> (Value, bool) {
    // Descriptors compared without the HTTP keep-alive pools (bounded, closed when idle).
    let pools = |k: &BTreeMap<String, u64>| k.get("pool").copied().unwrap_or(0);
    let (rss0, fds0) = (server.start.rss, server.start.fds);
    let (rss1, fds1) = (server.end.rss, server.end.fds);
    let fds0 = fds0 - pools(&server.start.kinds).min(fds0);
    let fds1 = fds1 - pools(&server.end.kinds).min(fds1);
    let left = server.left;
    let bounds = phase_bounds(windows, t0, end);
    let mut tally = Tally::new(&bounds);
    tally.count_sends(shared, &bounds, windows, t0, ddb_back_at);
    tally.count_handshakes(shared, &bounds, jwks_back_at);
    let integration_errors = shared
        .integration_errors
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let misdelivered = shared.misdelivered.load(Ordering::Relaxed);
    let duplicated = shared.duplicated.load(Ordering::Relaxed);
    let mut holds: Holds = Vec::new();
    let rows = phase_rows(
        &bounds,
        &mut tally.phases,
        &integration_errors,
        t0,
        &mut holds,
    );
    run_holds(&tally, (misdelivered, duplicated), &mut holds);
    let (ddb_recovery, jwks_recovery) =
        recovery_holds(&tally, (ddb_back_at, jwks_back_at), &mut holds);
    leak_holds(left, (rss0, fds0, rss1, fds1), &mut holds);
    let ok = holds.iter().all(|(_, h)| *h);
    let timeline = timeline_rows(tally.timeline);
    let mut report = json!({
        "label": s.label, "store": s.store, "connections": s.connections,
        "users": s.connections.div_ceil(usize::from(s.per_user)), "rate_per_connection": s.rate,
        "seconds": s.seconds, "max_stale_s": s.max_stale, "opened_in_s": opened_in,
        "faults": windows.iter().map(|w| json!({"name": w.name, "from_s": w.from - t0, "to_s": w.to - t0})).collect::<Vec<_>>(),
        "phases": rows,
        "misdelivered": misdelivered, "duplicated": duplicated,
        "connections_dropped": shared.dropped.load(Ordering::Relaxed),
        "recovery_s": {"dynamodb": ddb_recovery, "jwks_handshakes": jwks_recovery},
        "server": {"rss_kib_start": rss0, "rss_kib_end": rss1, "fds_start_without_pools": fds0, "fds_end_without_pools": fds1},
        "bindings_left": left,
        "must_hold": holds.iter().map(|(n, h)| json!({"what": n, "holds": h})).collect::<Vec<_>>(),
        "ok": ok,
        "timeline": timeline,
    });
    report["server"]["rss_kib_cold"] = json!(server.cold.0);
    report["server"]["fds_cold"] = json!(server.cold.1);
    report["server"]["fd_kinds_start"] = json!(server.start.kinds);
    report["server"]["fd_kinds_end"] = json!(server.end.kinds);
    (report, ok)
}

/// The phases, from `t0` to `end`: `steady` when there is no fault; otherwise `before`, then
/// `during: …` each fault with `between` them, then `after`.
fn phase_bounds(windows: &[Window], t0: f64, end: f64) -> Vec<Bound> {
    // Phases: before the first fault, then during and after each one.
    let mut bounds: Vec<Bound> = Vec::new();
    let mut cursor = t0;
    for w in windows {
        let name = if bounds.is_empty() {
            "before"
        } else {
            "between"
        };
        bounds.push((name.into(), cursor, w.from));
        bounds.push((format!("during: {}", w.name), w.from, w.to));
        cursor = w.to;
    }
    let last = if windows.is_empty() {
        "steady"
    } else {
        "after"
    };
    bounds.push((last.into(), cursor, end));
    bounds
}

/// The phase (its index in `bounds`) that time `t` falls in.
fn phase_of(bounds: &[Bound], t: f64) -> Option<usize> {
    bounds.iter().position(|(_, a, b)| t >= *a && t < *b)
}

/// Whether time `t` falls in a fault's window.
fn in_outage(windows: &[Window], t: f64) -> bool {
    windows.iter().any(|w| t >= w.from && t < w.to)
}

impl Tally {
    /// Nothing counted yet: a phase per bound.
    fn new(bounds: &[Bound]) -> Self {
        Self {
            phases: bounds.iter().map(|_| Phase::default()).collect(),
            timeline: BTreeMap::new(),
            first_ok_after_ddb: None,
            errors_after_recovery: 0,
            silent_in_outage: 0,
            first_handshake_after_jwks: None,
        }
    }

    /// Counts every send made within the phases.
    fn count_sends(
        &mut self,
        shared: &Shared,
        bounds: &[Bound],
        windows: &[Window],
        t0: f64,
        ddb_back_at: Option<f64>,
    ) {
        for map in &shared.sent {
            let Ok(map) = map.lock() else { continue };
            for rec in map.values() {
                let Some(p) = phase_of(bounds, rec.at) else {
                    continue;
                };
                self.count_send(shared, windows, (p, rec), t0, ddb_back_at);
            }
        }
    }

    /// Counts one send in its phase `p` and its second of the timeline: its reply (none, late,
    /// refused, acknowledged), its deliveries, and what the DynamoDB recovery is read from.
    fn count_send(
        &mut self,
        shared: &Shared,
        windows: &[Window],
        (p, rec): (usize, &Sent),
        t0: f64,
        ddb_back_at: Option<f64>,
    ) {
        let ph = &mut self.phases[p];
        ph.sent += 1;
        let second = (rec.at - t0).max(0.0) as u64;
        let slot = self.timeline.entry(second).or_default();
        slot.0 += 1;
        match &rec.reply {
            None => {
                ph.unanswered += 1;
                if in_outage(windows, rec.at) {
                    self.silent_in_outage += 1;
                }
            }
            Some((lat, delivered, error)) => {
                ph.reply_latency.push(*lat);
                slot.2.push(*lat);
                if *lat > HANG.as_secs_f64() {
                    ph.late += 1;
                }
                match error {
                    Some(code) => {
                        *ph.refused.entry(code.clone()).or_default() += 1;
                        slot.1 += 1;
                        // `internal` is the outage's answer; `not_bound` can be the honest
                        // answer to a message from a connection that was closing.
                        if code == "internal"
                            && let Some(back) = ddb_back_at
                            && rec.at >= back + RECOVERY.as_secs_f64()
                        {
                            self.errors_after_recovery += 1;
                        }
                    }
                    None => {
                        ph.acked += 1;
                        if let Some(back) = ddb_back_at
                            && rec.at >= back
                            && self.first_ok_after_ddb.is_none_or(|f| rec.at + lat < f)
                        {
                            self.first_ok_after_ddb = Some(rec.at + lat);
                        }
                        if let Some(n) = delivered {
                            count_deliveries(ph, shared, rec, *lat, *n);
                        }
                    }
                }
            }
        }
        for (_, lat) in &rec.receipts {
            ph.delivery_latency.push(*lat);
        }
    }

    /// Counts every handshake in its phase, by status, and notes the first accepted since the
    /// JWKS came back.
    fn count_handshakes(&mut self, shared: &Shared, bounds: &[Bound], jwks_back_at: Option<f64>) {
        if let Ok(hs) = shared.handshakes.lock() {
            for h in hs.iter() {
                if let Some(p) = phase_of(bounds, h.at) {
                    *self.phases[p].handshakes.entry(h.status).or_default() += 1;
                }
                if let Some(back) = jwks_back_at
                    && h.at >= back
                    && h.status == 101
                    && self.first_handshake_after_jwks.is_none_or(|f| h.at < f)
                {
                    self.first_handshake_after_jwks = Some(h.at);
                }
            }
        }
    }
}

/// Counts the deliveries of an acknowledged send, `n` by its reply (`lat` seconds after it was
/// sent): those missing as lost, or as missed by a connection that was closing.
fn count_deliveries(ph: &mut Phase, shared: &Shared, rec: &Sent, lat: f64, n: u64) {
    ph.delivered += n;
    let got = rec.receipts.len() as u64;
    if got < n {
        // A connection that closes (it asked to, or dropped) may miss
        // what was accepted for it a moment before: not a loss of
        // the service's making.
        let closing = rec.to_user.is_some_and(|u| {
            (u * shared.per_user..(u + 1) * shared.per_user).any(|c| {
                shared
                    .away
                    .get(c)
                    .and_then(|a| a.lock().ok())
                    .is_some_and(|a| {
                        a.iter()
                            .any(|(l, b)| rec.at < *b + 1.0 && rec.at + lat > *l - 3.0)
                    })
            })
        });
        if closing {
            ph.lost_to_closing += n - got;
        } else {
            ph.lost += n - got;
        }
    }
}

/// The report's `phases` rows, one per phase; each phase's "must hold" lines added to `holds`.
fn phase_rows(
    bounds: &[Bound],
    phases: &mut [Phase],
    integration_errors: &[f64],
    t0: f64,
    holds: &mut Holds,
) -> Vec<Value> {
    let mut rows = Vec::new();
    for ((name, from, to), ph) in bounds.iter().zip(phases.iter_mut()) {
        ph.reply_latency.sort_by(f64::total_cmp);
        ph.delivery_latency.sort_by(f64::total_cmp);
        phase_holds(name, ph, holds);
        let integration = integration_errors
            .iter()
            .filter(|t| **t >= *from && **t < *to)
            .count();
        rows.push(json!({
            "phase": name, "from_s": from - t0, "to_s": to - t0,
            "integration_errors": integration,
            "sent": ph.sent, "acknowledged": ph.acked, "refused": ph.refused,
            "unanswered": ph.unanswered, "answered_after_5s": ph.late,
            "delivered": ph.delivered, "lost": ph.lost, "missed_by_closing_connections": ph.lost_to_closing,
            "reply_ms": {"p50": pct(&ph.reply_latency, 0.5), "p99": pct(&ph.reply_latency, 0.99), "p999": pct(&ph.reply_latency, 0.999)},
            "delivery_ms": {"p50": pct(&ph.delivery_latency, 0.5), "p99": pct(&ph.delivery_latency, 0.99), "p999": pct(&ph.delivery_latency, 0.999)},
            "handshakes": ph.handshakes.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    rows
}

/// One phase's "must hold" lines: nothing lost (outside a fault), every send answered within
/// 5 s, and while DynamoDB is down, sends refused `internal` only and handshakes 500 only.
fn phase_holds(name: &str, ph: &Phase, holds: &mut Holds) {
    let outage = name.starts_with("during");
    let ddb_outage = name.contains("dynamodb");
    if !outage {
        holds.push((format!("{name}: lost 0"), ph.lost == 0));
    }
    holds.push((
        format!("{name}: every send answered within 5 s"),
        ph.unanswered == 0 && ph.late == 0,
    ));
    if ddb_outage {
        let other: u64 = ph
            .refused
            .iter()
            .filter(|(c, _)| c.as_str() != "internal")
            .map(|(_, n)| n)
            .sum();
        holds.push((
            format!("{name}: failed sends answered `internal`"),
            other == 0,
        ));
        let bad_handshakes: u64 = ph
            .handshakes
            .iter()
            .filter(|(s, _)| **s != 500 && **s != 101)
            .map(|(_, n)| n)
            .sum();
        holds.push((
            format!("{name}: handshakes refused with 500"),
            bad_handshakes == 0,
        ));
    }
}

/// The "must hold" lines over the whole run: nothing misdelivered or duplicated, no live
/// connection refused `not_bound`, no send unanswered during an outage.
fn run_holds(tally: &Tally, (misdelivered, duplicated): (u64, u64), holds: &mut Holds) {
    holds.push(("misdelivered 0 (every phase)".into(), misdelivered == 0));
    holds.push(("duplicated 0".into(), duplicated == 0));
    // A live connection answered `not_bound` lost its binding while open (nothing in the soak
    // ends a session): never, faults or not.
    let not_bound: u64 = tally
        .phases
        .iter()
        .filter_map(|ph| ph.refused.get("not_bound"))
        .sum();
    holds.push((
        "no live connection refused `not_bound` (every phase)".into(),
        not_bound == 0,
    ));
    holds.push((
        "no send unanswered during an outage".into(),
        tally.silent_in_outage == 0,
    ));
}

/// The report's `recovery_s`: seconds from DynamoDB's return to the first send acknowledged,
/// and from the JWKS's return to the first handshake accepted (`None`: no such fault, or no
/// recovery); with their "must hold" lines.
fn recovery_holds(
    tally: &Tally,
    (ddb_back_at, jwks_back_at): (Option<f64>, Option<f64>),
    holds: &mut Holds,
) -> (Option<f64>, Option<f64>) {
    let ddb_recovery = ddb_back_at.and_then(|b| tally.first_ok_after_ddb.map(|f| f - b));
    if ddb_back_at.is_some() {
        holds.push((
            "recovered within 5 s of DynamoDB's return".into(),
            ddb_recovery.is_some_and(|r| r <= RECOVERY.as_secs_f64())
                && tally.errors_after_recovery == 0,
        ));
    }
    let jwks_recovery = jwks_back_at.and_then(|b| tally.first_handshake_after_jwks.map(|f| f - b));
    if jwks_back_at.is_some() {
        holds.push((
            "handshakes back within 5 s of the JWKS's return".into(),
            jwks_recovery.is_some_and(|r| r <= RECOVERY.as_secs_f64()),
        ));
    }
    (ddb_recovery, jwks_recovery)
}

/// The "must hold" lines on what the load left once every connection closed: no binding
/// (when counted), RSS and descriptors (keep-alive pools aside) within 10% of the baseline.
fn leak_holds(
    left: Option<u64>,
    (rss0, fds0, rss1, fds1): (u64, u64, u64, u64),
    holds: &mut Holds,
) {
    if let Some(left) = left {
        holds.push((
            "nothing left bound after every connection closed".into(),
            left == 0,
        ));
    }
    let within = |a: u64, b: u64| b as f64 <= a as f64 * 1.10 + 1.0;
    holds.push((
        "RSS back within 10% after connections close".into(),
        within(rss0, rss1),
    ));
    holds.push((
        "descriptors (keep-alive pools aside) back within 10% after connections close".into(),
        within(fds0, fds1),
    ));
}

/// The report's `timeline`: per second of the load, the sends, the refused and the reply
/// latency.
fn timeline_rows(timeline: BTreeMap<u64, (u64, u64, Vec<f64>)>) -> Vec<Value> {
    timeline
        .into_iter()
        .map(|(sec, (sent, errors, mut lat))| {
            lat.sort_by(f64::total_cmp);
            json!({"second": sec, "sent": sent, "errors": errors, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)})
        })
        .collect()
}
