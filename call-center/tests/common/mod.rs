//! The one harness every scenario test shares, after quinn's `Pair` and str0m's simulated time:
//! a [`CallCenter`] driven the way the signaling driver drives it, with a fake clock that only
//! moves when a test says so, a fake store and a fake relay that answer the core's effects
//! (at once, or held, or failing, as the test decides). No socket, no database, no sleep.

#![allow(dead_code)] // each test file uses a different subset

pub(crate) mod world;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use voicedesk_call_center::store::{
    CallFacts, ChatAuditAction, StoreFailure, StoreReply, StoreRequest, TicketFacts,
};
use voicedesk_call_center::{
    AssistantAnswer, CallCenter, CallId, ConnId, CoreConfig, Effect, Identity, Input, LegEnd,
    LegFailure, LegId, OpId, RelayCommand, Report, Route, Routing, SkillId, SlotRef, UnixMs,
};
use voicedesk_protocol::{
    AgentAvailability, ChatLine, ClientMessage, EndReason, Role, ServerMessage, SupportMode,
    UserInfo,
};
use voicedesk_queue_engine::{EngineConfig, QueueSettings};

/// 2026-12-07 09:00 in Beijing, as Unix milliseconds: the fake clock starts here.
pub(crate) const START: UnixMs = UnixMs(1_796_605_200_000);

/// What the fake store does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Commit it (or read it) now.
    Ok,
    /// Fail it now.
    Fail(StoreFailure),
    /// Keep it unanswered until the test releases it.
    Hold,
}

/// One step of the input log: an input, or a call of `handle_timeout`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// `handle(now, input)`.
    Input(UnixMs, Input),
    /// `handle_timeout(now)`.
    Timeout(UnixMs),
}

/// A chat as the fake store keeps it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeChat {
    pub(crate) citizen_id: String,
    pub(crate) agent: Option<String>,
    pub(crate) ended: Option<voicedesk_protocol::EndReason>,
    /// Committed texts with their client ids, in seq order.
    pub(crate) lines: Vec<(String, ChatLine)>,
    /// Marks as committed: (citizen delivered, citizen read, agent delivered, agent read).
    pub(crate) marks: (u64, u64, u64, u64),
}

/// A decision of the fake store for each request.
pub(crate) type StorePolicy = Box<dyn FnMut(&StoreRequest) -> Answer>;

/// The core plus its fake world.
pub(crate) struct Sim {
    pub(crate) core: CallCenter,
    pub(crate) now: UnixMs,
    /// Every step handed to the core, in order: replaying it gives the same effects.
    pub(crate) log: Vec<Step>,
    /// Every effect, in order.
    pub(crate) effects: Vec<Effect>,
    /// Messages each connection received and the test has not taken yet.
    inbox: BTreeMap<ConnId, Vec<ServerMessage>>,
    /// Every message each connection received, ever.
    pub(crate) heard: BTreeMap<ConnId, Vec<ServerMessage>>,
    /// The relay's routing table as the core set it.
    pub(crate) table: BTreeMap<SlotRef, Option<LegId>>,
    /// Legs the fake relay made, and which are closed.
    pub(crate) legs_made: Vec<LegId>,
    pub(crate) closed_legs: BTreeSet<LegId>,
    /// Hold audio per citizen leg, as last set.
    pub(crate) hold: BTreeMap<LegId, bool>,
    /// Legs being recorded.
    pub(crate) recording: BTreeSet<LegId>,
    /// Store requests held back by the policy.
    pub(crate) held: VecDeque<(OpId, StoreRequest, usize)>,
    /// Every store request, with how it was answered.
    pub(crate) store_log: Vec<(StoreRequest, Answer)>,
    /// Chat audit entries committed, in commit order.
    pub(crate) chat_audits: Vec<voicedesk_call_center::store::ChatAuditRecord>,
    /// The fake store's call records: citizen, answered, ended.
    pub(crate) records: BTreeMap<String, CallFacts>,
    pub(crate) store_policy: StorePolicy,
    /// Members' user ids by connection.
    pub(crate) users: BTreeMap<ConnId, String>,
    /// Headset legs and whose they are.
    pub(crate) leg_owner: BTreeMap<LegId, String>,
    /// Staff modes as committed to the audit log, with the order in which the core asked for
    /// each entry (a later decision wins even if an earlier entry commits after it).
    pub(crate) staff_mode: BTreeMap<String, (usize, Option<SupportMode>)>,
    /// Calls whose offer / answer was committed, messages and ratings committed.
    pub(crate) offers_committed: BTreeSet<(String, String)>,
    pub(crate) messages_committed: BTreeSet<String>,
    /// Client ids of the messages committed, by citizen (the daily cap counts them).
    pub(crate) messages_by_citizen: BTreeMap<String, BTreeSet<String>>,
    pub(crate) ratings_committed: usize,
    /// The fake store's chats by id.
    pub(crate) chats: BTreeMap<String, FakeChat>,
    /// Broken promises seen (a client told of something not committed): must stay empty.
    pub(crate) broken: Vec<String>,
    /// When true, leg requests fail as the relay being unavailable.
    pub(crate) relay_down: bool,
    /// When true, leg requests wait (in `held_legs`) until the test releases them.
    pub(crate) hold_legs: bool,
    pub(crate) held_legs: VecDeque<(OpId, String)>,
    to_feed: VecDeque<Input>,
    next_leg: u64,
    next_conn: u64,
    tickets: u64,
}

/// The engine settings the scenarios use: 15 s ring, 30 s wrap-up, 60 s grace.
pub(crate) fn engine_config() -> EngineConfig {
    EngineConfig::default()
}

/// Services of the fake catalogue: `pension` (general queue) and `medical` (its own queue).
pub(crate) fn routing() -> Routing {
    let mut services = BTreeMap::new();
    services.insert("pension".to_owned(), Route { skill: SkillId("general".into()), priority: 0 });
    services.insert("medical".to_owned(), Route { skill: SkillId("medical".into()), priority: 1 });
    let mut queues = BTreeMap::new();
    queues.insert(SkillId("general".into()), QueueSettings::default());
    queues.insert(SkillId("medical".into()), QueueSettings::default());
    let away_reasons = EngineConfig::DEFAULT_AWAY_REASONS.map(str::to_owned).to_vec();
    Routing { services, queues, away_reasons, ..Routing::default() }
}

impl Sim {
    pub(crate) fn new() -> Self {
        Self::with_config(engine_config())
    }

    pub(crate) fn with_config(engine: EngineConfig) -> Self {
        let catalogue = Routing { away_reasons: engine.away_reasons.clone(), ..routing() };
        let core = CallCenter::new(CoreConfig::new(engine, 0x5eed), START, Instant::now());
        let mut sim = Sim {
            core,
            now: START,
            log: Vec::new(),
            effects: Vec::new(),
            inbox: BTreeMap::new(),
            heard: BTreeMap::new(),
            table: BTreeMap::new(),
            legs_made: Vec::new(),
            closed_legs: BTreeSet::new(),
            held: VecDeque::new(),
            hold: BTreeMap::new(),
            recording: BTreeSet::new(),
            store_log: Vec::new(),
            chat_audits: Vec::new(),
            records: BTreeMap::new(),
            store_policy: Box::new(|_| Answer::Ok),
            users: BTreeMap::new(),
            leg_owner: BTreeMap::new(),
            staff_mode: BTreeMap::new(),
            offers_committed: BTreeSet::new(),
            messages_committed: BTreeSet::new(),
            messages_by_citizen: BTreeMap::new(),
            ratings_committed: 0,
            chats: BTreeMap::new(),
            broken: Vec::new(),
            relay_down: false,
            hold_legs: false,
            held_legs: VecDeque::new(),
            to_feed: VecDeque::new(),
            next_leg: 100,
            next_conn: 0,
            tickets: 0,
        };
        sim.input(Input::Catalogue { routing: catalogue, agent_skills: BTreeMap::new() });
        sim
    }

    /// Hands one input to the core at the current time and answers what it asks, until quiet.
    pub(crate) fn input(&mut self, input: Input) {
        self.to_feed.push_back(input);
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            while let Some(effect) = self.core.poll_effect() {
                self.apply(effect);
            }
            let Some(next) = self.to_feed.pop_front() else { break };
            self.log.push(Step::Input(self.now, next.clone()));
            self.core.handle(self.now, next);
        }
    }

    fn apply(&mut self, effect: Effect) {
        self.effects.push(effect.clone());
        match effect {
            Effect::Send { conn, message } => {
                self.check_told(&message);
                self.inbox.entry(conn).or_default().push(message.clone());
                self.heard.entry(conn).or_default().push(message);
            }
            Effect::Close { .. } | Effect::Report(_) => {}
            Effect::Store { op, request, .. } => {
                let answer = (self.store_policy)(&request);
                let seq = self.store_log.len();
                self.store_log.push((request.clone(), answer.clone()));
                match answer {
                    Answer::Hold => self.held.push_back((op, request, seq)),
                    Answer::Ok => {
                        let reply = self.commit(&request, seq);
                        self.to_feed.push_back(Input::Store { op, result: Ok(reply) });
                    }
                    Answer::Fail(e) => self.to_feed.push_back(Input::Store { op, result: Err(e) }),
                }
            }
            Effect::CreateLeg { op, sdp, .. } if self.hold_legs => {
                self.held_legs.push_back((op, sdp));
            }
            Effect::CreateLeg { op, sdp, .. } => {
                let result = if sdp == "bad" {
                    Err(LegFailure::BadSdp("no audio m-line".into()))
                } else if self.relay_down {
                    Err(LegFailure::Unavailable("relay stopped".into()))
                } else {
                    self.next_leg += 1;
                    let leg = LegId(self.next_leg);
                    self.legs_made.push(leg);
                    Ok((leg, format!("answer-{}", leg.0)))
                };
                self.to_feed.push_back(Input::LegCreated { op, result });
            }
            Effect::Relay(RelayCommand::SetFeeds { feeds, .. }) => {
                for f in feeds {
                    self.table.insert(f.slot, f.source);
                }
            }
            Effect::Relay(RelayCommand::CloseLeg { leg }) => {
                self.closed_legs.insert(leg);
                self.table.retain(|slot, _| slot.leg != leg);
            }
            Effect::Relay(RelayCommand::SetHold { leg, on }) => {
                self.hold.insert(leg, on);
            }
            Effect::Relay(RelayCommand::DiscardRecording { leg }) => {
                self.recording.remove(&leg);
            }
            Effect::CheckOffer { op, sdp, .. } => {
                let result = if sdp == "bad" {
                    Err(LegFailure::BadSdp("no audio m-line".into()))
                } else {
                    Ok(())
                };
                self.to_feed.push_back(Input::OfferChecked { op, result });
            }
            Effect::StartRecording { op, leg, .. } => {
                let ok = !self.closed_legs.contains(&leg) && self.recording.insert(leg);
                let result = if ok { Ok(()) } else { Err("not recordable".to_owned()) };
                self.to_feed.push_back(Input::RecordingStarted { op, result });
            }
            Effect::Search { op, question } => {
                let answer = AssistantAnswer {
                    best: None,
                    suggestions: Vec::new(),
                    confident: question.contains("pension"),
                };
                self.to_feed.push_back(Input::Searched { op, answer });
            }
        }
    }

    /// A message that reports a record may only follow its commit.
    fn check_told(&mut self, message: &ServerMessage) {
        let ok = match message {
            ServerMessage::CallQueued { call_id, .. } => self.records.contains_key(call_id),
            ServerMessage::CallConnected { call_id, .. } => {
                self.records.get(call_id).is_some_and(|f| f.answered)
            }
            ServerMessage::CallOffered { call_id, .. } => {
                self.offers_committed.iter().any(|(c, _)| c == call_id)
            }
            ServerMessage::MessageSaved { client_id, .. } => {
                self.messages_committed.contains(client_id)
            }
            ServerMessage::RatingSaved { .. } => self.ratings_committed > 0,
            ServerMessage::ChatQueued { chat_id } => self.chats.contains_key(chat_id),
            ServerMessage::ChatConnected { chat_id, .. } => {
                self.chats.get(chat_id).is_some_and(|c| c.agent.is_some())
            }
            ServerMessage::ChatSent { chat_id, client_id, seq, .. } => {
                self.chats.get(chat_id).is_some_and(|c| {
                    c.lines.iter().any(|(id, line)| id == client_id && line.seq == *seq)
                })
            }
            ServerMessage::ChatMessage(line) => self.chats.get(&line.chat_id).is_some_and(|c| {
                c.lines.iter().any(|(_, l)| l == line)
            }),
            // Staff on a chat: each effect only after its audit entry is committed.
            ServerMessage::ChatWatching { chat_id, .. } => {
                self.chat_audited(chat_id, ChatAuditAction::Watch, None)
            }
            ServerMessage::ChatWhisper { chat_id, text, .. } => {
                self.chat_audited(chat_id, ChatAuditAction::Whisper, Some(text))
            }
            ServerMessage::ChatEnded { chat_id, reason: EndReason::TakenOver } => {
                self.chat_audited(chat_id, ChatAuditAction::TakeOver, None)
            }
            ServerMessage::ChatEnded { chat_id, reason: EndReason::StaffHangUp }
                if self.chat_audited(chat_id, ChatAuditAction::Leave, None) => true,
            // Like a call's end: told once its write was answered (a failed one too).
            ServerMessage::ChatEnded { chat_id, reason } => {
                *reason == voicedesk_protocol::EndReason::Transferred
                    || self.store_log.iter().any(|(r, _)| {
                        matches!(r, StoreRequest::ChatEnded { chat, .. } if chat.0 == *chat_id)
                    })
            }
            _ => true,
        };
        if !ok {
            self.broken.push(format!("told before commit: {message:?}"));
        }
    }

    /// Whether a chat audit entry of `chat` with `action` (and `detail`, when given) is
    /// committed.
    fn chat_audited(&self, chat: &str, action: ChatAuditAction, detail: Option<&str>) -> bool {
        self.chat_audits.iter().any(|a| {
            a.chat.0 == chat
                && a.action == action
                && detail.is_none_or(|d| a.detail.as_deref() == Some(d))
        })
    }

    /// The fake store commits a request and answers it.
    fn commit(&mut self, request: &StoreRequest, seq: usize) -> StoreReply {
        match request {
            StoreRequest::CallOffered { call, agent, .. } => {
                self.offers_committed.insert((call.0.clone(), agent.clone()));
                StoreReply::Done
            }
            StoreRequest::InsertRating { .. } => {
                self.ratings_committed += 1;
                StoreReply::Done
            }
            StoreRequest::ChatAudit(a) => {
                self.chat_audits.push(a.clone());
                StoreReply::Done
            }
            StoreRequest::Audit(a) => {
                use voicedesk_call_center::store::AuditAction;
                let mode = match a.action {
                    AuditAction::Leave => None,
                    _ => a.mode,
                };
                let newer = self.staff_mode.get(&a.actor).is_none_or(|(at, _)| *at < seq);
                if newer {
                    self.staff_mode.insert(a.actor.clone(), (seq, mode));
                }
                StoreReply::Done
            }
            StoreRequest::InsertCall(r) => {
                let facts = CallFacts {
                    citizen_session: r.citizen_session.clone(),
                    answered: false,
                    ended: false,
                };
                self.records.insert(r.call.0.clone(), facts);
                StoreReply::Done
            }
            StoreRequest::CallAnswered { call, .. } => {
                if let Some(f) = self.records.get_mut(&call.0) {
                    f.answered = true;
                }
                StoreReply::Done
            }
            StoreRequest::CallEnded { call, .. } => {
                if let Some(f) = self.records.get_mut(&call.0) {
                    f.ended = true;
                }
                StoreReply::Done
            }
            StoreRequest::InsertVoiceMessage(m) => {
                self.recording.remove(&m.leg);
                self.messages_committed.insert(m.client_id.clone());
                let mine = self.messages_by_citizen.entry(m.citizen_id.clone()).or_default();
                mine.insert(m.client_id.clone());
                self.tickets += 1;
                StoreReply::MessageSaved {
                    ticket: format!("T{:04}", self.tickets),
                    code: "secret".into(),
                    due_at_ms: m.due_at.0,
                }
            }
            StoreRequest::InsertMessage(m) => {
                self.messages_committed.insert(m.client_id.clone());
                let mine = self.messages_by_citizen.entry(m.citizen_id.clone()).or_default();
                mine.insert(m.client_id.clone());
                self.tickets += 1;
                StoreReply::MessageSaved {
                    ticket: format!("T{:04}", self.tickets),
                    code: "secret".into(),
                    due_at_ms: m.due_at.0,
                }
            }
            StoreRequest::CountMessages { citizen_id, except_client_id, .. } => {
                let mine = self.messages_by_citizen.get(citizen_id);
                let n = mine.map_or(0, |m| m.iter().filter(|c| *c != except_client_id).count());
                StoreReply::Count(n as u64)
            }
            StoreRequest::ReadCall { call_id } => {
                StoreReply::Call(self.records.get(call_id).cloned())
            }
            StoreRequest::InsertChat { chat, citizen_id, .. } => {
                let fresh = FakeChat { citizen_id: citizen_id.clone(), ..FakeChat::default() };
                self.chats.insert(chat.0.clone(), fresh);
                StoreReply::Done
            }
            StoreRequest::ChatAnswered { chat, agent, .. } => {
                if let Some(c) = self.chats.get_mut(&chat.0) {
                    c.agent = Some(agent.clone());
                }
                StoreReply::Done
            }
            StoreRequest::ChatEnded { chat, reason, .. } => {
                if let Some(c) = self.chats.get_mut(&chat.0) {
                    if c.ended.is_some() {
                        self.broken.push(format!("chat {chat} ended twice"));
                    }
                    c.ended = Some(*reason);
                }
                StoreReply::Done
            }
            StoreRequest::AppendChat { chat, client_id, author, text, at } => {
                let c = self.chats.entry(chat.0.clone()).or_default();
                if let Some((_, line)) = c.lines.iter().find(|(id, _)| id == client_id) {
                    return StoreReply::ChatAppended {
                        seq: line.seq,
                        sent_at: UnixMs(line.sent_at_ms as i64),
                        created: false,
                    };
                }
                let from = match author {
                    voicedesk_call_center::store::ChatAuthor::Citizen => Role::Citizen,
                    voicedesk_call_center::store::ChatAuthor::Agent(_) => Role::Agent,
                };
                let seq = c.lines.len() as u64 + 1;
                let line = ChatLine {
                    chat_id: chat.0.clone(),
                    seq,
                    from,
                    text: text.clone(),
                    sent_at_ms: at.as_u64(),
                };
                c.lines.push((client_id.clone(), line));
                StoreReply::ChatAppended { seq, sent_at: *at, created: true }
            }
            StoreRequest::MarkChat { chat, citizen, delivered_seq, read_seq } => {
                if let Some(c) = self.chats.get_mut(&chat.0) {
                    if *citizen {
                        c.marks.0 = *delivered_seq;
                        c.marks.1 = *read_seq;
                    } else {
                        c.marks.2 = *delivered_seq;
                        c.marks.3 = *read_seq;
                    }
                }
                StoreReply::Done
            }
            StoreRequest::ReadChatLines { chat, after_seq } => {
                let lines = self.chats.get(&chat.0).map_or_else(Vec::new, |c| {
                    c.lines.iter().map(|(_, l)| l.clone()).filter(|l| l.seq > *after_seq).collect()
                });
                StoreReply::ChatLines(lines)
            }
            StoreRequest::ReadChat { chat_id } => {
                StoreReply::Call(self.chats.get(chat_id).map(|c| CallFacts {
                    citizen_session: c.citizen_id.clone(),
                    answered: c.agent.is_some(),
                    ended: c.ended.is_some(),
                }))
            }
            StoreRequest::VerifyTicket { ticket, code } => {
                StoreReply::Ticket((code == "secret").then(|| TicketFacts {
                    message_id: format!("m-{ticket}"),
                    replied: ticket.ends_with('1'),
                }))
            }
            _ => StoreReply::Done,
        }
    }

    /// Answers the oldest held leg request: the relay makes the leg, or (`ok` false) cannot.
    pub(crate) fn release_leg(&mut self, ok: bool) {
        let (op, _) = self.held_legs.pop_front().expect("a held leg request");
        let result = if ok {
            self.next_leg += 1;
            let leg = LegId(self.next_leg);
            self.legs_made.push(leg);
            Ok((leg, format!("answer-{}", leg.0)))
        } else {
            Err(LegFailure::Unavailable("relay busy".into()))
        };
        self.input(Input::LegCreated { op, result });
    }

    /// Answers the oldest held store request.
    pub(crate) fn release(&mut self, answer: Answer) {
        let (op, request, seq) = self.held.pop_front().expect("a held store request");
        let result = match answer {
            Answer::Ok | Answer::Hold => Ok(self.commit(&request, seq)),
            Answer::Fail(e) => Err(e),
        };
        self.input(Input::Store { op, result });
    }

    /// Moves the fake clock forward, firing every deadline on the way at its own time.
    pub(crate) fn advance(&mut self, d: Duration) {
        let target = self.now.plus(d);
        while let Some(at) = self.core.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.log.push(Step::Timeout(self.now));
            self.core.handle_timeout(self.now);
            self.pump();
        }
        self.now = target;
    }

    pub(crate) fn secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    // ----- people ------------------------------------------------------------------------------

    fn conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    pub(crate) fn citizen(&mut self) -> ConnId {
        let conn = self.conn();
        let citizen_id = format!("citizen-{}", conn.0);
        self.input(Input::Connected { conn, identity: Identity::Citizen { citizen_id } });
        conn
    }

    pub(crate) fn member(&mut self, user_id: &str, role: Role) -> ConnId {
        let conn = self.conn();
        let user = UserInfo {
            id: user_id.to_owned(),
            username: user_id.to_owned(),
            display_name: format!("Name of {user_id}"),
            role,
        };
        let skills = if role == Role::Agent {
            [(SkillId("general".into()), 5), (SkillId("medical".into()), 5)].into_iter().collect()
        } else {
            BTreeMap::new()
        };
        self.users.insert(conn, user_id.to_owned());
        self.input(Input::Connected { conn, identity: Identity::Member { user, skills } });
        conn
    }

    /// A headset offer, answered and connected; returns its leg.
    pub(crate) fn headset(&mut self, conn: ConnId) -> LegId {
        self.say(conn, ClientMessage::MediaConnect { sdp: "headset".into() });
        let leg = *self.legs_made.last().expect("a headset leg");
        if let Some(user) = self.users.get(&conn).cloned() {
            self.leg_owner.insert(leg, user);
        }
        self.input(Input::LegConnected { leg });
        leg
    }

    /// An agent signed in, with a headset, available.
    pub(crate) fn ready_agent(&mut self, user_id: &str) -> ConnId {
        let conn = self.member(user_id, Role::Agent);
        self.headset(conn);
        self.say(
            conn,
            ClientMessage::SetState { state: AgentAvailability::Available, reason: None },
        );
        self.take(conn);
        conn
    }

    /// Staff signed in with a headset.
    pub(crate) fn ready_staff(&mut self, user_id: &str) -> ConnId {
        let conn = self.member(user_id, Role::Staff);
        self.headset(conn);
        self.take(conn);
        conn
    }

    pub(crate) fn say(&mut self, conn: ConnId, message: ClientMessage) {
        self.input(Input::Client { conn, message });
    }

    /// A citizen places a call; returns its id from `call_queued`.
    pub(crate) fn place_call(&mut self, conn: ConnId, service: Option<&str>) -> CallId {
        self.say(
            conn,
            ClientMessage::Call { service: service.map(str::to_owned), sdp: "offer".into() },
        );
        self.heard(conn)
            .iter()
            .rev()
            .find_map(|m| match m {
                ServerMessage::CallQueued { call_id, .. } => Some(CallId(call_id.clone())),
                _ => None,
            })
            .expect("call_queued")
    }

    /// The newest open citizen leg.
    pub(crate) fn citizen_leg(&self) -> LegId {
        *self
            .legs_made
            .iter()
            .rev()
            .find(|l| !self.closed_legs.contains(l) && !self.leg_owner.contains_key(l))
            .expect("an open citizen leg")
    }

    /// The security property of the routing table: a citizen's slot is fed by a staff headset
    /// only while that staff member barges or took over (as committed to the audit log).
    pub(crate) fn staff_never_feeds_citizen_unless_allowed(&self) -> Result<(), String> {
        for (slot, source) in &self.table {
            let Some(src) = source else { continue };
            if self.leg_owner.contains_key(&slot.leg) {
                continue; // not a citizen leg
            }
            let Some(staff) = self.leg_owner.get(src) else { continue };
            if staff.starts_with("staff") {
                let mode = self.staff_mode.get(staff).and_then(|(_, m)| *m);
                if !matches!(mode, Some(SupportMode::Barge | SupportMode::TakeOver)) {
                    return Err(format!("citizen slot {slot:?} fed by {staff} in {mode:?}"));
                }
            }
        }
        Ok(())
    }

    /// An agent accepts the call ringing at them.
    pub(crate) fn accept(&mut self, agent: ConnId, call: &CallId) {
        self.say(agent, ClientMessage::Accept { call_id: call.0.clone() });
    }

    /// A citizen with a call answered by `agent` (who must be the only available agent).
    pub(crate) fn connected_call(&mut self, agent: ConnId) -> (ConnId, CallId) {
        let citizen = self.citizen();
        let call = self.place_call(citizen, Some("pension"));
        self.accept(agent, &call);
        assert!(
            self.heard(citizen).iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })),
            "the call connected: {:?}",
            self.heard(citizen)
        );
        self.take(citizen);
        self.take(agent);
        (citizen, call)
    }

    /// A citizen starts a chat; returns its id from `chat_queued`.
    pub(crate) fn start_chat(&mut self, conn: ConnId, service: Option<&str>) -> CallId {
        self.say(conn, ClientMessage::StartChat { service: service.map(str::to_owned) });
        self.heard(conn)
            .iter()
            .rev()
            .find_map(|m| match m {
                ServerMessage::ChatQueued { chat_id } => Some(CallId(chat_id.clone())),
                _ => None,
            })
            .expect("chat_queued")
    }

    /// Sends a chat text with a client id made from `n`.
    pub(crate) fn text(&mut self, conn: ConnId, chat: &CallId, n: u32, text: &str) {
        let message = ClientMessage::SendChat {
            chat_id: chat.0.clone(),
            client_id: client_id(n),
            text: text.to_owned(),
        };
        self.say(conn, message);
    }

    /// A citizen with a chat accepted by `agent` (who must be able to take it).
    pub(crate) fn connected_chat(&mut self, agent: ConnId) -> (ConnId, CallId) {
        let citizen = self.citizen();
        let chat = self.start_chat(citizen, Some("pension"));
        self.accept(agent, &chat);
        assert!(
            self.heard(citizen).iter().any(|m| matches!(m, ServerMessage::ChatConnected { .. })),
            "the chat connected: {:?}",
            self.heard(citizen)
        );
        self.take(citizen);
        self.take(agent);
        (citizen, chat)
    }

    pub(crate) fn join(&mut self, staff: ConnId, call: &CallId, mode: SupportMode) {
        self.say(staff, ClientMessage::JoinCall { call_id: call.0.clone(), mode });
    }

    // ----- looking -----------------------------------------------------------------------------

    /// Takes the messages a connection received since the last take.
    pub(crate) fn take(&mut self, conn: ConnId) -> Vec<ServerMessage> {
        self.inbox.remove(&conn).unwrap_or_default()
    }

    /// Every message a connection received.
    pub(crate) fn heard(&self, conn: ConnId) -> Vec<ServerMessage> {
        self.heard.get(&conn).cloned().unwrap_or_default()
    }

    /// What a leg hears, per slot.
    pub(crate) fn hears(&self, leg: LegId) -> Vec<LegId> {
        let mut v: Vec<LegId> =
            self.table.iter().filter(|(s, _)| s.leg == leg).filter_map(|(_, src)| *src).collect();
        v.sort();
        v
    }

    /// The call-ended reasons written to the store, per call.
    pub(crate) fn ends_written(&self) -> Vec<(CallId, voicedesk_protocol::EndReason)> {
        self.store_log
            .iter()
            .filter_map(|(r, _)| match r {
                StoreRequest::CallEnded { call, reason, .. } => Some((call.clone(), *reason)),
                _ => None,
            })
            .collect()
    }

    /// Invariant violations the core reported.
    pub(crate) fn violations(&self) -> Vec<String> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Report(Report::Violation(v)) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    /// The leg relay ends (as the relay would report it).
    pub(crate) fn leg_lost(&mut self, leg: LegId) {
        self.input(Input::LegEnded { leg, reason: LegEnd::Lost });
    }
}

/// Whether a message is an error reply to `request`.
pub(crate) fn is_error(m: &ServerMessage, request: &str) -> bool {
    matches!(m, ServerMessage::Error { request_type: Some(r), .. } if r == request)
}

/// Shorthand: the mode of a supporter.
pub(crate) fn mode(m: &str) -> SupportMode {
    match m {
        "monitor" => SupportMode::Monitor,
        "whisper" => SupportMode::Whisper,
        "barge" => SupportMode::Barge,
        _ => SupportMode::TakeOver,
    }
}

/// A client id (a UUID) for text number `n`.
pub(crate) fn client_id(n: u32) -> String {
    format!("5b1f0c9e-8a2d-4f3b-9c7e-{n:012}")
}
