//! The same input log replayed gives byte-identical effects — what the cluster's standbys rely
//! on when they replay the leader's log into their own core.

mod common;

use std::time::{Duration, Instant};

use common::world::{World, a_day};
use common::{START, Step};
use voicedesk_call_center::{CallCenter, CoreConfig};

fn replay(log: &[Step], epoch: Instant) -> String {
    let mut core = CallCenter::new(CoreConfig::new(common::engine_config(), 0x5eed), START, epoch);
    let mut effects = Vec::new();
    for step in log {
        match step {
            Step::Input(now, input) => core.handle(*now, input.clone()),
            Step::Timeout(now) => core.handle_timeout(*now),
        }
        while let Some(e) = core.poll_effect() {
            effects.push(e);
        }
    }
    format!("{effects:?}")
}

#[test]
fn the_same_input_log_replayed_twice_gives_byte_identical_effects() {
    let mut world = World::new();
    for act in a_day(0x2545_f491_4f6c_dd1d) {
        world.apply(&act);
    }
    world.close();
    let original = format!("{:?}", world.sim.effects);
    assert!(world.sim.effects.len() > 1000, "a busy day: {} effects", world.sim.effects.len());
    let count = |f: &dyn Fn(&voicedesk_protocol::ServerMessage) -> bool| {
        world
            .sim
            .effects
            .iter()
            .filter(
                |e| matches!(e, voicedesk_call_center::Effect::Send { message, .. } if f(message)),
            )
            .count()
    };
    use voicedesk_protocol::ServerMessage as M;
    let connected = count(&|m| matches!(m, M::CallConnected { .. }));
    let supported =
        count(&|m| matches!(m, M::SupportChanged { supporters, .. } if !supporters.is_empty()));
    let lost = count(&|m| matches!(m, M::PeerReconnecting { .. }));
    eprintln!(
        "connected {connected}, support changes {supported}, peers lost {lost}, ends {}",
        world.sim.ends_written().len()
    );
    assert!(connected > 10 && supported > 5 && lost > 2, "the day covers calls, staff and losses");
    let first = replay(&world.sim.log, Instant::now());
    let second = replay(&world.sim.log, Instant::now() + Duration::from_secs(86_400));
    assert_eq!(first, original, "a replay on another engine epoch decides the same");
    assert_eq!(second, original);
}

#[test]
fn two_days_from_the_same_inputs_are_the_same_day() {
    let run = || {
        let mut world = World::new();
        for act in a_day(0x2545_f491_4f6c_dd1d) {
            world.apply(&act);
        }
        world.close();
        format!("{:?}", world.sim.effects)
    };
    assert_eq!(run(), run());
}

#[test]
fn the_input_log_written_as_json_and_read_back_replays_to_byte_identical_effects() {
    use voicedesk_call_center::{Input, UnixMs};
    let mut world = World::new();
    for act in a_day(0x2545_f491_4f6c_dd1d) {
        world.apply(&act);
    }
    world.close();
    let original = format!("{:?}", world.sim.effects);
    // One JSON record per step, as a replicated log would carry it: the time, and the input
    // (none for a timeout).
    let lines: Vec<String> = world
        .sim
        .log
        .iter()
        .map(|step| match step {
            Step::Input(now, input) => serde_json::to_string(&(now, Some(input))),
            Step::Timeout(now) => serde_json::to_string(&(now, None::<&Input>)),
        })
        .collect::<Result<_, _>>()
        .expect("every input serialises");
    let log: Vec<Step> = lines
        .iter()
        .map(|line| {
            let (now, input): (UnixMs, Option<Input>) =
                serde_json::from_str(line).expect("every record reads back");
            match input {
                Some(input) => Step::Input(now, input),
                None => Step::Timeout(now),
            }
        })
        .collect();
    assert_eq!(log, world.sim.log, "the log survives JSON unchanged");
    assert_eq!(replay(&log, Instant::now()), original);
}

/// A replica of the core: fed steps one by one, its effects drained and dropped.
struct Replica(CallCenter);

impl Replica {
    fn new(epoch: Instant) -> Self {
        Self(CallCenter::new(CoreConfig::new(common::engine_config(), 0x5eed), START, epoch))
    }

    fn apply(&mut self, step: &Step) {
        match step {
            Step::Input(now, input) => self.0.handle(*now, input.clone()),
            Step::Timeout(now) => self.0.handle_timeout(*now),
        }
        while self.0.poll_effect().is_some() {}
    }
}

/// What a standby relies on: after the same log, its core's state equals the leader's, at
/// every point of a busy day (compared every 97 steps), from another engine epoch; one step
/// less shows in the digest.
#[test]
fn a_standby_replaying_the_leaders_log_has_the_leaders_state() {
    let mut world = World::new();
    for act in a_day(0x2545_f491_4f6c_dd1d) {
        world.apply(&act);
    }
    world.close();
    let log = &world.sim.log;
    let mut leader = Replica::new(Instant::now());
    let mut standby = Replica::new(Instant::now() + Duration::from_secs(3 * 86_400));
    let mut compared = 0;
    for (i, step) in log.iter().enumerate() {
        leader.apply(step);
        standby.apply(step);
        if i % 97 == 0 || i + 1 == log.len() {
            assert_eq!(leader.0.state_digest(), standby.0.state_digest(), "after {} steps", i + 1);
            compared += 1;
        }
    }
    assert!(compared > 10, "compared at {compared} points");
    let mut short = Replica::new(Instant::now());
    for step in &log[..log.len() - 1] {
        short.apply(step);
    }
    let full = leader.0.state_digest();
    assert_ne!(full, short.0.state_digest(), "the digest sees the last step");
    assert!(full.contains("engine agent"), "the digest covers the engine: {full}");
}
