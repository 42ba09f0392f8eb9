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
