//! Lost connections and coming back: parking, the grace of answered calls, new legs.

mod common;

use common::Sim;
use voicedesk_call_center::{Input, LegEnd};
use voicedesk_protocol::{AgentActivity, ClientMessage, EndReason, Role, ServerMessage, UserInfo};

#[test]
fn a_waiting_citizen_whose_connection_drops_is_parked_and_rejoins_in_place() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None); // rings at the agent
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    sim.input(Input::Disconnected { conn: citizen });
    let back = sim.citizen();
    sim.input(Input::Resumed {
        conn: back,
        citizen_id: format!("citizen-{}", citizen.0),
        citizen_token: "tok".into(),
    });
    let told = sim.take(back);
    assert!(
        matches!(&told[..], [ServerMessage::Resumed { parked_call: Some(p), .. }] if p.call_id == call.0 && p.position == 2),
        "{told:?}"
    );
    sim.say(back, ClientMessage::RejoinCall { call_id: call.0.clone(), sdp: "offer".into() });
    let told = sim.take(back);
    assert!(
        matches!(told.first(), Some(ServerMessage::CallQueued { call_id, .. }) if *call_id == call.0),
        "{told:?}"
    );
    assert!(told.iter().any(|m| matches!(m, ServerMessage::QueuePosition { position: 2, .. })));
}

#[test]
fn a_parked_call_ends_abandoned_when_the_grace_is_over() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    sim.input(Input::Disconnected { conn: citizen });
    sim.secs(59);
    assert!(sim.ends_written().is_empty());
    sim.secs(1);
    assert_eq!(sim.ends_written(), vec![(call, EndReason::Abandoned)]);
}

#[test]
fn citizen_lost_during_call_is_waited_for_then_call_ends_citizen_lost() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.input(Input::Disconnected { conn: citizen });
    let told = sim.take(agent);
    assert!(
        told.iter()
            .any(|m| matches!(m, ServerMessage::PeerReconnecting { peer: Role::Citizen, .. })),
        "{told:?}"
    );
    sim.secs(59);
    assert!(sim.ends_written().is_empty(), "waited for");
    sim.secs(1);
    assert_eq!(sim.ends_written(), vec![(call, EndReason::CitizenLost)]);
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::CitizenLost, .. }))
    );
}

#[test]
fn a_citizen_back_with_a_new_leg_is_heard_again_and_the_agent_told() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let agent_leg = *sim.legs_made.last().unwrap();
    let (citizen, call) = sim.connected_call(agent);
    sim.input(Input::Disconnected { conn: citizen });
    assert!(sim.hears(agent_leg).is_empty(), "the agent's slot that heard the citizen is silent");
    let back = sim.citizen();
    sim.input(Input::Resumed {
        conn: back,
        citizen_id: format!("citizen-{}", citizen.0),
        citizen_token: "t".into(),
    });
    assert!(matches!(&sim.take(back)[..], [ServerMessage::Resumed { active_call: Some(_), .. }]));
    sim.say(back, ClientMessage::RejoinCall { call_id: call.0.clone(), sdp: "offer".into() });
    assert!(matches!(sim.take(back).first(), Some(ServerMessage::CallRejoined { .. })));
    let new_leg = sim.citizen_leg();
    sim.input(Input::LegConnected { leg: new_leg });
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::PeerReconnected { peer: Role::Citizen, .. }))
    );
    assert_eq!(sim.hears(agent_leg), vec![new_leg]);
    sim.secs(120);
    assert!(sim.ends_written().is_empty(), "the grace timer was stopped");
}

#[test]
fn agent_lost_during_call_is_waited_for_then_call_ends_agent_lost() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.input(Input::Disconnected { conn: agent });
    let told = sim.take(citizen);
    assert!(
        told.iter().any(|m| matches!(m, ServerMessage::PeerReconnecting { peer: Role::Agent, .. })),
        "{told:?}"
    );
    sim.secs(60);
    assert_eq!(sim.ends_written(), vec![(call, EndReason::AgentLost)]);
    assert!(
        sim.take(citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::AgentLost, .. }))
    );
    assert!(
        sim.core.engine().agent(&voicedesk_call_center::AgentId("agent1".into())).is_none(),
        "signed out: the console never came back"
    );
}

#[test]
fn an_agent_console_back_during_a_call_gets_the_call_and_its_new_headset_carries_it() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    let citizen_leg = sim.citizen_leg();
    sim.input(Input::Disconnected { conn: agent });
    let console = sim.member("agent1", Role::Agent);
    let told = sim.take(console);
    assert!(
        told.iter()
            .any(|m| matches!(m, ServerMessage::CallResumed(live) if live.call_id == call.0)),
        "{told:?}"
    );
    let headset = sim.headset(console);
    assert!(
        sim.take(citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::PeerReconnected { peer: Role::Agent, .. }))
    );
    assert_eq!(sim.hears(citizen_leg), vec![headset]);
    sim.secs(120);
    assert!(sim.ends_written().is_empty());
}

#[test]
fn a_newer_console_replaces_the_older_one() {
    let mut sim = Sim::new();
    let old = sim.ready_agent("agent1");
    let user = UserInfo {
        id: "agent1".into(),
        username: "agent1".into(),
        display_name: "A".into(),
        role: Role::Agent,
    };
    let new = voicedesk_call_center::ConnId(999);
    sim.input(Input::Connected {
        conn: new,
        identity: voicedesk_call_center::Identity::Member { user, skills: Default::default() },
    });
    assert!(sim.take(old).iter().any(|m| matches!(
        m,
        ServerMessage::Error { code: voicedesk_protocol::ErrorCode::SessionExpired, .. }
    )));
    assert!(
        sim.effects
            .iter()
            .any(|e| matches!(e, voicedesk_call_center::Effect::Close { conn } if *conn == old))
    );
}

#[test]
fn an_agent_whose_headset_fails_without_a_call_is_set_away() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let leg = *sim.legs_made.last().unwrap();
    sim.leg_lost(leg);
    let told = sim.take(agent);
    assert!(
        told.iter().any(|m| matches!(m, ServerMessage::AgentState { state: AgentActivity::Away, reason: Some(r), .. } if r == "headset_disconnected")),
        "{told:?}"
    );
}

#[test]
fn a_leg_that_never_connects_ends_a_waiting_call_media_failed() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    let leg = sim.citizen_leg();
    sim.input(Input::LegEnded { leg, reason: LegEnd::ConnectTimeout });
    assert_eq!(sim.ends_written(), vec![(call, EndReason::MediaFailed)]);
}

#[test]
fn a_waiting_citizen_whose_leg_dies_is_parked_not_ended() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    let leg = sim.citizen_leg();
    sim.leg_lost(leg);
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::MediaState { .. })));
    assert!(sim.ends_written().is_empty());
    sim.say(citizen, ClientMessage::RejoinCall { call_id: call.0, sdp: "offer".into() });
    assert!(matches!(sim.take(citizen).first(), Some(ServerMessage::CallQueued { .. })));
}

#[test]
fn agent_sign_out_during_a_call_ends_it_agent_disconnected() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.input(Input::SignedOut { user_id: "agent1".into() });
    assert_eq!(sim.ends_written(), vec![(call, EndReason::AgentDisconnected)]);
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })));
}
