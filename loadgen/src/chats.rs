//! The `chats` scenario (issue 16): N concurrent live text chats, `--per-agent` per agent, a
//! text every `--every` seconds each way; how long a committed text takes to reach the other
//! side, and what a chat costs the server in CPU and memory.
//!
//! Timeline:
//! 1. sign in ⌈N / per-agent⌉ agents as the `calls` scenario does (an agent becomes available
//!    only with a connected headset, so each has one; it carries no audio here);
//! 2. ramp: citizen `i` sends `start_chat` at `ramp · i / N`; each agent accepts every
//!    `chat_offered` it gets; the server's RSS is read once every chat is connected;
//! 3. the steady window of `--duration` seconds: both sides of every chat send a text every
//!    `--every` seconds (each chat at its own phase); the receiving side takes the text's send
//!    instant from its body (`t=<µs since the run began>`; both sides live in this process)
//!    and records the delivery latency; server CPU is read at the window's start and end, and
//!    over a quiet stretch before it (chats connected, no text) to tell what texts cost;
//! 4. citizens end their chats, everything closes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use voicedesk_protocol::{ChatLine, ClientMessage, ServerMessage};
use voicedesk_softphone::SignalingClient;

use crate::engine;
use crate::probe;
use crate::scenario::{self, CallsArgs, Ctx, short, tag, wait_for};

/// Options of `loadgen chats`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ChatsArgs {
    /// The server's HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Concurrent chats.
    #[arg(long)]
    chats: usize,
    /// Chats each agent holds (the server's default chat capacity is 3).
    #[arg(long, default_value_t = 3)]
    per_agent: usize,
    /// Seconds between two texts of one side of a chat.
    #[arg(long, default_value_t = 5.0)]
    every: f64,
    /// Length of the steady measurement window, in seconds.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seconds over which the chats are started, evenly spaced (default: chats / 50, at least 1).
    #[arg(long)]
    ramp: Option<f64>,
    /// The server's process id: enables server CPU and RSS figures (read from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Agent usernames are this prefix followed by 1..=agents.
    #[arg(long, default_value = "bench-agent-")]
    agents_prefix: String,
    /// The agents' password.
    #[arg(long, default_value = "demo")]
    password: String,
    /// Limit for each setup step, in seconds.
    #[arg(long, default_value_t = 30.0)]
    setup_timeout: f64,
    /// The service the citizens choose.
    #[arg(long, default_value = "pension_benefit_inquiry")]
    service: String,
}

/// Where the run is; tasks watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Setting up, then connected and quiet.
    Connect,
    /// Texts flow both ways.
    Talk,
    /// Sending stops; texts in flight are still received.
    Drain,
    /// Citizens end their chats; everything closes.
    End,
}

/// What one side of a chat saw.
#[derive(Debug, Default)]
struct SideOutcome {
    /// Delivery latencies of the texts this side received during the window, in ms.
    latencies_ms: Vec<f64>,
    /// Texts this side sent and saw committed (`chat_sent`).
    sent: usize,
    setup_error: Option<String>,
    errors: Vec<String>,
}

/// The text's body: its send instant, so the receiver can time its delivery.
fn stamped_text(base: Instant, n: u64) -> String {
    format!("t={} #{n} 请问养老金的认证怎么办理", base.elapsed().as_micros())
}

/// The delivery latency of a received text, from the stamp in its body.
fn latency_ms(base: Instant, line: &ChatLine) -> Option<f64> {
    let stamp: u128 = line.text.strip_prefix("t=")?.split(' ').next()?.parse().ok()?;
    let now = base.elapsed().as_micros();
    Some(now.saturating_sub(stamp) as f64 / 1000.0)
}

/// The shared state of every task.
struct Run {
    ctx: Arc<Ctx>,
    base: Instant,
    every: Duration,
    phase: watch::Receiver<Phase>,
}

/// One side's loop once its chat(s) are connected: sends a text every `every` while the
/// phase is `Talk`, records the latency of every text received then, answers offers
/// (agents) and counts errors.
struct Talker {
    ws: SignalingClient,
    /// Chats this side sends to, with when it sends next (set when the window starts).
    chats: Vec<(String, Option<tokio::time::Instant>)>,
    out: SideOutcome,
    sent_count: u64,
}

impl Talker {
    async fn talk(&mut self, run: &Run, is_agent: bool, mut phase: watch::Receiver<Phase>) {
        let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
        loop {
            let current = *phase.borrow();
            if current >= Phase::End {
                return;
            }
            let talking = current == Phase::Talk;
            if talking {
                for (_, at) in self.chats.iter_mut().filter(|(_, at)| at.is_none()) {
                    *at = Some(first_send(run.every));
                }
            }
            let next = self.chats.iter().filter_map(|(_, at)| *at).min().filter(|_| talking);
            tokio::select! {
                changed = phase.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(next.unwrap_or(far)) => {
                    let now = tokio::time::Instant::now();
                    for i in 0..self.chats.len() {
                        let Some(at) = self.chats[i].1.filter(|at| *at <= now) else { continue };
                        self.chats[i].1 = Some(at + run.every);
                        self.sent_count += 1;
                        let send = ClientMessage::SendChat {
                            chat_id: self.chats[i].0.clone(),
                            client_id: format!("{:032x}", rand::random::<u128>()),
                            text: stamped_text(run.base, self.sent_count),
                        };
                        if let Err(e) = self.ws.send(&send).await {
                            self.out.errors.push(format!("send_chat: {}", short(e)));
                            return;
                        }
                    }
                }
                message = self.ws.recv(Duration::from_secs(24 * 3600)) => match message {
                    Ok(ServerMessage::ChatMessage(line)) => {
                        if talking && let Some(ms) = latency_ms(run.base, &line) {
                            self.out.latencies_ms.push(ms);
                        }
                    }
                    Ok(ServerMessage::ChatSent { .. }) => self.out.sent += 1,
                    Ok(ServerMessage::ChatOffered { chat_id, .. }) if is_agent => {
                        if let Err(e) = self.ws.send(&ClientMessage::Accept { call_id: chat_id }).await {
                            self.out.errors.push(format!("accept: {}", short(e)));
                            return;
                        }
                    }
                    Ok(ServerMessage::ChatConnected { chat_id, .. }) if is_agent => {
                        self.chats.push((chat_id, None));
                    }
                    Ok(ServerMessage::ChatEnded { reason, .. }) if !is_agent => {
                        self.out.errors.push(format!("chat ended early: {}", reason.as_str()));
                        return;
                    }
                    Ok(ServerMessage::Error { code, message, .. }) => {
                        self.out.errors.push(format!("error {code:?}: {}", short(message)));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.out.errors.push(format!("signaling: {}", short(e)));
                        return;
                    }
                }
            }
        }
    }
}

/// A chat's first text goes at a random point of the first period, so the sends of all chats
/// spread evenly over time as the citizens' would.
fn first_send(every: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + every.mul_f64(rand::random::<f64>())
}

async fn agent(
    run: Arc<Run>,
    index: usize,
    logins: Arc<Semaphore>,
    ready: oneshot::Sender<bool>,
) -> SideOutcome {
    let setup = {
        let _permit = logins.acquire().await;
        let mut leg = None;
        scenario::agent_setup(&run.ctx, index, tag(b'A', index), &mut leg).await
    };
    let ws = match setup {
        Ok(ws) => ws,
        Err(why) => {
            let _ = ready.send(false);
            return SideOutcome { setup_error: Some(why), ..Default::default() };
        }
    };
    let _ = ready.send(true);
    let mut talker = Talker { ws, chats: Vec::new(), out: SideOutcome::default(), sent_count: 0 };
    talker.talk(&run, true, run.phase.clone()).await;
    let _ = talker.ws.close().await;
    talker.out
}

async fn citizen_setup(run: &Run) -> Result<(SignalingClient, String), String> {
    let ctx = &run.ctx;
    let mut ws = SignalingClient::connect(&ctx.ws_citizen, &ctx.http, None)
        .await
        .map_err(|e| format!("citizen websocket: {}", short(format!("{e:#}"))))?;
    wait_for(&mut ws, ctx.step, "citizen welcome", |m| matches!(m, ServerMessage::Welcome { .. }))
        .await?;
    ws.send(&ClientMessage::StartChat { service: Some(ctx.args.service.clone()) })
        .await
        .map_err(|e| format!("start_chat: {}", short(e)))?;
    let chat_id = match wait_for(&mut ws, ctx.step, "chat_queued", |m| {
        matches!(m, ServerMessage::ChatQueued { .. })
    })
    .await?
    {
        ServerMessage::ChatQueued { chat_id } => chat_id,
        _ => unreachable!("wait_for returns what it waited for"),
    };
    wait_for(&mut ws, ctx.step, "chat_connected", |m| {
        matches!(m, ServerMessage::ChatConnected { .. })
    })
    .await?;
    Ok((ws, chat_id))
}

async fn citizen(run: Arc<Run>, connected: mpsc::UnboundedSender<bool>) -> SideOutcome {
    let setup = citizen_setup(&run).await;
    let _ = connected.send(setup.is_ok());
    let (ws, chat_id) = match setup {
        Ok(ok) => ok,
        Err(why) => return SideOutcome { setup_error: Some(why), ..Default::default() },
    };
    let chats = vec![(chat_id.clone(), None)];
    let mut talker = Talker { ws, chats, out: SideOutcome::default(), sent_count: 0 };
    talker.talk(&run, false, run.phase.clone()).await;
    let ended = match talker.ws.send(&ClientMessage::EndChat { chat_id }).await {
        Ok(()) => wait_for(&mut talker.ws, run.ctx.step, "end_chat", |m| {
            matches!(m, ServerMessage::ChatEnded { .. })
        })
        .await
        .map(|_| ()),
        Err(e) => Err(format!("end_chat: {}", short(e))),
    };
    if let Err(why) = ended {
        talker.out.errors.push(why);
    }
    let _ = talker.ws.close().await;
    talker.out
}

fn summarize(sides: &[SideOutcome]) -> (Vec<f64>, usize, BTreeMap<String, usize>) {
    let mut latencies: Vec<f64> = sides.iter().flat_map(|s| s.latencies_ms.clone()).collect();
    latencies.sort_by(f64::total_cmp);
    let sent = sides.iter().map(|s| s.sent).sum();
    let mut errors = BTreeMap::new();
    for why in sides.iter().flat_map(|s| s.setup_error.iter().chain(&s.errors)) {
        *errors.entry(why.clone()).or_insert(0) += 1;
    }
    (latencies, sent, errors)
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Runs `loadgen chats` and returns the report.
pub(crate) async fn run(args: ChatsArgs) -> Result<Value> {
    let n = args.chats;
    if n == 0 || n > 0xff_ffff || args.per_agent == 0 {
        bail!("--chats must be between 1 and 16777215 and --per-agent at least 1");
    }
    if !(args.every > 0.0 && args.duration > 0.0) {
        bail!("--every and --duration must be positive");
    }
    let agents = n.div_ceil(args.per_agent);
    let http = args.server.trim_end_matches('/').to_owned();
    let ws_base = http.replacen("http", "ws", 1);
    let pid = args.server_pid.map(|p| p.to_string());
    let ticks = probe::clock_ticks_per_second();
    let rss_idle = pid.as_deref().and_then(|p| probe::rss_kb(p).ok());
    let (engine, engine_thread) = engine::start(Duration::from_millis(50))?;
    let ctx = Arc::new(Ctx {
        ws_citizen: format!("{ws_base}/ws"),
        ws_agent: format!("{ws_base}/ws?role=agent"),
        http,
        step: Duration::from_secs_f64(args.setup_timeout),
        args: CallsArgs::for_agents(
            &args.server,
            agents,
            &args.agents_prefix,
            &args.password,
            args.setup_timeout,
            &args.service,
        ),
        engine: engine.clone(),
    });
    let (phase_tx, phase) = watch::channel(Phase::Connect);
    let run = Arc::new(Run {
        ctx,
        base: Instant::now(),
        every: Duration::from_secs_f64(args.every),
        phase,
    });

    // 1. Agents.
    eprintln!("loadgen: signing in {agents} agents");
    let logins = Arc::new(Semaphore::new(4));
    let mut agent_tasks = Vec::with_capacity(agents);
    let mut ready = Vec::with_capacity(agents);
    for i in 0..agents {
        let (tx, rx) = oneshot::channel();
        ready.push(rx);
        agent_tasks.push(tokio::spawn(agent(run.clone(), i, logins.clone(), tx)));
    }
    let mut agents_ready = 0;
    for rx in ready {
        agents_ready += usize::from(rx.await.unwrap_or(false));
    }
    eprintln!("loadgen: {agents_ready}/{agents} agents available");
    let rss_agents = pid.as_deref().and_then(|p| probe::rss_kb(p).ok());

    // 2. Ramp.
    let ramp = Duration::from_secs_f64(args.ramp.unwrap_or((n as f64 / 50.0).max(1.0)).max(0.0));
    let (connected_tx, mut connected_rx) = mpsc::unbounded_channel();
    let ramp_start = tokio::time::Instant::now();
    let mut citizen_tasks = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until(ramp_start + ramp.mul_f64(i as f64 / n as f64)).await;
        citizen_tasks.push(tokio::spawn(citizen(run.clone(), connected_tx.clone())));
    }
    drop(connected_tx);
    let mut connected = 0;
    for _ in 0..n {
        // Each citizen reports once, then keeps its sender until the end.
        let Some(ok) = connected_rx.recv().await else { break };
        connected += usize::from(ok);
    }
    eprintln!("loadgen: {connected}/{n} chats connected");
    let rss_chats = pid.as_deref().and_then(|p| probe::rss_kb(p).ok());

    // The cost of holding the chats (and the agents' idle headsets) with no text flowing.
    let quiet = Duration::from_secs_f64(args.duration.min(10.0));
    let quiet_start = pid.as_deref().and_then(|p| probe::cpu_time(p, ticks).ok());
    tokio::time::sleep(quiet).await;
    let quiet_end = pid.as_deref().and_then(|p| probe::cpu_time(p, ticks).ok());
    let quiet_cpu_s = quiet_start.zip(quiet_end).map(|(a, b)| b.saturating_sub(a).as_secs_f64());

    // 3. The window.
    let _ = phase_tx.send(Phase::Talk);
    let cpu_start = pid.as_deref().and_then(|p| probe::cpu_time(p, ticks).ok());
    let window_start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let cpu_end = pid.as_deref().and_then(|p| probe::cpu_time(p, ticks).ok());
    let window = window_start.elapsed();
    let rss_window = pid.as_deref().and_then(|p| probe::rss_kb(p).ok());
    let _ = phase_tx.send(Phase::Drain);
    // Texts sent in the window's last instants still arrive; they are counted, not timed.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 4. End.
    let _ = phase_tx.send(Phase::End);
    let mut citizens = Vec::with_capacity(n);
    for task in citizen_tasks {
        citizens.push(task.await?);
    }
    let mut agents_out = Vec::with_capacity(agents);
    for task in agent_tasks {
        agents_out.push(task.await?);
    }
    engine.shutdown()?;
    let _ = tokio::task::spawn_blocking(move || engine_thread.join()).await;
    let loadgen_cpu = probe::cpu_time("self", ticks).ok();

    let (to_agents, sent_by_citizens, citizen_errors) = summarize(&citizens);
    let (to_citizens, sent_by_agents, agent_errors) = summarize(&agents_out);
    let mut all: Vec<f64> = to_agents.iter().chain(&to_citizens).copied().collect();
    all.sort_by(f64::total_cmp);
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let p = |v: &[f64], q: f64| percentile(v, q).map(r3);
    let server_cpu_s = cpu_start.zip(cpu_end).map(|(a, b)| b.saturating_sub(a).as_secs_f64());
    let per_chat_kb = |after: Option<u64>| {
        after.zip(rss_agents).map(|(a, b)| r3(a.saturating_sub(b) as f64 / connected.max(1) as f64))
    };
    Ok(json!({
        "chats": n,
        "per_agent": args.per_agent,
        "every_s": args.every,
        "agents_ready": agents_ready,
        "chats_connected": connected,
        "window_s": r3(window.as_secs_f64()),
        "texts_committed": sent_by_citizens + sent_by_agents,
        "texts_timed": all.len(),
        "texts_per_s": r3(all.len() as f64 / window.as_secs_f64()),
        "delivery_ms_p50": p(&all, 50.0),
        "delivery_ms_p99": p(&all, 99.0),
        "delivery_ms_max": all.last().copied().map(r3),
        "to_agent_ms_p50": p(&to_agents, 50.0),
        "to_agent_ms_p99": p(&to_agents, 99.0),
        "to_citizen_ms_p50": p(&to_citizens, 50.0),
        "to_citizen_ms_p99": p(&to_citizens, 99.0),
        "citizen_errors": citizen_errors,
        "agent_errors": agent_errors,
        "server_cpu_s": server_cpu_s.map(r3),
        "server_cpu_pct": server_cpu_s.map(|s| r3(100.0 * s / window.as_secs_f64())),
        "server_cpu_quiet_pct": quiet_cpu_s.map(|s| r3(100.0 * s / quiet.as_secs_f64())),
        // What the texts cost beyond holding the chats: the window's CPU less the quiet rate.
        "server_cpu_us_per_text": server_cpu_s.zip(quiet_cpu_s).map(|(talk, quiet_s)| {
            let extra = talk - quiet_s * window.as_secs_f64() / quiet.as_secs_f64();
            r3(1e6 * extra.max(0.0) / (sent_by_citizens + sent_by_agents).max(1) as f64)
        }),
        "server_rss_kb_idle": rss_idle,
        "server_rss_kb_agents": rss_agents,
        "server_rss_kb_chats": rss_chats,
        "server_rss_kb_window_end": rss_window,
        "server_rss_kb_per_chat": per_chat_kb(rss_window),
        "loadgen_cpu_s": loadgen_cpu.map(|d| r3(d.as_secs_f64())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_text_gives_back_its_delivery_latency() {
        let base = Instant::now() - Duration::from_millis(50);
        let line = ChatLine {
            chat_id: "c".into(),
            seq: 1,
            from: voicedesk_protocol::Role::Agent,
            text: stamped_text(base, 7),
            sent_at_ms: 0,
        };
        let ms = latency_ms(base, &line).expect("a stamp");
        assert!((0.0..1000.0).contains(&ms), "{ms}");
        let plain = ChatLine { text: "hello".into(), ..line };
        assert_eq!(latency_ms(base, &plain), None, "a text without a stamp is not timed");
    }
}
