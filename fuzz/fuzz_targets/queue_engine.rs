//! The queueing engine fed arbitrary input sequences with time moving forward: no panic (the
//! engine asserts its invariants after every step in builds with debug assertions, which
//! `cargo fuzz` uses), refused inputs change nothing visible, and two identical runs give
//! identical commands.
#![no_main]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use voicedesk_queue_engine::{
    AgentId, CallId, ClockAnchor, Engine, EngineConfig, Input, Party, QueueSettings,
    RoutingProfile, SkillId, WeeklyHours,
};

/// One step, over small id spaces so that inputs meet the same calls and agents.
#[derive(Debug, Arbitrary)]
enum Step {
    Arrive { call: u8, skill: u8, priority: u8, service: bool },
    Abandon { call: u8 },
    Disconnect { call: u8 },
    Reconnect { call: u8 },
    Configure { skill: u8, max_waiting: Option<u8>, max_wait_s: Option<u8>, closed: bool },
    LogIn { agent: u8, skills: Vec<(u8, u8)> },
    SetSkills { agent: u8, skills: Vec<(u8, u8)> },
    LogOut { agent: u8 },
    Available { agent: u8 },
    Away { agent: u8, reason: u8 },
    Accept { agent: u8, call: u8 },
    Reject { agent: u8, call: u8 },
    HangUp { call: u8, agent: Option<u8> },
    MediaFailed { call: u8 },
    TakenOver { call: u8 },
    Transfer { agent: u8, call: u8, skill: u8, priority: Option<u8> },
    Wait { ms: u16 },
    /// A chat (issue 16): the same id space as calls.
    ArriveChat { call: u8, skill: u8, priority: u8 },
    /// A routing profile; capacities above the maximum (10) are refused.
    Profile { agent: u8, capacity: u8, calls_with_chats: bool },
}

fn call(n: u8) -> CallId {
    CallId(format!("call-{}", n % 8))
}
fn agent(n: u8) -> AgentId {
    AgentId(format!("agent-{}", n % 4))
}
fn skill(n: u8) -> SkillId {
    SkillId(format!("skill-{}", n % 3))
}
fn skills(pairs: &[(u8, u8)]) -> BTreeMap<SkillId, u8> {
    pairs.iter().take(4).map(|&(s, level)| (skill(s), level % 12)).collect()
}

fn input(step: &Step) -> Option<Input> {
    Some(match *step {
        Step::Arrive { call: c, skill: s, priority, service } => Input::CallArrived {
            call: call(c),
            skill: skill(s),
            priority,
            service: service.then(|| "pension_claim".to_owned()),
        },
        Step::Abandon { call: c } => Input::CallAbandoned { call: call(c) },
        Step::Disconnect { call: c } => Input::CitizenDisconnected { call: call(c) },
        Step::Reconnect { call: c } => Input::CitizenReconnected { call: call(c) },
        Step::Configure { skill: s, max_waiting, max_wait_s, closed } => {
            let mut settings = QueueSettings::default()
                .with_max_waiting(max_waiting.map(u32::from))
                .with_max_wait(max_wait_s.map(|s| Duration::from_secs(u64::from(s))));
            if closed {
                settings.hours = WeeklyHours::never();
            }
            Input::ConfigureQueue { skill: skill(s), settings }
        }
        Step::LogIn { agent: a, skills: ref s } => {
            Input::AgentLoggedIn { agent: agent(a), skills: skills(s) }
        }
        Step::SetSkills { agent: a, skills: ref s } => {
            Input::SetAgentSkills { agent: agent(a), skills: skills(s) }
        }
        Step::LogOut { agent: a } => Input::AgentLoggedOut { agent: agent(a) },
        Step::Available { agent: a } => Input::AgentAvailable { agent: agent(a) },
        Step::Away { agent: a, reason } => Input::AgentAway {
            agent: agent(a),
            reason: match reason % 3 {
                0 => None,
                1 => Some("lunch".to_owned()),
                _ => Some("not a reason".to_owned()),
            },
        },
        Step::Accept { agent: a, call: c } => Input::Accept { agent: agent(a), call: call(c) },
        Step::Reject { agent: a, call: c } => Input::Reject { agent: agent(a), call: call(c) },
        Step::HangUp { call: c, agent: a } => Input::HangUp {
            call: call(c),
            by: a.map_or(Party::Citizen, |a| Party::Agent(agent(a))),
        },
        Step::MediaFailed { call: c } => Input::MediaFailed { call: call(c) },
        Step::TakenOver { call: c } => Input::TakenOver { call: call(c) },
        Step::Transfer { agent: a, call: c, skill: s, priority } => Input::Transfer {
            agent: agent(a),
            call: call(c),
            to_skill: skill(s),
            priority,
        },
        Step::ArriveChat { call: c, skill: s, priority } => Input::ChatArrived {
            chat: call(c),
            skill: skill(s),
            priority,
            service: None,
        },
        Step::Profile { agent: a, capacity, calls_with_chats } => Input::SetRoutingProfile {
            agent: agent(a),
            profile: RoutingProfile { chat_capacity: capacity % 12, calls_with_chats },
        },
        Step::Wait { .. } => return None,
    })
}

/// One run from `start`; returns every command and every refusal, in order.
fn run(start: Instant, steps: &[Step]) -> Vec<String> {
    let anchor = ClockAnchor { instant: start, unix_ms: 1_796_000_000_000 };
    let mut engine = Engine::new(EngineConfig::default(), anchor);
    let mut now = start;
    let mut effects = Vec::new();
    let drain = |engine: &mut Engine, effects: &mut Vec<String>| {
        while let Some(command) = engine.poll_command() {
            effects.push(format!("{command:?}"));
        }
    };
    for step in steps {
        match input(step) {
            Some(input) => {
                if let Err(e) = engine.handle_input(now, input) {
                    // A refused input emits nothing.
                    let before = effects.len();
                    drain(&mut engine, &mut effects);
                    assert_eq!(effects.len(), before, "a refused input emitted commands: {e}");
                    effects.push(format!("refused: {e}"));
                }
            }
            None => {
                if let Step::Wait { ms } = step {
                    now += Duration::from_millis(u64::from(*ms) * 50);
                    if engine.poll_timeout().is_some_and(|t| t <= now) {
                        engine.handle_timeout(now);
                    }
                }
            }
        }
        drain(&mut engine, &mut effects);
    }
    effects
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary(&mut u) else { return };
    if steps.len() > 200 {
        return;
    }
    let start = Instant::now();
    let first = run(start, &steps);
    let second = run(start, &steps);
    assert_eq!(first, second, "two identical runs gave different effects");
});
