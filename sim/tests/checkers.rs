//! The checkers catch what they claim to: a fabricated acknowledged write that no node
//! ever made is reported lost, with the command that reproduces the run. And the
//! report's figures count what they say.

use std::time::Duration;

use lattice_sim::{Faults, Options, Simulation};

#[test]
fn a_fabricated_lost_write_is_reported_with_its_reproduce_command() {
    let options = Options {
        nodes: 3,
        seed: 5,
        duration: Duration::from_secs(10),
        ..Options::default()
    };
    let mut sim = Simulation::new(options.clone());
    sim.fabricate_acked_write();
    let v = sim.run().expect_err("a write no node made cannot be found");
    assert!(v.message.contains("is missing on node"), "{v}");
    assert_eq!(
        v.command,
        "lattice sim --nodes 3 --seed 5 --duration 10s --faults partition,crash,pause,skew,loss"
    );
    assert!(v.to_string().contains(&v.command), "{v}");
    // The same run without the fabrication passes: the failure was the fabrication.
    Simulation::new(options)
        .run()
        .expect("the honest run passes");
}

#[test]
fn a_batch_of_seeds_reports_figures_as_text_and_json() {
    let options = Options {
        nodes: 3,
        seed: 40,
        duration: Duration::from_secs(10),
        swarm: true,
        ..Options::default()
    };
    let mut calls = 0;
    let summary = lattice_sim::run_seeds(&options, 3, &mut |_, _| calls += 1);
    assert_eq!(
        (summary.runs.len(), summary.failures.len(), calls),
        (3, 0, 3)
    );
    let seeds: Vec<u64> = summary.runs.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, [40, 41, 42]);
    let json = summary.to_json();
    assert!(json["convergence_ms"]["p99"].is_u64(), "{json}");
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(3));
    assert!(json["runs"][0]["trace_hash"].is_string());
    let text = summary.to_string();
    assert!(
        text.contains("convergence:") && text.contains("3 passed, 0 failed"),
        "{text}"
    );
}

/// The gossip figures follow the protocol. Without faults every record a node takes in
/// by dissemination came as a whole copy that some node sent, so at least one was sent
/// per record taken in, and after its first round a record is offered by id; the news
/// of the nodes joining rides on messages. Without a workload nothing is taken in or
/// offered, and the ratios say 0 rather than dividing by it.
#[test]
fn the_gossip_figures_count_copies_offers_and_piggybacked_news() {
    let options = Options {
        nodes: 20,
        seed: 5,
        duration: Duration::from_secs(10),
        faults: Faults::default(),
        ..Options::default()
    };
    let report = Simulation::new(options.clone()).run().expect("passes");
    assert!(
        report.whole_copies_per_delivery >= 1.0,
        "{} whole copies per record taken in",
        report.whole_copies_per_delivery
    );
    assert!(report.offers_per_delivery > 0.0, "{report:?}");
    assert!(report.updates_per_message > 0.0, "{report:?}");
    let quiet = Simulation::new(Options {
        sessions: Some(0),
        ..options
    })
    .run()
    .expect("passes");
    assert_eq!(
        (quiet.whole_copies_per_delivery, quiet.offers_per_delivery),
        (0.0, 0.0)
    );
    assert!(quiet.updates_per_message > 0.0, "{quiet:?}");
}
