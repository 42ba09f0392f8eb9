//! Real `lattice` processes on loopback for the root integration tests: certificates
//! from `lattice cert`, nodes from `lattice serve`, and a tiny HTTP/1.1 client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(parse(&raw))
}

fn parse(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

pub(crate) fn lattice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lattice"))
}

/// Runs `lattice cert` to make a CA in `dir/ca` and node `name`'s tls dir.
pub(crate) fn certify(dir: &Path, name: &str) -> PathBuf {
    let ca = dir.join("ca");
    if !ca.join("ca.pem").exists() {
        let status = lattice()
            .args(["cert", "ca", "--out"])
            .arg(&ca)
            .stdout(Stdio::null())
            .status();
        assert!(status.unwrap().success());
    }
    let out = dir.join(name).join("tls");
    let status = lattice()
        .args(["cert", "node", "--ca"])
        .arg(&ca)
        .args(["--name", name, "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status();
    assert!(status.unwrap().success());
    out
}

/// One `lattice serve` process. It binds port 0 on its first start (the OS picks free
/// ports, with no window for another process to take them) and reports the bound
/// addresses in its log; restarts reuse them. Its log goes to `serve.log` in its data
/// directory.
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) http: SocketAddr,
    pub(crate) gossip: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) tls_dir: PathBuf,
    pub(crate) join: Vec<SocketAddr>,
    child: Option<Child>,
}

impl Node {
    pub(crate) fn new(dir: &Path, id: u64, join: Vec<SocketAddr>) -> Node {
        let name = format!("node-{id}");
        let tls_dir = certify(dir, &name);
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Node {
            id,
            http: any,
            gossip: any,
            data_dir: dir.join(&name),
            tls_dir,
            join,
            child: None,
        }
    }

    pub(crate) fn start(&mut self) {
        let mut cmd = lattice();
        cmd.arg("serve")
            .args(["--node-id", &self.id.to_string()])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--tls-dir")
            .arg(&self.tls_dir)
            .args([
                "--http",
                &self.http.to_string(),
                "--gossip",
                &self.gossip.to_string(),
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !self.join.is_empty() {
            let join: Vec<String> = self.join.iter().map(ToString::to_string).collect();
            cmd.args(["--join", &join.join(",")]);
        }
        let mut child = cmd.spawn().unwrap();
        let bound = self.keep_log(child.stderr.take().unwrap());
        self.child = Some(child);
        // The "serving" line comes once the API is up; the log closes if the process exits.
        match bound.recv_timeout(Duration::from_secs(20)) {
            Ok((http, gossip)) => (self.http, self.gossip) = (http, gossip),
            Err(e) => panic!(
                "node {} is not serving ({e}):\n{}",
                self.id,
                self.log_tail()
            ),
        }
        let healthy = eventually(Duration::from_secs(20), || {
            http(self.http, "GET", "/v1/health", &[], "").is_ok_and(|r| r.status == 200)
        });
        assert!(
            healthy,
            "node {} is not healthy:\n{}",
            self.id,
            self.log_tail()
        );
    }

    /// Copies the process's log to `serve.log` on a thread of its own, and sends the
    /// addresses of its "serving" line; hangs up after it, or when the log ends.
    fn keep_log(
        &self,
        stderr: std::process::ChildStderr,
    ) -> mpsc::Receiver<(SocketAddr, SocketAddr)> {
        let (tx, rx) = mpsc::channel();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if line.contains("serving;") {
                    let field = |name: &str| {
                        line.split_whitespace()
                            .find_map(|w| w.strip_prefix(name)?.parse::<SocketAddr>().ok())
                    };
                    if let (Some(tx), Some(http), Some(gossip)) =
                        (tx.take(), field("http="), field("gossip="))
                    {
                        let _ = tx.send((http, gossip));
                    }
                }
            }
        });
        rx
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.join("serve.log")
    }

    /// The last lines of the process's log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL, no shutdown.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        http(self.http, "GET", path, headers, "").unwrap()
    }

    pub(crate) fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        http(self.http, "POST", path, headers, body).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` for up to `limit`.
pub(crate) fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
