//! The `lattice` binary, run as a user runs it.

use std::process::Command;

fn lattice(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lattice"))
        .args(args)
        .output()
        .expect("the lattice binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn version_names_the_package_version() {
    let (ok, out) = lattice(&["--version"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("lattice {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_describes_the_service() {
    let (ok, out) = lattice(&["--help"]);
    assert!(ok);
    assert!(out.contains("multi-master CRDT sync service"), "{out}");
}

#[test]
fn an_unknown_command_is_an_error() {
    let (ok, _) = lattice(&["frobnicate"]);
    assert!(!ok);
}

#[test]
fn cert_creates_a_ca_and_node_certificates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let node = dir.path().join("node-1");
    let (ok, _) = lattice(&["cert", "ca", "--out", ca.to_str().unwrap()]);
    assert!(ok);
    let args = [
        "cert",
        "node",
        "--ca",
        ca.to_str().unwrap(),
        "--name",
        "node-1",
        "--out",
        node.to_str().unwrap(),
    ];
    assert!(lattice(&args).0);
    for file in ["ca.pem", "node.pem", "node.key"] {
        assert!(node.join(file).exists(), "{file} missing");
    }
    assert!(
        !lattice(&["cert", "ca", "--out", ca.to_str().unwrap()]).0,
        "an existing CA was overwritten"
    );
    // node-1's certificate cannot serve as node 2.
    let out = Command::new(env!("CARGO_BIN_EXE_lattice"))
        .args(["serve", "--node-id", "2", "--http", "127.0.0.1:0"])
        .args([
            "--gossip",
            "127.0.0.1:0",
            "--tls-dir",
            node.to_str().unwrap(),
        ])
        .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("names node-1, but this is node 2"),
        "{stderr}"
    );
}

#[test]
fn serve_without_a_node_id_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lattice"))
        .args(["serve"])
        .env_remove("LATTICE_NODE_ID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node-id is required"));
}
