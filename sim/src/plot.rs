//! `lattice sim --plot`: a self-contained SVG of a batch of runs.
//!
//! Two panels: the convergence-time histogram over the seeds (p50 and p99 marked), and
//! the membership timeline of the first passing run — one row per observed node (at
//! most 16, picked in a large cluster so that every kind of fault shows), as seen by
//! one observer (the node the fault schedule left up the longest), coloured by
//! state, with each node's own crashes, pauses, partitions and clock jumps drawn in a
//! strip under its row.

use std::fmt::Write;

use crate::report::{RunReport, Summary};
use crate::timeline::{node_faults, MemberState, NodeFaults, Timeline};

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 30.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const HIST_TOP: f64 = 100.0;
const HIST_H: f64 = 190.0;
const ROW_H: f64 = 26.0;
const BAR_H: f64 = 14.0;
const STRIP_H: f64 = 6.0;
/// Most rows; a larger cluster shows a pick of its nodes ([`shown_nodes`]), and says so.
const MAX_ROWS: usize = 16;

const ALIVE: &str = "#2e9d4b";
const SUSPECT: &str = "#f0a500";
const DEAD: &str = "#d62728";
const LEFT_GREY: &str = "#9a9a9a";
const UNKNOWN: &str = "#eeeeee";
const CRASH: &str = "#222222";
const PAUSE: &str = "#8e44ad";
const PARTITION: &str = "#2f80ed";

/// The SVG document for `summary`: the convergence histogram over all its runs and the
/// membership timeline of its first passing run.
pub fn svg(summary: &Summary) -> String {
    let run = summary.runs.first();
    let rows = run.map_or(0, |r| r.nodes.min(MAX_ROWS));
    let timeline_top = HIST_TOP + HIST_H + 90.0;
    let rows_top = timeline_top + 58.0;
    let rows_bottom = rows_top + rows as f64 * ROW_H;
    let height = if run.is_some() {
        rows_bottom + 110.0
    } else {
        timeline_top + 40.0
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let seeds = summary.runs.len() + summary.failures.len();
    let _ = write!(
        s,
        r#"<text x="20" y="28" font-size="17" font-weight="bold">lattice sim: {seeds} seed{} ({} passed, {} failed)</text>"#,
        if seeds == 1 { "" } else { "s" },
        summary.runs.len(),
        summary.failures.len()
    );
    if let Some(run) = run {
        let _ = write!(
            s,
            r##"<text x="20" y="46" fill="#555">{}</text>"##,
            escape(&run.command)
        );
    }
    histogram(&mut s, summary);
    match run {
        Some(run) => timeline(&mut s, run, timeline_top, rows_top, rows),
        None => {
            let _ = write!(
                s,
                r#"<text x="20" y="{}">No passing run: no membership timeline.</text>"#,
                timeline_top + 20.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The convergence-time panel: one bar per bin of runs, p50 and p99 as dashed lines.
fn histogram(s: &mut String, summary: &Summary) {
    let (p50, p99, max) = summary.convergence_ms();
    let values: Vec<u64> = summary.runs.iter().map(|r| r.convergence_ms).collect();
    let _ = write!(
        s,
        r#"<text x="20" y="{}" font-size="14" font-weight="bold">Convergence time after heal-all over {} passing seed{} — p50 {p50} ms, p99 {p99} ms, max {max} ms</text>"#,
        HIST_TOP - 24.0,
        values.len(),
        if values.len() == 1 { "" } else { "s" }
    );
    let bottom = HIST_TOP + HIST_H;
    // Bins [k * width, (k + 1) * width) ms (convergence is checked every 100 ms).
    let width = nice_step(max.max(100) as f64 / 25.0).max(100.0);
    let bins = ((max as f64 / width).floor() as usize + 1).max(5);
    let mut counts = vec![0u64; bins];
    for &v in &values {
        counts[((v as f64 / width).floor() as usize).min(bins - 1)] += 1;
    }
    let y_step = nice_step(counts.iter().copied().max().unwrap_or(0).max(1) as f64 / 5.0).max(1.0);
    let top_count =
        (counts.iter().copied().max().unwrap_or(0).max(1) as f64 / y_step).ceil() * y_step;
    let (lo, hi) = (0.0, bins as f64 * width);
    let x = |v: f64| LEFT + (v - lo) / (hi - lo) * PLOT_W;
    let y = |c: f64| bottom - c / top_count * HIST_H;
    // y grid and labels.
    let mut c = 0.0;
    while c <= top_count + 1e-9 {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" text-anchor="end">{c}</text>"##,
            LEFT + PLOT_W,
            LEFT - 6.0,
            y(c) + 4.0,
            yy = y(c)
        );
        c += y_step;
    }
    for (k, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let from = k as f64 * width;
        let (x0, x1) = (x(from) + 1.0, x(from + width) - 1.0);
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#6a8fc7"><title>{count} run(s) in [{from}, {}) ms</title></rect>"##,
            y(count as f64),
            (x1 - x0).max(1.0),
            bottom - y(count as f64),
            from + width
        );
    }
    // Axes and x ticks (at most about ten labels).
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{}" y1="{bottom}" y2="{bottom}" stroke="#333"/><line x1="{LEFT}" x2="{LEFT}" y1="{HIST_TOP}" y2="{bottom}" stroke="#333"/>"##,
        LEFT + PLOT_W
    );
    let every = bins.div_ceil(10).max(1);
    for k in (0..=bins).step_by(every) {
        let xx = x(k as f64 * width);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{bottom}" y2="{}" stroke="#333"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 5.0,
            bottom + 18.0,
            k as f64 * width
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">convergence time after heal-all (ms)</text><text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">runs (seeds)</text>"#,
        LEFT + PLOT_W / 2.0,
        bottom + 38.0,
        LEFT - 45.0,
        HIST_TOP + HIST_H / 2.0,
        LEFT - 45.0,
        HIST_TOP + HIST_H / 2.0
    );
    if values.is_empty() {
        return;
    }
    // p50 / p99 markers; labels staggered so equal values stay legible.
    for (i, (name, v, colour)) in [("p50", p50, "#111"), ("p99", p99, "#c0392b")]
        .into_iter()
        .enumerate()
    {
        let xx = x(v as f64);
        let anchor = if xx > LEFT + PLOT_W * 0.85 {
            "end"
        } else {
            "start"
        };
        let dx = if anchor == "end" { -4.0 } else { 4.0 };
        let _ = write!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{HIST_TOP}" y2="{bottom}" stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{}" fill="{colour}" text-anchor="{anchor}" font-weight="bold">{name} {v} ms</text>"#,
            xx + dx,
            HIST_TOP + 14.0 + 16.0 * i as f64
        );
    }
}

/// A 1-2-5 step at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * mag)
}

/// A span of the observer's view of a node: `(start, end, state)`, `None` for unknown.
type View = (u64, u64, Option<MemberState>);

/// Per observed node, the observer's view (unknown while the observer itself was down).
fn views(t: &Timeline, observer: usize, own: &NodeFaults, nodes: usize) -> Vec<Vec<View>> {
    // Crash and restart of the observer reset its view.
    let mut marks: Vec<(u64, u8, usize, Option<MemberState>)> = own
        .crashed
        .iter()
        .map(|&(at, _)| (at, 0, 0, None))
        .collect();
    marks.extend(
        t.members
            .iter()
            .filter(|e| e.observer == observer && e.observed < nodes)
            .map(|e| (e.at_ms, 1, e.observed, Some(e.state))),
    );
    marks.sort_by_key(|m| (m.0, m.1));
    let mut rows: Vec<Vec<View>> = vec![Vec::new(); nodes];
    let mut current: Vec<(u64, Option<MemberState>)> = vec![(0, None); nodes];
    let close =
        |rows: &mut Vec<Vec<_>>, j: usize, (start, state): (u64, Option<MemberState>), at| {
            if at > start {
                rows[j].push((start, at, state));
            }
        };
    for (at, kind, j, state) in marks {
        if kind == 0 {
            for (k, cur) in current.iter_mut().enumerate() {
                close(&mut rows, k, *cur, at);
                *cur = (at, None);
            }
        } else if current[j].1 != state {
            close(&mut rows, j, current[j], at);
            current[j] = (at, state);
        }
    }
    for (j, cur) in current.into_iter().enumerate() {
        close(&mut rows, j, cur, t.end_ms);
    }
    rows
}

/// The nodes whose rows the panel shows, in id order: every node of a small cluster.
/// Of a large one, [`MAX_ROWS`]: the observer, then a node of each kind in turn (the
/// lowest ids first) until the rows are full, so that every kind of trouble the run had
/// shows, whichever nodes it struck: crashed, paused, clock jumped, partitioned, held
/// suspect or dead by the observer with no fault of its own, and undisturbed. A large
/// cluster's faults seldom strike its first few nodes.
fn shown_nodes(observer: usize, faults: &[NodeFaults], views: &[Vec<View>]) -> Vec<usize> {
    let nodes = faults.len();
    if nodes <= MAX_ROWS {
        return (0..nodes).collect();
    }
    let faulted = |f: &NodeFaults| {
        !(f.crashed.is_empty()
            && f.paused.is_empty()
            && f.jumps.is_empty()
            && f.partitioned.is_empty())
    };
    let doubted = |j: usize| {
        views[j]
            .iter()
            .any(|v| matches!(v.2, Some(MemberState::Suspect | MemberState::Dead)))
    };
    let kinds: [&dyn Fn(usize) -> bool; 6] = [
        &|j| !faults[j].crashed.is_empty(),
        &|j| !faults[j].paused.is_empty(),
        &|j| !faults[j].jumps.is_empty(),
        &|j| !faults[j].partitioned.is_empty(),
        &|j| !faulted(&faults[j]) && doubted(j),
        &|j| !faulted(&faults[j]) && !doubted(j),
    ];
    let mut queues: Vec<std::collections::VecDeque<usize>> = kinds
        .iter()
        .map(|kind| (0..nodes).filter(|&j| kind(j)).collect())
        .collect();
    let mut chosen = std::collections::BTreeSet::from([observer]);
    // Every node is of some kind, so the rows fill.
    while chosen.len() < MAX_ROWS {
        for queue in &mut queues {
            while let Some(j) = queue.pop_front() {
                if chosen.insert(j) {
                    break;
                }
            }
            if chosen.len() == MAX_ROWS {
                break;
            }
        }
    }
    chosen.into_iter().collect()
}

/// The membership panel for `run`.
fn timeline(s: &mut String, run: &RunReport, top: f64, rows_top: f64, rows: usize) {
    let t = &run.timeline;
    let nodes = run.nodes;
    let faults = node_faults(&t.faults, t.heal_at_ms, nodes);
    let observer = t.observer.min(nodes.saturating_sub(1));
    let rows_view = views(t, observer, &faults[observer], nodes);
    let shown = shown_nodes(observer, &faults, &rows_view);
    let end = t.end_ms.max(1) as f64;
    let x = |ms: u64| LEFT + ms as f64 / end * PLOT_W;
    let _ = write!(
        s,
        r#"<text x="20" y="{top}" font-size="14" font-weight="bold">Membership over simulated time, seed {} ({} nodes), as seen by node {observer}{}{}</text>"#,
        run.seed,
        nodes,
        if shown.len() < nodes {
            format!(
                " — {} of {nodes} shown, taken in turn: crashed, paused, clock jumped, partitioned, held down with no fault of its own, undisturbed",
                shown.len()
            )
        } else {
            String::new()
        },
        if t.truncated {
            " — record truncated"
        } else {
            ""
        }
    );
    let _ = write!(
        s,
        r##"<text x="20" y="{}" fill="#555">Bar: node {observer}'s view of each node. Strip under it: that node's own faults. Observer = the node the faults left up longest.</text>"##,
        top + 18.0
    );
    debug_assert_eq!(shown.len(), rows);
    let rows_bottom = rows_top + rows as f64 * ROW_H;
    for (row, &j) in shown.iter().enumerate() {
        let y0 = rows_top + row as f64 * ROW_H;
        let label = if j == observer {
            format!("node {j} (observer)")
        } else {
            format!("node {j}")
        };
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
            LEFT - 8.0,
            y0 + BAR_H - 2.0
        );
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{y0:.1}" width="{PLOT_W}" height="{BAR_H}" fill="{UNKNOWN}"/>"##
        );
        if j == observer {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="#777" font-size="10">(itself: see its strip)</text>"##,
                LEFT + 4.0,
                y0 + BAR_H - 3.0
            );
        }
        for &(a, b, state) in &rows_view[j] {
            let Some(state) = state else { continue };
            let colour = match state {
                MemberState::Alive => ALIVE,
                MemberState::Suspect => SUSPECT,
                MemberState::Dead => DEAD,
                MemberState::Left => LEFT_GREY,
            };
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{y0:.1}" width="{:.2}" height="{BAR_H}" fill="{colour}"><title>node {j}: {state:?} {a}–{b} ms</title></rect>"#,
                x(a),
                (x(b) - x(a)).max(0.6)
            );
        }
        let sy = y0 + BAR_H + 1.0;
        let f = &faults[j];
        let spans = f
            .partitioned
            .iter()
            .map(|&(a, b, one_way)| {
                (
                    a,
                    b,
                    PARTITION,
                    if one_way { "0.45" } else { "1" },
                    "partitioned",
                )
            })
            .chain(f.paused.iter().map(|&(a, b)| (a, b, PAUSE, "1", "paused")))
            .chain(
                f.crashed
                    .iter()
                    .map(|&(a, b)| (a, b, CRASH, "1", "crashed")),
            );
        for (a, b, colour, opacity, what) in spans {
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{sy:.1}" width="{:.2}" height="{STRIP_H}" fill="{colour}" fill-opacity="{opacity}"><title>node {j} {what} {a}–{b} ms</title></rect>"#,
                x(a),
                (x(b) - x(a)).max(1.0)
            );
        }
        for &(at, ms) in &f.jumps {
            let xx = x(at);
            let _ = write!(
                s,
                r#"<path d="M{:.1} {:.1} l4 -6 l-8 0 z" fill="{CRASH}"><title>node {j} clock jump {ms:+} ms at {at} ms</title></path>"#,
                xx,
                sy + STRIP_H
            );
        }
    }
    // Time axis, heal-all and converged markers.
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{}" y1="{rows_bottom}" y2="{rows_bottom}" stroke="#333"/>"##,
        LEFT + PLOT_W
    );
    let step_s = nice_step(end / 1000.0 / 10.0).max(1.0);
    let mut sec = 0.0;
    while sec * 1000.0 <= end + 1e-6 {
        let xx = LEFT + sec * 1000.0 / end * PLOT_W;
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{rows_bottom}" y2="{}" stroke="#333"/><text x="{xx:.1}" y="{}" text-anchor="middle">{sec}</text>"##,
            rows_bottom + 5.0,
            rows_bottom + 18.0
        );
        sec += step_s;
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">simulated time (s)</text>"#,
        LEFT + PLOT_W / 2.0,
        rows_bottom + 36.0
    );
    for (at, label, label_y) in [
        (t.heal_at_ms, "heal-all", rows_top - 20.0),
        (t.end_ms, "converged", rows_top - 6.0),
    ] {
        let xx = x(at);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{rows_bottom}" stroke="#111" stroke-dasharray="4 3"/><text x="{:.1}" y="{label_y}" text-anchor="end" font-size="11">{label} {:.1} s</text>"##,
            label_y - 10.0,
            xx - 3.0,
            at as f64 / 1000.0
        );
    }
    // Legend.
    let ly = rows_bottom + 60.0;
    let items = [
        (ALIVE, "1", "alive"),
        (SUSPECT, "1", "suspect"),
        (DEAD, "1", "dead"),
        (LEFT_GREY, "1", "left"),
        (UNKNOWN, "1", "unknown / observer down"),
        (CRASH, "1", "crashed"),
        (PAUSE, "1", "paused"),
        (PARTITION, "1", "partitioned"),
        (PARTITION, "0.45", "one-way cut"),
    ];
    let mut lx = 20.0;
    for (colour, opacity, label) in items {
        let _ = write!(
            s,
            r##"<rect x="{lx}" y="{}" width="14" height="10" fill="{colour}" fill-opacity="{opacity}" stroke="#999" stroke-width="0.5"/><text x="{}" y="{ly}">{label}</text>"##,
            ly - 9.0,
            lx + 18.0
        );
        lx += 30.0 + 7.0 * label.len() as f64;
    }
    let _ = write!(
        s,
        r#"<path d="M{} {} l4 -6 l-8 0 z" fill="{CRASH}"/><text x="{}" y="{ly}">clock jump</text>"#,
        lx + 6.0,
        ly,
        lx + 16.0
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
