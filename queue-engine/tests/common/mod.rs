//! The one harness every behaviour test shares: an [`Engine`] driven the way the signaling
//! shell drives it, with a fake clock that only moves when a test says so. No sleeps, no tokio.

#![allow(dead_code)] // each test file uses a different subset

use std::time::{Duration, Instant};

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};
use voicedesk_queue_engine::{
    AgentId, CallId, Command, Engine, EngineConfig, EngineError, Input, Party,
};

/// Shorthand for a call id.
pub(crate) fn call(id: &str) -> CallId {
    CallId::from(id)
}

/// Shorthand for an agent id.
pub(crate) fn agent(id: &str) -> AgentId {
    AgentId::from(id)
}

/// The engine plus the fake clock.
pub(crate) struct Harness {
    /// The engine under test.
    pub(crate) engine: Engine,
    /// Fake "now"; the only time the engine ever sees.
    pub(crate) now: Instant,
    /// Fake time zero, so tests can speak in seconds since start.
    pub(crate) start: Instant,
}

impl Harness {
    /// Default configuration (15 s ring timeout).
    pub(crate) fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub(crate) fn with_config(config: EngineConfig) -> Self {
        // The only clock read: an arbitrary origin for fake time, taken by the test.
        let start = Instant::now();
        Self { engine: Engine::new(config), now: start, start }
    }

    /// `secs` seconds after fake time zero.
    pub(crate) fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    /// Feeds one input at the current fake time and drains the commands it produced.
    pub(crate) fn input(&mut self, input: Input) -> Result<Vec<Command>, EngineError> {
        self.engine.handle_input(self.now, input)?;
        Ok(self.drain())
    }

    /// Feeds an input that must be accepted.
    #[track_caller]
    pub(crate) fn ok(&mut self, input: Input) -> Vec<Command> {
        let shown = format!("{input:?}");
        self.input(input).unwrap_or_else(|e| panic!("{shown} refused: {e}"))
    }

    /// Feeds an input that must be refused with `expected`, and proves it changed nothing:
    /// the whole engine equals a snapshot taken before, and no command was queued.
    #[track_caller]
    pub(crate) fn refused(&mut self, input: Input, expected: EngineError) {
        let before = self.engine.clone();
        let dump = format!("{:#?}", self.engine);
        let err = self.engine.handle_input(self.now, input).expect_err("input must be refused");
        assert_eq!(err, expected);
        assert!(!err.to_string().is_empty());
        assert_eq!(self.engine, before, "a refused input changed the engine");
        assert_eq!(format!("{:#?}", self.engine), dump);
        assert_eq!(self.engine.poll_command(), None, "a refused input queued a command");
    }

    /// Moves fake time forward by `by`, waking the engine at every deadline it asks for on the
    /// way (as the shell's `sleep_until(poll_timeout)` would), and returns all commands.
    pub(crate) fn advance(&mut self, by: Duration) -> Vec<Command> {
        let target = self.now + by;
        let mut out = Vec::new();
        while let Some(deadline) = self.engine.poll_timeout().filter(|d| *d <= target) {
            self.now = self.now.max(deadline);
            self.engine.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = target;
        out
    }

    /// Moves fake time forward by whole seconds.
    pub(crate) fn advance_secs(&mut self, secs: u64) -> Vec<Command> {
        self.advance(Duration::from_secs(secs))
    }

    /// Everything the engine queued so far.
    pub(crate) fn drain(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.engine.poll_command()).collect()
    }

    // ----- one-line inputs ------------------------------------------------------------------

    pub(crate) fn arrive(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::CallArrived { call: call(id), service: Some("pension inquiry".into()) })
    }

    pub(crate) fn login(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::AgentLoggedIn { agent: agent(id) })
    }

    pub(crate) fn available(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::AgentAvailable { agent: agent(id) })
    }

    /// Logs in and makes available.
    pub(crate) fn login_available(&mut self, id: &str) -> Vec<Command> {
        let mut out = self.login(id);
        out.extend(self.available(id));
        out
    }

    pub(crate) fn away(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::AgentAway { agent: agent(id), reason: Some("break".into()) })
    }

    pub(crate) fn logout(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::AgentLoggedOut { agent: agent(id) })
    }

    pub(crate) fn accept(&mut self, agent_id: &str, call_id: &str) -> Vec<Command> {
        self.ok(Input::Accept { agent: agent(agent_id), call: call(call_id) })
    }

    pub(crate) fn reject(&mut self, agent_id: &str, call_id: &str) -> Vec<Command> {
        self.ok(Input::Reject { agent: agent(agent_id), call: call(call_id) })
    }

    pub(crate) fn abandon(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::CallAbandoned { call: call(id) })
    }

    pub(crate) fn citizen_hangs_up(&mut self, id: &str) -> Vec<Command> {
        self.ok(Input::HangUp { call: call(id), by: Party::Citizen })
    }

    pub(crate) fn agent_hangs_up(&mut self, agent_id: &str, call_id: &str) -> Vec<Command> {
        self.ok(Input::HangUp { call: call(call_id), by: Party::Agent(agent(agent_id)) })
    }

    /// Offers, accepts and returns nothing: `call_id` is connected to `agent_id`.
    #[track_caller]
    pub(crate) fn connect(&mut self, agent_id: &str, call_id: &str) {
        assert_eq!(self.ringing_at(agent_id).as_deref(), Some(call_id));
        self.accept(agent_id, call_id);
    }

    // ----- views ----------------------------------------------------------------------------

    /// The call ringing at (or connected to) an agent.
    pub(crate) fn ringing_at(&self, agent_id: &str) -> Option<String> {
        let view = self.engine.agent(&agent(agent_id))?;
        (view.activity == AgentActivity::Ringing).then(|| view.call.unwrap().0.clone())
    }

    pub(crate) fn activity(&self, agent_id: &str) -> Option<AgentActivity> {
        self.engine.agent_activity(&agent(agent_id))
    }
}

// ----- reading command lists ------------------------------------------------------------------

/// The `(call, agent)` of every offer, in order.
pub(crate) fn offers(commands: &[Command]) -> Vec<(String, String)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Offer { call, agent, .. } => Some((call.0.clone(), agent.0.clone())),
            _ => None,
        })
        .collect()
}

/// The `(call, agent, reason)` of every withdrawn offer, in order.
pub(crate) fn withdrawals(commands: &[Command]) -> Vec<(String, String, WithdrawReason)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::WithdrawOffer { call, agent, reason } => {
                Some((call.0.clone(), agent.0.clone(), *reason))
            }
            _ => None,
        })
        .collect()
}

/// The `(call, agent, reason)` of every ended call, in order.
pub(crate) fn ends(commands: &[Command]) -> Vec<(String, Option<String>, EndReason)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::End { call, agent, reason } => {
                Some((call.0.clone(), agent.as_ref().map(|a| a.0.clone()), *reason))
            }
            _ => None,
        })
        .collect()
}

/// The `(call, position)` of every position update, in order.
pub(crate) fn positions(commands: &[Command]) -> Vec<(String, u32)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Position { call, position } => Some((call.0.clone(), *position)),
            _ => None,
        })
        .collect()
}

/// The `(agent, state, reason)` of every agent state report, in order.
pub(crate) fn agent_states(commands: &[Command]) -> Vec<(String, AgentActivity, Option<String>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::AgentState { agent, state, reason, .. } => {
                Some((agent.0.clone(), *state, reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Owned `(String, String)` pairs from string literals, for comparing with [`offers`].
pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}
