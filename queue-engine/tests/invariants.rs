//! Property test: random sequences of inputs (valid and invalid) and time jumps, driven the way
//! the shell drives the engine, never break the engine's promises:
//!
//! - an agent never has two calls (ringing or connected), a call never rings at two agents;
//! - the waiting calls' positions are exactly 1..=n in arrival order, and each is the last
//!   position sent; a position is sent only when it changes, never after answer or end;
//! - every call ends at most once, and no command names a call after its end;
//! - a refused input changes nothing and emits nothing;
//! - the rest shape holds: no queued call while an agent is available, no call without agents,
//!   a timer armed exactly while something rings, ring timeouts fire exactly on time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};
use voicedesk_queue_engine::{
    AgentId, CallId, CallPhase, Command, Engine, EngineConfig, Input, Party,
};

const AGENTS: usize = 4;
const RING: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
enum Step {
    Arrive,
    Abandon(usize),
    MediaFailed(usize),
    HangUpCitizen(usize),
    HangUpAgent(usize, usize),
    /// The agent hangs up whatever call they are on (if any; else a random call).
    HangUpOwn(usize, usize),
    Login(usize),
    Logout(usize),
    Available(usize),
    Away(usize),
    Accept(usize, usize),
    Reject(usize, usize),
    /// The agent accepts whatever rings at them (if anything; else a random call).
    AcceptRinging(usize, usize),
    RejectRinging(usize, usize),
    /// Time passes; the driver wakes at every deadline on the way.
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let a = 0..AGENTS;
    let c = 0..64usize;
    prop_oneof![
        4 => Just(Step::Arrive),
        1 => c.clone().prop_map(Step::Abandon),
        1 => c.clone().prop_map(Step::MediaFailed),
        1 => c.clone().prop_map(Step::HangUpCitizen),
        1 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::HangUpAgent(a, c)),
        2 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::HangUpOwn(a, c)),
        2 => a.clone().prop_map(Step::Login),
        1 => a.clone().prop_map(Step::Logout),
        3 => a.clone().prop_map(Step::Available),
        1 => a.clone().prop_map(Step::Away),
        1 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::Accept(a, c)),
        1 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::Reject(a, c)),
        3 => (a.clone(), c.clone()).prop_map(|(a, c)| Step::AcceptRinging(a, c)),
        2 => (a, c).prop_map(|(a, c)| Step::RejectRinging(a, c)),
        3 => (0u64..5_000).prop_map(Step::Advance),
    ]
}

/// What the commands so far say about the world, built only from the command stream (and the
/// one silent change, a logout), and checked against every new command.
#[derive(Default)]
struct Model {
    now: Option<Instant>,
    /// Every call id ever handed to the engine, in arrival order.
    created: Vec<CallId>,
    ended: BTreeSet<CallId>,
    answered: BTreeSet<CallId>,
    logged_in: BTreeSet<AgentId>,
    /// call -> (agent, when offered)
    offered: BTreeMap<CallId, (AgentId, Instant)>,
    connected: BTreeMap<CallId, AgentId>,
    last_position: BTreeMap<CallId, u32>,
}

impl Model {
    fn holds(&self, agent: &AgentId) -> Option<&CallId> {
        self.offered
            .iter()
            .find(|(_, (a, _))| a == agent)
            .map(|(c, _)| c)
            .or_else(|| self.connected.iter().find(|(_, a)| *a == agent).map(|(c, _)| c))
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
            assert!(!self.ended.contains(call), "{command:?} after {call} ended");
        }
        match command {
            Command::Offer { call, agent, ring_timeout, .. } => {
                assert_eq!(*ring_timeout, RING);
                assert!(!self.answered.contains(call), "{call} offered after answer");
                assert!(!self.offered.contains_key(call), "{call} offered to two agents");
                assert!(self.logged_in.contains(agent), "offer to logged-out {agent}");
                assert_eq!(self.holds(agent), None, "{agent} offered a second call");
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
                self.connected.insert(call.clone(), agent.clone());
                self.answered.insert(call.clone());
            }
            Command::End { call, agent, reason } => {
                assert!(!self.offered.contains_key(call), "{call} ended while still offered");
                assert_eq!(self.connected.remove(call).as_ref(), agent.as_ref());
                if *reason == EndReason::NoAgents {
                    assert!(self.logged_in.is_empty());
                }
                self.ended.insert(call.clone());
            }
            Command::Position { call, position } => {
                assert!(!self.answered.contains(call), "position for answered {call}");
                let previous = self.last_position.insert(call.clone(), *position);
                assert_ne!(previous, Some(*position), "{call}: position sent without a change");
            }
            Command::AgentState { agent, state, reason, since } => {
                assert!(self.logged_in.contains(agent));
                assert!(*since <= now);
                let holds = self.holds(agent).is_some();
                match state {
                    AgentActivity::Ringing | AgentActivity::OnCall => assert!(holds),
                    AgentActivity::Available | AgentActivity::Away => assert!(!holds),
                }
                if *state != AgentActivity::Away {
                    assert_eq!(*reason, None);
                }
            }
        }
    }

    /// The engine's own view must agree with what its commands said.
    fn compare(&self, engine: &Engine, now: Instant) {
        let live: BTreeSet<_> = engine.calls().map(|c| c.id.clone()).collect();
        let expected: BTreeSet<_> =
            self.created.iter().filter(|c| !self.ended.contains(*c)).cloned().collect();
        assert_eq!(live, expected, "live calls");
        let agents: BTreeSet<_> = engine.agents().map(|a| a.id.clone()).collect();
        assert_eq!(agents, self.logged_in);

        for view in engine.agents() {
            assert_eq!(view.call, self.holds(view.id), "{}", view.id);
            if view.activity == AgentActivity::Available {
                assert_eq!(
                    engine.queue_len(),
                    0,
                    "a call is queued while {} is available",
                    view.id
                );
            }
        }
        for view in engine.calls() {
            match view.phase {
                CallPhase::Queued => assert!(view.agent.is_none()),
                CallPhase::Ringing => {
                    assert_eq!(view.agent, self.offered.get(view.id).map(|(a, _)| a));
                }
                CallPhase::Connected => assert_eq!(view.agent, self.connected.get(view.id)),
            }
        }

        let order: Vec<usize> = engine
            .waiting_calls()
            .map(|c| self.created.iter().position(|id| id == c.id).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "queue is not in arrival order: {order:?}");
        for (rank, view) in engine.waiting_calls().enumerate() {
            let rank = u32::try_from(rank + 1).unwrap();
            assert_ne!(view.phase, CallPhase::Connected);
            assert_eq!(view.position, Some(rank), "{}: position", view.id);
            assert_eq!(
                self.last_position.get(view.id),
                Some(&rank),
                "{}: last position sent",
                view.id
            );
        }

        if self.logged_in.is_empty() {
            assert_eq!(engine.calls().count(), 0, "calls live with nobody logged in");
        }
        match engine.poll_timeout() {
            Some(deadline) => {
                assert!(engine.ringing_count() > 0);
                assert!(deadline > now, "a due timer was left unhandled");
                let earliest = self.offered.values().map(|(_, at)| *at + RING).min();
                assert_eq!(Some(deadline), earliest);
            }
            None => assert_eq!(engine.ringing_count(), 0),
        }
    }
}

fn drain(engine: &mut Engine, model: &mut Model) {
    while let Some(command) = engine.poll_command() {
        model.check(&command);
    }
}

fn agent(i: usize) -> AgentId {
    AgentId(format!("a{i}"))
}

/// The input a step stands for; `None` for a time step.
fn input_for(step: &Step, model: &mut Model) -> Option<Input> {
    let input = match *step {
        Step::Advance(_) => return None,
        Step::Arrive => {
            let call = CallId(format!("c{}", model.created.len()));
            model.created.push(call.clone());
            Input::CallArrived { call, service: None }
        }
        Step::Abandon(c) => Input::CallAbandoned { call: model.pick(c) },
        Step::MediaFailed(c) => Input::MediaFailed { call: model.pick(c) },
        Step::HangUpCitizen(c) => Input::HangUp { call: model.pick(c), by: Party::Citizen },
        Step::HangUpAgent(a, c) => {
            Input::HangUp { call: model.pick(c), by: Party::Agent(agent(a)) }
        }
        Step::HangUpOwn(a, c) => {
            let own = model.connected.iter().find(|(_, x)| **x == agent(a)).map(|(c, _)| c.clone());
            Input::HangUp { call: own.unwrap_or_else(|| model.pick(c)), by: Party::Agent(agent(a)) }
        }
        Step::Login(a) => Input::AgentLoggedIn { agent: agent(a) },
        Step::Logout(a) => Input::AgentLoggedOut { agent: agent(a) },
        Step::Available(a) => Input::AgentAvailable { agent: agent(a) },
        Step::Away(a) => Input::AgentAway { agent: agent(a), reason: Some("break".into()) },
        Step::Accept(a, c) => Input::Accept { agent: agent(a), call: model.pick(c) },
        Step::Reject(a, c) => Input::Reject { agent: agent(a), call: model.pick(c) },
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
    };
    Some(input)
}

/// Feeds one input as the shell would and checks what came out.
fn feed(engine: &mut Engine, model: &mut Model, now: Instant, input: Input) {
    let before = engine.clone();
    if let Err(err) = engine.handle_input(now, input.clone()) {
        assert_eq!(*engine, before, "{input:?} refused ({err}) but changed the engine");
        assert_eq!(engine.poll_command(), None, "{input:?} refused but queued a command");
        return;
    }
    match &input {
        Input::AgentLoggedIn { agent } => {
            model.logged_in.insert(agent.clone());
        }
        Input::AgentLoggedOut { agent } => {
            // The one silent change: the offer is dropped without a command.
            model.logged_in.remove(agent);
            model.offered.retain(|_, (a, _)| a != agent);
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

fn run(steps: Vec<Step>) {
    let mut now = Instant::now();
    let mut engine = Engine::new(EngineConfig::default().with_ring_timeout(RING));
    let mut model = Model::default();

    for step in steps {
        model.now = Some(now);
        if let Some(input) = input_for(&step, &mut model) {
            feed(&mut engine, &mut model, now, input);
        } else if let Step::Advance(ms) = step {
            // The shell's loop: sleep until poll_timeout, handle it, drain; repeat.
            let target = now + Duration::from_millis(ms);
            while let Some(deadline) = engine.poll_timeout().filter(|d| *d <= target) {
                now = deadline;
                model.now = Some(now);
                engine.handle_timeout(now);
                drain(&mut engine, &mut model);
            }
            now = target;
        }
        model.compare(&engine, now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_and_time_never_break_the_engines_invariants(
        steps in proptest::collection::vec(step(), 1..120)
    ) {
        run(steps);
    }
}
