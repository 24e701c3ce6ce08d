//! Inputs per second of the whole core for a mixed day-in-the-life input log: 1,000 agents
//! (every skill), 11,000 citizens arriving (the first 1,000 ring, 10,000 wait), then 5,000
//! mixed events — accept, hang-up, end of after-call work, abandon, a new arrival, a timer —
//! each followed by the answers a fast store and relay would give (also inputs).
//! `cargo bench -p voicedesk-call-center` (release profile). No criterion: `Instant` around
//! each `handle` plus draining its effects.

#![allow(clippy::cast_precision_loss)]

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use voicedesk_call_center::store::{StoreReply, StoreRequest};
use voicedesk_call_center::{
    CallCenter, ConnId, CoreConfig, Effect, Identity, Input, LegId, Route, Routing, SkillId, UnixMs,
};
use voicedesk_protocol::{AgentAvailability, ClientMessage, Role, ServerMessage, UserInfo};
use voicedesk_queue_engine::{EngineConfig, QueueSettings};

const SKILLS: usize = 10;
const AGENTS: usize = 1_000;
const CITIZENS: usize = 11_000;
const EVENTS: usize = 5_000;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Bench {
    core: CallCenter,
    now: UnixMs,
    inputs: u64,
    next_leg: u64,
    /// Offers told to each agent connection, oldest first.
    offered: BTreeMap<ConnId, VecDeque<String>>,
    talking: BTreeMap<ConnId, String>,
    queued: BTreeMap<ConnId, String>,
    last_leg: LegId,
}

impl Bench {
    /// One input plus every answer it leads to; returns how many inputs that was.
    fn feed(&mut self, input: Input) -> u64 {
        let mut todo = VecDeque::from([input]);
        let mut n = 0;
        while let Some(input) = todo.pop_front() {
            n += 1;
            self.core.handle(self.now, input);
            while let Some(e) = self.core.poll_effect() {
                match e {
                    Effect::Store { op, request, .. } => {
                        let reply = match request {
                            StoreRequest::InsertMessage(_) => StoreReply::Done,
                            _ => StoreReply::Done,
                        };
                        todo.push_back(Input::Store { op, result: Ok(reply) });
                    }
                    Effect::CreateLeg { op, .. } => {
                        self.next_leg += 1;
                        self.last_leg = LegId(self.next_leg);
                        todo.push_back(Input::LegCreated {
                            op,
                            result: Ok((self.last_leg, String::new())),
                        });
                    }
                    Effect::Send { conn, message } => match message {
                        ServerMessage::CallOffered { call_id, .. } => {
                            self.offered.entry(conn).or_default().push_back(call_id)
                        }
                        ServerMessage::CallQueued { call_id, .. } => {
                            self.queued.insert(conn, call_id);
                        }
                        ServerMessage::CallConnected { call_id, .. } if conn.0 < 10_000 => {
                            self.talking.insert(conn, call_id);
                        }
                        ServerMessage::CallEnded { .. } if conn.0 >= 10_000 => {
                            self.queued.remove(&conn);
                        }
                        _ => {}
                    },
                    other => {
                        black_box(other);
                    }
                }
            }
        }
        self.inputs += n;
        n
    }
}

fn main() {
    let mut services = BTreeMap::new();
    let mut queues = BTreeMap::new();
    for s in 0..SKILLS {
        services.insert(
            format!("service-{s}"),
            Route { skill: SkillId(format!("skill-{s}")), priority: 0 },
        );
        queues.insert(SkillId(format!("skill-{s}")), QueueSettings::default());
    }
    let away_reasons = EngineConfig::DEFAULT_AWAY_REASONS.map(str::to_owned).to_vec();
    let routing = Routing { services, queues, away_reasons, ..Routing::default() };
    let engine = EngineConfig::default()
        .with_ring_timeout(Duration::from_secs(3600))
        .with_after_call_work(Duration::from_secs(3600));
    let start = UnixMs(1_796_605_200_000);
    let mut b = Bench {
        core: CallCenter::new(CoreConfig::new(engine, 7), start, Instant::now()),
        now: start,
        inputs: 0,
        next_leg: 0,
        offered: BTreeMap::new(),
        talking: BTreeMap::new(),
        queued: BTreeMap::new(),
        last_leg: LegId(0),
    };
    let t0 = Instant::now();
    b.feed(Input::Catalogue { routing, agent_skills: BTreeMap::new() });
    let all_skills: BTreeMap<SkillId, u8> =
        (0..SKILLS).map(|s| (SkillId(format!("skill-{s}")), 5)).collect();
    for a in 0..AGENTS {
        let conn = ConnId(a as u64);
        let user = UserInfo {
            id: format!("agent-{a}"),
            username: format!("agent-{a}"),
            display_name: "A".into(),
            role: Role::Agent,
        };
        b.feed(Input::Connected {
            conn,
            identity: Identity::Member { user, skills: all_skills.clone() },
        });
        b.feed(Input::Client { conn, message: ClientMessage::MediaConnect { sdp: String::new() } });
        let leg = b.last_leg;
        b.feed(Input::LegConnected { leg });
        b.feed(Input::Client {
            conn,
            message: ClientMessage::SetState { state: AgentAvailability::Available, reason: None },
        });
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for c in 0..CITIZENS {
        let conn = ConnId(10_000 + c as u64);
        b.now = b.now.plus(Duration::from_millis(1));
        b.feed(Input::Connected {
            conn,
            identity: Identity::Citizen { citizen_id: format!("c{c}") },
        });
        let service = Some(format!("service-{}", rng.below(SKILLS)));
        b.feed(Input::Client {
            conn,
            message: ClientMessage::Call { service, sdp: String::new() },
        });
    }
    let setup = t0.elapsed();
    let setup_inputs = b.inputs;
    let mut next_citizen = CITIZENS;
    let mut samples: BTreeMap<&'static str, Vec<(Duration, u64)>> = BTreeMap::new();
    for _ in 0..EVENTS {
        b.now = b.now.plus(Duration::from_millis(1));
        let pick = rng.below(100);
        let (kind, input) = if pick < 25 {
            let ringing: Vec<ConnId> =
                b.offered.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| *k).take(64).collect();
            let Some(&agent) = ringing.get(rng.below(ringing.len().max(1))) else { continue };
            let call_id =
                b.offered.get_mut(&agent).and_then(VecDeque::pop_front).unwrap_or_default();
            ("accept", Input::Client { conn: agent, message: ClientMessage::Accept { call_id } })
        } else if pick < 50 {
            let Some((&agent, _)) = b.talking.iter().nth(rng.below(b.talking.len().max(1))) else {
                continue;
            };
            let call_id = b.talking.remove(&agent).unwrap_or_default();
            (
                "agent hang-up",
                Input::Client { conn: agent, message: ClientMessage::HangUp { call_id } },
            )
        } else if pick < 65 {
            let agent = ConnId(rng.below(AGENTS) as u64);
            (
                "after-call work ends",
                Input::Client {
                    conn: agent,
                    message: ClientMessage::SetState {
                        state: AgentAvailability::Available,
                        reason: None,
                    },
                },
            )
        } else if pick < 80 {
            let Some((&citizen, _)) = b.queued.iter().nth(rng.below(b.queued.len().max(1))) else {
                continue;
            };
            let call_id = b.queued.remove(&citizen).unwrap_or_default();
            ("abandon", Input::Client { conn: citizen, message: ClientMessage::HangUp { call_id } })
        } else if pick < 95 {
            let conn = ConnId(10_000 + next_citizen as u64);
            next_citizen += 1;
            b.feed(Input::Connected {
                conn,
                identity: Identity::Citizen { citizen_id: format!("c{next_citizen}") },
            });
            let service = Some(format!("service-{}", rng.below(SKILLS)));
            (
                "arrival",
                Input::Client {
                    conn,
                    message: ClientMessage::Call { service, sdp: String::new() },
                },
            )
        } else {
            (
                "disconnect",
                Input::Disconnected { conn: ConnId(10_000 + rng.below(next_citizen) as u64) },
            )
        };
        let t = Instant::now();
        let n = b.feed(input);
        samples.entry(kind).or_default().push((t.elapsed(), n));
    }
    println!(
        "setup: {} inputs in {:.1} ms ({:.0} inputs/s)",
        setup_inputs,
        setup.as_secs_f64() * 1e3,
        setup_inputs as f64 / setup.as_secs_f64()
    );
    println!("| event | count | inputs | mean µs | p50 µs | p99 µs | inputs/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut all: Vec<(Duration, u64)> = Vec::new();
    for (kind, mut v) in samples {
        all.extend(v.iter().copied());
        row(kind, &mut v);
    }
    row("**all**", &mut all);
}

fn row(kind: &str, v: &mut [(Duration, u64)]) {
    v.sort();
    let total: Duration = v.iter().map(|(d, _)| *d).sum();
    let inputs: u64 = v.iter().map(|(_, n)| *n).sum();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {kind} | {} | {inputs} | {:.1} | {:.1} | {:.1} | {:.0} |",
        v.len(),
        us(total) / v.len().max(1) as f64,
        us(v[v.len() / 2].0),
        us(v[(v.len() * 99 / 100).min(v.len() - 1)].0),
        inputs as f64 / total.as_secs_f64()
    );
}
