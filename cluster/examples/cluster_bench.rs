//! Measures the cluster foundation on three local NATS servers (R3, file storage):
//! append latency (one at a time, acknowledged), entries per second with group commit, and the
//! lease takeover time after a leader stops renewing. Figures go in `docs/benchmarks.md`.
//!
//! `cargo build --workspace --examples && target/debug/examples/cluster_bench [--ttl-ms 1500]`

use std::time::{Duration, Instant};

use voicedesk_cluster::local_cluster::LocalNatsCluster;
use voicedesk_cluster::{InputLog, LeaderElection, Lease, LeaseConfig, LogConfig, Role};

/// Stands in for the core's `(now, input)`: about the size of a typical serialised input.
#[derive(serde::Serialize, serde::Deserialize)]
struct Input {
    now_ms: u64,
    connection: u64,
    kind: String,
    body: String,
}

fn input(n: u64) -> Input {
    Input {
        now_ms: 1_765_000_000_000 + n,
        connection: n % 500,
        kind: "call".into(),
        body: format!("{{\"service\":\"pension-transfer\",\"queue\":\"q{}\"}}", n % 40),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label}: n={} p50={:.2?} p95={:.2?} p99={:.2?} max={:.2?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut ttl = Duration::from_millis(1500);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ttl-ms" => ttl = Duration::from_millis(args.next().unwrap_or_default().parse()?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let cluster = LocalNatsCluster::start().await?;
    let version = std::process::Command::new(cluster.binary()).arg("--version").output()?;
    println!("server: {}", String::from_utf8_lossy(&version.stdout).trim());
    let client = cluster.connect().await?;
    let log: InputLog<Input> = InputLog::open(client.clone(), LogConfig::new("bench", 3)).await?;
    let mut writer = log.writer(1, 0);
    for n in 0..200 {
        writer.append(&input(n)).await?; // warm-up
    }

    let mut latencies = Vec::new();
    for n in 0..2000 {
        let started = Instant::now();
        writer.append(&input(n)).await?;
        latencies.push(started.elapsed());
    }
    summary("append latency (one at a time, R3 acknowledged)", latencies);

    for batch in [64usize, 256] {
        let entries: Vec<_> = (0..batch as u64).map(input).collect();
        let started = Instant::now();
        let mut appended = 0;
        while started.elapsed() < Duration::from_secs(10) {
            writer.append_batch(&entries).await?;
            appended += batch;
        }
        let rate = appended as f64 / started.elapsed().as_secs_f64();
        println!(
            "group commit, {batch} entries a record: {appended} entries in 10 s = {rate:.0}/s"
        );
    }

    let lease_config =
        LeaseConfig { bucket: "bench-leases".into(), key: "core".into(), ttl, replicas: 3 };
    let old = Lease::open(client.clone(), lease_config.clone(), "old").await?;
    let mut takeovers = Vec::new();
    for _ in 0..20 {
        // Free at once: the previous round's leader released the lease.
        let revision = loop {
            if let Ok(revision) = old.acquire().await {
                break revision;
            }
        };
        // The old leader's last renewal; from here on it renews no more.
        let stopped = Instant::now();
        old.renew(revision).await?;
        let new = Lease::open(client.clone(), lease_config.clone(), "new").await?;
        let mut election = LeaderElection::start(new.clone(), log.clone());
        let Some(Role::Leading { .. }) = election.next().await else {
            anyhow::bail!("the new node did not lead")
        };
        takeovers.push(stopped.elapsed());
        drop(election);
        if let Some((_, revision_now)) = new.holder().await? {
            new.release(revision_now).await?;
        }
    }
    summary(&format!("lease takeover after the leader stopped renewing (TTL {ttl:?})"), takeovers);
    Ok(())
}
