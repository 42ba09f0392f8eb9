//! `lattice serve` settings: flags, `LATTICE_*` environment variables, and a TOML file
//! given with `--config`, in that order of precedence, over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use lattice_api::{Scope, TokenRule};
use lattice_crdt::NodeId;
use lattice_sim::parse_duration;
use serde::Deserialize;

/// The flags of `lattice serve` (each also `LATTICE_<NAME>` in the environment).
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct ServeArgs {
    /// A TOML file with any of the settings below (flags and environment win).
    #[arg(long, env = "LATTICE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// This node's id: a positive integer, unique in the cluster, stable across restarts.
    #[arg(long, env = "LATTICE_NODE_ID")]
    pub(crate) node_id: Option<u64>,
    /// Where the node keeps its data [default: ./lattice-data].
    #[arg(long, env = "LATTICE_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The HTTP API address [default: 127.0.0.1:7700].
    #[arg(long, env = "LATTICE_HTTP")]
    pub(crate) http: Option<SocketAddr>,
    /// The node-to-node (QUIC) address [default: 127.0.0.1:7701].
    #[arg(long, env = "LATTICE_GOSSIP")]
    pub(crate) gossip: Option<SocketAddr>,
    /// Comma-separated gossip addresses of nodes to join through.
    #[arg(long, env = "LATTICE_JOIN", value_delimiter = ',')]
    pub(crate) join: Option<Vec<SocketAddr>>,
    /// The directory with ca.pem, node.pem and node.key [default: DATA_DIR/tls].
    #[arg(long, env = "LATTICE_TLS_DIR")]
    pub(crate) tls_dir: Option<PathBuf>,
    /// How long a write's Idempotency-Key answers its retries, e.g. 24h or 90m; the
    /// receipts are kept on disk that long [default: 24h].
    #[arg(long, env = "LATTICE_IDEMPOTENCY_WINDOW", value_parser = parse_duration)]
    pub(crate) idempotency_window: Option<Duration>,
}

/// The settings file: the same names as the flags, with underscores, plus API tokens:
///
/// ```toml
/// [[tokens]]
/// token = "a-long-random-secret"
/// scope = "write"          # or "read"
/// prefixes = ["carts/"]    # "" covers every key
/// ```
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    node_id: Option<u64>,
    data_dir: Option<PathBuf>,
    http: Option<SocketAddr>,
    gossip: Option<SocketAddr>,
    join: Option<Vec<SocketAddr>>,
    tls_dir: Option<PathBuf>,
    idempotency_window: Option<String>,
    #[serde(default)]
    tokens: Vec<FileToken>,
}

/// One bearer token in the settings file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileToken {
    token: String,
    scope: FileScope,
    prefixes: Vec<String>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum FileScope {
    Read,
    Write,
}

/// Resolved settings of one node.
#[derive(Debug, Clone)]
pub(crate) struct ServeConfig {
    pub(crate) node_id: NodeId,
    pub(crate) data_dir: PathBuf,
    pub(crate) http: SocketAddr,
    pub(crate) gossip: SocketAddr,
    pub(crate) join: Vec<SocketAddr>,
    pub(crate) tls_dir: PathBuf,
    pub(crate) tokens: Vec<TokenRule>,
    pub(crate) idempotency_window: Duration,
}

/// The default of `--idempotency-window`.
pub(crate) const IDEMPOTENCY_WINDOW_DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);

impl ServeArgs {
    /// Merges flags and environment over the file over the defaults.
    pub(crate) fn resolve(self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let Some(id) = self.node_id.or(file.node_id) else {
            bail!("--node-id is required (or LATTICE_NODE_ID, or node_id in --config)");
        };
        let node_id = NodeId::new(id).context("--node-id must be a positive integer")?;
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| "lattice-data".into());
        let tls_dir = self
            .tls_dir
            .or(file.tls_dir)
            .unwrap_or_else(|| data_dir.join("tls"));
        let tokens = file
            .tokens
            .into_iter()
            .map(FileToken::into_rule)
            .collect::<anyhow::Result<_>>()?;
        let file_window = file
            .idempotency_window
            .map(|text| parse_duration(&text))
            .transpose()
            .map_err(|e| anyhow::anyhow!("idempotency_window in --config: {e}"))?;
        let idempotency_window = self
            .idempotency_window
            .or(file_window)
            .unwrap_or(IDEMPOTENCY_WINDOW_DEFAULT);
        Ok(ServeConfig {
            idempotency_window,
            tokens,
            node_id,
            http: self
                .http
                .or(file.http)
                .unwrap_or(([127, 0, 0, 1], 7700).into()),
            gossip: self
                .gossip
                .or(file.gossip)
                .unwrap_or(([127, 0, 0, 1], 7701).into()),
            join: self.join.or(file.join).unwrap_or_default(),
            data_dir,
            tls_dir,
        })
    }
}

impl FileToken {
    fn into_rule(self) -> anyhow::Result<TokenRule> {
        if self.token.len() < 16 {
            bail!("API tokens must be at least 16 characters");
        }
        let scope = match self.scope {
            FileScope::Read => Scope::Read,
            FileScope::Write => Scope::Write,
        };
        Ok(TokenRule {
            token: self.token,
            scope,
            prefixes: self.prefixes,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = std::env::temp_dir().join(format!("lattice-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lattice.toml");
        std::fs::write(
            &file,
            "node_id = 3\nhttp = \"127.0.0.1:9000\"\njoin = [\"127.0.0.1:7801\"]\n\
             idempotency_window = \"90m\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            http: Some("127.0.0.1:9100".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.node_id.get(), 3);
        assert_eq!(config.http, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(config.gossip, "127.0.0.1:7701".parse().unwrap());
        assert_eq!(config.join, vec!["127.0.0.1:7801".parse().unwrap()]);
        assert_eq!(config.idempotency_window, Duration::from_secs(90 * 60));
        std::fs::write(&file, "node_id = 3\nbogus = 1\n").unwrap();
        let bad = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        assert!(bad.resolve().is_err(), "unknown keys are refused");
        assert!(
            ServeArgs::default().resolve().is_err(),
            "the node id is required"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
