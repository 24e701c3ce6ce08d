//! `loadgen soak`: a steady churn against a running server for a long time, then a check that
//! the server gave back what the churn took.
//!
//! Agents (`bench-agent-1..N`, headsets connected) stay signed in and accept whatever they are
//! offered; a staff member (optional) stays signed in with a headset. Every `60 / per_minute`
//! seconds one cycle starts, in turn:
//! 0. a call: `call` → answered → both sides talk (marked RTP) for `--talk-ms` → the citizen
//!    hangs up;
//! 1. a message: a new citizen leaves a text message and gets its ticket;
//! 2. a reconnect: a call is answered, then the citizen's page "reloads" (WebSocket closed,
//!    media leg closed), comes back with `resume`, rejoins the call with a new offer, talks,
//!    hangs up;
//! 3. a supported call: as 0, and the staff member joins in monitor mode and leaves.
//!
//! The server's resident memory, open files, threads and live counts (`/metrics`) are read
//! once the agents are ready (the baseline), when the last cycle has ended, and again once the
//! server reports no call and no citizen connection left. The database rows are the caller's to
//! count (`scripts/soak`). Prints one JSON object.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore, oneshot, watch};
use voicedesk_protocol::{ClientMessage, ServerMessage, SupportMode};
use voicedesk_softphone::{SignalingClient, login};

use crate::engine::{self, LegId};
use crate::probe;
use crate::scenario::{CallsArgs, Ctx, Phase, agent, short, tag, wait_for};

/// Options of `loadgen soak`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SoakArgs {
    /// The server's HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server's process id (its memory, open files and threads are read from /proc).
    #[arg(long)]
    server_pid: u32,
    /// How long cycles keep starting, in minutes.
    #[arg(long)]
    minutes: f64,
    /// Cycles started per minute, evenly spaced.
    #[arg(long, default_value_t = 30.0)]
    per_minute: f64,
    /// How long each call talks, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    talk_ms: u64,
    /// Agents signed in (`<prefix>1..N`); the server should run with `--after-call-work-secs 0`.
    #[arg(long, default_value_t = 4)]
    agents: usize,
    /// Agent usernames are this prefix followed by 1..=agents.
    #[arg(long, default_value = "bench-agent-")]
    agents_prefix: String,
    /// The agents' (and the staff member's) password.
    #[arg(long, default_value = "demo")]
    password: String,
    /// A staff username for the supported-call cycles (without one they are plain calls).
    #[arg(long)]
    staff: Option<String>,
    /// Limit for each step (a signaling reply, media connecting), in seconds.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// The service the citizens choose.
    #[arg(long, default_value = "pension_benefit_inquiry")]
    service: String,
}

/// The four kinds of cycle, in the order they take turns.
const KINDS: [&str; 4] = ["call", "message", "reconnect", "supported_call"];

/// The staff member's connection, shared by the supported-call cycles one at a time.
struct Staff {
    ws: SignalingClient,
    _leg: LegId,
}

/// What the server holds at one moment.
fn sample(pid: &str, metrics: &std::collections::HashMap<String, f64>) -> Value {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).ok();
    let threads = std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    let live: BTreeMap<&String, &f64> = metrics
        .iter()
        .filter(|(k, _)| {
            [
                "voicedesk_ws_connections",
                "voicedesk_queue_length",
                "voicedesk_active_calls",
                "voicedesk_relay_legs",
            ]
            .iter()
            .any(|name| k.starts_with(name) && !k.contains("_total"))
        })
        .collect();
    json!({
        "rss_kb": probe::rss_kb(pid).ok(),
        "open_files": fds,
        "threads": threads,
        "live": live,
    })
}

/// The live count of one series (its unlabelled sample, or the sum of its labelled ones).
fn live_count(metrics: &std::collections::HashMap<String, f64>, name: &str) -> f64 {
    metrics
        .iter()
        .filter(|(k, _)| *k == name || k.starts_with(&format!("{name}{{")))
        .map(|(_, v)| *v)
        .sum()
}

async fn citizen(ctx: &Ctx) -> Result<(SignalingClient, Option<String>), String> {
    let mut ws = SignalingClient::connect(&ctx.ws_citizen, &ctx.http, None)
        .await
        .map_err(|e| format!("citizen websocket: {}", short(format!("{e:#}"))))?;
    let token = match wait_for(&mut ws, ctx.step, "welcome", |m| {
        matches!(m, ServerMessage::Welcome { .. })
    })
    .await?
    {
        ServerMessage::Welcome { citizen_token, .. } => citizen_token,
        _ => None,
    };
    Ok((ws, token))
}

/// A call from a new citizen, up to both sides connected; returns the citizen's connection,
/// token, leg and call id.
async fn answered_call(
    ctx: &Ctx,
    index: usize,
) -> Result<(SignalingClient, Option<String>, LegId, String), String> {
    let (mut ws, token) = citizen(ctx).await?;
    let (leg, offer) = ctx
        .engine
        .create_leg(tag(b'S', index), true)
        .await
        .map_err(|e| format!("offer: {}", short(e)))?;
    let result = async {
        ws.send(&ClientMessage::Call { service: Some(ctx.args.service.clone()), sdp: offer })
            .await
            .map_err(|e| format!("call: {}", short(e)))?;
        let (call_id, answer) = match wait_for(&mut ws, ctx.step, "call_queued", |m| {
            matches!(m, ServerMessage::CallQueued { .. })
        })
        .await?
        {
            ServerMessage::CallQueued { call_id, sdp } => (call_id, sdp),
            _ => unreachable!("wait_for returns what it waited for"),
        };
        ctx.engine.apply_answer(leg, answer).await.map_err(|e| format!("answer: {}", short(e)))?;
        ctx.engine
            .wait_connected(leg, ctx.step)
            .await
            .map_err(|e| format!("media: {}", short(e)))?;
        wait_for(&mut ws, ctx.step, "call_connected", |m| {
            matches!(m, ServerMessage::CallConnected { .. })
        })
        .await?;
        Ok::<_, String>(call_id)
    }
    .await;
    match result {
        Ok(call_id) => Ok((ws, token, leg, call_id)),
        Err(e) => {
            let _ = ctx.engine.close_leg(leg);
            let _ = ws.close().await;
            Err(e)
        }
    }
}

/// The citizen hangs up and hears `call_ended`; the leg and the connection close.
async fn hang_up(
    ctx: &Ctx,
    mut ws: SignalingClient,
    leg: LegId,
    call_id: String,
) -> Result<(), String> {
    let result = async {
        ws.send(&ClientMessage::HangUp { call_id })
            .await
            .map_err(|e| format!("hang_up: {}", short(e)))?;
        ws.recv_until(ctx.step, |m| matches!(m, ServerMessage::CallEnded { .. }))
            .await
            .map_err(|e| format!("call_ended: {}", short(e)))?;
        Ok(())
    }
    .await;
    let _ = ctx.engine.close_leg(leg);
    let _ = ws.close().await;
    result
}

/// The staff member joins `call_id` in monitor mode, and later leaves.
async fn support(staff: &mut Staff, message: ClientMessage, step: Duration) -> Result<(), String> {
    staff.ws.send(&message).await.map_err(|e| format!("staff: {}", short(e)))?;
    let reply = staff
        .ws
        .recv_until(step, |m| {
            matches!(m, ServerMessage::SupportChanged { .. } | ServerMessage::Error { .. })
        })
        .await
        .map_err(|e| format!("staff reply: {}", short(e)))?;
    staff.ws.take_skipped();
    match reply {
        ServerMessage::Error { code, message, .. } => {
            Err(format!("staff: error {code:?}: {}", short(message)))
        }
        _ => Ok(()),
    }
}

/// One cycle of `kind` (an index into [`KINDS`]).
async fn cycle(
    ctx: Arc<Ctx>,
    staff: Option<Arc<Mutex<Staff>>>,
    index: usize,
    talk: Duration,
) -> Result<(), String> {
    match index % KINDS.len() {
        1 => {
            let (mut ws, _) = citizen(&ctx).await?;
            let sent = ws
                .send(&ClientMessage::LeaveMessage {
                    client_id: format!("soak-message-{index:08}"),
                    service: Some(ctx.args.service.clone()),
                    name: None,
                    phone: None,
                    body: format!("soak message {index}: how is my pension paid after I move?"),
                    call_id: None,
                })
                .await
                .map_err(|e| format!("leave_message: {}", short(e)));
            let saved = match sent {
                Ok(()) => wait_for(&mut ws, ctx.step, "message_saved", |m| {
                    matches!(m, ServerMessage::MessageSaved { .. })
                })
                .await
                .map(|_| ()),
                Err(e) => Err(e),
            };
            let _ = ws.close().await;
            saved
        }
        2 => {
            let (ws, token, leg, call_id) = answered_call(&ctx, index).await?;
            let token = token.ok_or("welcome without a citizen token")?;
            tokio::time::sleep(talk / 2).await;
            // The page reloads: its WebSocket and its media leg go.
            let _ = ctx.engine.close_leg(leg);
            let _ = ws.close().await;
            let (mut ws, _) = citizen(&ctx).await?;
            ws.send(&ClientMessage::Resume { citizen_token: token })
                .await
                .map_err(|e| format!("resume: {}", short(e)))?;
            let resumed = wait_for(&mut ws, ctx.step, "resumed", |m| {
                matches!(m, ServerMessage::Resumed { .. })
            })
            .await?;
            if !matches!(resumed, ServerMessage::Resumed { active_call: Some(_), .. }) {
                let _ = ws.close().await;
                return Err("resumed without the answered call".into());
            }
            let (leg, offer) = ctx
                .engine
                .create_leg(tag(b'R', index), true)
                .await
                .map_err(|e| format!("offer: {}", short(e)))?;
            let rejoined = async {
                ws.send(&ClientMessage::RejoinCall { call_id: call_id.clone(), sdp: offer })
                    .await
                    .map_err(|e| format!("rejoin_call: {}", short(e)))?;
                let answer = match wait_for(&mut ws, ctx.step, "call_rejoined", |m| {
                    matches!(m, ServerMessage::CallRejoined { .. })
                })
                .await?
                {
                    ServerMessage::CallRejoined { sdp, .. } => sdp,
                    _ => unreachable!("wait_for returns what it waited for"),
                };
                ctx.engine
                    .apply_answer(leg, answer)
                    .await
                    .map_err(|e| format!("answer: {}", short(e)))?;
                ctx.engine
                    .wait_connected(leg, ctx.step)
                    .await
                    .map_err(|e| format!("media again: {}", short(e)))?;
                Ok::<_, String>(())
            }
            .await;
            if let Err(e) = rejoined {
                let _ = ctx.engine.close_leg(leg);
                let _ = ws.close().await;
                return Err(e);
            }
            tokio::time::sleep(talk / 2).await;
            hang_up(&ctx, ws, leg, call_id).await
        }
        kind => {
            let (ws, _, leg, call_id) = answered_call(&ctx, index).await?;
            let supported = match (kind, &staff) {
                (3, Some(staff)) => {
                    let mut staff = staff.lock().await;
                    let join = ClientMessage::JoinCall {
                        call_id: call_id.clone(),
                        mode: SupportMode::Monitor,
                    };
                    let joined = support(&mut staff, join, ctx.step).await;
                    tokio::time::sleep(talk).await;
                    let left = support(
                        &mut staff,
                        ClientMessage::LeaveCall { call_id: call_id.clone() },
                        ctx.step,
                    )
                    .await;
                    joined.and(left)
                }
                _ => {
                    tokio::time::sleep(talk).await;
                    Ok(())
                }
            };
            let ended = hang_up(&ctx, ws, leg, call_id).await;
            supported.and(ended)
        }
    }
}

/// Signs in the staff member with a connected headset.
async fn staff_setup(ctx: &Ctx, username: &str) -> Result<Staff> {
    let cookie = login(&ctx.http, username, &ctx.args.password).await.context("staff login")?;
    let url = ctx.ws_citizen.replacen("/ws", "/ws?role=staff", 1);
    let mut ws = SignalingClient::connect(&url, &ctx.http, Some(&cookie))
        .await
        .context("staff websocket")?;
    wait_for(&mut ws, ctx.step, "staff welcome", |m| matches!(m, ServerMessage::Welcome { .. }))
        .await
        .map_err(anyhow::Error::msg)?;
    let (leg, offer) = ctx.engine.create_leg(tag(b'T', 0), false).await?;
    ws.send(&ClientMessage::MediaConnect { sdp: offer }).await?;
    let answer = match wait_for(&mut ws, ctx.step, "staff media_answer", |m| {
        matches!(m, ServerMessage::MediaAnswer { .. })
    })
    .await
    .map_err(anyhow::Error::msg)?
    {
        ServerMessage::MediaAnswer { sdp } => sdp,
        _ => unreachable!("wait_for returns what it waited for"),
    };
    ctx.engine.apply_answer(leg, answer).await?;
    ctx.engine.wait_connected(leg, ctx.step).await?;
    ws.take_skipped();
    Ok(Staff { ws, _leg: leg })
}

/// Runs `loadgen soak`.
pub(crate) async fn run(args: SoakArgs) -> Result<Value> {
    if !(args.minutes.is_finite() && args.minutes > 0.0)
        || !(args.per_minute.is_finite() && args.per_minute > 0.0)
    {
        bail!("--minutes and --per-minute must be positive");
    }
    if args.agents == 0 || args.agents > 0xff_ffff {
        bail!("--agents must be between 1 and 16777215");
    }
    let pid = args.server_pid.to_string();
    let http = args.server.trim_end_matches('/').to_owned();
    let ws_base = http.replacen("http", "ws", 1);
    let (engine, engine_thread) = engine::start(Duration::from_millis(50))?;
    let calls = CallsArgs::for_agents(
        &args.server,
        args.agents,
        &args.agents_prefix,
        &args.password,
        args.setup_timeout,
        &args.service,
    );
    let ctx = Arc::new(Ctx {
        ws_citizen: format!("{ws_base}/ws"),
        ws_agent: format!("{ws_base}/ws?role=agent"),
        http: http.clone(),
        step: Duration::from_secs_f64(args.setup_timeout),
        args: calls,
        engine: engine.clone(),
    });

    // The agents and the staff member.
    let (phase_tx, phase_rx) = watch::channel(Phase::Talk);
    let logins = Arc::new(Semaphore::new(4));
    let mut agent_tasks = Vec::new();
    let mut ready = Vec::new();
    for i in 0..args.agents {
        let (tx, rx) = oneshot::channel();
        ready.push(rx);
        agent_tasks.push(tokio::spawn(agent(ctx.clone(), i, logins.clone(), tx, phase_rx.clone())));
    }
    let mut agents_ready = 0;
    for rx in ready {
        agents_ready += usize::from(rx.await.unwrap_or(false));
    }
    if agents_ready == 0 {
        bail!("no agent could sign in");
    }
    let staff = match &args.staff {
        Some(name) => Some(Arc::new(Mutex::new(staff_setup(&ctx, name).await?))),
        None => None,
    };
    let baseline_metrics = probe::metrics(&http).await?;
    let baseline = sample(&pid, &baseline_metrics);
    let baseline_connections = live_count(&baseline_metrics, "voicedesk_ws_connections");
    let baseline_legs = live_count(&baseline_metrics, "voicedesk_relay_legs");
    eprintln!("loadgen soak: {agents_ready} agents ready; baseline {baseline}");

    // The churn.
    let started = Instant::now();
    let every = Duration::from_secs_f64(60.0 / args.per_minute);
    let until = started + Duration::from_secs_f64(args.minutes * 60.0);
    let talk = Duration::from_millis(args.talk_ms);
    let mut cycles = Vec::new();
    let mut next = started;
    while next < until {
        tokio::time::sleep_until(next.into()).await;
        let index = cycles.len();
        cycles.push((index, tokio::spawn(cycle(ctx.clone(), staff.clone(), index, talk))));
        if index % 100 == 99 {
            eprintln!(
                "loadgen soak: {} cycles after {:.0} s",
                index + 1,
                started.elapsed().as_secs_f64()
            );
        }
        next += every;
    }
    let mut done: BTreeMap<&str, (usize, usize)> = KINDS.iter().map(|k| (*k, (0, 0))).collect();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for (index, task) in cycles {
        let kind = KINDS[index % KINDS.len()];
        let outcome = task.await.unwrap_or_else(|e| Err(format!("cycle panicked: {e}")));
        let entry = done.get_mut(kind).expect("every kind is listed");
        match outcome {
            Ok(()) => entry.0 += 1,
            Err(why) => {
                entry.1 += 1;
                *failures.entry(format!("{kind}: {why}")).or_default() += 1;
            }
        }
    }
    let load_end = sample(&pid, &probe::metrics(&http).await?);
    let load_secs = started.elapsed().as_secs_f64();

    // The server settles: no call, no queue, no connection or leg beyond the baseline's
    // (the agents' and the staff member's).
    let settle_start = Instant::now();
    let settled = loop {
        let m = probe::metrics(&http).await?;
        let busy =
            live_count(&m, "voicedesk_active_calls") + live_count(&m, "voicedesk_queue_length");
        if busy == 0.0
            && live_count(&m, "voicedesk_ws_connections") <= baseline_connections
            && live_count(&m, "voicedesk_relay_legs") <= baseline_legs
        {
            break sample(&pid, &m);
        }
        if settle_start.elapsed() > Duration::from_secs(120) {
            break json!({ "not_settled_after_s": 120, "sample": sample(&pid, &m) });
        }
        // A load tool polls the server's own page; nothing here is a test's synchronisation.
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let _ = phase_tx.send(Phase::Close);
    let mut agent_errors: BTreeMap<String, usize> = BTreeMap::new();
    for task in agent_tasks {
        if let Ok(outcome) = task.await {
            for e in outcome.errors {
                *agent_errors.entry(e).or_default() += 1;
            }
        }
    }
    if let Some(staff) = staff {
        if let Ok(staff) = Arc::try_unwrap(staff) {
            let _ = staff.into_inner().ws.close().await;
        }
    }
    let _ = engine.shutdown();
    let _ = engine_thread.join();

    Ok(json!({
        "minutes": args.minutes,
        "per_minute": args.per_minute,
        "talk_ms": args.talk_ms,
        "agents": agents_ready,
        "staff": args.staff.is_some(),
        "load_secs": (load_secs * 10.0).round() / 10.0,
        "cycles": done.iter().map(|(k, (ok, failed))| (k.to_string(), json!({ "ok": ok, "failed": failed }))).collect::<serde_json::Map<_, _>>(),
        "failures": failures,
        "agent_errors": agent_errors,
        "baseline": baseline,
        "load_end": load_end,
        "settled": settled,
        "settle_secs": (settle_start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }))
}
