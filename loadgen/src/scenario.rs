//! The `calls` scenario: N agents, N citizen calls, a steady window, hang-up, one report.
//!
//! Timeline:
//! 1. read the server's idle RSS, sign in the agents (login → `/ws?role=agent` → headset
//!    `media_connect` → media connected → `set_state available`), a few at a time;
//! 2. ramp: citizen `i` starts at `ramp · i / N` (`/ws` → `call` with an offer →
//!    `call_queued` → answer applied); its leg sends from the moment ICE + DTLS are up. Each
//!    agent accepts whatever `call_offered` it gets (the queue offers the longest-idle agent,
//!    so calls and agents pair by call id, not by index) and sends once `call_connected`;
//! 3. when every call is connected or has failed (and one settling second later), the steady
//!    window of `--duration` seconds: server CPU, relay counter and RSS are read at its start
//!    and end;
//! 4. a drain of `--drain` seconds for in-flight packets, then sending stops, the engine's
//!    counters are taken, citizens hang up and everything closes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use voicedesk_protocol::{
    AgentActivity, AgentAvailability, ClientMessage, MediaLegState, ServerMessage,
};
use voicedesk_softphone::{SignalingClient, Tag, login};

use crate::engine::{self, EngineHandle, LegId, LegReport};
use crate::probe;

/// Options of `loadgen calls`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallsArgs {
    /// The server's HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Concurrent calls (and agents signed in: one per call).
    #[arg(long)]
    calls: usize,
    /// Length of the steady measurement window, in seconds.
    #[arg(long)]
    duration: f64,
    /// Seconds over which calls are started, evenly spaced (default: calls / 25, at least 1).
    #[arg(long)]
    ramp: Option<f64>,
    /// The server's process id: enables server CPU and RSS figures (read from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Agent usernames are this prefix followed by 1..=calls.
    #[arg(long, default_value = "bench-agent-")]
    agents_prefix: String,
    /// The agents' password.
    #[arg(long, default_value = "demo")]
    pub(crate) password: String,
    /// Limit for each setup step (a signaling reply, media connecting), in seconds.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// Agents signing in at the same time (login hashes a password on the server).
    #[arg(long, default_value_t = 8)]
    login_concurrency: usize,
    /// Seconds after the window for packets still in flight before they count as lost.
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// Pacing of the legs' ICE connectivity checks in milliseconds (rtc's default is 200;
    /// browsers use RFC 8445's Ta = 50).
    #[arg(long, default_value_t = 50)]
    ice_check_interval_ms: u64,
    /// The service the citizens choose.
    #[arg(long, default_value = "pension_benefit_inquiry")]
    pub(crate) service: String,
}

impl CallsArgs {
    /// The options the agents' tasks read, for scenarios other than `calls` (no steady window).
    pub(crate) fn for_agents(
        server: &str,
        agents: usize,
        agents_prefix: &str,
        password: &str,
        setup_timeout: f64,
        service: &str,
    ) -> Self {
        CallsArgs {
            server: server.to_owned(),
            calls: agents,
            duration: 0.0,
            ramp: None,
            server_pid: None,
            agents_prefix: agents_prefix.to_owned(),
            password: password.to_owned(),
            setup_timeout,
            login_concurrency: 4,
            drain: 0.0,
            ice_check_interval_ms: 50,
            service: service.to_owned(),
        }
    }
}

/// Where the run is; tasks watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Setting up and talking.
    Talk,
    /// Citizens hang up.
    HangUp,
    /// Agents sign off; everything closes.
    Close,
}

/// Shared by every task.
pub(crate) struct Ctx {
    pub(crate) http: String,
    pub(crate) ws_citizen: String,
    pub(crate) ws_agent: String,
    pub(crate) args: CallsArgs,
    pub(crate) step: Duration,
    pub(crate) engine: EngineHandle,
}

/// What an agent task saw.
#[derive(Debug, Default)]
pub(crate) struct AgentOutcome {
    tag: Tag,
    leg: Option<LegId>,
    setup_error: Option<String>,
    /// Calls that reached `call_connected` at this agent.
    connected_calls: Vec<String>,
    pub(crate) errors: Vec<String>,
}

/// What a citizen task saw.
#[derive(Debug, Default)]
struct CitizenOutcome {
    tag: Tag,
    leg: Option<LegId>,
    call_id: Option<String>,
    /// When the `call` message was sent.
    call_sent_at: Option<Instant>,
    /// When `call_queued` arrived.
    queued_at: Option<Instant>,
    /// When `call_connected` arrived.
    connected_at: Option<Instant>,
    setup_error: Option<String>,
    ended_early: Option<String>,
    hangup_error: Option<String>,
}

/// A tag: a role letter and a 24-bit index.
pub(crate) fn tag(role: u8, index: usize) -> Tag {
    let [_, a, b, c] = (index as u32).to_be_bytes();
    [role, a, b, c]
}

/// The first line of an error, bounded, for grouping failure reasons.
pub(crate) fn short(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("");
    line.chars().take(160).collect()
}

/// Reads until `want` matches; an `error`, a `call_ended` or a failed `media_state` on the
/// way is a failure of `stage`.
pub(crate) async fn wait_for(
    ws: &mut SignalingClient,
    timeout: Duration,
    stage: &str,
    want: impl Fn(&ServerMessage) -> bool,
) -> Result<ServerMessage, String> {
    let message = ws
        .recv_until(timeout, |m| {
            want(m)
                || matches!(
                    m,
                    ServerMessage::Error { .. }
                        | ServerMessage::CallEnded { .. }
                        | ServerMessage::MediaState {
                            state: MediaLegState::Failed | MediaLegState::Closed
                        }
                )
        })
        .await
        .map_err(|e| format!("{stage}: {}", short(e)))?;
    ws.take_skipped();
    if want(&message) {
        return Ok(message);
    }
    Err(match message {
        ServerMessage::Error { code, message, .. } => {
            format!("{stage}: error {code:?}: {}", short(message))
        }
        ServerMessage::CallEnded { reason, .. } => {
            format!("{stage}: call ended ({})", reason.as_str())
        }
        other => format!("{stage}: {other:?}"),
    })
}

pub(crate) async fn agent_setup(
    ctx: &Ctx,
    index: usize,
    tag: Tag,
    leg_out: &mut Option<LegId>,
) -> Result<SignalingClient, String> {
    let username = format!("{}{}", ctx.args.agents_prefix, index + 1);
    let cookie = login(&ctx.http, &username, &ctx.args.password)
        .await
        .map_err(|e| format!("login: {}", short(e)))?;
    let mut ws = SignalingClient::connect(&ctx.ws_agent, &ctx.http, Some(&cookie))
        .await
        .map_err(|e| format!("agent websocket: {}", short(format!("{e:#}"))))?;
    wait_for(&mut ws, ctx.step, "agent welcome", |m| matches!(m, ServerMessage::Welcome { .. }))
        .await?;
    let (leg, offer) = ctx
        .engine
        .create_leg(tag, false)
        .await
        .map_err(|e| format!("headset offer: {}", short(e)))?;
    *leg_out = Some(leg);
    ws.send(&ClientMessage::MediaConnect { sdp: offer })
        .await
        .map_err(|e| format!("media_connect: {}", short(e)))?;
    let answer = match wait_for(&mut ws, ctx.step, "media_answer", |m| {
        matches!(m, ServerMessage::MediaAnswer { .. })
    })
    .await?
    {
        ServerMessage::MediaAnswer { sdp } => sdp,
        _ => unreachable!("wait_for returns what it waited for"),
    };
    ctx.engine
        .apply_answer(leg, answer)
        .await
        .map_err(|e| format!("headset answer: {}", short(e)))?;
    ctx.engine
        .wait_connected(leg, ctx.step)
        .await
        .map_err(|e| format!("headset media: {}", short(e)))?;
    wait_for(&mut ws, ctx.step, "media_state connected", |m| {
        matches!(m, ServerMessage::MediaState { state: MediaLegState::Connected })
    })
    .await?;
    ws.send(&ClientMessage::SetState { state: AgentAvailability::Available, reason: None })
        .await
        .map_err(|e| format!("set_state: {}", short(e)))?;
    wait_for(&mut ws, ctx.step, "agent available", |m| {
        matches!(m, ServerMessage::AgentState { state: AgentActivity::Available, .. })
    })
    .await?;
    Ok(ws)
}

pub(crate) async fn agent(
    ctx: Arc<Ctx>,
    index: usize,
    logins: Arc<Semaphore>,
    ready: oneshot::Sender<bool>,
    mut phase: watch::Receiver<Phase>,
) -> AgentOutcome {
    let mut out = AgentOutcome { tag: tag(b'A', index), ..Default::default() };
    let setup = {
        let _permit = logins.acquire().await;
        agent_setup(&ctx, index, out.tag, &mut out.leg).await
    };
    let mut ws = match setup {
        Ok(ws) => ws,
        Err(why) => {
            out.setup_error = Some(why);
            let _ = ready.send(false);
            return out;
        }
    };
    let _ = ready.send(true);
    let leg = out.leg.expect("set by a successful setup");
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() >= Phase::Close {
                    break;
                }
            }
            message = ws.recv(Duration::from_secs(24 * 3600)) => match message {
                Ok(ServerMessage::CallOffered { call_id, .. }) => {
                    if let Err(e) = ws.send(&ClientMessage::Accept { call_id }).await {
                        out.errors.push(format!("accept: {}", short(e)));
                        break;
                    }
                }
                Ok(ServerMessage::CallConnected { call_id, .. }) => {
                    out.connected_calls.push(call_id);
                    if let Err(e) = ctx.engine.start_sending(leg) {
                        out.errors.push(format!("start sending: {}", short(e)));
                    }
                }
                Ok(ServerMessage::OfferWithdrawn { reason, .. }) => out.errors.push(format!("offer withdrawn: {reason:?}")),
                Ok(ServerMessage::Error { code, message, .. }) => out.errors.push(format!("error {code:?}: {}", short(message))),
                Ok(ServerMessage::MediaState { state: MediaLegState::Failed }) => out.errors.push("headset failed".into()),
                Ok(_) => {}
                Err(e) => {
                    if *phase.borrow() < Phase::Close {
                        out.errors.push(format!("agent signaling: {}", short(e)));
                    }
                    break;
                }
            }
        }
    }
    let _ = ws.close().await;
    out
}

async fn citizen_setup(
    ctx: &Ctx,
    out: &mut CitizenOutcome,
    ws: &mut Option<SignalingClient>,
) -> Result<(), String> {
    let mut client = SignalingClient::connect(&ctx.ws_citizen, &ctx.http, None)
        .await
        .map_err(|e| format!("citizen websocket: {}", short(format!("{e:#}"))))?;
    wait_for(&mut client, ctx.step, "citizen welcome", |m| {
        matches!(m, ServerMessage::Welcome { .. })
    })
    .await?;
    let client = ws.insert(client);
    let (leg, offer) = ctx
        .engine
        .create_leg(out.tag, true)
        .await
        .map_err(|e| format!("citizen offer: {}", short(e)))?;
    out.leg = Some(leg);
    out.call_sent_at = Some(Instant::now());
    client
        .send(&ClientMessage::Call { service: Some(ctx.args.service.clone()), sdp: offer })
        .await
        .map_err(|e| format!("call: {}", short(e)))?;
    let (call_id, answer) = match wait_for(client, ctx.step, "call_queued", |m| {
        matches!(m, ServerMessage::CallQueued { .. })
    })
    .await?
    {
        ServerMessage::CallQueued { call_id, sdp } => (call_id, sdp),
        _ => unreachable!("wait_for returns what it waited for"),
    };
    out.call_id = Some(call_id);
    out.queued_at = Some(Instant::now());
    ctx.engine
        .apply_answer(leg, answer)
        .await
        .map_err(|e| format!("citizen answer: {}", short(e)))?;
    // Media and the agent's answer happen concurrently; time each when it happens.
    let media = async {
        ctx.engine
            .wait_connected(leg, ctx.step)
            .await
            .map_err(|e| format!("citizen media: {}", short(e)))
    };
    let answered = async {
        wait_for(client, ctx.step, "call_connected", |m| {
            matches!(m, ServerMessage::CallConnected { .. })
        })
        .await?;
        Ok::<_, String>(Instant::now())
    };
    let (media, answered) = tokio::join!(media, answered);
    media?;
    out.connected_at = Some(answered?);
    Ok(())
}

async fn citizen(
    ctx: Arc<Ctx>,
    index: usize,
    established: mpsc::UnboundedSender<bool>,
    mut phase: watch::Receiver<Phase>,
) -> CitizenOutcome {
    let mut out = CitizenOutcome { tag: tag(b'C', index), ..Default::default() };
    let mut ws = None;
    let setup = citizen_setup(&ctx, &mut out, &mut ws).await;
    let _ = established.send(setup.is_ok());
    let Some(mut ws) = ws else {
        out.setup_error = setup.err();
        return out;
    };
    if let Err(why) = setup {
        out.setup_error = Some(why);
        // Leave no call behind in the queue.
        if let Some(call_id) = out.call_id.clone() {
            let _ = ws.send(&ClientMessage::HangUp { call_id }).await;
        }
        if let Some(leg) = out.leg {
            let _ = ctx.engine.close_leg(leg);
        }
        let _ = ws.close().await;
        return out;
    }
    // Talking: until the coordinator says hang up, or the call ends by itself.
    while *phase.borrow() < Phase::HangUp && out.ended_early.is_none() {
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { break },
            message = ws.recv(Duration::from_secs(24 * 3600)) => match message {
                Ok(ServerMessage::CallEnded { reason, .. }) => out.ended_early = Some(reason.as_str().to_owned()),
                Ok(_) => {}
                Err(e) => out.ended_early = Some(format!("citizen signaling: {}", short(e))),
            }
        }
    }
    while *phase.borrow() < Phase::HangUp {
        if phase.changed().await.is_err() {
            break;
        }
    }
    if out.ended_early.is_none() {
        let call_id = out.call_id.clone().unwrap_or_default();
        let hung_up = match ws.send(&ClientMessage::HangUp { call_id }).await {
            Ok(()) => wait_for(&mut ws, ctx.step, "hang_up", |m| {
                matches!(m, ServerMessage::CallEnded { .. })
            })
            .await
            .map(|_| ()),
            Err(e) => Err(format!("hang_up: {}", short(e))),
        };
        // `wait_for` reports the awaited call_ended as success; anything else is a failure.
        out.hangup_error = hung_up.err();
    }
    if let Some(leg) = out.leg {
        let _ = ctx.engine.close_leg(leg);
    }
    let _ = ws.close().await;
    out
}

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn count_reasons<'a>(reasons: impl Iterator<Item = &'a String>) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for r in reasons {
        *map.entry(r.clone()).or_insert(0) += 1;
    }
    map
}

/// Server-side readings at one instant.
struct ServerSample {
    cpu: Option<Duration>,
    rss_kb: Option<u64>,
    forwarded: Option<f64>,
    received: Option<f64>,
    dropped: Option<f64>,
}

async fn sample_server(http: &str, pid: Option<&str>, ticks: u64) -> ServerSample {
    let cpu = pid.and_then(|p| probe::cpu_time(p, ticks).ok());
    let rss_kb = pid.and_then(|p| probe::rss_kb(p).ok());
    let metrics = probe::metrics(http).await.unwrap_or_default();
    ServerSample {
        cpu,
        rss_kb,
        forwarded: metrics.get(probe::FORWARDED_METRIC).copied(),
        received: metrics.get(probe::RECEIVED_METRIC).copied(),
        dropped: metrics.get(probe::DROPPED_METRIC).copied(),
    }
}

/// Everything a run has set up: the tasks, the engine and what was measured on the way.
struct Running {
    engine: EngineHandle,
    engine_thread: std::thread::JoinHandle<()>,
    phase_tx: watch::Sender<Phase>,
    agent_tasks: Vec<tokio::task::JoinHandle<AgentOutcome>>,
    citizen_tasks: Vec<tokio::task::JoinHandle<CitizenOutcome>>,
    agents_ready: usize,
    established: usize,
    ramp: Duration,
    rss_agents: Option<u64>,
}

/// What the tasks saw, once they have all ended.
struct Finished {
    citizens: Vec<CitizenOutcome>,
    agents: Vec<AgentOutcome>,
    legs: HashMap<LegId, LegReport>,
    engine_stats: engine::EngineStats,
    loadgen_cpu: Option<Duration>,
}

/// Phases 1 and 2: signs the agents in, then starts the citizens' calls spread over `ramp`
/// and waits until each is connected or has failed.
async fn set_up(args: CallsArgs, ramp: Duration, pid: Option<&str>) -> Result<Running> {
    let http = args.server.trim_end_matches('/').to_owned();
    let ws_base = http.replacen("http", "ws", 1);
    let n = args.calls;
    let (engine, engine_thread) =
        engine::start(Duration::from_millis(args.ice_check_interval_ms.max(1)))?;
    let ctx = Arc::new(Ctx {
        ws_citizen: format!("{ws_base}/ws"),
        ws_agent: format!("{ws_base}/ws?role=agent"),
        http,
        step: Duration::from_secs_f64(args.setup_timeout),
        args,
        engine: engine.clone(),
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Talk);

    // 1. Agents.
    let started = Instant::now();
    eprintln!("loadgen: signing in {n} agents");
    let logins = Arc::new(Semaphore::new(ctx.args.login_concurrency.max(1)));
    let mut agent_tasks = Vec::with_capacity(n);
    let mut agent_ready = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = oneshot::channel();
        agent_ready.push(rx);
        agent_tasks.push(tokio::spawn(agent(ctx.clone(), i, logins.clone(), tx, phase_rx.clone())));
    }
    let mut agents_ready = 0;
    for rx in agent_ready {
        if rx.await.unwrap_or(false) {
            agents_ready += 1;
        }
    }
    eprintln!(
        "loadgen: {agents_ready}/{n} agents available after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rss_agents = pid.and_then(|p| probe::rss_kb(p).ok());

    // 2. Ramp.
    let (est_tx, mut est_rx) = mpsc::unbounded_channel();
    let ramp_start = Instant::now();
    let mut citizen_tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = ramp_start + ramp.mul_f64(i as f64 / n as f64);
        tokio::time::sleep_until(at.into()).await;
        citizen_tasks.push(tokio::spawn(citizen(ctx.clone(), i, est_tx.clone(), phase_rx.clone())));
    }
    drop(est_tx);
    let mut established = 0;
    let mut reported = 0;
    while let Some(ok) = est_rx.recv().await {
        reported += 1;
        established += usize::from(ok);
        if reported == n {
            break;
        }
    }
    eprintln!(
        "loadgen: {established}/{n} calls connected, ramp {:.1} s, all set up after {:.1} s",
        ramp.as_secs_f64(),
        ramp_start.elapsed().as_secs_f64()
    );
    Ok(Running {
        engine,
        engine_thread,
        phase_tx,
        agent_tasks,
        citizen_tasks,
        agents_ready,
        established,
        ramp,
        rss_agents,
    })
}

/// Phase 4: stops sending, takes the engine's counters, hangs up and closes everything.
async fn tear_down(run: Running, ticks: u64) -> Result<Finished> {
    let Running { engine, engine_thread, phase_tx, agent_tasks, citizen_tasks, .. } = run;
    engine.stop_all_sending()?;
    let (legs, engine_stats) = engine.snapshot().await?;
    let legs: HashMap<LegId, LegReport> = legs.into_iter().map(|r| (r.id, r)).collect();
    eprintln!("loadgen: hanging up");
    let _ = phase_tx.send(Phase::HangUp);
    let mut citizens = Vec::with_capacity(citizen_tasks.len());
    for task in citizen_tasks {
        citizens.push(task.await.context("a citizen task panicked")?);
    }
    let _ = phase_tx.send(Phase::Close);
    let mut agents = Vec::with_capacity(agent_tasks.len());
    for task in agent_tasks {
        agents.push(task.await.context("an agent task panicked")?);
    }
    engine.shutdown()?;
    let _ = tokio::task::spawn_blocking(move || engine_thread.join()).await;
    let loadgen_cpu = probe::cpu_time("self", ticks).ok();
    Ok(Finished { citizens, agents, legs, engine_stats, loadgen_cpu })
}

/// Set-up latencies measured from each citizen's `call`, sorted.
#[derive(Default)]
struct SetUpTimes {
    /// `call` → `call_queued` (the relay's answer is in it).
    queued_ms: Vec<f64>,
    /// `call` → the citizen's leg connected (ICE + DTLS).
    media_ms: Vec<f64>,
    /// `call` → `call_connected` (an agent accepted; the relay bridges).
    connected_ms: Vec<f64>,
}

impl SetUpTimes {
    fn of(finished: &Finished) -> Self {
        let mut t = Self::default();
        for c in &finished.citizens {
            let Some(sent_at) = c.call_sent_at else { continue };
            let since = |at: Instant| ms(at.saturating_duration_since(sent_at));
            t.queued_ms.extend(c.queued_at.map(since));
            t.media_ms.extend(
                c.leg.and_then(|l| finished.legs.get(&l)).and_then(|r| r.connected_at).map(since),
            );
            t.connected_ms.extend(c.connected_at.map(since));
        }
        for v in [&mut t.queued_ms, &mut t.media_ms, &mut t.connected_ms] {
            v.sort_by(f64::total_cmp);
        }
        t
    }
}

/// Runs `loadgen burst`: N agents signed in and available, then N citizens send `call` within
/// `--within-ms`; reports how long each waited for `call_queued` and `call_connected` and why
/// any failed. No steady window: the burst is the measurement.
pub(crate) async fn run_burst(args: BurstArgs) -> Result<Value> {
    let n = args.calls;
    if n == 0 || n > 0xff_ffff {
        bail!("--calls must be between 1 and 16777215");
    }
    let ticks = probe::clock_ticks_per_second();
    let within = Duration::from_millis(args.within_ms);
    let calls = CallsArgs {
        server: args.server,
        calls: n,
        duration: 0.0,
        ramp: Some(within.as_secs_f64()),
        server_pid: None,
        agents_prefix: args.agents_prefix,
        password: args.password,
        setup_timeout: args.setup_timeout,
        login_concurrency: args.login_concurrency,
        drain: 0.0,
        ice_check_interval_ms: args.ice_check_interval_ms,
        service: args.service,
    };
    let server = calls.server.clone();
    let running = set_up(calls, within, None).await?;
    let (agents_ready, established) = (running.agents_ready, running.established);
    // The server's own measure of `call` → `call_queued` (from a fresh server: this burst's
    // calls only), free of this process's scheduling on a loaded machine.
    let page = probe::metrics(&server).await?;
    let queued = probe::histogram_buckets(&page, "voicedesk_call_setup_seconds", "step=\"queued\"");
    let bridged =
        probe::histogram_buckets(&page, "voicedesk_call_setup_seconds", "step=\"bridged\"");
    let server_ms =
        |b: &[(f64, f64)], q: f64| probe::bucket_quantile(b, q).map(|s| round3(s * 1e3));
    let within_100ms =
        queued.iter().find(|(bound, _)| *bound >= 0.1).zip(queued.last()).map(
            |((bound, count), (_, total))| (round3(bound * 1e3), round3(100.0 * count / total)),
        );
    let finished = tear_down(running, ticks).await?;
    let times = SetUpTimes::of(&finished);
    let p = |v: &[f64], q: f64| percentile(v, q);
    let failures = count_reasons(finished.citizens.iter().filter_map(|c| c.setup_error.as_ref()));
    Ok(json!({
        "calls": n,
        "within_ms": args.within_ms,
        "agents_ready": agents_ready,
        "calls_connected": established,
        "calls_failed": n - established,
        "failures": failures,
        "call_queued_replies": times.queued_ms.len(),
        "call_queued_ms_p50": p(&times.queued_ms, 50.0),
        "call_queued_ms_p95": p(&times.queued_ms, 95.0),
        "call_queued_ms_p99": p(&times.queued_ms, 99.0),
        "call_queued_ms_max": times.queued_ms.last(),
        "server_call_queued_ms_p50": server_ms(&queued, 0.50),
        "server_call_queued_ms_p95": server_ms(&queued, 0.95),
        "server_call_queued_ms_p99": server_ms(&queued, 0.99),
        "server_call_queued_pct_within": within_100ms,
        "server_call_connected_ms_p95": server_ms(&bridged, 0.95),
        "citizen_media_ms_p50": p(&times.media_ms, 50.0),
        "citizen_media_ms_p95": p(&times.media_ms, 95.0),
        "call_connected_ms_p50": p(&times.connected_ms, 50.0),
        "call_connected_ms_p95": p(&times.connected_ms, 95.0),
        "call_connected_ms_p99": p(&times.connected_ms, 99.0),
        "call_connected_ms_max": times.connected_ms.last(),
        "loadgen_cpu_s": finished.loadgen_cpu.map(|d| round3(d.as_secs_f64())),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    }))
}

/// Options of `loadgen burst`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BurstArgs {
    /// The server's HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Citizens calling (and agents signed in beforehand: one per call).
    #[arg(long)]
    calls: usize,
    /// The calls' `call` messages are sent evenly spread over this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    within_ms: u64,
    /// Agent usernames are this prefix followed by 1..=calls.
    #[arg(long, default_value = "bench-agent-")]
    agents_prefix: String,
    /// The agents' password.
    #[arg(long, default_value = "demo")]
    password: String,
    /// Limit for each setup step (a signaling reply, media connecting), in seconds.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// Agents signing in at the same time (login hashes a password on the server).
    #[arg(long, default_value_t = 8)]
    login_concurrency: usize,
    /// Pacing of the legs' ICE connectivity checks in milliseconds (browsers use 50).
    #[arg(long, default_value_t = 50)]
    ice_check_interval_ms: u64,
    /// The service the citizens choose.
    #[arg(long, default_value = "pension_benefit_inquiry")]
    service: String,
}

/// Runs the scenario and returns the report.
pub(crate) async fn run(args: CallsArgs) -> Result<Value> {
    if args.calls == 0 || args.calls > 0xff_ffff {
        bail!("--calls must be between 1 and 16777215");
    }
    if !args.duration.is_finite() || args.duration <= 0.0 {
        bail!("--duration must be positive");
    }
    let http = args.server.trim_end_matches('/').to_owned();
    let ticks = probe::clock_ticks_per_second();
    let pid = args.server_pid.map(|p| p.to_string());
    let n = args.calls;
    let ramp = Duration::from_secs_f64(args.ramp.unwrap_or((n as f64 / 25.0).max(1.0)).max(0.0));
    let window = Duration::from_secs_f64(args.duration);
    let drain = Duration::from_secs_f64(args.drain.max(0.0));

    let first = probe::metrics(&http)
        .await
        .with_context(|| format!("the server at {http} is not answering /metrics"))?;
    if !first.contains_key(probe::FORWARDED_METRIC) {
        bail!("{http}/metrics has no {}", probe::FORWARDED_METRIC);
    }
    let rss_idle =
        pid.as_deref().map(probe::rss_kb).transpose().context("reading the server's RSS")?;

    let running = set_up(args, ramp, pid.as_deref()).await?;
    let (agents_ready, established, rss_agents) =
        (running.agents_ready, running.established, running.rss_agents);
    let ramp = running.ramp;
    // Let the agents' first packets follow their `call_connected`.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 3. Steady window. It starts a little in the future so the engine has it before any
    // packet inside it is sent.
    let engine = running.engine.clone();
    let window_start = Instant::now() + Duration::from_millis(100);
    let window_end = window_start + window;
    engine.set_window(window_start, window_end)?;
    tokio::time::sleep_until(window_start.into()).await;
    let own_cpu_start = probe::cpu_time("self", ticks).ok();
    let machine_start = probe::machine_cpu(ticks).ok();
    let rcvbuf_start = probe::udp_rcvbuf_errors().ok();
    let at_start = sample_server(&http, pid.as_deref(), ticks).await;
    eprintln!("loadgen: steady window of {:.1} s", window.as_secs_f64());
    tokio::time::sleep_until(window_end.into()).await;
    let own_cpu_end = probe::cpu_time("self", ticks).ok();
    let machine_end = probe::machine_cpu(ticks).ok();
    let rcvbuf_end = probe::udp_rcvbuf_errors().ok();
    let at_end = sample_server(&http, pid.as_deref(), ticks).await;
    let window_s = window.as_secs_f64();

    // 4. Drain, then stop, count, hang up, close.
    tokio::time::sleep(drain).await;
    let finished = tear_down(running, ticks).await?;
    let times = SetUpTimes::of(&finished);
    let Finished { citizens, agents, legs, engine_stats, loadgen_cpu } = finished;
    let SetUpTimes { queued_ms, media_ms, connected_ms } = times;

    // Pair calls with agents by call id.
    let agent_by_call: HashMap<&str, &AgentOutcome> = agents
        .iter()
        .flat_map(|a| a.connected_calls.iter().map(move |c| (c.as_str(), a)))
        .collect();
    let mut setup_ms = Vec::new();
    let mut hears_ms = Vec::new();
    let mut latencies: Vec<u32> = Vec::new();
    let (mut sent, mut received, mut measured) = (0u64, 0u64, 0usize);
    for c in &citizens {
        let (Some(call_id), Some(c_leg)) = (c.call_id.as_deref(), c.leg.and_then(|l| legs.get(&l)))
        else {
            continue;
        };
        let Some(a) = agent_by_call.get(call_id) else { continue };
        let Some(a_leg) = a.leg.and_then(|l| legs.get(&l)) else { continue };
        if let (Some(sent_at), Some(heard)) = (c.call_sent_at, a_leg.first_rx_of(&c.tag)) {
            setup_ms.push(ms(heard.saturating_duration_since(sent_at)));
        }
        if let (Some(sent_at), Some(heard)) = (c.call_sent_at, c_leg.first_rx_of(&a.tag)) {
            hears_ms.push(ms(heard.saturating_duration_since(sent_at)));
        }
        // Measured: connected before the window began (both directions flowing).
        if c.connected_at.is_some_and(|t| t < window_start) {
            measured += 1;
            sent += c_leg.sent_window + a_leg.sent_window;
            received += a_leg.recv_window_of(&c.tag) + c_leg.recv_window_of(&a.tag);
            latencies.extend_from_slice(&a_leg.latencies_us);
            latencies.extend_from_slice(&c_leg.latencies_us);
        }
    }
    for v in [&mut setup_ms, &mut hears_ms] {
        v.sort_by(f64::total_cmp);
    }
    latencies.sort_unstable();
    let lat_ms = |p: f64| percentile(&latencies, p).map(|us| round3(f64::from(us) / 1000.0));

    let delta = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
    let forwarded = delta(at_start.forwarded, at_end.forwarded);
    let server_cpu = match (at_start.cpu, at_end.cpu) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let cpu_us_per_packet = match (server_cpu, forwarded) {
        (Some(cpu), Some(f)) if f > 0.0 => Some(round3(cpu.as_secs_f64() * 1e6 / f)),
        _ => None,
    };
    let per_call = |base: Option<u64>| match (base, at_end.rss_kb) {
        (Some(base), Some(now)) if measured > 0 => {
            Some(round3((now as f64 - base as f64) / measured as f64))
        }
        _ => None,
    };
    let own_window = match (own_cpu_start, own_cpu_end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };

    let machine = machine_start.zip(machine_end).map(|(a, b)| b.busy.saturating_sub(a.busy));
    let steal = machine_start.zip(machine_end).map(|(a, b)| b.steal.saturating_sub(a.steal));

    let setup_failures = count_reasons(citizens.iter().filter_map(|c| c.setup_error.as_ref()));
    let agent_failures = count_reasons(agents.iter().filter_map(|a| a.setup_error.as_ref()));
    let ended_early = count_reasons(citizens.iter().filter_map(|c| c.ended_early.as_ref()));
    let hangup_failures = count_reasons(citizens.iter().filter_map(|c| c.hangup_error.as_ref()));
    let agent_errors = count_reasons(agents.iter().flat_map(|a| a.errors.iter()));
    let legs_failed = count_reasons(legs.values().filter_map(|l| l.failed.as_ref()));
    let all_legs = legs.values();
    let (leg_errors, unmarked, other_slots, sent_total) = all_legs.fold((0, 0, 0, 0), |acc, l| {
        (acc.0 + l.errors, acc.1 + l.unmarked, acc.2 + l.recv_other_slots, acc.3 + l.sent_total)
    });

    Ok(json!({
        "calls": n,
        "calls_connected": established,
        "calls_measured": measured,
        "setup_failed": n - established,
        "setup_failures": setup_failures,
        "agents_ready": agents_ready,
        "agent_setup_failures": agent_failures,
        "agent_errors": agent_errors,
        "calls_ended_early": ended_early,
        "hangup_failures": hangup_failures,
        "ramp_s": round3(ramp.as_secs_f64()),
        "window_s": round3(window_s),
        "setup_ms_p50": percentile(&setup_ms, 50.0),
        "setup_ms_p95": percentile(&setup_ms, 95.0),
        "setup_ms_max": setup_ms.last(),
        "setup_samples": setup_ms.len(),
        "citizen_hears_agent_ms_p50": percentile(&hears_ms, 50.0),
        "citizen_hears_agent_ms_p95": percentile(&hears_ms, 95.0),
        "call_queued_ms_p50": percentile(&queued_ms, 50.0),
        "call_queued_ms_p95": percentile(&queued_ms, 95.0),
        "citizen_media_ms_p50": percentile(&media_ms, 50.0),
        "citizen_media_ms_p95": percentile(&media_ms, 95.0),
        "call_connected_ms_p50": percentile(&connected_ms, 50.0),
        "call_connected_ms_p95": percentile(&connected_ms, 95.0),
        "packets_sent": sent,
        "packets_received": received,
        "loss_pct": (sent > 0).then(|| round3(100.0 * (sent.saturating_sub(received)) as f64 / sent as f64)),
        "relay_latency_ms_p50": lat_ms(50.0),
        "relay_latency_ms_p99": lat_ms(99.0),
        "relay_latency_ms_max": lat_ms(100.0),
        "relay_forwarded_window": forwarded,
        "relay_forwarded_pps": forwarded.map(|f| round3(f / window_s)),
        "relay_received_window": delta(at_start.received, at_end.received),
        "relay_dropped_window": delta(at_start.dropped, at_end.dropped),
        "server_cpu_s_window": server_cpu.map(|d| round3(d.as_secs_f64())),
        "server_cpu_pct_of_one_core": server_cpu.map(|d| round3(100.0 * d.as_secs_f64() / window_s)),
        "server_cpu_us_per_packet": cpu_us_per_packet,
        "server_rss_kb_idle": rss_idle,
        "server_rss_kb_agents_ready": rss_agents,
        "server_rss_kb": at_end.rss_kb,
        "server_rss_kb_per_call": per_call(rss_idle),
        "server_rss_kb_per_call_over_agents_ready": per_call(rss_agents),
        "loadgen_cpu_s": loadgen_cpu.map(|d| round3(d.as_secs_f64())),
        "loadgen_cpu_pct_of_one_core_window": own_window.map(|d| round3(100.0 * d.as_secs_f64() / window_s)),
        "machine_busy_pct_of_one_core_window": machine.map(|d| round3(100.0 * d.as_secs_f64() / window_s)),
        "steal_pct_of_one_core_window": steal.map(|d| round3(100.0 * d.as_secs_f64() / window_s)),
        "udp_rcvbuf_errors_window": rcvbuf_start.zip(rcvbuf_end).map(|(a, b)| b.saturating_sub(a)),
        "loadgen_sends_skipped_late": engine_stats.sends_skipped_late,
        "loadgen_max_send_lateness_ms": round3(engine_stats.max_send_lateness_us as f64 / 1000.0),
        "loadgen_packets_sent_total": sent_total,
        "loadgen_leg_errors": leg_errors,
        "loadgen_legs_failed": legs_failed,
        "unmarked_packets": unmarked,
        "packets_on_other_slots": other_slots,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7u32], 50.0), Some(7));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn tags_name_role_and_index() {
        assert_eq!(tag(b'C', 0x01_02_03), [b'C', 1, 2, 3]);
        assert_ne!(tag(b'A', 5), tag(b'C', 5));
    }
}
