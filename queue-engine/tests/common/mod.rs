//! The one harness every behaviour test shares: an [`Engine`] driven the way the signaling
//! shell drives it, with a fake clock that only moves when a test says so. No sleeps, no tokio.

#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use voicedesk_protocol::{AgentActivity, EndReason, WithdrawReason};
use voicedesk_queue_engine::{
    AgentId, Calendar, CallId, CivilDate, ClockAnchor, Command, Engine, EngineConfig, EngineError,
    Input, Party, QueueSettings, RoutingProfile, SkillId,
};

/// The skill every one-line helper uses: one queue, always open, no limits.
pub(crate) const GENERAL: &str = "general";

/// China Standard Time.
pub(crate) const CST: i32 = 480;

/// Shorthand for a call id.
pub(crate) fn call(id: &str) -> CallId {
    CallId::from(id)
}

/// Shorthand for an agent id.
pub(crate) fn agent(id: &str) -> AgentId {
    AgentId::from(id)
}

/// Shorthand for a skill id.
pub(crate) fn skill(id: &str) -> SkillId {
    SkillId::from(id)
}

/// Skill levels from `(skill, level)` pairs.
pub(crate) fn skills(list: &[(&str, u8)]) -> BTreeMap<SkillId, u8> {
    list.iter().map(|(s, l)| (skill(s), *l)).collect()
}

/// Unix milliseconds of a local (CST) time.
pub(crate) fn cst_ms(date: &str, hour: u8, minute: u8) -> i64 {
    date.parse::<CivilDate>().unwrap().unix_ms_at(hour, minute, CST)
}

/// The configuration the single-queue tests were written for: no after-call work, away after
/// one missed offer. Tests of those rules use [`EngineConfig::default`] explicitly.
pub(crate) fn classic() -> EngineConfig {
    EngineConfig::default().with_after_call_work(Duration::ZERO).with_max_missed_offers(1)
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
    /// The [`classic`] configuration (15 s ring timeout, no after-call work, away after one
    /// missed offer) and the one [`GENERAL`] queue.
    pub(crate) fn new() -> Self {
        Self::with_config(classic())
    }

    /// Fake time starts on Monday 2026-11-30 10:00 CST; the calendar is CST without holidays;
    /// the [`GENERAL`] queue is configured (always open, no limits).
    pub(crate) fn with_config(config: EngineConfig) -> Self {
        // The only clock read: an arbitrary origin for fake time, taken by the test.
        let start = Instant::now();
        let anchor = ClockAnchor { instant: start, unix_ms: cst_ms("2026-11-30", 10, 0) };
        let mut h = Self { engine: Engine::new(config, anchor), now: start, start };
        h.ok(Input::SetCalendar {
            calendar: Calendar { utc_offset_minutes: CST, ..Calendar::default() },
        });
        h.configure(GENERAL, QueueSettings::default());
        h
    }

    /// Creates or updates a queue.
    pub(crate) fn configure(&mut self, id: &str, settings: QueueSettings) -> Vec<Command> {
        self.ok(Input::ConfigureQueue { skill: skill(id), settings })
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

    /// A call for [`GENERAL`] at priority 0.
    pub(crate) fn arrive(&mut self, id: &str) -> Vec<Command> {
        self.arrive_in(id, GENERAL, 0)
    }

    pub(crate) fn arrive_in(&mut self, id: &str, skill_id: &str, priority: u8) -> Vec<Command> {
        self.ok(Input::CallArrived {
            call: call(id),
            skill: skill(skill_id),
            priority,
            service: Some("pension inquiry".into()),
        })
    }

    /// A chat for [`GENERAL`] at priority 0.
    pub(crate) fn chat(&mut self, id: &str) -> Vec<Command> {
        self.chat_in(id, GENERAL, 0)
    }

    pub(crate) fn chat_in(&mut self, id: &str, skill_id: &str, priority: u8) -> Vec<Command> {
        self.ok(Input::ChatArrived {
            chat: call(id),
            skill: skill(skill_id),
            priority,
            service: Some("pension inquiry".into()),
        })
    }

    /// Sets an agent's routing profile.
    pub(crate) fn profile(
        &mut self,
        id: &str,
        chat_capacity: u8,
        calls_with_chats: bool,
    ) -> Vec<Command> {
        let profile = RoutingProfile { chat_capacity, calls_with_chats };
        self.ok(Input::SetRoutingProfile { agent: agent(id), profile })
    }

    /// The chats connected to an agent, by id.
    pub(crate) fn chats_of(&self, agent_id: &str) -> Vec<String> {
        let view = self.engine.agent(&agent(agent_id)).expect("logged in");
        view.chats.iter().map(|c| c.0.clone()).collect()
    }

    /// Logs in with [`GENERAL`] at level 5.
    pub(crate) fn login(&mut self, id: &str) -> Vec<Command> {
        self.login_with(id, &[(GENERAL, 5)])
    }

    pub(crate) fn login_with(&mut self, id: &str, levels: &[(&str, u8)]) -> Vec<Command> {
        self.ok(Input::AgentLoggedIn { agent: agent(id), skills: skills(levels) })
    }

    /// Logs in with these skills and makes available.
    pub(crate) fn login_available_with(&mut self, id: &str, levels: &[(&str, u8)]) -> Vec<Command> {
        let mut out = self.login_with(id, levels);
        out.extend(self.available(id));
        out
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
            Command::Position { call, position, .. } => Some((call.0.clone(), *position)),
            _ => None,
        })
        .collect()
}

/// The `(call, position, estimated wait in seconds)` of every position update, in order.
pub(crate) fn estimates(commands: &[Command]) -> Vec<(String, u32, Option<u64>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Position { call, position, estimated_wait } => {
                Some((call.0.clone(), *position, estimated_wait.map(|d| d.as_secs())))
            }
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
