//! Shared by the cluster tests: a real three-server NATS cluster per test, the entry type, and
//! waiting for events with a bound so a broken cluster fails the test instead of hanging it.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use voicedesk_cluster::local_cluster::{LocalClusterError, LocalNatsCluster};
use voicedesk_cluster::{InputLog, Lease, LeaseConfig, LogConfig, Record};

/// The lease TTL the tests use: short, so a takeover is quick, long enough for a loaded
/// machine to renew in time.
pub const TTL: Duration = Duration::from_millis(1500);

/// What the tests append: stands in for the core's `(now, input)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub n: u64,
    pub text: String,
}

pub fn input(n: u64) -> Input {
    Input { n, text: format!("input {n}") }
}

/// Starts three NATS servers, or says loudly why the test does not run and returns `None`.
pub async fn cluster() -> Option<LocalNatsCluster> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    match LocalNatsCluster::start().await {
        Ok(cluster) => Some(cluster),
        Err(LocalClusterError::NoBinary) => {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests.
            use std::io::Write;
            let skipped = LocalClusterError::NoBinary;
            let _ = writeln!(std::io::stderr(), "\n!!!!!!!! SKIPPED: {skipped} !!!!!!!!\n");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Awaits `future`, failing the test if the event it waits for has not come within 60 s.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub async fn open_log(client: async_nats::Client) -> InputLog<Input> {
    InputLog::open(client, LogConfig::new("inputs", 3)).await.expect("open the log")
}

pub async fn open_lease(client: async_nats::Client, node: &str) -> Lease {
    Lease::open(
        client,
        LeaseConfig { bucket: "leases".into(), key: "core".into(), ttl: TTL, replicas: 3 },
        node,
    )
    .await
    .expect("open the lease")
}

/// The entries of `records`, markers left out.
pub fn entries(records: &[(u64, Record<Input>)]) -> Vec<Input> {
    records
        .iter()
        .flat_map(|(_, r)| match r {
            Record::Entries(es) => es.clone(),
            Record::Epoch(_) => Vec::new(),
        })
        .collect()
}
