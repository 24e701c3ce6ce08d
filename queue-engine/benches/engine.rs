//! Cost of one engine step in a big hall: 10,000 waiting citizens across 10 skills and 1,000
//! agents with 1–4 skills each. `cargo bench -p voicedesk-queue-engine` (release profile, no
//! debug invariants). Prints the setup time and, per kind of event, the mean / p50 / p99 / max
//! time of `handle_input` or `handle_timeout` *plus draining its commands*, and the mean number
//! of commands (mostly position updates) the event produced.
//!
//! Timeouts are one hour so that no timer fires unless the benchmark asks for it; the "timer"
//! event jumps to the earliest deadline (the oldest ring, or after-call work) and fires it.
//!
//! `VOICEDESK_BENCH_CHAT_PCT=50` makes that share of the arrivals chats (issue 16; agents keep
//! the default routing profile: up to 3 chats, calls only without chats); the default, 0, is
//! the voice-only hall.

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use voicedesk_protocol::AgentActivity;
use voicedesk_queue_engine::{
    AgentId, CallId, CallPhase, ClockAnchor, Command, Engine, EngineConfig, Input, Party,
    QueueSettings, SkillId,
};

const SKILLS: usize = 10;
const AGENTS: usize = 1_000;
const CITIZENS: usize = 10_000;
const EVENTS: usize = 5_000;

/// A small deterministic generator (xorshift), so every run replays the same hall.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Arrival,
    Accept,
    HangUp,
    AcwEnd,
    Abandon,
    Timer,
}

struct Bench {
    engine: Engine,
    now: Instant,
    rng: Rng,
    next_call: usize,
    calls: Vec<CallId>,
    ringing: Vec<(AgentId, CallId)>,
    connected: Vec<(AgentId, CallId)>,
    acw: Vec<AgentId>,
    commands: usize,
    /// Percentage of arrivals that are chats.
    chat_pct: usize,
}

impl Bench {
    fn drain(&mut self) {
        while let Some(command) = self.engine.poll_command() {
            self.commands += 1;
            match &command {
                Command::Offer { call, agent, .. } => {
                    self.ringing.push((agent.clone(), call.clone()))
                }
                Command::Connect { call, agent } => {
                    self.connected.push((agent.clone(), call.clone()));
                }
                Command::AgentState { agent, state: AgentActivity::AfterCallWork, .. } => {
                    self.acw.push(agent.clone());
                }
                _ => {}
            }
            black_box(command);
        }
    }

    fn input(&mut self, input: Input) {
        self.engine.handle_input(self.now, input).expect("the bench feeds valid inputs");
        self.drain();
    }

    fn arrival(&mut self) -> Input {
        let call = CallId(format!("call-{:06}", self.next_call));
        self.next_call += 1;
        self.calls.push(call.clone());
        let skill = SkillId(format!("skill-{}", self.rng.below(SKILLS)));
        let priority = u8::from(self.rng.below(10) == 0);
        if self.chat_pct > 0 && self.rng.below(100) < self.chat_pct {
            return Input::ChatArrived { chat: call, skill, priority, service: None };
        }
        Input::CallArrived { call, skill, priority, service: None }
    }

    /// Picks a random entry that still holds, dropping stale ones on the way.
    fn pick<T: Clone>(rng: &mut Rng, list: &mut Vec<T>, valid: impl Fn(&T) -> bool) -> Option<T> {
        while !list.is_empty() {
            let i = rng.below(list.len());
            if valid(&list[i]) {
                return Some(list.swap_remove(i));
            }
            list.swap_remove(i);
        }
        None
    }

    /// The input of one event of `kind`, or `None` if there is nothing to do it to.
    fn event(&mut self, kind: Kind) -> Option<Input> {
        let engine = &self.engine;
        match kind {
            Kind::Arrival => Some(self.arrival()),
            Kind::Accept => Self::pick(&mut self.rng, &mut self.ringing, |(a, c)| {
                engine
                    .agent(a)
                    .is_some_and(|v| v.call == Some(c) && v.activity == AgentActivity::Ringing)
            })
            .map(|(agent, call)| Input::Accept { agent, call }),
            Kind::HangUp => Self::pick(&mut self.rng, &mut self.connected, |(a, c)| {
                engine.agent(a).is_some_and(|v| {
                    (v.call == Some(c) && v.activity == AgentActivity::OnCall)
                        || v.chats.contains(c)
                })
            })
            .map(|(agent, call)| Input::HangUp { call, by: Party::Agent(agent) }),
            Kind::AcwEnd => Self::pick(&mut self.rng, &mut self.acw, |a| {
                engine.agent_activity(a) == Some(AgentActivity::AfterCallWork)
            })
            .map(|agent| Input::AgentAvailable { agent }),
            Kind::Abandon => Self::pick(&mut self.rng, &mut self.calls, |c| {
                engine.call(c).is_some_and(|v| v.phase == CallPhase::Queued)
            })
            .map(|call| Input::CallAbandoned { call }),
            Kind::Timer => None,
        }
    }
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64, f64, f64) {
    samples.sort_unstable();
    let us = |d: Duration| d.as_nanos() as f64 / 1_000.0;
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    let at = |q: f64| us(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    (mean, at(0.5), at(0.99), us(*samples.last().unwrap()))
}

fn main() {
    let start = Instant::now();
    let config = EngineConfig::default()
        .with_ring_timeout(Duration::from_secs(3_600))
        .with_after_call_work(Duration::from_secs(3_600));
    let anchor = ClockAnchor { instant: start, unix_ms: 1_796_000_000_000 };
    let mut b = Bench {
        engine: Engine::new(config, anchor),
        now: start,
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        next_call: 0,
        calls: Vec::new(),
        ringing: Vec::new(),
        connected: Vec::new(),
        acw: Vec::new(),
        commands: 0,
        chat_pct: std::env::var("VOICEDESK_BENCH_CHAT_PCT")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(100),
    };

    // ----- setup: queues, agents (all available), 10,000 arrivals, 1 ms apart -----------------
    let setup = Instant::now();
    for s in 0..SKILLS {
        let skill = SkillId(format!("skill-{s}"));
        b.input(Input::ConfigureQueue { skill, settings: QueueSettings::default() });
    }
    for a in 0..AGENTS {
        let count = 1 + b.rng.below(4);
        let skills: BTreeMap<SkillId, u8> = (0..count)
            .map(|_| (SkillId(format!("skill-{}", b.rng.below(SKILLS))), 1 + b.rng.below(10) as u8))
            .collect();
        let agent = AgentId(format!("agent-{a:04}"));
        b.input(Input::AgentLoggedIn { agent: agent.clone(), skills });
        b.input(Input::AgentAvailable { agent });
    }
    let agents_done = setup.elapsed();
    let arrivals = Instant::now();
    for _ in 0..CITIZENS + AGENTS {
        b.now += Duration::from_millis(1);
        let input = b.arrival();
        b.input(input);
    }
    let arrivals_done = arrivals.elapsed();
    let setup_done = setup.elapsed();
    let waiting_at_start = b.engine.queue_len();
    let ringing_at_start = b.engine.ringing_count();
    let setup_commands = b.commands;

    // ----- mixed events -----------------------------------------------------------------------
    let mix = [
        (Kind::Arrival, 20),
        (Kind::Accept, 20),
        (Kind::HangUp, 20),
        (Kind::AcwEnd, 15),
        (Kind::Abandon, 15),
        (Kind::Timer, 10),
    ];
    let total: usize = mix.iter().map(|(_, w)| w).sum();
    let mut samples: BTreeMap<Kind, (Vec<Duration>, usize)> = BTreeMap::new();
    let mut all = Vec::new();
    for _ in 0..EVENTS {
        b.now += Duration::from_millis(1);
        let mut roll = b.rng.below(total);
        let mut kind = Kind::Arrival;
        for (k, w) in mix {
            if roll < w {
                kind = k;
                break;
            }
            roll -= w;
        }
        let before = b.commands;
        let elapsed = if kind == Kind::Timer {
            let Some(deadline) = b.engine.poll_timeout() else { continue };
            b.now = b.now.max(deadline);
            let t = Instant::now();
            b.engine.handle_timeout(b.now);
            b.drain();
            t.elapsed()
        } else {
            let (kind_done, input) = match b.event(kind) {
                Some(input) => (kind, input),
                None => (Kind::Arrival, b.arrival()),
            };
            kind = kind_done;
            let t = Instant::now();
            b.input(input);
            t.elapsed()
        };
        let entry = samples.entry(kind).or_default();
        entry.0.push(elapsed);
        entry.1 += b.commands - before;
        all.push(elapsed);
    }

    println!(
        "queue-engine benchmark: {SKILLS} skills, {AGENTS} agents with 1-4 skills each, {}% chats",
        b.chat_pct
    );
    println!(
        "setup: {:.1} ms total ({:.1} ms for queues + {AGENTS} logins, {:.1} ms for {} arrivals, \
         {:.2} µs/arrival); {waiting_at_start} calls queued and {} ringing afterwards; \
         {setup_commands} commands",
        setup_done.as_secs_f64() * 1e3,
        agents_done.as_secs_f64() * 1e3,
        arrivals_done.as_secs_f64() * 1e3,
        CITIZENS + AGENTS,
        arrivals_done.as_secs_f64() * 1e6 / (CITIZENS + AGENTS) as f64,
        ringing_at_start,
    );
    println!();
    println!("| event | count | mean µs | p50 µs | p99 µs | max µs | commands/event |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, (list, commands)) in samples {
        let n = list.len();
        let (mean, p50, p99, max) = stats(list);
        println!(
            "| {kind:?} | {n} | {mean:.1} | {p50:.1} | {p99:.1} | {max:.1} | {:.0} |",
            commands as f64 / n as f64
        );
    }
    let n = all.len();
    let (mean, p50, p99, max) = stats(all);
    println!("| **all** | {n} | {mean:.1} | {p50:.1} | {p99:.1} | {max:.1} | |");
    println!();
    println!(
        "after: {} queued, {} ringing, {} connected (of which {} chats)",
        b.engine.queue_len(),
        b.engine.ringing_count(),
        b.engine.connected_count(),
        b.engine.connected_chats()
    );
}
