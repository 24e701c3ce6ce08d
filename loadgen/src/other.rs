//! The signaling and store benchmarks: `loadgen ws-idle` and `loadgen store`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_softphone::SignalingClient;

use crate::probe;

/// `loadgen ws-idle`.
#[derive(Debug, clap::Args)]
pub(crate) struct WsIdleArgs {
    /// The server's HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Idle citizen WebSockets to open (each gets its `welcome`).
    #[arg(long)]
    connections: usize,
    /// The server's process id (RSS per connection is read from /proc).
    #[arg(long)]
    server_pid: Option<String>,
    /// `ping` messages per second (total, round-robin over the connections) for the round-trip
    /// measurement.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of round-trip measurement.
    #[arg(long, default_value_t = 10)]
    duration: u64,
}

/// Opens N idle citizen WebSockets, reads the server's RSS before and after, then sends
/// `ping` at a steady rate over them and measures `ping` → `pong` round trips.
pub(crate) async fn ws_idle(args: WsIdleArgs) -> Result<Value> {
    let http = args.server.trim_end_matches('/').to_owned();
    let ws_url = format!("{}/ws", http.replacen("http", "ws", 1));
    let pid = args.server_pid.clone();
    let rss = || pid.as_deref().map(probe::rss_kb).transpose();
    let rss_before = rss()?;
    let mut clients = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let mut c = SignalingClient::connect(&ws_url, &http, None)
            .await
            .with_context(|| format!("connection {i}"))?;
        match c.recv(Duration::from_secs(10)).await? {
            ServerMessage::Welcome { .. } => {}
            other => bail!("connection {i}: expected welcome, got {other:?}"),
        }
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss()?;
    let per_conn = rss_before.zip(rss_after).map(|(a, b)| {
        ((b as f64 - a as f64) / args.connections.max(1) as f64 * 1000.0).round() / 1000.0
    });

    // Round trips: one ping at a time per connection, the next connection every 1/rate s.
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
    let clients: Vec<_> =
        clients.into_iter().map(|c| Arc::new(tokio::sync::Mutex::new(c))).collect();
    let mut sent = 0u64;
    let mut i = 0usize;
    while Instant::now() < end && !clients.is_empty() {
        ticker.tick().await;
        let client = clients[i % clients.len()].clone();
        i += 1;
        sent += 1;
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut c = client.lock().await;
            let start = Instant::now();
            let ok = c.send(&ClientMessage::Ping).await.is_ok()
                && c.recv_until(Duration::from_secs(5), |m| matches!(m, ServerMessage::Pong))
                    .await
                    .is_ok();
            let _ = tx.send(ok.then(|| start.elapsed().as_micros() as u64));
        });
    }
    drop(tx);
    let mut rtts = Vec::new();
    let mut failed = 0u64;
    while let Some(r) = rx.recv().await {
        match r {
            Some(us) => rtts.push(us),
            None => failed += 1,
        }
    }
    rtts.sort_unstable();
    let pct = |p: f64| {
        (!rtts.is_empty()).then(|| {
            let rank = ((p / 100.0) * rtts.len() as f64).ceil().max(1.0) as usize - 1;
            rtts[rank.min(rtts.len() - 1)] as f64 / 1000.0
        })
    };
    Ok(json!({
        "connections": args.connections,
        "server_rss_kb_before": rss_before,
        "server_rss_kb_after": rss_after,
        "server_rss_kb_per_connection": per_conn,
        "ping_rate_per_s": args.rate,
        "pings_sent": sent,
        "pings_failed": failed,
        "rtt_ms_p50": pct(50.0),
        "rtt_ms_p99": pct(99.0),
        "rtt_ms_max": pct(100.0),
    }))
}

/// `loadgen store`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// `sqlite:PATH` or `postgres://…` (migrations are applied).
    #[arg(long)]
    url: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Writes call records as the server does for every call (insert when queued, update when
/// ended: two commits per record) from `concurrency` tasks for `duration` seconds.
pub(crate) async fn store(args: StoreArgs) -> Result<Value> {
    let store = voicedesk_store::open(&args.url).await.context("opening the store")?;
    let run = format!("{:x}", rand::random::<u64>());
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let store = store.clone();
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut lat = Vec::new();
            while Instant::now() < end {
                let id = format!("bench-{run}-{w}-{done}");
                let t = Instant::now();
                let now_ms = voicedesk_protocol_now_ms();
                store
                    .insert_call(&voicedesk_store::NewCall {
                        id: id.clone(),
                        citizen_session: format!("bench-citizen-{w}"),
                        service: None,
                        queued_at_ms: now_ms,
                        skill_id: None,
                        priority: 0,
                    })
                    .await?;
                store.mark_call_ended(&id, now_ms + 1, "hung_up").await?;
                lat.push(t.elapsed().as_micros() as u64);
                done += 1;
            }
            anyhow::Ok((done, lat))
        }));
    }
    let mut records = 0u64;
    let mut lat = Vec::new();
    for t in tasks {
        let (n, l) = t.await??;
        records += n;
        lat.extend(l);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let p = |q: f64| {
        (!lat.is_empty())
            .then(|| lat[((q * lat.len() as f64) as usize).min(lat.len() - 1)] as f64 / 1000.0)
    };
    let backend = args.url.split(':').next().unwrap_or("").to_owned();
    Ok(json!({
        "backend": backend,
        "concurrency": args.concurrency,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "call_records": records,
        "call_records_per_s": (records as f64 / secs * 10.0).round() / 10.0,
        "commits_per_s": (2.0 * records as f64 / secs * 10.0).round() / 10.0,
        "record_ms_p50": p(0.5),
        "record_ms_p99": p(0.99),
    }))
}

fn voicedesk_protocol_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
