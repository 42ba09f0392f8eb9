//! Certificate files: written with safe permissions, loaded back identically, and
//! clear errors for missing, garbled or mismatched files.

use std::fs;
use std::path::Path;

use lattice_gossip::tls::{
    generate_ca, generate_node_cert, load_ca, write_ca, write_node, NodeTls, TlsError,
};

#[test]
fn ca_and_node_files_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca_dir, node_dir) = (dir.path().join("ca"), dir.path().join("node-a"));
    let ca = generate_ca("test cluster").expect("CA");
    write_ca(&ca, &ca_dir).expect("write CA");
    assert_eq!(load_ca(&ca_dir).expect("load CA"), ca);

    let node = generate_node_cert(&load_ca(&ca_dir).expect("load CA"), "node-a").expect("node");
    write_node(&node, &node_dir).expect("write node");
    let tls = NodeTls::load(&node_dir).expect("load node");
    assert_eq!(tls.node_name().as_deref(), Some("node-a"));
    assert_eq!(tls.cert_chain.len(), 1);
    tls.server_config().expect("server config");
    tls.client_config().expect("client config");

    #[cfg(unix)]
    for key in [ca_dir.join("ca.key"), node_dir.join("node.key")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }
}

#[test]
fn existing_files_are_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = generate_ca("test cluster").expect("CA");
    write_ca(&ca, dir.path()).expect("write CA");
    let other = generate_ca("other cluster").expect("CA");
    let refused = write_ca(&other, dir.path());
    assert!(
        matches!(refused, Err(TlsError::AlreadyExists { .. })),
        "{refused:?}"
    );
    assert_eq!(
        load_ca(dir.path()).expect("load CA"),
        ca,
        "the first CA is intact"
    );
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = NodeTls::load(dir.path()).expect_err("nothing there");
    assert!(
        matches!(&error, TlsError::Missing { path } if path.ends_with("ca.pem")),
        "{error}"
    );
    assert!(error.to_string().contains("ca.pem"), "{error}");
    assert!(matches!(load_ca(dir.path()), Err(TlsError::Missing { .. })));
}

#[test]
fn garbled_pem_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = generate_ca("test cluster").expect("CA");
    write_node(
        &generate_node_cert(&ca, "node-a").expect("node"),
        dir.path(),
    )
    .expect("write");

    for (file, junk) in [
        ("node.pem", "this is not a certificate\n"),
        (
            "node.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        ),
        ("node.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n"),
        ("ca.pem", ""),
    ] {
        let path = dir.path().join(file);
        let original = fs::read(&path).expect("read");
        fs::write(&path, junk).expect("garble");
        let error = NodeTls::load(dir.path()).expect_err("garbled file must not load");
        assert!(is_garbled(&error, &path), "{file} {junk:?}: {error}");
        assert!(
            error.to_string().contains(file),
            "the message names the file: {error}"
        );
        fs::write(&path, original).expect("restore");
    }
    NodeTls::load(dir.path()).expect("restored files load");
}

#[test]
fn a_ca_key_that_does_not_match_its_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = generate_ca("test cluster").expect("CA");
    write_ca(&ca, dir.path()).expect("write CA");
    let other = generate_ca("other cluster").expect("CA");
    fs::write(dir.path().join("ca.key"), &other.key_pem).expect("swap key");
    let error = load_ca(dir.path()).expect_err("mismatched key");
    assert!(is_garbled(&error, &dir.path().join("ca.key")), "{error}");

    let mixed = lattice_gossip::tls::CaBundle {
        key_pem: other.key_pem,
        ..ca
    };
    assert!(matches!(
        generate_node_cert(&mixed, "node-a"),
        Err(TlsError::Garbled { .. })
    ));
}

#[test]
fn node_names_must_be_dns_names() {
    let ca = generate_ca("test cluster").expect("CA");
    for bad in ["", "has space", "under_score!", "10.0.0.1", "-leading-dash"] {
        let refused = generate_node_cert(&ca, bad);
        assert!(
            matches!(refused, Err(TlsError::InvalidName { .. })),
            "{bad:?}: {refused:?}"
        );
    }
    assert!(generate_ca("").is_err());
}

fn is_garbled(error: &TlsError, file: &Path) -> bool {
    matches!(error, TlsError::Garbled { path, .. } if path == file)
}
