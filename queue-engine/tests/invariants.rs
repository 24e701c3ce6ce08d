//! Property test: random sequences of every input (valid and invalid) and time jumps, driven the
//! way the shell drives the engine, never break the engine's promises. The model below is built
//! only from the command stream (plus the silent effects of accepted inputs the shell itself
//! caused: logouts, parking), and checks:
//!
//! - a call never rings at two agents, an agent never has two calls (ringing or connected);
//! - channels and capacity: an agent never holds more chats than their routing profile's
//!   capacity, a chat never rings at an agent in a voice call (or with anything else ringing),
//!   a call rings at an agent holding chats only when their profile allows calls beside chats
//!   and they are below capacity;
//! - within a skill, an offer always goes to the head of the unparked queued contacts the
//!   agent may take: no call or chat is offered while an earlier one (priority, first queued,
//!   arrival) of the same skill, of either channel, that this agent could take waits
//!   unoffered and unparked (order is kept per priority across channels);
//! - every call and every chat ends exactly once (answered then ended, abandoned, or turned away at arrival),
//!   checked after logging everybody out at the end of the run, and no command names it after;
//! - admission: a call is turned away as `QueueFull` exactly when the calls of its queue that
//!   wait for an agent (queued or parked, not ringing) are as many as `max_waiting`, and a
//!   transfer is refused for that reason on the same count; a withdrawn offer puts its call
//!   back whatever the count (nothing admitted is ever evicted);
//! - positions: the last one pushed to every waiting call is its rank in its queue, never
//!   pushed without a change, never while connected; a wait-limit notice at most once;
//! - a refused input changes nothing and emits nothing; timers fire on time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};
use voicedesk_queue_engine::{
    AgentId, CallId, CallPhase, Channel, ClockAnchor, Command, Engine, EngineConfig, Input, Party,
    QueueSettings, RoutingProfile, SkillId, WeeklyHours,
};

const AGENTS: usize = 5;
const SKILLS: usize = 3;
const RING: Duration = Duration::from_secs(3);
const ACW: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(5);
const MAX_WAIT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone)]
enum Step {
    Arrive(usize, u8),
    /// A chat arrives.
    ArriveChat(usize, u8),
    /// An agent's chat capacity (0 to 3) and whether calls come beside chats.
    Profile(usize, u8, bool),
    Abandon(usize),
    Disconnect(usize),
    Reconnect(usize),
    MediaFailed(usize),
    HangUpCitizen(usize),
    /// The agent hangs up whatever call they are on (if any; else a random call).
    HangUpOwn(usize, usize),
    TakenOver(usize),
    /// The agent upgrades one of their chats to a voice call (if any; else a random call).
    UpgradeOwn(usize, usize),
    /// The agent transfers whatever call they are on (if any; else a random call).
    TransferOwn(usize, usize, usize, Option<u8>),
    Login(usize, u8),
    SetSkills(usize, u8),
    Logout(usize),
    Available(usize),
    Away(usize, usize),
    /// The agent accepts whatever rings at them (if anything; else a random call).
    AcceptRinging(usize, usize),
    RejectRinging(usize, usize),
    /// Skill 1 opens or closes; skill 2's limit of waiting calls changes.
    Configure(bool, Option<u32>),
    /// Time passes; the driver wakes at every deadline on the way.
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let a = 0..AGENTS;
    let c = 0..64usize;
    let s = 0..SKILLS;
    prop_oneof![
        5 => (s.clone(), 0u8..3).prop_map(|(s, p)| Step::Arrive(s, p)),
        5 => (s.clone(), 0u8..3).prop_map(|(s, p)| Step::ArriveChat(s, p)),
        1 => (a.clone(), 0u8..4, any::<bool>()).prop_map(|(a, c, w)| Step::Profile(a, c, w)),
        1 => c.clone().prop_map(Step::Abandon),
        2 => c.clone().prop_map(Step::Disconnect),
        2 => c.clone().prop_map(Step::Reconnect),
        1 => c.clone().prop_map(Step::MediaFailed),
        1 => c.clone().prop_map(Step::HangUpCitizen),
        3 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::HangUpOwn(a, c)),
        1 => c.clone().prop_map(Step::TakenOver),
        1 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::UpgradeOwn(a, c)),
        2 => (a.clone(), c.clone(), s, proptest::option::of(0u8..3))
            .prop_map(|(a, c, s, p)| Step::TransferOwn(a, c, s, p)),
        2 => (a.clone(), 0u8..16).prop_map(|(a, m)| Step::Login(a, m)),
        1 => (a.clone(), 0u8..16).prop_map(|(a, m)| Step::SetSkills(a, m)),
        1 => a.clone().prop_map(Step::Logout),
        3 => a.clone().prop_map(Step::Available),
        1 => (a.clone(), 0usize..4).prop_map(|(a, r)| Step::Away(a, r)),
        4 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::AcceptRinging(a, c)),
        2 => (a, c).prop_map(|(a, c)| Step::RejectRinging(a, c)),
        1 => (any::<bool>(), proptest::option::of(0u32..4)).prop_map(|(o, m)| Step::Configure(o, m)),
        4 => (0u64..6_000).prop_map(Step::Advance),
    ]
}

fn agent(i: usize) -> AgentId {
    AgentId(format!("a{i}"))
}

fn skill(i: usize) -> SkillId {
    SkillId(format!("s{i}"))
}

/// Skill levels from a bit mask over skills (bit 3 picks the levels).
fn skills(mask: u8) -> BTreeMap<SkillId, u8> {
    (0..SKILLS)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| (skill(i), if mask & 8 != 0 { u8::try_from(i).unwrap() + 1 } else { 5 }))
        .collect()
}

/// A waiting call as far as the model knows.
#[derive(Debug, Clone)]
struct Waiting {
    skill: SkillId,
    priority: u8,
    queued_at: Instant,
    seq: usize,
    parked: bool,
    chat: bool,
}

impl Waiting {
    fn key(&self) -> (std::cmp::Reverse<u8>, Instant, usize) {
        (std::cmp::Reverse(self.priority), self.queued_at, self.seq)
    }
}

/// What the commands so far say about the world.
#[derive(Default)]
struct Model {
    now: Option<Instant>,
    /// Every call id ever handed to the engine, in arrival order.
    created: Vec<CallId>,
    /// Calls whose arrival is being handled (they may be turned away).
    arriving: Option<(CallId, SkillId, u8)>,
    ended: BTreeMap<CallId, EndReason>,
    logged_in: BTreeSet<AgentId>,
    waiting: BTreeMap<CallId, Waiting>,
    /// call -> (agent, when offered)
    offered: BTreeMap<CallId, (AgentId, Instant)>,
    /// call -> (agent, skill, priority) while connected
    connected: BTreeMap<CallId, (AgentId, Waiting)>,
    last_position: BTreeMap<CallId, u32>,
    wait_limit: BTreeSet<CallId>,
    /// The configured `max_waiting` of each skill (absent: no limit).
    max_waiting: BTreeMap<SkillId, u32>,
    /// The ids that are chats.
    chats: BTreeSet<CallId>,
    /// Every logged-in agent's routing profile.
    profiles: BTreeMap<AgentId, RoutingProfile>,
}

impl Model {
    /// What rings at the agent, or the voice call they are on (chats aside).
    fn holds(&self, agent: &AgentId) -> Option<&CallId> {
        self.offered.iter().find(|(_, (a, _))| a == agent).map(|(c, _)| c).or_else(|| {
            self.connected.iter().find(|(_, (a, w))| a == agent && !w.chat).map(|(c, _)| c)
        })
    }

    /// The chats connected to the agent.
    fn chats_of(&self, agent: &AgentId) -> BTreeSet<CallId> {
        self.connected
            .iter()
            .filter(|(_, (a, w))| a == agent && w.chat)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Whether the agent, free of calls and offers, may be offered a contact of this channel.
    fn may_take(&self, agent: &AgentId, chat: bool) -> bool {
        let load = self.chats_of(agent).len();
        let profile = self.profiles[agent];
        let below = load < usize::from(profile.chat_capacity);
        if chat { below } else { load == 0 || (profile.calls_with_chats && below) }
    }

    /// The calls of `skill` that wait for an agent: queued or parked, not ringing.
    fn waiting_for_an_agent(&self, skill: &SkillId) -> usize {
        self.waiting
            .iter()
            .filter(|(call, w)| w.skill == *skill && !self.offered.contains_key(*call))
            .count()
    }

    /// Whether `skill`'s limit of calls waiting for an agent is reached.
    fn full(&self, skill: &SkillId) -> bool {
        self.max_waiting
            .get(skill)
            .is_some_and(|&max| self.waiting_for_an_agent(skill) >= max as usize)
    }

    fn pick(&self, index: usize) -> CallId {
        if self.created.is_empty() {
            CallId::from("never")
        } else {
            self.created[index % self.created.len()].clone()
        }
    }

    fn check(&mut self, command: &Command) {
        let now = self.now.unwrap();
        if let Some(call) = command.call() {
            assert!(!self.ended.contains_key(call), "{command:?} after {call} ended");
        }
        if let Some((arriving, skill, priority)) = self.arriving.take() {
            // The first command of an arrival says whether it was admitted.
            let turned_away = matches!(command, Command::End { call, .. } if *call == arriving);
            let full = self.full(&skill);
            if let Command::End { reason: EndReason::QueueFull, .. } = command {
                assert!(turned_away && full, "{arriving} turned away as full, but it is not");
            }
            if full {
                // Closed comes first; otherwise the limit holds.
                assert!(turned_away, "{arriving} admitted into a full {skill}");
            }
            if !turned_away {
                let seq = self.created.len() - 1;
                let chat = self.chats.contains(&arriving);
                let w = Waiting { skill, priority, queued_at: now, seq, parked: false, chat };
                self.waiting.insert(arriving, w);
            }
        }
        match command {
            Command::Offer { call, agent, ring_timeout, skill, .. } => {
                assert_eq!(*ring_timeout, RING);
                let w = self.waiting.get(call).expect("offer of a waiting call");
                assert_eq!(&w.skill, skill);
                assert!(!w.parked, "{call} offered while parked");
                assert!(!self.offered.contains_key(call), "{call} offered to two agents");
                assert!(self.logged_in.contains(agent), "offer to logged-out {agent}");
                assert_eq!(self.holds(agent), None, "{agent} offered a second call");
                assert!(self.may_take(agent, w.chat), "{call} offered to {agent} beyond profile");
                for (other, o) in &self.waiting {
                    if o.skill == w.skill
                        && !o.parked
                        && o.key() < w.key()
                        && !self.offered.contains_key(other)
                        && self.may_take(agent, o.chat)
                    {
                        panic!("{call} offered while the earlier {other} waits in {skill}");
                    }
                }
                self.offered.insert(call.clone(), (agent.clone(), now));
            }
            Command::WithdrawOffer { call, agent, reason } => {
                let (holder, since) = self.offered.remove(call).expect("withdraw of an offer");
                assert_eq!(&holder, agent);
                if *reason == WithdrawReason::RingTimeout {
                    assert_eq!(now - since, RING, "ring timeout fired off time");
                }
            }
            Command::Connect { call, agent } => {
                let (holder, _) = self.offered.remove(call).expect("connect of an offer");
                assert_eq!(&holder, agent);
                let w = self.waiting.remove(call).expect("connect of a waiting call");
                if w.chat {
                    let load = self.chats_of(agent).len() + 1;
                    let capacity = self.profiles[agent].chat_capacity;
                    assert!(load <= usize::from(capacity), "{agent}: {load} chats > {capacity}");
                }
                self.last_position.remove(call);
                self.connected.insert(call.clone(), (agent.clone(), w));
            }
            Command::Transferred { call, agent, skill } => {
                let (holder, mut w) =
                    self.connected.remove(call).expect("transfer of a connected call");
                assert_eq!(&holder, agent);
                w.skill = skill.clone();
                self.waiting.insert(call.clone(), w);
            }
            Command::End { call, agent, reason } => {
                assert!(!self.offered.contains_key(call), "{call} ended while still offered");
                let connected = self.connected.remove(call);
                assert_eq!(connected.map(|(a, _)| a).as_ref(), agent.as_ref());
                let was_waiting = self.waiting.remove(call).is_some();
                if agent.is_none() && !was_waiting {
                    assert!(
                        matches!(
                            reason,
                            EndReason::Closed | EndReason::QueueFull | EndReason::NoAgents
                        ),
                        "{call} turned away with {reason:?}"
                    );
                }
                self.ended.insert(call.clone(), *reason);
            }
            Command::Position { call, position, .. } => {
                assert!(
                    self.waiting.contains_key(call),
                    "position for {call}, which is not waiting"
                );
                self.last_position.insert(call.clone(), *position);
            }
            Command::WaitLimitReached { call, waited } => {
                assert!(self.waiting.contains_key(call));
                assert!(self.wait_limit.insert(call.clone()), "{call}: wait limit twice");
                assert!(*waited >= MAX_WAIT);
            }
            Command::AgentState { agent, state, reason, since, until } => {
                assert!(self.logged_in.contains(agent));
                assert!(*since <= now);
                let holds = self.holds(agent).is_some();
                match state {
                    AgentActivity::Ringing | AgentActivity::OnCall => assert!(holds),
                    _ => assert!(!holds),
                }
                if *state != AgentActivity::Away {
                    assert_eq!(*reason, None);
                }
                assert_eq!(until.is_some(), *state == AgentActivity::AfterCallWork);
                if let Some(until) = until {
                    assert_eq!(*until, now + ACW);
                }
            }
        }
    }

    /// The engine's own view must agree with what its commands said.
    fn compare(&self, engine: &Engine, now: Instant) {
        let live: BTreeSet<_> = engine.calls().map(|c| c.id.clone()).collect();
        let expected: BTreeSet<_> =
            self.waiting.keys().chain(self.connected.keys()).cloned().collect();
        assert_eq!(live, expected, "live calls");
        let agents: BTreeSet<_> = engine.agents().map(|a| a.id.clone()).collect();
        assert_eq!(agents, self.logged_in);
        for view in engine.agents() {
            assert_eq!(view.call, self.holds(view.id), "{}", view.id);
            assert_eq!(*view.chats, self.chats_of(view.id), "{}: chats", view.id);
            assert_eq!(view.profile, self.profiles[view.id], "{}: profile", view.id);
        }
        for view in engine.calls() {
            match view.phase {
                CallPhase::Queued => assert!(view.agent.is_none()),
                CallPhase::Ringing => {
                    assert_eq!(view.agent, self.offered.get(view.id).map(|(a, _)| a));
                }
                CallPhase::Connected => {
                    assert_eq!(view.agent, self.connected.get(view.id).map(|(a, _)| a));
                }
            }
            let chat = self.chats.contains(view.id);
            assert_eq!(view.channel, if chat { Channel::Chat } else { Channel::Voice });
            if let Some(w) = self.waiting.get(view.id) {
                assert_eq!(view.parked, w.parked, "{}", view.id);
                assert_eq!((view.skill, view.priority), (&w.skill, w.priority));
            }
        }
        for s in 0..SKILLS {
            let mut keys = Vec::new();
            for (rank, view) in (1..).zip(engine.waiting_calls(&skill(s))) {
                keys.push(self.waiting[view.id].key());
                assert_eq!(view.position, Some(rank), "{}: position", view.id);
                assert_eq!(self.last_position.get(view.id), Some(&rank), "{}: last sent", view.id);
            }
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "queue order of s{s}: {keys:?}");
        }
        if let Some(deadline) = engine.poll_timeout() {
            assert!(deadline > now, "a due timer was left unhandled");
        }
    }
}

fn drain(engine: &mut Engine, model: &mut Model) {
    while let Some(command) = engine.poll_command() {
        model.check(&command);
    }
    model.arriving = None;
}

/// The input a step stands for; `None` for a time step.
fn input_for(step: &Step, model: &mut Model) -> Option<Input> {
    let own = |model: &Model, a: usize| {
        model.connected.iter().find(|(_, (x, _))| *x == agent(a)).map(|(c, _)| c.clone())
    };
    let input = match *step {
        Step::Advance(_) => return None,
        Step::Arrive(s, priority) => {
            let call = CallId(format!("c{}", model.created.len()));
            model.created.push(call.clone());
            Input::CallArrived { call, skill: skill(s), priority, service: None }
        }
        Step::ArriveChat(s, priority) => {
            let chat = CallId(format!("h{}", model.created.len()));
            model.created.push(chat.clone());
            model.chats.insert(chat.clone());
            Input::ChatArrived { chat, skill: skill(s), priority, service: None }
        }
        Step::Profile(a, chat_capacity, calls_with_chats) => Input::SetRoutingProfile {
            agent: agent(a),
            profile: RoutingProfile { chat_capacity, calls_with_chats },
        },
        Step::Abandon(c) => Input::CallAbandoned { call: model.pick(c) },
        Step::Disconnect(c) => Input::CitizenDisconnected { call: model.pick(c) },
        Step::Reconnect(c) => Input::CitizenReconnected { call: model.pick(c) },
        Step::MediaFailed(c) => Input::MediaFailed { call: model.pick(c) },
        Step::HangUpCitizen(c) => Input::HangUp { call: model.pick(c), by: Party::Citizen },
        Step::HangUpOwn(a, c) => Input::HangUp {
            call: own(model, a).unwrap_or_else(|| model.pick(c)),
            by: Party::Agent(agent(a)),
        },
        Step::TakenOver(c) => Input::TakenOver { call: model.pick(c) },
        Step::UpgradeOwn(a, c) => Input::UpgradeChat {
            chat: model.chats_of(&agent(a)).into_iter().next().unwrap_or_else(|| model.pick(c)),
            agent: agent(a),
        },
        Step::TransferOwn(a, c, s, priority) => Input::Transfer {
            agent: agent(a),
            call: own(model, a).unwrap_or_else(|| model.pick(c)),
            to_skill: skill(s),
            priority,
        },
        Step::Login(a, mask) => Input::AgentLoggedIn { agent: agent(a), skills: skills(mask) },
        Step::SetSkills(a, mask) => Input::SetAgentSkills { agent: agent(a), skills: skills(mask) },
        Step::Logout(a) => Input::AgentLoggedOut { agent: agent(a) },
        Step::Available(a) => Input::AgentAvailable { agent: agent(a) },
        Step::Away(a, r) => Input::AgentAway {
            agent: agent(a),
            reason: [None, Some("break"), Some("missed_calls"), Some("nap")][r].map(str::to_owned),
        },
        Step::AcceptRinging(a, c) | Step::RejectRinging(a, c) => {
            let ringing =
                model.offered.iter().find(|(_, (x, _))| *x == agent(a)).map(|(c, _)| c.clone());
            let call = ringing.unwrap_or_else(|| model.pick(c));
            if matches!(step, Step::AcceptRinging(..)) {
                Input::Accept { agent: agent(a), call }
            } else {
                Input::Reject { agent: agent(a), call }
            }
        }
        Step::Configure(open, max_waiting) => {
            let hours = if open { WeeklyHours::Always } else { WeeklyHours::never() };
            let settings = QueueSettings::default().with_hours(hours).with_max_waiting(max_waiting);
            let settings = if max_waiting.is_some() {
                settings.with_max_wait(Some(MAX_WAIT))
            } else {
                settings
            };
            Input::ConfigureQueue { skill: skill(1 + usize::from(max_waiting.is_some())), settings }
        }
    };
    Some(input)
}

/// Feeds one input as the shell would and checks what came out.
fn feed(engine: &mut Engine, model: &mut Model, now: Instant, input: Input) {
    let before = engine.clone();
    if let Input::ConfigureQueue { skill, settings } = &input {
        match settings.max_waiting {
            Some(max) => model.max_waiting.insert(skill.clone(), max),
            None => model.max_waiting.remove(skill),
        };
    }
    if let Err(err) = engine.handle_input(now, input.clone()) {
        if let voicedesk_queue_engine::EngineError::TransferRefused {
            reason: voicedesk_queue_engine::TurnAway::QueueFull,
            ..
        } = &err
            && let Input::Transfer { to_skill, .. } = &input
        {
            assert!(model.full(to_skill), "transfer to {to_skill} refused as full, but it is not");
        }
        assert_eq!(*engine, before, "{input:?} refused ({err}) but changed the engine");
        assert_eq!(engine.poll_command(), None, "{input:?} refused but queued a command");
        return;
    }
    match &input {
        Input::CallArrived { call, skill, priority, .. }
        | Input::ChatArrived { chat: call, skill, priority, .. } => {
            model.arriving = Some((call.clone(), skill.clone(), *priority));
        }
        Input::AgentLoggedIn { agent, .. } => {
            model.logged_in.insert(agent.clone());
            model.profiles.insert(agent.clone(), RoutingProfile::default());
        }
        Input::SetRoutingProfile { agent, profile } => {
            model.profiles.insert(agent.clone(), *profile);
        }
        Input::AgentLoggedOut { agent } => {
            // The one silent change: the offer is dropped without a command.
            model.logged_in.remove(agent);
            model.offered.retain(|_, (a, _)| a != agent);
        }
        Input::CitizenDisconnected { call } => {
            if let Some(w) = model.waiting.get_mut(call) {
                w.parked = true;
            }
        }
        Input::CitizenReconnected { call } => {
            model.waiting.get_mut(call).expect("reconnect of a waiting call").parked = false;
        }
        Input::UpgradeChat { chat, .. } => {
            model.chats.remove(chat);
            model.connected.get_mut(chat).expect("upgrade of a connected chat").1.chat = false;
        }
        Input::Transfer { priority: Some(p), call, .. } => {
            model.connected.get_mut(call).expect("transfer of a connected call").1.priority = *p;
        }
        _ => {}
    }
    drain(engine, model);
    if let Input::AgentAvailable { agent } = &input {
        let activity = engine.agent_activity(agent);
        assert!(
            matches!(activity, Some(AgentActivity::Available | AgentActivity::Ringing)),
            "{agent} is {activity:?} right after becoming available"
        );
    }
}

fn advance(engine: &mut Engine, model: &mut Model, now: &mut Instant, by: Duration) {
    // The shell's loop: sleep until poll_timeout, handle it, drain; repeat.
    let target = *now + by;
    while let Some(deadline) = engine.poll_timeout().filter(|d| *d <= target) {
        *now = deadline;
        model.now = Some(*now);
        engine.handle_timeout(*now);
        drain(engine, model);
    }
    *now = target;
}

fn run(steps: Vec<Step>) {
    let mut now = Instant::now();
    let config = EngineConfig::default()
        .with_ring_timeout(RING)
        .with_after_call_work(ACW)
        .with_reconnect_grace(GRACE);
    let mut engine = Engine::new(config, ClockAnchor { instant: now, unix_ms: 1_796_000_000_000 });
    let mut model = Model { now: Some(now), ..Model::default() };
    for s in 0..SKILLS {
        let input = Input::ConfigureQueue { skill: skill(s), settings: QueueSettings::default() };
        feed(&mut engine, &mut model, now, input);
    }

    for step in steps {
        model.now = Some(now);
        if let Some(input) = input_for(&step, &mut model) {
            // A transfer whose priority change the model must know before the commands come.
            feed(&mut engine, &mut model, now, input);
        } else if let Step::Advance(ms) = step {
            advance(&mut engine, &mut model, &mut now, Duration::from_millis(ms));
        }
        model.compare(&engine, now);
    }

    // Everybody leaves: every call that arrived must have ended exactly once.
    for a in 0..AGENTS {
        model.now = Some(now);
        let _ = engine.handle_input(now, Input::AgentLoggedOut { agent: agent(a) });
        model.logged_in.remove(&agent(a));
        model.offered.retain(|_, (x, _)| *x != agent(a));
        drain(&mut engine, &mut model);
        model.compare(&engine, now);
    }
    assert_eq!(engine.calls().count(), 0);
    let ended: BTreeSet<_> = model.ended.keys().cloned().collect();
    let created: BTreeSet<_> = model.created.iter().cloned().collect();
    assert_eq!(ended, created, "every call ends exactly once");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_and_time_never_break_the_engines_promises(
        steps in proptest::collection::vec(step(), 1..150)
    ) {
        run(steps);
    }
}
