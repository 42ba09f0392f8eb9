//! Durable writes through the real `SledStore` with group commit, against the disk's
//! physical limit measured in the same run.
//!
//! For 1, 16 and 256 concurrent writers (tasks on a one-thread tokio runtime, as the
//! server will have them), each write is one increment on the writer's own document,
//! acknowledged only after the replica's sync (sled flush plus fsync). Printed: writes per second and p50/p99 acknowledgement latency. Beside it, the
//! cost of a raw `fdatasync` after a 4 KiB append to a file in the same directory, and
//! the ratio of the 1-writer p50 to it.
//!
//! Run: `cargo bench --bench durable_writes` (about 20 s). Goals: at least 50,000 durable
//! writes/s at 256 writers; p50 at 1 writer within 1.5x the raw fdatasync.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use lattice_crdt::{NodeId, Op};
use lattice_node::runtime::{Runtime, QUEUE_LEN_DEFAULT};
use lattice_node::store::SledStore;
use lattice_node::{Replica, ReplicaConfig};

/// How long each writer count runs.
const RUN_TIME: Duration = Duration::from_secs(4);
/// Raw fdatasync samples.
const FSYNC_SAMPLES: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// p50 and p99 of `fdatasync` after appending 4 KiB to a file in `dir`.
fn raw_fdatasync(dir: &Path) -> (Duration, Duration) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fdatasync-probe"))
        .expect("probe file");
    let block = [0xA5u8; 4096];
    let mut samples: Vec<Duration> = (0..FSYNC_SAMPLES)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).expect("append");
            file.sync_data().expect("fdatasync");
            start.elapsed()
        })
        .collect();
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

struct Figures {
    writes_per_s: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `writers` tasks of one-increment writes against a fresh sled replica.
fn durable_writes(dir: &Path, writers: usize) -> Figures {
    let store = SledStore::open(&dir.join(format!("w{writers}")), NodeId::new(1).unwrap())
        .expect("open sled store");
    let replica = Replica::open(store, ReplicaConfig::default()).expect("open replica");
    let runtime = Runtime::start(replica, QUEUE_LEN_DEFAULT);
    let tasks = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut latencies: Vec<Duration> = tasks.block_on(async {
        let writers: Vec<_> = (0..writers)
            .map(|w| {
                let handle = runtime.handle();
                tokio::task::spawn(async move {
                    let key = format!("bench/writer-{w}");
                    let op = Op::Increment {
                        field: "n".into(),
                        by: 1,
                    };
                    let mut latencies = Vec::new();
                    let start = Instant::now();
                    while start.elapsed() < RUN_TIME {
                        let t = Instant::now();
                        let written = handle.write_async(&key, vec![op.clone()], None).await;
                        written.expect("durable write");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in writers {
            all.extend(w.await.expect("writer task"));
        }
        all
    });
    runtime.stop().expect("clean stop");
    latencies.sort();
    Figures {
        writes_per_s: latencies.len() as f64 / RUN_TIME.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let dir =
        tempfile::tempdir_in(std::env::var("LATTICE_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("bench dir");
    let (fsync_p50, fsync_p99) = raw_fdatasync(dir.path());
    println!(
        "raw fdatasync of a 4 KiB append: p50 {}  p99 {}",
        ms(fsync_p50),
        ms(fsync_p99)
    );
    println!();
    println!(
        "{:>8} {:>14} {:>12} {:>12}",
        "writers", "writes/s", "p50", "p99"
    );
    let mut rows = Vec::new();
    for writers in [1, 16, 256] {
        let f = durable_writes(dir.path(), writers);
        println!(
            "{:>8} {:>14.0} {:>12} {:>12}",
            writers,
            f.writes_per_s,
            ms(f.p50),
            ms(f.p99)
        );
        rows.push((writers, f));
    }
    let one = &rows[0].1;
    let many = &rows[2].1;
    let ratio = one.p50.as_secs_f64() / fsync_p50.as_secs_f64();
    println!();
    println!(
        "1-writer p50 / raw fdatasync p50 = {ratio:.2}x (goal <= 1.5x): {}",
        verdict(ratio <= 1.5)
    );
    println!(
        "256 writers: {:.0} writes/s (goal >= 50,000): {}",
        many.writes_per_s,
        verdict(many.writes_per_s >= 50_000.0)
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}
