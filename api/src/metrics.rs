//! `GET /metrics`: Prometheus text of the API's requests and the node's counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Scope;
use crate::{auth, ApiState};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Request counts and latencies by route and status.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS_SECS.len()],
    count: u64,
    sum_secs: f64,
}

impl Metrics {
    fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests.entry((route.to_owned(), status)).or_default() += 1;
        drop(requests);
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = latency.entry(route.to_owned()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS_SECS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum_secs += secs;
    }

    fn render(&self, out: &mut String) {
        out.push_str("# HELP lattice_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE lattice_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "lattice_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP lattice_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE lattice_http_request_duration_seconds histogram\n");
        let name = "lattice_http_request_duration_seconds";
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            for (bound, n) in BUCKETS_SECS.iter().zip(h.buckets) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum_secs);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
        }
    }
}

/// Middleware: counts every request under its route pattern (never its concrete path,
/// so keys do not explode the label set).
pub(crate) async fn track(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let start = clock();
    let response = next.run(request).await;
    state.inner.metrics.record(
        &route,
        response.status().as_u16(),
        clock().duration_since(start),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(p) = auth::authorize(&state.inner.config.tokens, &headers, Scope::Read, "") {
        return p.into_response();
    }
    let mut out = String::new();
    state.inner.metrics.render(&mut out);
    render_node(&state, &mut out).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Appends the node's counters and each member's phi, if the node answers.
async fn render_node(state: &ApiState, out: &mut String) {
    if let Ok((node, gossip)) = state.inner.node.stats().await {
        let counters = [
            (
                "lattice_deltas_applied_total",
                "Records received by dissemination and new here.",
                node.deltas_applied,
            ),
            (
                "lattice_deltas_duplicate_total",
                "Records received by dissemination already here.",
                node.deltas_duplicate,
            ),
            (
                "lattice_deltas_sent_total",
                "Records broadcast after a local write became durable.",
                node.deltas_sent,
            ),
            (
                "lattice_repairs_total",
                "Records applied by anti-entropy.",
                node.repairs,
            ),
            (
                "lattice_anti_entropy_exchanges_total",
                "Anti-entropy exchanges started.",
                node.exchanges,
            ),
            (
                "lattice_log_records_pruned_total",
                "Delta-log records pruned (every live member held them).",
                node.records_pruned,
            ),
            (
                "lattice_syncs_total",
                "Group commits: store syncs that made staged changes durable.",
                node.syncs,
            ),
            (
                "lattice_frames_refused_total",
                "Frames from peers dropped as malformed or refused.",
                node.frames_refused,
            ),
            (
                "lattice_records_refused_total",
                "Records brought by dissemination that the replica refused (malformed, too large, stamped too far ahead).",
                node.records_refused,
            ),
            (
                "lattice_node_events_dropped_total",
                "Node events (membership changes, refusals) dropped because 4,096 were waiting.",
                node.events_dropped,
            ),
            (
                "lattice_gossip_messages_sent_total",
                "Gossip messages sent.",
                gossip.messages_sent,
            ),
            (
                "lattice_gossip_messages_received_total",
                "Gossip messages received.",
                gossip.messages_received,
            ),
            (
                "lattice_gossip_suspicions_total",
                "Suspicions this node raised.",
                gossip.suspicions,
            ),
            (
                "lattice_gossip_declared_dead_total",
                "Members this node declared dead.",
                gossip.declared_dead,
            ),
        ];
        for (name, help, value) in counters {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        }
    }
    if let Ok(lag) = state.inner.node.replication_lag().await {
        out.push_str(
            "# HELP lattice_replication_lag_dots Writes (dots) this node holds that each member lacked at its last anti-entropy digest.\n",
        );
        out.push_str("# TYPE lattice_replication_lag_dots gauge\n");
        for (member, dots) in lag {
            let _ = writeln!(
                out,
                "lattice_replication_lag_dots{{member=\"{member}\"}} {dots}"
            );
        }
    }
    if let Ok(members) = state.inner.node.members().await {
        out.push_str("# HELP lattice_member_phi phi-accrual suspicion of each member.\n");
        out.push_str("# TYPE lattice_member_phi gauge\n");
        for m in members {
            let _ = writeln!(out, "lattice_member_phi{{member=\"{}\"}} {}", m.id, m.phi);
        }
    }
}

/// The API's monotonic clock, for latencies.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}
