//! `--plot`: a short run gives a well-formed SVG with a row per node and the seed
//! count, and recording the timeline leaves the trace hash alone.

use std::time::Duration;

use lattice_sim::{plot, run_seeds, Options, Simulation};

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
    // The first run recorded membership transitions.
    assert!(!summary.runs[0].timeline.members.is_empty());
}

#[test]
fn the_timeline_is_deterministic_and_outside_the_hash() {
    let a = Simulation::new(options(9)).run().expect("passes");
    let b = Simulation::new(options(9)).run().expect("passes");
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.timeline.members, b.timeline.members);
    assert_eq!(a.timeline.faults, b.timeline.faults);
}
