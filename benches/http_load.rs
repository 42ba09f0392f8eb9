//! HTTP load on one lattice node beside a bare axum endpoint in the same process, and
//! replication latency in a 3-node cluster.
//!
//! Everything runs in this one process, over real loopback sockets, on one tokio runtime
//! with a worker per core that servers and clients share:
//!
//! 1. baseline: a bare axum route answering `GET /v1/docs/{key}` with a small JSON
//!    document view, no lattice code behind it;
//! 2. `GET /v1/docs/{key}` on one lattice node, sending the `Lattice-Session` header of
//!    a prior write, so every request goes through the session check; its requests/s
//!    against the baseline's. Rows 1 and 2 run in alternating rounds, each a third of
//!    the phase time, and the fastest round of each is printed with the ratio of every
//!    round, so load from elsewhere on the machine hits both alike;
//! 3. `POST /v1/docs/{key}` of one increment (each connection its own document),
//!    answered once durable: sled with fsync in a temporary directory, group commit;
//! 4. replication: three nodes over QUIC with mutual TLS (certificates made in memory),
//!    sled stores, default settings; writes over HTTP on A paced at 1,000/s, each to its
//!    own key; for B and C, the time from A's answer reaching the client to the change
//!    showing on the follower (`NodeHandle::subscribe`). A change seen before the answer
//!    arrived counts as 0; one not seen within [`SEEN_TIMEOUT`] counts as never seen.
//!
//! Rows 1–3 use one load generator: a fixed number of tokio tasks, each with its own
//! HTTP/1.1 keep-alive connection (hyper's client), sending back to back for a fixed
//! time after a warm-up; every latency is kept and sorted for the percentiles.
//!
//! Run: `cargo bench --bench http_load` (about 30 s after the build). Quick smoke:
//! `cargo bench --bench http_load -- --quick` (1 s per phase), or
//! `LATTICE_BENCH_SECS=N` for N seconds per phase. Stores go under `LATTICE_BENCH_DIR`
//! (default: the current directory, so fsync reaches a real disk). Goals: GET at least
//! 0.7x the baseline's requests/s; replication p99 at most 50 ms on B and on C. The
//! clients share the cores with the servers, so anything else running on the machine
//! moves every row: the 1-minute load average is printed first.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use lattice_api::{router, ApiConfig, ApiState, SESSION_HEADER};
use lattice_crdt::NodeId;
use lattice_gossip::engine::MemberState;
use lattice_gossip::quic::Limits;
use lattice_gossip::tls::{generate_ca, generate_node_cert, CaBundle};
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::{Change, NodeHandle, NodeRuntime};
use lattice_node::store::SledStore;
use lattice_node::{NodeConfig, NodeCore, Replica, ReplicaConfig};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

/// Connections for the GET rows (baseline and lattice alike).
const READ_CONNECTIONS: usize = 32;
/// Alternating rounds of baseline and lattice GET; each takes a share of the phase time.
const READ_ROUNDS: u32 = 3;
/// Connections for the POST row: enough for many writes to share each sync.
const WRITE_CONNECTIONS: usize = 64;
/// Seconds per phase unless `LATTICE_BENCH_SECS` or `--quick` says otherwise.
const PHASE_SECS_DEFAULT: u64 = 5;
/// The paced write rate on A.
const REPLICATION_WRITES_PER_S: u32 = 1_000;
/// Connections the paced writes are spread over, so a slow answer delays no other write.
const REPLICATION_WRITERS: usize = 16;
/// A write not seen on a follower within this time after its answer counts as never seen.
const SEEN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the cluster may take to form.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Goal for lattice GET requests/s over the baseline's.
const READ_RATIO_GOAL: f64 = 0.7;
/// Goal for the replication p99 on each follower.
const REPLICATION_P99_GOAL: Duration = Duration::from_millis(50);
/// The one-op batch every write sends.
const INCREMENT: &str = r#"{"ops":[{"op":"increment","field":"n","by":1}]}"#;

/// How long each phase warms up and is measured.
#[derive(Clone, Copy)]
struct Timing {
    warmup: Duration,
    measure: Duration,
}

impl Timing {
    /// `LATTICE_BENCH_SECS`, else 1 s with `--quick`, else the default; warm-up a fifth.
    fn from_env() -> Timing {
        let quick = std::env::args().any(|a| a == "--quick");
        let secs = match std::env::var("LATTICE_BENCH_SECS") {
            Ok(s) => s.parse().expect("LATTICE_BENCH_SECS is whole seconds"),
            Err(_) if quick => 1,
            Err(_) => PHASE_SECS_DEFAULT,
        };
        let measure = Duration::from_secs(secs).max(Duration::from_secs(1));
        Timing {
            warmup: measure / 5,
            measure,
        }
    }
}

/// One request, sent again and again.
#[derive(Clone)]
struct Template {
    method: Method,
    path: String,
    session: Option<HeaderValue>,
    body: Bytes,
}

impl Template {
    fn get(path: String, session: HeaderValue) -> Template {
        Template {
            method: Method::GET,
            path,
            session: Some(session),
            body: Bytes::new(),
        }
    }

    fn increment(path: String) -> Template {
        Template {
            method: Method::POST,
            path,
            session: None,
            body: Bytes::from_static(INCREMENT.as_bytes()),
        }
    }

    fn build(&self) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header(HOST, "127.0.0.1");
        if !self.body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(session) = &self.session {
            request = request.header(SESSION_HEADER, session.clone());
        }
        request
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

/// One HTTP/1.1 keep-alive connection.
struct Client {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connecting");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        Client { sender }
    }

    /// Sends `request`, reads the whole answer; returns its status and session header.
    async fn send(&mut self, request: &Template) -> (StatusCode, Option<HeaderValue>) {
        self.sender.ready().await.expect("connection ready");
        let response = self
            .sender
            .send_request(request.build())
            .await
            .expect("HTTP exchange");
        let status = response.status();
        let session = response.headers().get(SESSION_HEADER).cloned();
        response.into_body().collect().await.expect("response body");
        (status, session)
    }
}

/// What one load run measured.
struct Figures {
    requests_per_s: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// Runs `connections` clients against `addr`, client `i` sending `request(i)`.
async fn load(
    addr: SocketAddr,
    connections: usize,
    timing: Timing,
    request: impl Fn(usize) -> Template,
) -> Figures {
    let measure_from = Instant::now() + timing.warmup;
    let until = measure_from + timing.measure;
    let clients: Vec<_> = (0..connections)
        .map(|i| tokio::spawn(client_loop(addr, request(i), measure_from, until)))
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for client in clients {
        let (l, e) = client.await.expect("client task");
        latencies.extend(l);
        errors += e;
    }
    assert!(!latencies.is_empty(), "no request succeeded");
    latencies.sort();
    Figures {
        requests_per_s: latencies.len() as f64 / timing.measure.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors,
    }
}

/// One client: latencies of the 200 answers to requests sent in `[measure_from, until)`,
/// and how many other answers came.
async fn client_loop(
    addr: SocketAddr,
    request: Template,
    measure_from: Instant,
    until: Instant,
) -> (Vec<Duration>, usize) {
    let mut client = Client::connect(addr).await;
    let (mut latencies, mut errors) = (Vec::new(), 0);
    loop {
        let sent = Instant::now();
        if sent >= until {
            return (latencies, errors);
        }
        let (status, _) = client.send(&request).await;
        if sent < measure_from {
            continue;
        }
        if status == StatusCode::OK {
            latencies.push(sent.elapsed());
        } else {
            errors += 1;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn print_row(what: &str, connections: usize, f: &Figures) {
    println!(
        "{what:<40} {connections:>5} {:>12.0} {:>11} {:>11} {:>7}",
        f.requests_per_s,
        ms(f.p50),
        ms(f.p99),
        f.errors
    );
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Serves `app` on a fresh loopback port until the runtime ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).await.expect("binding HTTP");
    let addr = listener.local_addr().expect("the HTTP address");
    tokio::spawn(axum::serve(listener, app).into_future());
    addr
}

/// Starts node `id` as `lattice serve` does: a sled store under `dir`, QUIC with a
/// certificate from `ca`, joining through `seeds`. Answers it and its gossip address.
fn start_node(
    ca: &CaBundle,
    id: u64,
    dir: &Path,
    seeds: &[SocketAddr],
) -> (NodeRuntime<SledStore>, SocketAddr) {
    let node_id = NodeId::new(id).expect("a non-zero id");
    let cert = generate_node_cert(ca, &format!("node-{id}")).expect("a node certificate");
    let tls = NodeTls::from_bundle(&cert).expect("node TLS");
    let transport = QuicTransport::bind(loopback(), &tls, Limits::default()).expect("QUIC");
    let gossip = transport.local_addr();
    let store = SledStore::open(&dir.join(format!("node-{id}")), node_id).expect("opening sled");
    let replica = Replica::open(store, ReplicaConfig::default()).expect("opening the replica");
    let core = NodeCore::new(replica, gossip, NodeConfig::default(), id);
    (NodeRuntime::start(core, transport, seeds), gossip)
}

/// Serves the HTTP API of `node`.
async fn serve_api(node: &NodeRuntime<SledStore>) -> SocketAddr {
    let state = ApiState::new(
        node.handle(),
        ApiConfig::default(),
        ReplicaConfig::default().limits,
    );
    serve(router(state)).await
}

fn read_path(i: usize) -> String {
    format!("/v1/docs/bench/read-{i}")
}

/// Serves the baseline: a bare axum route answering a document view like lattice's.
async fn serve_baseline() -> SocketAddr {
    async fn view(axum::extract::Path(key): axum::extract::Path<String>) -> Json<Value> {
        Json(json!({"key": key, "fields": {"n": 1}}))
    }
    serve(Router::new().route("/v1/docs/{*key}", get(view))).await
}

/// Loads `addr` with GETs of the read documents, carrying `session`.
async fn reads(addr: SocketAddr, timing: Timing, session: &HeaderValue) -> Figures {
    load(addr, READ_CONNECTIONS, timing, |i| {
        Template::get(read_path(i), session.clone())
    })
    .await
}

/// The run with the most requests/s.
fn fastest(runs: Vec<Figures>) -> Figures {
    let best = runs
        .into_iter()
        .max_by(|a, b| a.requests_per_s.total_cmp(&b.requests_per_s));
    best.expect("at least one round")
}

/// Writes one increment to every document the readers read; answers the last write's
/// session token (it covers them all).
async fn seed_documents(addr: SocketAddr) -> HeaderValue {
    let mut client = Client::connect(addr).await;
    let mut session = None;
    for i in 0..READ_CONNECTIONS {
        let (status, token) = client.send(&Template::increment(read_path(i))).await;
        assert_eq!(status, StatusCode::OK, "seeding {}", read_path(i));
        session = token;
    }
    session.expect("a write answers a Lattice-Session header")
}

/// Rows 1 to 3: baseline and lattice GET in alternating rounds (the fastest of each
/// counts, so a burst of load from elsewhere on the machine hits both alike), then the
/// lattice POST.
async fn one_node(dir: &Path, timing: Timing) {
    let baseline = serve_baseline().await;
    let ca = generate_ca("lattice bench").expect("a CA");
    let (node, _) = start_node(&ca, 1, &dir.join("single"), &[]);
    let addr = serve_api(&node).await;
    let session = seed_documents(addr).await;
    let round = Timing {
        warmup: timing.warmup / READ_ROUNDS,
        measure: timing.measure / READ_ROUNDS,
    };
    let (mut bases, mut lattices, mut ratios) = (Vec::new(), Vec::new(), String::new());
    for _ in 0..READ_ROUNDS {
        let base = reads(baseline, round, &HeaderValue::from_static("unused")).await;
        let read = reads(addr, round, &session).await;
        ratios.push_str(&format!(
            " {:.2}",
            read.requests_per_s / base.requests_per_s
        ));
        bases.push(base);
        lattices.push(read);
    }
    let (base, read) = (fastest(bases), fastest(lattices));
    print_row("baseline: bare axum GET, JSON", READ_CONNECTIONS, &base);
    print_row(
        "lattice GET /v1/docs/{key}, session",
        READ_CONNECTIONS,
        &read,
    );
    let write = load(addr, WRITE_CONNECTIONS, timing, |i| {
        Template::increment(format!("/v1/docs/bench/write-{i}"))
    })
    .await;
    print_row(
        "lattice POST /v1/docs/{key}, 1 op",
        WRITE_CONNECTIONS,
        &write,
    );
    let ratio = read.requests_per_s / base.requests_per_s;
    println!(
        "lattice GET / baseline, per round:{ratios}; fastest over fastest {ratio:.2}x \
         (goal >= {READ_RATIO_GOAL}x): {}",
        verdict(ratio >= READ_RATIO_GOAL && read.errors == 0)
    );
    node.stop().await.expect("the node stops cleanly");
}

/// Waits until every node sees all the others alive; answers how long it took.
async fn wait_for_cluster(handles: &[NodeHandle]) -> Duration {
    let start = Instant::now();
    for h in handles {
        loop {
            let members = h.members().await.expect("members");
            let alive = members.iter().filter(|m| m.state == MemberState::Alive);
            if alive.count() == handles.len() - 1 {
                break;
            }
            assert!(start.elapsed() < JOIN_TIMEOUT, "the cluster did not form");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    start.elapsed()
}

/// Writes `{prefix}/{seq}` for seq in `0..total` on `addr`, write seq due at
/// `seq / REPLICATION_WRITES_PER_S` seconds. Answers when each write's 200 arrived
/// (`None`: it failed), and how long all took.
async fn paced_writes(
    addr: SocketAddr,
    prefix: &'static str,
    total: usize,
) -> (Vec<Option<Instant>>, Duration) {
    let period = Duration::from_secs(1) / REPLICATION_WRITES_PER_S;
    let start = Instant::now();
    let writers: Vec<_> = (0..REPLICATION_WRITERS)
        .map(|w| {
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                let mut acks = Vec::new();
                for seq in (w..total).step_by(REPLICATION_WRITERS) {
                    let due = start + period * u32::try_from(seq).expect("few writes");
                    tokio::time::sleep_until(due.into()).await;
                    let write = Template::increment(format!("/v1/docs/{prefix}/{seq}"));
                    let (status, _) = client.send(&write).await;
                    acks.push((seq, (status == StatusCode::OK).then(Instant::now)));
                }
                acks
            })
        })
        .collect();
    let mut acks = vec![None; total];
    for writer in writers {
        for (seq, ack) in writer.await.expect("writer task") {
            acks[seq] = ack;
        }
    }
    (acks, start.elapsed())
}

/// When each `repl/{seq}` first changed on a follower, until all `total` did or `stop`.
async fn watch_changes(
    mut changes: broadcast::Receiver<Change>,
    total: usize,
    mut stop: watch::Receiver<bool>,
) -> (Vec<Option<Instant>>, u64) {
    let (mut seen, mut count, mut lagged) = (vec![None; total], 0, 0);
    while count < total {
        let change = tokio::select! {
            change = changes.recv() => change,
            _ = stop.changed() => break,
        };
        match change {
            Ok(Change { key, .. }) => {
                let seq = key
                    .strip_prefix("repl/")
                    .and_then(|s| s.parse::<usize>().ok());
                if let Some(slot) = seq.and_then(|s| seen.get_mut(s)).filter(|s| s.is_none()) {
                    *slot = Some(Instant::now());
                    count += 1;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    (seen, lagged)
}

/// Prints a follower's row; answers its p99 (`None`: nothing was seen) and how many
/// acknowledged writes it did not show in time.
async fn follower_row(
    name: &str,
    node: &NodeHandle,
    acks: &[Option<Instant>],
    seen: &[Option<Instant>],
    lagged: u64,
) -> (Option<Duration>, usize) {
    let (mut latencies, mut missing) = (Vec::new(), Vec::new());
    for (seq, (ack, seen)) in acks.iter().zip(seen).enumerate() {
        let Some(ack) = ack else { continue };
        match seen.map(|s| s.saturating_duration_since(*ack)) {
            Some(d) if d <= SEEN_TIMEOUT => latencies.push(d),
            _ => missing.push(seq),
        }
    }
    let mut present_later = 0;
    for seq in &missing {
        let read = node.read(&format!("repl/{seq}"), None).await.expect("read");
        present_later += usize::from(read.view.is_some());
    }
    latencies.sort();
    let (p50, p99, max) = match latencies.last() {
        Some(&max) => (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            max,
        ),
        None => Default::default(),
    };
    println!(
        "{name:<9} {:>7} {:>11} {:>11} {:>11} {:>10} {:>14} {lagged:>7}",
        latencies.len(),
        ms(p50),
        ms(p99),
        ms(max),
        missing.len(),
        present_later,
    );
    ((!latencies.is_empty()).then_some(p99), missing.len())
}

/// Row 4: replication latency from A to B and C.
async fn replication(dir: &Path, timing: Timing) {
    let ca = generate_ca("lattice bench cluster").expect("a CA");
    let dir = dir.join("cluster");
    let (a, a_gossip) = start_node(&ca, 1, &dir, &[]);
    let (b, _) = start_node(&ca, 2, &dir, &[a_gossip]);
    let (c, _) = start_node(&ca, 3, &dir, &[a_gossip]);
    let handles = [a.handle(), b.handle(), c.handle()];
    let formed = wait_for_cluster(&handles).await;
    let addr = serve_api(&a).await;
    let rate = u64::from(REPLICATION_WRITES_PER_S);
    let warm = usize::try_from(rate * timing.warmup.as_millis() as u64 / 1000).expect("fits");
    paced_writes(addr, "warmup", warm).await;

    let total = usize::try_from(rate * timing.measure.as_secs()).expect("fits");
    let (stop, stopped) = watch::channel(false);
    let watchers: Vec<_> = handles[1..]
        .iter()
        .map(|h| tokio::spawn(watch_changes(h.subscribe(), total, stopped.clone())))
        .collect();
    let (acks, took) = paced_writes(addr, "repl", total).await;
    tokio::time::sleep(SEEN_TIMEOUT).await;
    let _ = stop.send(true);
    let acked = acks.iter().flatten().count();
    println!(
        "\nreplication: 3 nodes on loopback (QUIC, mutual TLS, sled), formed in {:.1} s;\n\
         {total} writes over HTTP on A, each to its own key, paced at {rate}/s on \
         {REPLICATION_WRITERS} connections: {acked} acknowledged in {:.2} s ({:.0}/s)",
        formed.as_secs_f64(),
        took.as_secs_f64(),
        acked as f64 / took.as_secs_f64()
    );
    println!(
        "{:<9} {:>7} {:>11} {:>11} {:>11} {:>10} {:>14} {:>7}",
        "follower", "seen", "p50", "p99", "max", "not seen", "present later", "lagged"
    );
    let (mut worst, mut missing) = (Some(Duration::ZERO), 0);
    for (name, (watcher, h)) in ["B", "C"]
        .iter()
        .zip(watchers.into_iter().zip(&handles[1..]))
    {
        let (seen, lagged) = watcher.await.expect("watcher task");
        let (p99, not_seen) = follower_row(name, h, &acks, &seen, lagged).await;
        worst = worst.zip(p99).map(|(w, p)| w.max(p));
        missing += not_seen;
    }
    println!(
        "(not seen: no change within {} s of A's answer; present later: there when read afterwards)",
        SEEN_TIMEOUT.as_secs()
    );
    let met = worst.is_some_and(|w| w <= REPLICATION_P99_GOAL) && acked == total && missing == 0;
    println!(
        "replication p99, worst follower: {} (goal <= {}, every write acknowledged and seen): {}",
        worst.map_or("-".into(), ms),
        ms(REPLICATION_P99_GOAL),
        verdict(met)
    );
    for node in [a, b, c] {
        node.stop().await.expect("a node stops cleanly");
    }
}

fn main() {
    let timing = Timing::from_env();
    let dir =
        tempfile::tempdir_in(std::env::var("LATTICE_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("bench dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!("load average before the run: {one_minute} (other processes share the cores)");
    }
    runtime.block_on(async {
        println!(
            "loopback TCP, HTTP/1.1 keep-alive, one client task per connection; \
             {} s measured after {:.1} s warm-up per phase",
            timing.measure.as_secs(),
            timing.warmup.as_secs_f64()
        );
        println!(
            "{:<40} {:>5} {:>12} {:>11} {:>11} {:>7}",
            "endpoint", "conns", "requests/s", "p50", "p99", "non-200"
        );
        one_node(dir.path(), timing).await;
        replication(dir.path(), timing).await;
    });
}
