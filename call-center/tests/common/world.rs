//! Random days for the property tests: a small hall (four citizens, two agents, two staff)
//! where anything may happen in any order, including store and relay failures.

use std::time::Duration;

use proptest::prelude::*;
use voicedesk_call_center::store::{StoreFailure, StoreRequest};
use voicedesk_call_center::{CallId, ConnId, Effect, Input, LegEnd, RelayCommand};
use voicedesk_protocol::{AgentAvailability, ClientMessage, ServerMessage, SupportMode};

use super::{Answer, Sim};

/// One thing that happens.
#[derive(Debug, Clone)]
pub(crate) enum Act {
    Call(usize, bool),
    HangUp(usize),
    Drop(usize),
    ComeBack(usize),
    Ask(usize),
    Message(usize),
    Voice(usize, bool),
    FinishVoice(usize),
    Accept(usize),
    Reject(usize),
    AgentHangUp(usize),
    Available(usize),
    Away(usize),
    AgentDrop(usize),
    AgentBack(usize),
    Join(usize, SupportMode),
    SetMode(usize, SupportMode),
    Leave(usize),
    StaffDrop(usize),
    LegLost(usize, bool),
    RelayFails,
    Release(bool),
    StoreMode(u8),
    Wait(u64),
    Chat(usize, bool),
    CitizenText(usize),
    AgentText(usize),
    EndChat(usize),
    RejoinChat(usize),
    ChatRead(usize),
}

fn mode() -> impl Strategy<Value = SupportMode> {
    prop_oneof![
        Just(SupportMode::Monitor),
        Just(SupportMode::Whisper),
        Just(SupportMode::Barge),
        Just(SupportMode::TakeOver),
    ]
}

pub(crate) fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => (0..4usize, any::<bool>()).prop_map(|(c, s)| Act::Call(c, s)),
        1 => (0..4usize).prop_map(Act::HangUp),
        1 => (0..4usize).prop_map(Act::Drop),
        1 => (0..4usize).prop_map(Act::ComeBack),
        1 => (0..4usize).prop_map(Act::Ask),
        1 => (0..4usize).prop_map(Act::Message),
        1 => (0..4usize, any::<bool>()).prop_map(|(c, own)| Act::Voice(c, own)),
        1 => (0..4usize).prop_map(Act::FinishVoice),
        4 => (0..2usize).prop_map(Act::Accept),
        1 => (0..2usize).prop_map(Act::Reject),
        2 => (0..2usize).prop_map(Act::AgentHangUp),
        2 => (0..2usize).prop_map(Act::Available),
        1 => (0..2usize).prop_map(Act::Away),
        1 => (0..2usize).prop_map(Act::AgentDrop),
        1 => (0..2usize).prop_map(Act::AgentBack),
        3 => (0..2usize, mode()).prop_map(|(s, m)| Act::Join(s, m)),
        2 => (0..2usize, mode()).prop_map(|(s, m)| Act::SetMode(s, m)),
        1 => (0..2usize).prop_map(Act::Leave),
        1 => (0..2usize).prop_map(Act::StaffDrop),
        1 => (0..64usize, any::<bool>()).prop_map(|(l, t)| Act::LegLost(l, t)),
        1 => Just(Act::RelayFails),
        2 => any::<bool>().prop_map(Act::Release),
        1 => (0..4u8).prop_map(Act::StoreMode),
        2 => (0..75u64).prop_map(Act::Wait),
        3 => (0..4usize, any::<bool>()).prop_map(|(c, s)| Act::Chat(c, s)),
        3 => (0..4usize).prop_map(Act::CitizenText),
        3 => (0..2usize).prop_map(Act::AgentText),
        1 => (0..4usize).prop_map(Act::EndChat),
        1 => (0..4usize).prop_map(Act::RejoinChat),
        1 => (0..4usize).prop_map(Act::ChatRead),
    ]
}

/// The people of the random hall and their current connections.
pub(crate) struct World {
    pub(crate) sim: Sim,
    citizens: Vec<ConnId>,
    citizen_ids: Vec<String>,
    agents: Vec<ConnId>,
    staff: Vec<ConnId>,
}

fn last_call(sim: &Sim, conn: ConnId) -> Option<CallId> {
    sim.heard(conn).iter().rev().find_map(|m| match m {
        ServerMessage::CallQueued { call_id, .. }
        | ServerMessage::CallOffered { call_id, .. }
        | ServerMessage::ChatOffered { chat_id: call_id, .. }
        | ServerMessage::CallResumed(voicedesk_protocol::LiveCall { call_id, .. }) => {
            Some(CallId(call_id.clone()))
        }
        _ => None,
    })
}

fn last_chat(sim: &Sim, conn: ConnId) -> Option<CallId> {
    sim.heard(conn).iter().rev().find_map(|m| match m {
        ServerMessage::ChatQueued { chat_id } | ServerMessage::ChatOffered { chat_id, .. } => {
            Some(CallId(chat_id.clone()))
        }
        _ => None,
    })
}

fn last_seq(sim: &Sim, conn: ConnId) -> u64 {
    sim.heard(conn)
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ChatMessage(line) => Some(line.seq),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn live_call_of_board(sim: &Sim, conn: ConnId) -> Option<CallId> {
    sim.heard(conn).iter().rev().find_map(|m| match m {
        ServerMessage::Wallboard(w) => w.calls.last().map(|c| CallId(c.call_id.clone())),
        _ => None,
    })
}

impl World {
    pub(crate) fn new() -> Self {
        let mut sim = Sim::new();
        let agents = vec![sim.ready_agent("agent1"), sim.ready_agent("agent2")];
        let staff = vec![sim.ready_staff("staff1"), sim.ready_staff("staff2")];
        let citizens: Vec<ConnId> = (0..4).map(|_| sim.citizen()).collect();
        let citizen_ids = citizens.iter().map(|c| format!("citizen-{}", c.0)).collect();
        World { sim, citizens, citizen_ids, agents, staff }
    }

    pub(crate) fn apply(&mut self, act: &Act) {
        let sim = &mut self.sim;
        match act.clone() {
            Act::Call(c, with_service) => {
                let service = with_service.then(|| "medical".to_owned());
                sim.say(self.citizens[c], ClientMessage::Call { service, sdp: "offer".into() });
            }
            Act::HangUp(c) => {
                if let Some(call) = last_call(sim, self.citizens[c]) {
                    sim.say(self.citizens[c], ClientMessage::HangUp { call_id: call.0 });
                }
            }
            Act::Drop(c) => sim.input(Input::Disconnected { conn: self.citizens[c] }),
            Act::ComeBack(c) => {
                let old = self.citizens[c];
                let call = last_call(sim, old);
                let new = sim.citizen();
                self.citizens[c] = new;
                sim.input(Input::Resumed {
                    conn: new,
                    citizen_id: self.citizen_ids[c].clone(),
                    citizen_token: "t".into(),
                });
                if let Some(call) = call {
                    sim.say(
                        new,
                        ClientMessage::RejoinCall { call_id: call.0, sdp: "offer".into() },
                    );
                }
            }
            Act::Ask(c) => {
                sim.say(self.citizens[c], ClientMessage::Ask { text: "pension transfer".into() })
            }
            Act::Message(c) => {
                let call_id = last_call(sim, self.citizens[c]).map(|c| c.0);
                let client_id = format!("msg-{}", sim.effects.len());
                let message = ClientMessage::LeaveMessage {
                    client_id,
                    service: None,
                    name: None,
                    phone: None,
                    body: "call me".into(),
                    call_id,
                };
                sim.say(self.citizens[c], message);
            }
            Act::Voice(c, own_leg) => {
                let (call_id, sdp) = if own_leg {
                    (None, Some("offer".to_owned()))
                } else {
                    (last_call(sim, self.citizens[c]).map(|c| c.0), None)
                };
                sim.say(
                    self.citizens[c],
                    ClientMessage::StartVoiceMessage { call_id, sdp, service: None },
                );
            }
            Act::FinishVoice(c) => {
                let client_id = format!("voice-message-{:08}", sim.effects.len());
                sim.say(
                    self.citizens[c],
                    ClientMessage::FinishVoiceMessage { client_id, name: None, phone: None },
                );
            }
            Act::Accept(a) | Act::Reject(a) | Act::AgentHangUp(a) => {
                if let Some(call) = last_call(sim, self.agents[a]) {
                    let call_id = call.0;
                    let message = match act {
                        Act::Accept(_) => ClientMessage::Accept { call_id },
                        Act::Reject(_) => ClientMessage::Reject { call_id },
                        _ => ClientMessage::HangUp { call_id },
                    };
                    sim.say(self.agents[a], message);
                }
            }
            Act::Available(a) => sim.say(
                self.agents[a],
                ClientMessage::SetState { state: AgentAvailability::Available, reason: None },
            ),
            Act::Away(a) => sim.say(
                self.agents[a],
                ClientMessage::SetState {
                    state: AgentAvailability::Away,
                    reason: Some("break".into()),
                },
            ),
            Act::AgentDrop(a) => sim.input(Input::Disconnected { conn: self.agents[a] }),
            Act::AgentBack(a) => {
                let conn = sim.member(&format!("agent{}", a + 1), voicedesk_protocol::Role::Agent);
                self.agents[a] = conn;
                sim.headset(conn);
            }
            Act::Join(s, mode) => {
                if let Some(call) = live_call_of_board(sim, self.staff[s]) {
                    sim.join(self.staff[s], &call, mode);
                }
            }
            Act::SetMode(s, mode) => {
                if let Some(call) = live_call_of_board(sim, self.staff[s]) {
                    sim.say(self.staff[s], ClientMessage::SetMode { call_id: call.0, mode });
                }
            }
            Act::Leave(s) => {
                if let Some(call) = live_call_of_board(sim, self.staff[s]) {
                    sim.say(self.staff[s], ClientMessage::LeaveCall { call_id: call.0 });
                }
            }
            Act::StaffDrop(s) => {
                sim.input(Input::Disconnected { conn: self.staff[s] });
                let conn = sim.member(&format!("staff{}", s + 1), voicedesk_protocol::Role::Staff);
                self.staff[s] = conn;
                sim.headset(conn);
            }
            Act::LegLost(l, never_connected) => {
                if !sim.legs_made.is_empty() {
                    let leg = sim.legs_made[l % sim.legs_made.len()];
                    let reason =
                        if never_connected { LegEnd::ConnectTimeout } else { LegEnd::Lost };
                    sim.input(Input::LegEnded { leg, reason });
                }
            }
            Act::RelayFails => {
                let last = sim.effects.iter().rev().find_map(|e| match e {
                    Effect::Relay(c @ RelayCommand::SetFeeds { call: Some(_), .. }) => {
                        Some(c.clone())
                    }
                    _ => None,
                });
                if let Some(command) = last {
                    sim.input(Input::RelayFailed { command, error: "relay busy".into() });
                }
            }
            Act::Release(ok) => {
                if !sim.held.is_empty() {
                    let answer = if ok {
                        Answer::Ok
                    } else {
                        Answer::Fail(StoreFailure::Unavailable("x".into()))
                    };
                    sim.release(answer);
                }
            }
            Act::StoreMode(m) => {
                let mut n = 0u32;
                sim.store_policy = Box::new(move |r: &StoreRequest| {
                    n += 1;
                    match m {
                        0 => Answer::Ok,
                        1 if n.is_multiple_of(3) => {
                            Answer::Fail(StoreFailure::Unavailable("flaky".into()))
                        }
                        2 if n.is_multiple_of(2) && r.is_write() => Answer::Hold,
                        3 if n.is_multiple_of(5) => Answer::Fail(StoreFailure::Conflict),
                        _ => Answer::Ok,
                    }
                });
            }
            Act::Wait(s) => sim.advance(Duration::from_secs(s)),
            Act::Chat(c, with_service) => {
                let service = with_service.then(|| "medical".to_owned());
                sim.say(self.citizens[c], ClientMessage::StartChat { service });
            }
            Act::CitizenText(c) => {
                if let Some(chat) = last_chat(sim, self.citizens[c]) {
                    let n = sim.effects.len() as u32;
                    sim.text(self.citizens[c], &chat, n, "citizen text");
                }
            }
            Act::AgentText(a) => {
                if let Some(chat) = last_chat(sim, self.agents[a]) {
                    let n = sim.effects.len() as u32;
                    sim.text(self.agents[a], &chat, n, "agent text");
                }
            }
            Act::EndChat(c) => {
                if let Some(chat) = last_chat(sim, self.citizens[c]) {
                    sim.say(self.citizens[c], ClientMessage::EndChat { chat_id: chat.0 });
                }
            }
            Act::RejoinChat(c) => {
                let old = self.citizens[c];
                let chat = last_chat(sim, old);
                let after_seq = last_seq(sim, old);
                let new = sim.citizen();
                self.citizens[c] = new;
                sim.input(Input::Resumed {
                    conn: new,
                    citizen_id: self.citizen_ids[c].clone(),
                    citizen_token: "t".into(),
                });
                if let Some(chat) = chat {
                    let rejoin = ClientMessage::RejoinChat { chat_id: chat.0.clone(), after_seq };
                    sim.say(new, rejoin);
                    // The page keeps the chat it rejoined.
                    sim.heard
                        .entry(new)
                        .or_default()
                        .push(ServerMessage::ChatQueued { chat_id: chat.0 });
                }
            }
            Act::ChatRead(c) => {
                if let Some(chat) = last_chat(sim, self.citizens[c]) {
                    let seq = last_seq(sim, self.citizens[c]);
                    let read = ClientMessage::ChatRead {
                        chat_id: chat.0,
                        delivered_seq: seq,
                        read_seq: seq,
                    };
                    sim.say(self.citizens[c], read);
                }
            }
        }
    }

    /// Ends the day: shutdown, every held answer released.
    pub(crate) fn close(&mut self) {
        self.sim.input(Input::Shutdown);
        self.sim.store_policy = Box::new(|_| Answer::Ok);
        while !self.sim.held.is_empty() {
            self.sim.release(Answer::Ok);
        }
    }
}

/// A day in the life, scripted in rounds: citizens call, agents answer, staff join in some
/// mode, connections drop and come back, the store fails or stalls now and then, time passes.
pub(crate) fn a_day(seed: u64) -> Vec<Act> {
    let mut acts = Vec::new();
    let mut x: u64 = seed | 1;
    let mut rnd = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let modes =
        [SupportMode::Monitor, SupportMode::Whisper, SupportMode::Barge, SupportMode::TakeOver];
    for round in 0..40 {
        let (c1, c2) = (rnd(4), rnd(4));
        acts.push(Act::StoreMode(if round % 5 == 4 { 1 + rnd(3) as u8 } else { 0 }));
        acts.push(Act::Call(c1, rnd(2) == 0));
        acts.push(Act::Call(c2, rnd(2) == 0));
        acts.push(Act::Ask(rnd(4)));
        acts.push(Act::Chat(rnd(4), rnd(2) == 0));
        acts.push(Act::CitizenText(rnd(4)));
        acts.push(Act::Accept(0));
        acts.push(Act::Accept(1));
        acts.push(Act::AgentText(rnd(2)));
        acts.push(Act::CitizenText(rnd(4)));
        acts.push(Act::Join(rnd(2), modes[rnd(4)]));
        acts.push(Act::Wait(rnd(10) as u64));
        match rnd(7) {
            0 => acts.extend([Act::Drop(c1), Act::Wait(5), Act::ComeBack(c1)]),
            1 => acts.push(Act::AgentDrop(rnd(2))),
            2 => acts.push(Act::SetMode(rnd(2), modes[rnd(3)])),
            3 => acts.extend([Act::Voice(c2, rnd(2) == 0), Act::FinishVoice(c2), Act::Message(c2)]),
            4 => acts.push(Act::RelayFails),
            5 => acts.extend([Act::RejoinChat(rnd(4)), Act::ChatRead(rnd(4))]),
            _ => acts.push(Act::LegLost(rnd(64), false)),
        }
        while acts.len() % 3 != 0 {
            acts.push(Act::Release(rnd(4) != 0));
        }
        acts.extend([
            Act::Release(true),
            Act::Release(true),
            Act::HangUp(c1),
            Act::AgentHangUp(rnd(2)),
        ]);
        acts.extend([
            Act::Wait(31),
            Act::AgentBack(0),
            Act::AgentBack(1),
            Act::Available(0),
            Act::Available(1),
        ]);
    }
    acts
}

/// Checks the promises of a closed day; returns what was broken.
pub(crate) fn broken_promises(sim: &Sim) -> Vec<String> {
    let mut broken = sim.broken.clone();
    broken.extend(sim.violations().into_iter().map(|v| format!("violation: {v}")));
    let mut ends: std::collections::BTreeMap<String, usize> = Default::default();
    for (call, _) in sim.ends_written() {
        *ends.entry(call.0).or_default() += 1;
    }
    for call in sim.records.keys() {
        let n = ends.get(call).copied().unwrap_or(0);
        if n != 1 {
            broken.push(format!("call {call} ended {n} times"));
        }
    }
    for call in ends.keys() {
        if !sim.records.contains_key(call) {
            broken.push(format!("an end written for {call}, which has no record"));
        }
    }
    // Every chat recorded ends exactly once.
    let mut chat_ends: std::collections::BTreeMap<String, usize> = Default::default();
    for (request, _) in &sim.store_log {
        if let StoreRequest::ChatEnded { chat, .. } = request {
            *chat_ends.entry(chat.0.clone()).or_default() += 1;
        }
    }
    for chat in sim.chats.keys() {
        let n = chat_ends.get(chat).copied().unwrap_or(0);
        if n != 1 {
            broken.push(format!("chat {chat} ended {n} times"));
        }
    }
    broken
}
