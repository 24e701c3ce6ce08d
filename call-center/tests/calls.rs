//! A citizen's call from `call` to its end: placing, offering, answering, ending — and what the
//! citizen and agent are told, in which order relative to the store.

mod common;

use std::collections::BTreeMap;

use common::{Answer, Sim, is_error};
use voicedesk_call_center::store::{StoreFailure, StoreRequest};
use voicedesk_call_center::{Effect, Input, SkillId};
use voicedesk_protocol::{AgentActivity, ClientMessage, EndReason, ErrorCode, Role, ServerMessage};
use voicedesk_queue_engine::QueueSettings;

fn is_insert(r: &StoreRequest) -> bool {
    matches!(r, StoreRequest::InsertCall(_))
}

#[test]
fn a_call_is_queued_only_after_its_record_is_committed() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| if is_insert(r) { Answer::Hold } else { Answer::Ok });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    assert!(sim.take(citizen).is_empty(), "nothing is told while the record is not committed");
    sim.release(Answer::Ok);
    let told = sim.take(citizen);
    assert!(matches!(told.first(), Some(ServerMessage::CallQueued { .. })), "{told:?}");
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_call_whose_record_fails_is_refused_and_its_leg_closed() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| {
        if is_insert(r) {
            Answer::Fail(StoreFailure::Unavailable("disk full".into()))
        } else {
            Answer::Ok
        }
    });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    let told = sim.take(citizen);
    assert_eq!(told.len(), 1);
    assert!(is_error(&told[0], "call"));
    let leg = *sim.legs_made.last().unwrap();
    assert!(sim.closed_legs.contains(&leg), "the leg made for the call is closed");
    // The connection may call again.
    sim.store_policy = Box::new(|_| Answer::Ok);
    sim.place_call(citizen, Some("pension"));
}

#[test]
fn a_calls_record_is_written_while_the_relay_makes_its_leg() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.hold_legs = true;
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    // The relay has not answered, yet the record is already committed: neither waited for
    // the other.
    assert_eq!(sim.held_legs.len(), 1);
    assert_eq!(sim.records.len(), 1, "the record is committed while the leg is being made");
    assert!(sim.take(citizen).is_empty(), "no call_queued without the SDP answer");
    sim.release_leg(true);
    let told = sim.take(citizen);
    assert!(matches!(told.first(), Some(ServerMessage::CallQueued { .. })), "{told:?}");
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_call_queued_waits_for_the_record_when_the_leg_comes_first() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.hold_legs = true;
    sim.store_policy = Box::new(|r| if is_insert(r) { Answer::Hold } else { Answer::Ok });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    assert_eq!((sim.held_legs.len(), sim.held.len()), (1, 1), "both asked for at once");
    sim.release_leg(true);
    assert!(sim.take(citizen).is_empty(), "nothing is told while the record is not committed");
    sim.release(Answer::Ok);
    let told = sim.take(citizen);
    assert!(matches!(told.first(), Some(ServerMessage::CallQueued { .. })), "{told:?}");
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_call_whose_leg_fails_after_its_record_is_closed_as_media_failed() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.hold_legs = true;
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    sim.release_leg(false);
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::MediaUnavailable, .. }]),
        "{told:?}"
    );
    let ends = sim.ends_written();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0].1, EndReason::MediaFailed);
    assert!(sim.core.engine().calls().next().is_none(), "never queued");
    // The connection may call again.
    sim.hold_legs = false;
    sim.place_call(citizen, Some("pension"));
}

#[test]
fn a_citizen_who_leaves_before_the_leg_is_made_leaves_a_closed_record_and_no_leg() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.hold_legs = true;
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: None, sdp: "offer".into() });
    sim.input(Input::Disconnected { conn: citizen });
    sim.release_leg(true);
    assert_eq!(sim.ends_written().len(), 1);
    assert_eq!(sim.ends_written()[0].1, EndReason::Abandoned);
    assert!(sim.closed_legs.contains(sim.legs_made.last().unwrap()), "the late leg is closed");
    assert!(
        !sim.effects
            .iter()
            .any(|e| matches!(e, Effect::Send { message: ServerMessage::CallQueued { .. }, .. }))
    );
}

#[test]
fn a_burst_at_free_agents_is_not_turned_away_while_their_offers_are_written() {
    let mut sim = Sim::new();
    let mut routing = common::routing();
    let full_at_two = QueueSettings::default().with_max_waiting(Some(2));
    routing.queues.insert(SkillId("general".into()), full_at_two);
    sim.input(Input::Catalogue { routing, agent_skills: BTreeMap::new() });
    let agents: Vec<_> = (0..10).map(|i| sim.ready_agent(&format!("agent{i}"))).collect();
    // The offers' records are slow: every offered call rings (untold) for a while.
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallOffered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    let citizens: Vec<_> = (0..10).map(|_| sim.citizen()).collect();
    for c in &citizens {
        sim.say(*c, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    }
    assert_eq!(sim.held.len(), 10, "ten offers being written, one per free agent");
    for c in &citizens {
        let told = sim.take(*c);
        assert!(matches!(told.first(), Some(ServerMessage::CallQueued { .. })), "{told:?}");
        assert!(!told.iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })), "{told:?}");
    }
    // With every agent ringing, two more wait for an agent and the third is turned away.
    let late: Vec<_> = (0..3).map(|_| sim.citizen()).collect();
    for c in &late {
        sim.say(*c, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    }
    let ended = |m: &ServerMessage| {
        matches!(m, ServerMessage::CallEnded { reason: EndReason::QueueFull, .. })
    };
    assert!(!sim.heard(late[0]).iter().any(ended));
    assert!(!sim.heard(late[1]).iter().any(ended));
    assert!(sim.heard(late[2]).iter().any(ended), "{:?}", sim.heard(late[2]));
    while !sim.held.is_empty() {
        sim.release(Answer::Ok);
    }
    for a in agents {
        assert!(sim.heard(a).iter().any(|m| matches!(m, ServerMessage::CallOffered { .. })));
    }
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_burst_at_a_busy_queue_stops_at_its_limit_before_anyone_is_told_call_queued() {
    let mut sim = Sim::new();
    let mut routing = common::routing();
    let full_at_two = QueueSettings::default().with_max_waiting(Some(2));
    routing.queues.insert(SkillId("general".into()), full_at_two);
    sim.input(Input::Catalogue { routing, agent_skills: BTreeMap::new() });
    sim.member("agent1", Role::Agent); // signed in, away: the queue admits, nobody is free
    sim.hold_legs = true;
    let citizens: Vec<_> = (0..3).map(|_| sim.citizen()).collect();
    for c in &citizens {
        sim.say(*c, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    }
    // The first two are being placed (their legs are slow); the third is turned away at once
    // although neither of them has reached the engine yet.
    assert_eq!(sim.held_legs.len(), 2);
    let third = sim.take(citizens[2]);
    assert!(
        matches!(&third[..], [ServerMessage::CallEnded { reason: EndReason::QueueFull, .. }]),
        "{third:?}"
    );
    while !sim.held_legs.is_empty() {
        sim.release_leg(true);
    }
    for c in &citizens[..2] {
        let told = sim.take(*c);
        assert!(matches!(told.first(), Some(ServerMessage::CallQueued { .. })), "{told:?}");
        assert!(!told.iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })), "{told:?}");
    }
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_bad_offer_is_refused_before_any_record() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: None, sdp: "bad".into() });
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::BadSdp, .. }]),
        "{told:?}"
    );
    assert!(!sim.store_log.iter().any(|(r, _)| is_insert(r)), "no record for a refused offer");
}

#[test]
fn a_bad_offer_is_bad_sdp_even_when_the_call_would_be_turned_away() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: None, sdp: "bad".into() });
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::BadSdp, .. }]),
        "{told:?}"
    );
    assert!(sim.store_log.is_empty(), "no record for a refused offer");
}

#[test]
fn a_call_nobody_can_take_is_turned_away_without_media_after_its_record() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::CallEnded { reason: EndReason::NoAgents, .. }]),
        "{told:?}"
    );
    assert!(sim.legs_made.is_empty(), "no leg for a turned-away call");
    let kinds: Vec<_> = sim.store_log.iter().map(|(r, _)| std::mem::discriminant(r)).collect();
    assert_eq!(kinds.len(), 2, "record then its end: {:?}", sim.store_log);
}

#[test]
fn a_second_call_on_one_connection_is_refused() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let citizen = sim.citizen();
    sim.place_call(citizen, None);
    sim.take(citizen);
    sim.say(citizen, ClientMessage::Call { service: None, sdp: "offer".into() });
    let told = sim.take(citizen);
    assert!(matches!(&told[..], [ServerMessage::Error { code: ErrorCode::InvalidState, .. }]));
}

#[test]
fn an_unknown_service_is_refused() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: Some("lottery".into()), sdp: "offer".into() });
    let told = sim.take(citizen);
    assert!(matches!(&told[..], [ServerMessage::Error { code: ErrorCode::UnknownService, .. }]));
}

#[test]
fn each_role_may_send_only_its_own_messages() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Accept { call_id: "x".into() });
    assert!(matches!(
        &sim.take(citizen)[..],
        [ServerMessage::Error { code: ErrorCode::Forbidden, .. }]
    ));
    sim.say(agent, ClientMessage::Call { service: None, sdp: "offer".into() });
    assert!(matches!(
        &sim.take(agent)[..],
        [ServerMessage::Error { code: ErrorCode::Forbidden, .. }]
    ));
    let staff = sim.ready_staff("staff1");
    sim.say(staff, ClientMessage::Accept { call_id: "x".into() });
    assert!(matches!(
        &sim.take(staff)[..],
        [ServerMessage::Error { code: ErrorCode::Forbidden, .. }]
    ));
}

#[test]
fn an_offer_is_told_to_the_agent_only_after_its_write() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallOffered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    let citizen = sim.citizen();
    sim.place_call(citizen, Some("pension"));
    assert!(!sim.take(agent).iter().any(|m| matches!(m, ServerMessage::CallOffered { .. })));
    sim.release(Answer::Ok);
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::CallOffered { .. })));
}

#[test]
fn offer_write_failure_tells_nobody_of_an_offer() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallOffered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, Some("pension"));
    sim.release(Answer::Fail(StoreFailure::Unavailable("timeout".into())));
    let told = sim.take(agent);
    assert!(
        !told.iter().any(|m| matches!(
            m,
            ServerMessage::CallOffered { .. } | ServerMessage::OfferWithdrawn { .. }
        )),
        "{told:?}"
    );
    // The call is offered again (the only agent), and this time the write commits.
    sim.release(Answer::Ok);
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallOffered { call_id, .. } if *call_id == call.0))
    );
}

#[test]
fn accept_connects_after_the_answer_is_committed_and_bridges_both() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let agent_leg = *sim.legs_made.last().unwrap();
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, Some("pension"));
    let citizen_leg = sim.citizen_leg();
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallAnswered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    sim.accept(agent, &call);
    assert!(!sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })));
    assert!(sim.hears(citizen_leg).is_empty(), "no audio before the answer is recorded");
    sim.release(Answer::Ok);
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })));
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })));
    assert_eq!(sim.hears(citizen_leg), vec![agent_leg]);
    assert_eq!(sim.hears(agent_leg), vec![citizen_leg]);
}

#[test]
fn answer_write_failure_ends_the_call_and_nobody_hears_it_was_answered() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, Some("pension"));
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallAnswered { .. }) {
            Answer::Fail(StoreFailure::Unavailable("gone".into()))
        } else {
            Answer::Ok
        }
    });
    sim.accept(agent, &call);
    let told = sim.take(citizen);
    assert!(!told.iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })), "{told:?}");
    assert!(
        told.iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::MediaFailed, .. }))
    );
    assert_eq!(sim.ends_written(), vec![(call, EndReason::MediaFailed)]);
}

#[test]
fn citizen_hang_up_ends_the_call_once_and_sends_the_agent_to_after_call_work() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.say(citizen, ClientMessage::HangUp { call_id: call.0.clone() });
    let to_agent = sim.take(agent);
    assert!(
        to_agent.iter().any(|m| matches!(
            m,
            ServerMessage::CallEnded { reason: EndReason::CitizenHangUp, .. }
        ))
    );
    assert!(to_agent.iter().any(|m| matches!(
        m,
        ServerMessage::AgentState { state: AgentActivity::AfterCallWork, .. }
    )));
    assert_eq!(sim.ends_written(), vec![(call.clone(), EndReason::CitizenHangUp)]);
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })));
    sim.say(citizen, ClientMessage::HangUp { call_id: call.0 });
    assert!(matches!(
        &sim.take(citizen)[..],
        [ServerMessage::Error { code: ErrorCode::UnknownCall, .. }]
    ));
    assert_eq!(sim.ends_written().len(), 1, "ended once");
}

#[test]
fn after_call_work_ends_by_itself_on_fake_time() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (_, call) = sim.connected_call(agent);
    sim.say(agent, ClientMessage::HangUp { call_id: call.0 });
    sim.take(agent);
    sim.secs(29);
    assert!(
        !sim.take(agent).iter().any(|m| matches!(
            m,
            ServerMessage::AgentState { state: AgentActivity::Available, .. }
        ))
    );
    sim.secs(1);
    assert!(
        sim.take(agent).iter().any(|m| matches!(
            m,
            ServerMessage::AgentState { state: AgentActivity::Available, .. }
        ))
    );
}

#[test]
fn an_unanswered_offer_moves_on_after_the_ring_timeout() {
    let mut sim = Sim::new();
    let first = sim.ready_agent("agent1");
    let second = sim.ready_agent("agent2");
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, Some("pension"));
    let rang_first = sim.take(first).iter().any(|m| matches!(m, ServerMessage::CallOffered { .. }));
    let (ringing, other) = if rang_first { (first, second) } else { (second, first) };
    sim.secs(15);
    let withdrawn = sim.take(ringing);
    assert!(
        withdrawn.iter().any(
            |m| matches!(m, ServerMessage::OfferWithdrawn { call_id, .. } if *call_id == call.0)
        )
    );
    assert!(
        sim.take(other)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallOffered { call_id, .. } if *call_id == call.0))
    );
}

#[test]
fn a_burst_of_calls_does_not_wait_for_each_others_records() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| if is_insert(r) { Answer::Hold } else { Answer::Ok });
    let citizens: Vec<_> = (0..100).map(|_| sim.citizen()).collect();
    for c in &citizens {
        sim.say(*c, ClientMessage::Call { service: Some("pension".into()), sdp: "offer".into() });
    }
    assert_eq!(sim.held.len(), 100, "every record is being written at the same time");
    while !sim.held.is_empty() {
        sim.release(Answer::Ok);
    }
    for c in citizens {
        assert!(sim.heard(c).iter().any(|m| matches!(m, ServerMessage::CallQueued { .. })));
    }
}

#[test]
fn a_citizen_who_leaves_while_the_call_is_placed_leaves_a_closed_record() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    sim.store_policy = Box::new(|r| if is_insert(r) { Answer::Hold } else { Answer::Ok });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Call { service: None, sdp: "offer".into() });
    sim.input(Input::Disconnected { conn: citizen });
    sim.release(Answer::Ok);
    assert_eq!(sim.ends_written().len(), 1);
    assert_eq!(sim.ends_written()[0].1, EndReason::Abandoned);
    assert!(sim.closed_legs.contains(sim.legs_made.last().unwrap()));
    assert!(
        !sim.effects
            .iter()
            .any(|e| matches!(e, Effect::Send { message: ServerMessage::CallQueued { .. }, .. }))
    );
}

#[test]
fn the_queue_position_is_pushed_to_waiting_citizens() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let first = sim.citizen();
    sim.place_call(first, None);
    let second = sim.citizen();
    sim.place_call(second, None);
    let told = sim.take(second);
    assert!(
        told.iter().any(|m| matches!(m, ServerMessage::QueuePosition { position: 2, .. })),
        "{told:?}"
    );
    let _ = agent;
}

#[test]
fn a_citizen_is_told_at_most_one_position_per_tick_and_the_latest() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let citizens: Vec<_> = (0..4).map(|_| sim.citizen()).collect();
    let calls: Vec<_> = citizens.iter().map(|c| sim.place_call(*c, None)).collect();
    let positions = |sim: &Sim, conn| -> Vec<u32> {
        sim.heard(conn)
            .iter()
            .filter_map(|m| match m {
                ServerMessage::QueuePosition { position, .. } => Some(*position),
                _ => None,
            })
            .collect()
    };
    assert_eq!(positions(&sim, citizens[3]), [4]);
    // Two citizens ahead leave within the same second: the last one moves up twice, but is
    // told nothing more until the tick.
    for i in 0..2 {
        let call_id = calls[i].0.clone();
        sim.say(citizens[i], ClientMessage::HangUp { call_id });
    }
    assert_eq!(positions(&sim, citizens[3]), [4], "held back within the tick");
    sim.secs(1);
    assert_eq!(positions(&sim, citizens[3]), [4, 2], "the latest position, once");
    sim.secs(1);
    assert_eq!(positions(&sim, citizens[3]), [4, 2], "nothing new, nothing sent");
    // A move after a quiet second is told at once.
    let call_id = calls[2].0.clone();
    sim.say(citizens[2], ClientMessage::HangUp { call_id });
    assert_eq!(positions(&sim, citizens[3]), [4, 2, 1]);
}

#[test]
fn shutdown_ends_every_call_as_server_shutdown_and_tells_both_sides() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.input(Input::Shutdown);
    assert_eq!(sim.ends_written(), vec![(call, EndReason::ServerShutdown)]);
    assert!(
        sim.take(citizen).iter().any(|m| matches!(
            m,
            ServerMessage::CallEnded { reason: EndReason::ServerShutdown, .. }
        ))
    );
    assert!(
        sim.take(agent).iter().any(|m| matches!(
            m,
            ServerMessage::CallEnded { reason: EndReason::ServerShutdown, .. }
        ))
    );
    assert_eq!(sim.core.poll_timeout(), None);
}

fn closed(sim: &Sim, conn: voicedesk_call_center::ConnId) -> bool {
    sim.effects.iter().any(|e| matches!(e, Effect::Close { conn: c } if *c == conn))
}

#[test]
fn an_agent_signed_out_when_free_finishes_the_call_hears_its_end_then_is_signed_out() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.take(agent);
    sim.input(Input::SignOutWhenFree { user_id: "agent1".into() });
    assert!(!closed(&sim, agent), "the call goes on");
    assert!(sim.take(agent).is_empty());

    // The end's write is held: the agent hears nothing yet, and is not signed out yet.
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallEnded { .. }) { Answer::Hold } else { Answer::Ok }
    });
    sim.say(citizen, ClientMessage::HangUp { call_id: call.0.clone() });
    assert!(!closed(&sim, agent));
    sim.release(Answer::Ok);
    let to_agent = sim.take(agent);
    let ended = to_agent.iter().position(|m| {
        matches!(m, ServerMessage::CallEnded { reason: EndReason::CitizenHangUp, .. })
    });
    let expired = to_agent
        .iter()
        .position(|m| matches!(m, ServerMessage::Error { code: ErrorCode::SessionExpired, .. }));
    assert!(
        matches!((ended, expired), (Some(e), Some(x)) if e < x),
        "call_ended, then signed out: {to_agent:?}"
    );
    assert!(closed(&sim, agent));
    assert_eq!(sim.ends_written(), vec![(call, EndReason::CitizenHangUp)], "not cut short");
    assert!(sim.core.signed_in_agents().is_empty());
}

#[test]
fn a_free_agent_signed_out_when_free_is_signed_out_at_once() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    sim.input(Input::SignOutWhenFree { user_id: "agent1".into() });
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::Error { code: ErrorCode::SessionExpired, .. }))
    );
    assert!(closed(&sim, agent));
    assert!(sim.core.signed_in_agents().is_empty());
}
