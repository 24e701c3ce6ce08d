//! The call-center core fed arbitrary days: the same small hall as the property tests (four
//! citizens, two agents, two staff, the fake store and relay of the scenario harness, which this
//! target includes from `call-center/tests/common`), with acts (chats among them), store and
//! relay failures and the passing of time drawn from the fuzzer's bytes. After every act: no
//! promise broken, staff audio never feeds a citizen in monitor or whisper. At the end of the
//! day: every call and every recorded chat ended exactly once, nobody told of an uncommitted
//! record, no invariant violation; and a second run of the same day gives the same effects,
//! byte for byte. A panic anywhere is a finding.
#![no_main]

#[path = "../../call-center/tests/common/mod.rs"]
mod common;

use arbitrary::{Result, Unstructured};
use common::world::{Act, World, broken_promises};
use libfuzzer_sys::fuzz_target;
use voicedesk_protocol::SupportMode;

/// One act, over the same ranges as the property tests' strategy.
fn act(u: &mut Unstructured) -> Result<Act> {
    let citizen = |u: &mut Unstructured| u.choose_index(4);
    let agent_or_staff = |u: &mut Unstructured| u.choose_index(2);
    let mode = |u: &mut Unstructured| -> Result<SupportMode> {
        Ok(*u.choose(&[
            SupportMode::Monitor,
            SupportMode::Whisper,
            SupportMode::Barge,
            SupportMode::TakeOver,
        ])?)
    };
    Ok(match u.int_in_range(0u8..=29)? {
        0 => Act::Call(citizen(u)?, u.arbitrary()?),
        1 => Act::HangUp(citizen(u)?),
        2 => Act::Drop(citizen(u)?),
        3 => Act::ComeBack(citizen(u)?),
        4 => Act::Ask(citizen(u)?),
        5 => Act::Message(citizen(u)?),
        6 => Act::Voice(citizen(u)?, u.arbitrary()?),
        7 => Act::FinishVoice(citizen(u)?),
        8 => Act::Accept(agent_or_staff(u)?),
        9 => Act::Reject(agent_or_staff(u)?),
        10 => Act::AgentHangUp(agent_or_staff(u)?),
        11 => Act::Available(agent_or_staff(u)?),
        12 => Act::Away(agent_or_staff(u)?),
        13 => Act::AgentDrop(agent_or_staff(u)?),
        14 => Act::AgentBack(agent_or_staff(u)?),
        15 => Act::Join(agent_or_staff(u)?, mode(u)?),
        16 => Act::SetMode(agent_or_staff(u)?, mode(u)?),
        17 => Act::Leave(agent_or_staff(u)?),
        18 => Act::StaffDrop(agent_or_staff(u)?),
        19 => Act::LegLost(u.choose_index(64)?, u.arbitrary()?),
        20 => Act::RelayFails,
        21 => Act::Release(u.arbitrary()?),
        22 => Act::StoreMode(u.int_in_range(0..=3)?),
        23 => Act::Chat(citizen(u)?, u.arbitrary()?),
        24 => Act::CitizenText(citizen(u)?),
        25 => Act::AgentText(agent_or_staff(u)?),
        26 => Act::EndChat(citizen(u)?),
        27 => Act::RejoinChat(citizen(u)?),
        28 => Act::ChatRead(citizen(u)?),
        _ => Act::Wait(u.int_in_range(0..=74)?),
    })
}

/// One day; returns its effects, printed.
fn run(acts: &[Act]) -> String {
    let mut world = World::new();
    for a in acts {
        world.apply(a);
        assert!(world.sim.broken.is_empty(), "after {a:?}: {:?}", world.sim.broken);
        if let Err(e) = world.sim.staff_never_feeds_citizen_unless_allowed() {
            panic!("after {a:?}: {e}");
        }
    }
    world.close();
    let broken = broken_promises(&world.sim);
    assert!(broken.is_empty(), "{broken:?}");
    format!("{:?}", world.sim.effects)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut acts = Vec::new();
    while !u.is_empty() && acts.len() < 300 {
        let Ok(a) = act(&mut u) else { break };
        acts.push(a);
    }
    assert_eq!(run(&acts), run(&acts), "two runs of the same day differ");
});
