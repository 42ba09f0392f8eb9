//! `--plot`: a short run gives a well-formed SVG with a row per node and the seed
//! count, recording the timeline leaves the trace hash alone, and the timeline keeps
//! the observer's view of the faults in a large cluster too, and its plot shows the
//! nodes the faults struck.

use std::time::Duration;

use lattice_sim::fault::{Fault, Scheduled};
use lattice_sim::timeline::MemberState;
use lattice_sim::{plot, run_seeds, Faults, Options, Simulation, Summary};

fn options(seed: u64) -> Options {
    Options {
        nodes: 4,
        seed,
        duration: Duration::from_secs(20),
        ..Options::default()
    }
}

#[test]
fn short_run_gives_a_well_formed_svg() {
    let summary = run_seeds(&options(5), 3, &mut |_, _| {});
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let svg = plot::svg(&summary);
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("3 seeds"), "seed count missing");
    for node in 0..4 {
        assert!(
            svg.contains(&format!(">node {node}<"))
                || svg.contains(&format!(">node {node} (observer)<")),
            "no row for node {node}"
        );
    }
    assert!(svg.contains("p50") && svg.contains("p99"));
    // Balanced tags, roughly: every opened element is closed or self-closing.
    let opens = svg.matches('<').count();
    let closes = svg.matches("</").count() + svg.matches("/>").count();
    assert_eq!(
        opens,
        2 * svg.matches("</").count() + svg.matches("/>").count()
    );
    assert!(closes > 0);
    // The first run recorded membership transitions: its observer's, the one the plot
    // shows.
    let t = &summary.runs[0].timeline;
    assert!(!t.members.is_empty());
    assert!(t.members.iter().all(|e| e.observer == t.observer));
    assert!(svg.contains(&format!(">node {} (observer)<", t.observer)));
}

/// Regression, seen in `lattice sim --nodes 1000 --seed 1 --duration 60s --plot`: the
/// record kept every node's view, and above 256 nodes the joins alone (a transition per
/// pair of nodes) filled it, so the plot showed every member alive all run long, through
/// a partition of half the cluster. Only the observer's view is kept now.
#[test]
fn a_large_cluster_records_the_observers_view_of_a_partition() {
    let nodes = 260;
    let at = |ms| Duration::from_millis(ms);
    let side: Vec<bool> = (0..nodes).map(|i| i < nodes / 2).collect();
    let schedule = vec![
        Scheduled {
            at: at(1_500),
            fault: Fault::Partition {
                id: 1,
                side: side.clone(),
                one_way: false,
            },
        },
        Scheduled {
            at: at(4_500),
            fault: Fault::Heal { id: 1 },
        },
    ];
    let options = Options {
        nodes,
        seed: 2,
        duration: Duration::from_secs(5),
        faults: Faults::default(),
        sessions: Some(0),
        ..Options::default()
    };
    let report = match Simulation::with_schedule(options, schedule).run() {
        Ok(report) => report,
        Err(v) => panic!("{v}"),
    };
    let t = &report.timeline;
    assert!(!t.truncated, "{} transitions", t.members.len());
    assert!(t.members.iter().all(|e| e.observer == t.observer));
    let cut_off = t
        .members
        .iter()
        .filter(|e| side[e.observed] != side[t.observer] && (1_500..4_500).contains(&e.at_ms))
        .filter(|e| e.state != MemberState::Alive)
        .count();
    assert!(
        cut_off >= 20,
        "node {} saw only {cut_off} members across the cut as suspect or dead",
        t.observer
    );
    // The plot's rows show both sides of the cut, not only the lowest ids (all on one
    // side here): partitioned nodes and nodes the observer held down across it.
    let rows = |svg: &str| -> Vec<usize> {
        svg.split(">node ")
            .skip(1)
            .filter_map(|rest| {
                let digits = rest.find(|c: char| !c.is_ascii_digit())?;
                let label =
                    rest[digits..].starts_with('<') || rest[digits..].starts_with(" (observer)<");
                label.then(|| rest[..digits].parse().ok())?
            })
            .collect()
    };
    let observer = t.observer;
    let svg = plot::svg(&Summary {
        runs: vec![report],
        failures: Vec::new(),
    });
    let shown = rows(&svg);
    assert_eq!(shown.len(), 16, "{shown:?}");
    assert!(shown.contains(&observer), "{shown:?}");
    assert!(svg.contains("16 of 260 shown"));
    for near in [true, false] {
        assert!(
            shown.iter().filter(|&&j| side[j] == near).count() >= 5,
            "rows {shown:?}: too few with side {near}"
        );
    }
}

#[test]
fn the_timeline_is_deterministic_and_outside_the_hash() {
    let a = Simulation::new(options(9)).run().expect("passes");
    let b = Simulation::new(options(9)).run().expect("passes");
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.timeline.members, b.timeline.members);
    assert_eq!(a.timeline.faults, b.timeline.faults);
}
