//! [`CallCenter`]: the state, the plumbing of inputs and effects, and the dispatch of client
//! messages. The rules live in the sibling modules, one concept each.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use voicedesk_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use voicedesk_queue_engine::{Engine, EngineConfig};

use crate::error::{Refusal, refuse};
use crate::pending::Pending;
use crate::state::{Call, Conn, LegOwner, Member, Placing, Who};
use crate::store::StoreRequest;
use crate::time::EngineClock;
use crate::timer::{Timer, TimerTable};
use crate::{CallId, ConnId, Effect, Input, LegId, OpId, RelayCommand, Report, Routing, UnixMs};

/// The away reason the core sets for an agent whose headset is gone (like the engine's own
/// `missed_calls`, agents do not pick it).
pub const HEADSET_AWAY_REASON: &str = "headset_disconnected";

/// How often queue status and the wallboard are refreshed.
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The queueing engine's settings (ring timeout, after-call work, reconnect grace …).
    pub engine: EngineConfig,
    /// A random number per process start, so call ids never repeat across restarts (a replay
    /// with the same seed makes the same ids).
    pub id_seed: u64,
    /// The wallboard's settings and today's figures so far.
    pub wallboard: crate::WallboardConfig,
    /// The longest voice message.
    pub voice_max: Duration,
    /// Messages (text and voice) one citizen may leave in 24 hours.
    pub messages_per_citizen_per_day: u32,
}

impl CoreConfig {
    /// The engine settings plus the headset away reason the core uses.
    pub fn new(engine: EngineConfig, id_seed: u64) -> Self {
        let reasons: Vec<String> =
            engine.away_reasons.iter().cloned().chain([HEADSET_AWAY_REASON.to_owned()]).collect();
        Self {
            engine: engine.with_away_reasons(reasons),
            id_seed,
            wallboard: crate::WallboardConfig::default(),
            voice_max: Duration::from_secs(120),
            messages_per_citizen_per_day: 5,
        }
    }
}

/// Counters for `/metrics`, kept by the core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Calls queued.
    pub calls_total: u64,
    /// Calls answered.
    pub calls_answered: u64,
    /// Client messages refused with an error.
    pub client_errors: u64,
    /// Inputs refused because an invariant did not hold.
    pub invariant_violations: u64,
    /// Sides of answered calls lost and waited for.
    pub sides_lost: u64,
    /// Of those, back in time.
    pub sides_back: u64,
    /// Store operations that failed.
    pub store_failures: u64,
}

/// The call center: every decision of the service, without I/O and without a clock.
///
/// Feed it with [`CallCenter::handle`]`(now, input)` and [`CallCenter::handle_timeout`]`(now)`
/// when [`CallCenter::poll_timeout`] has passed; after each, drain
/// [`CallCenter::poll_effect`] and carry the effects out. The same inputs at the same times
/// give the same effects, byte for byte.
pub struct CallCenter {
    pub(crate) clock: EngineClock,
    /// The latest time handed in.
    pub(crate) now: UnixMs,
    pub(crate) config: CoreConfig,
    pub(crate) engine: Engine,
    pub(crate) routing: Routing,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    /// Agents and staff by user id.
    pub(crate) members: BTreeMap<String, Member>,
    pub(crate) calls: BTreeMap<CallId, Call>,
    pub(crate) placing: BTreeMap<CallId, Placing>,
    /// Live chats, from `start_chat` until their end is written (ids from the calls' space).
    pub(crate) chats: BTreeMap<CallId, crate::chats::LiveChat>,
    pub(crate) legs: BTreeMap<LegId, LegOwner>,
    /// Sides of answered calls waited for, by the end of their grace (also in `timers`).
    pub(crate) lost: BTreeMap<(CallId, crate::Side), UnixMs>,
    pub(crate) timers: TimerTable,
    pub(crate) pending: BTreeMap<OpId, Pending>,
    /// Messages per connection waiting for a commit, and those queued behind them.
    pub(crate) held: BTreeMap<ConnId, VecDeque<(Option<OpId>, ServerMessage)>>,
    /// Citizen connections with a message (text or voice) in flight, and the messages waiting
    /// behind it: one connection's messages are counted against the daily cap and saved one
    /// at a time, so a burst of them cannot slip past the cap together.
    pub(crate) message_gate: BTreeMap<ConnId, VecDeque<ClientMessage>>,
    /// Connections that closed while a message was in flight: they are forgotten (and
    /// [`Effect::Close`]d) once it has been answered, so the citizen still hears the answer.
    pub(crate) closing: std::collections::BTreeSet<ConnId>,
    /// While a take over is handed to the engine: the write the agent's `call_ended` waits for.
    pub(crate) take_over_write: Option<OpId>,
    pub(crate) next_op: u64,
    pub(crate) next_call: u64,
    pub(crate) effects: VecDeque<Effect>,
    /// Agents who just left a call, looked at once the input is handled.
    pub(crate) freed_agents: Vec<String>,
    pub(crate) stats: CoreStats,
    pub(crate) wallboard: crate::wallboard::WallboardState,
    /// Shut down: every call ended; inputs are ignored.
    pub(crate) stopped: bool,
}

impl CallCenter {
    /// A core that starts at `now`. `engine_epoch` is any `Instant`: the engine counts in
    /// instants, and the core maps its Unix milliseconds onto them from this base (only
    /// differences matter, so a replay on another machine decides the same).
    pub fn new(config: CoreConfig, now: UnixMs, engine_epoch: Instant) -> Self {
        let clock = EngineClock::new(engine_epoch, now);
        let engine = Engine::new(config.engine.clone(), clock.anchor());
        let mut timers = TimerTable::default();
        timers.set(Timer::Tick, now.plus(TICK));
        Self {
            clock,
            now,
            wallboard: crate::wallboard::WallboardState::new(config.wallboard.clone(), now),
            config,
            engine,
            routing: Routing::default(),
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
            calls: BTreeMap::new(),
            placing: BTreeMap::new(),
            chats: BTreeMap::new(),
            legs: BTreeMap::new(),
            lost: BTreeMap::new(),
            timers,
            pending: BTreeMap::new(),
            held: BTreeMap::new(),
            take_over_write: None,
            message_gate: BTreeMap::new(),
            closing: std::collections::BTreeSet::new(),
            next_op: 0,
            next_call: 0,
            effects: VecDeque::new(),
            freed_agents: Vec::new(),
            stats: CoreStats::default(),
            stopped: false,
        }
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, now: UnixMs, input: Input) {
        self.now = self.now.max(now);
        // Once stopped, only the answers of the last writes still matter (the ends of the
        // calls, told once committed).
        if self.stopped && !matches!(input, Input::Store { .. }) {
            return;
        }
        match input {
            Input::Connected { conn, identity } => self.connected(conn, identity),
            Input::Resumed { conn, citizen_id, citizen_token } => {
                self.resumed(conn, citizen_id, citizen_token)
            }
            Input::Client { conn, message } => self.client_message(conn, message),
            Input::Disconnected { conn } => self.connection_closed(conn),
            Input::SignedOut { user_id } => self.signed_out(&user_id),
            Input::SignOutWhenFree { user_id } => self.sign_out_when_free(&user_id),
            Input::Catalogue { routing, agent_skills } => self.catalogue(routing, agent_skills),
            Input::ChatCapacities { capacities } => self.chat_capacities(capacities),
            Input::LegCreated { op, result } => self.leg_created(op, result),
            Input::LegConnected { leg } => self.leg_connected(leg),
            Input::LegEnded { leg, reason } => self.leg_ended(leg, reason),
            Input::RelayFailed { command, error } => self.relay_failed(command, error),
            Input::Store { op, result } => self.store_done(op, result),
            Input::Searched { op, answer } => self.searched(op, answer),
            Input::RecordingStarted { op, result } => self.recording_started(op, result),
            Input::OfferChecked { op, result } => self.offer_checked(op, result),
            Input::Shutdown => self.shutdown(),
        }
        self.settle();
    }

    /// Fires every timer due at `now` (the engine's and the core's), earliest first.
    pub fn handle_timeout(&mut self, now: UnixMs) {
        self.now = self.now.max(now);
        if self.stopped {
            return;
        }
        let instant = self.clock.instant(self.now);
        self.engine.handle_timeout(instant);
        self.carry_out();
        while let Some(timer) = self.timers.pop_expired(self.now) {
            match timer {
                Timer::Grace(call, side) => self.grace_expired(&call, side),
                Timer::Tick => {
                    self.timers.set(Timer::Tick, self.now.plus(TICK));
                    self.tick();
                }
            }
        }
        self.settle();
    }

    /// The next effect to carry out, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When [`CallCenter::handle_timeout`] must be called next: the earliest of the engine's
    /// deadline and the core's own timers.
    pub fn poll_timeout(&self) -> Option<UnixMs> {
        if self.stopped {
            return None;
        }
        let engine = self.engine.poll_timeout().map(|at| self.clock.unix(at));
        match (engine, self.timers.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The counters for `/metrics`.
    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// Calls waiting (queued or ringing) and calls live, for the gauges.
    pub fn gauges(&self) -> (usize, usize) {
        (self.engine.queue_len() + self.engine.ringing_count(), self.calls.len())
    }

    /// The media legs of a live call: (citizen, agent), each `None` while that side has
    /// none (lost, parked, not answered yet, taken over). Read-only, for the driver's quality
    /// figures on the wallboard.
    pub fn call_media_legs(&self, call: &CallId) -> Option<(Option<LegId>, Option<LegId>)> {
        let active = self.calls.get(call)?;
        let legs = self.call_legs(active);
        Some((legs.citizen, legs.agent))
    }

    /// Whether the core still serves this connection (a connection that closed with a message
    /// in flight is served until it is answered; then [`Effect::Close`] is emitted).
    pub fn has_connection(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// The agents signed in, whose skills a [`Input::Catalogue`] should carry.
    pub fn signed_in_agents(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.role == Role::Agent)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The queueing engine, for read-only views (wallboard figures, tests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    // ----- plumbing ---------------------------------------------------------------------------

    /// What follows every input: agents freed by it are looked at.
    fn settle(&mut self) {
        self.after_agents_freed();
        self.sign_out_freed();
        self.wallboard.dirty = true;
    }

    pub(crate) fn emit(&mut self, effect: Effect) {
        self.effects.push_back(effect);
    }

    /// Queues a message to a connection the core knows. Behind a message waiting for a commit
    /// ([`CallCenter::send_after`]) it waits too, so a connection hears everything in order.
    pub(crate) fn send(&mut self, conn: ConnId, message: ServerMessage) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match self.held.get_mut(&conn) {
            Some(queue) => queue.push_back((None, message)),
            None => self.emit(Effect::Send { conn, message }),
        }
    }

    /// Queues a message that reports what store operation `op` writes: it is released once
    /// that operation has been answered, and later messages to the connection wait behind it.
    pub(crate) fn send_after(&mut self, op: OpId, conn: ConnId, message: ServerMessage) {
        if self.conns.contains_key(&conn) {
            self.held.entry(conn).or_default().push_back((Some(op), message));
        }
    }

    /// `op` was answered: messages waiting for it (and those queued behind them) go out.
    pub(crate) fn release(&mut self, op: OpId) {
        let conns: Vec<ConnId> = self.held.keys().copied().collect();
        for conn in conns {
            let Some(queue) = self.held.get_mut(&conn) else { continue };
            for (waits_for, _) in queue.iter_mut() {
                if *waits_for == Some(op) {
                    *waits_for = None;
                }
            }
            let mut out = Vec::new();
            while queue.front().is_some_and(|(waits_for, _)| waits_for.is_none()) {
                if let Some((_, message)) = queue.pop_front() {
                    out.push(message);
                }
            }
            if queue.is_empty() {
                self.held.remove(&conn);
            }
            for message in out {
                self.emit(Effect::Send { conn, message });
            }
        }
    }

    /// Queues a message to a member by user id, if their console is here.
    pub(crate) fn send_to_member(&mut self, user_id: &str, message: ServerMessage) {
        if let Some(conn) = self.members.get(user_id).map(|m| m.conn) {
            self.send(conn, message);
        }
    }

    pub(crate) fn relay(&mut self, command: RelayCommand) {
        self.emit(Effect::Relay(command));
    }

    fn op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// Emits a store operation and remembers what to do with its answer.
    pub(crate) fn store(
        &mut self,
        call: Option<CallId>,
        request: StoreRequest,
        then: Pending,
    ) -> OpId {
        let op = self.op();
        self.pending.insert(op, then);
        self.emit(Effect::Store { op, call, request });
        op
    }

    /// Emits a leg request and remembers what to do with the leg.
    pub(crate) fn create_leg(&mut self, sdp: String, role: Role, then: Pending) {
        let op = self.op();
        self.pending.insert(op, then);
        self.emit(Effect::CreateLeg { op, sdp, slots: role.receive_slots() });
    }

    /// Asks the relay whether an offer could be answered, without making a leg.
    pub(crate) fn check_offer(&mut self, sdp: String, then: Pending) {
        let op = self.op();
        self.pending.insert(op, then);
        self.emit(Effect::CheckOffer { op, sdp, slots: Role::Citizen.receive_slots() });
    }

    pub(crate) fn start_recording(&mut self, leg: LegId, then: Pending) {
        let op = self.op();
        self.pending.insert(op, then);
        let max = self.config.voice_max;
        self.emit(Effect::StartRecording { op, leg, max });
    }

    pub(crate) fn search(&mut self, question: String, then: Pending) {
        let op = self.op();
        self.pending.insert(op, then);
        self.emit(Effect::Search { op, question });
    }

    pub(crate) fn new_call_id(&mut self) -> CallId {
        self.next_call += 1;
        crate::ids::call_id(self.config.id_seed, self.next_call)
    }

    /// An invariant did not hold: reported and counted; the caller refuses what it was doing.
    pub(crate) fn violation(&mut self, what: String) {
        self.stats.invariant_violations += 1;
        self.emit(Effect::Report(Report::Violation(what)));
    }

    pub(crate) fn instant(&self) -> Instant {
        self.clock.instant(self.now)
    }

    pub(crate) fn wall(&self, at: Instant) -> UnixMs {
        self.clock.unix(at)
    }

    // ----- client messages --------------------------------------------------------------------

    fn client_message(&mut self, conn: ConnId, message: ClientMessage) {
        let request = message.type_name();
        if let Err(refusal) = self.dispatch(conn, message) {
            self.stats.client_errors += 1;
            let error = ServerMessage::error(refusal.code, refusal.text, Some(request));
            self.send(conn, error);
        }
    }

    /// Who may send what is decided here, once: citizens place and manage their calls and
    /// messages, agents work calls, staff support them.
    fn dispatch(&mut self, conn: ConnId, message: ClientMessage) -> Result<(), Refusal> {
        let who = self
            .conns
            .get(&conn)
            .map(|c| c.who.clone())
            .ok_or_else(|| refuse(ErrorCode::Internal, "connection is not registered"))?;
        let role = match &who {
            Who::Citizen(_) => Role::Citizen,
            Who::Member(_, role) => *role,
        };
        if !message.allowed_for(role) {
            return Err(refuse(
                ErrorCode::Forbidden,
                format!(
                    "\"{}\" is not allowed for a {} connection",
                    message.type_name(),
                    role.as_str()
                ),
            ));
        }
        match who {
            Who::Citizen(citizen_id) => self.citizen_message(conn, citizen_id, message),
            Who::Member(user_id, role) => match message {
                ClientMessage::MediaConnect { sdp } => self.connect_headset(&user_id, role, sdp),
                message if role == Role::Agent => self.agent_message(user_id, message),
                message if role.is_staff() => self.staff_message(&user_id, conn, message),
                message => Err(refuse(
                    ErrorCode::Forbidden,
                    format!("\"{}\" is not allowed for this connection", message.type_name()),
                )),
            },
        }
    }
}
