//! Property tests over random days, including store and relay failures: every call ends
//! exactly once, nobody is told of a record that was not committed, staff audio never feeds a
//! citizen in monitor or whisper, no invariant is broken, the core never panics, and a replay
//! of the input log gives the same effects byte for byte.

mod common;

use std::time::Instant;

use common::world::{World, a_day, act, broken_promises};
use common::{START, Step};
use proptest::prelude::*;
use voicedesk_call_center::{CallCenter, CoreConfig};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_days_keep_every_promise(acts in prop::collection::vec(act(), 1..120)) {
        let mut world = World::new();
        for a in &acts {
            world.apply(a);
            prop_assert!(world.sim.broken.is_empty(), "after {:?}: {:?}", a, world.sim.broken);
            if let Err(e) = world.sim.staff_never_feeds_citizen_unless_allowed() {
                prop_assert!(false, "after {:?}: {}", a, e);
            }
        }
        world.close();
        let broken = broken_promises(&world.sim);
        prop_assert!(broken.is_empty(), "{:?}", broken);
    }

    #[test]
    fn random_scripted_days_keep_every_promise(seed in any::<u64>()) {
        let mut world = World::new();
        for a in a_day(seed) {
            world.apply(&a);
            if let Err(e) = world.sim.staff_never_feeds_citizen_unless_allowed() {
                prop_assert!(false, "after {:?}: {}", a, e);
            }
        }
        world.close();
        let broken = broken_promises(&world.sim);
        prop_assert!(broken.is_empty(), "{:?}", broken);
    }

    #[test]
    fn a_replayed_input_log_gives_byte_identical_effects(acts in prop::collection::vec(act(), 1..80)) {
        let mut world = World::new();
        for a in &acts {
            world.apply(a);
        }
        world.close();
        let replayed = replay(&world.sim.log);
        prop_assert_eq!(format!("{:?}", world.sim.effects), replayed);
    }
}

/// Feeds a log into a fresh core (another engine epoch, as on another machine) and returns
/// its effects, printed.
fn replay(log: &[Step]) -> String {
    let config = CoreConfig::new(common::engine_config(), 0x5eed);
    let mut core =
        CallCenter::new(config, START, Instant::now() + std::time::Duration::from_secs(3600));
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
