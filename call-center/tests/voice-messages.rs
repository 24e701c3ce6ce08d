//! Voice messages: recorded from the waiting call's leg or a leg of their own, committed (file,
//! then row) before the citizen hears of them.

mod common;

use common::{Answer, Sim};
use voicedesk_call_center::Input;
use voicedesk_call_center::store::{StoreFailure, StoreRequest};
use voicedesk_protocol::{ClientMessage, EndReason, ErrorCode, ServerMessage};

const CLIENT_ID: &str = "0b5e1f3a-voice-message-0001";

fn finish() -> ClientMessage {
    ClientMessage::FinishVoiceMessage { client_id: CLIENT_ID.into(), name: None, phone: None }
}

#[test]
fn a_voice_message_from_a_waiting_call_stops_the_hold_tune_and_ends_the_call_once_saved() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    let leg = sim.citizen_leg();
    sim.take(citizen);
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: Some(call.0.clone()),
            sdp: None,
            service: None,
        },
    );
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::VoiceRecording { sdp: None, .. }]));
    assert_eq!(sim.hold.get(&leg), Some(&false), "the tune stops while the citizen speaks");
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertVoiceMessage(_)) { Answer::Hold } else { Answer::Ok }
    });
    sim.say(citizen, finish());
    assert!(sim.take(citizen).is_empty(), "nothing told before the row commits");
    sim.release(Answer::Ok);
    let told = sim.take(citizen);
    assert!(matches!(told.first(), Some(ServerMessage::MessageSaved { .. })), "{told:?}");
    assert_eq!(sim.ends_written(), vec![(call, EndReason::MessageLeft)]);
}

#[test]
fn a_voice_message_on_its_own_leg_closes_the_leg_after_saving() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    let told = sim.take(citizen);
    assert!(matches!(&told[..], [ServerMessage::VoiceRecording { sdp: Some(_), .. }]), "{told:?}");
    let leg = sim.citizen_leg();
    sim.say(citizen, finish());
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::MessageSaved { .. }]));
    assert!(sim.closed_legs.contains(&leg));
}

#[test]
fn a_voice_message_that_cannot_be_stored_is_not_acknowledged() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    sim.take(citizen);
    sim.store_policy = Box::new(|_| Answer::Fail(StoreFailure::Unavailable("disk".into())));
    sim.say(citizen, finish());
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::Internal, .. }]),
        "{told:?}"
    );
}

#[test]
fn an_agent_answering_drops_the_recording_and_connects() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: Some(call.0.clone()),
            sdp: None,
            service: None,
        },
    );
    sim.take(citizen);
    sim.accept(agent, &call);
    let told = sim.take(citizen);
    assert!(told.iter().any(|m| matches!(m, ServerMessage::VoiceMessageCancelled)));
    assert!(told.iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })));
    assert!(sim.recording.is_empty());
}

#[test]
fn a_bad_client_id_keeps_the_recording_going() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    sim.take(citizen);
    sim.say(
        citizen,
        ClientMessage::FinishVoiceMessage { client_id: "x".into(), name: None, phone: None },
    );
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::Error { .. }]));
    sim.say(citizen, finish());
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::MessageSaved { .. }]));
}

#[test]
fn cancelling_drops_the_recording_and_a_second_start_is_refused_meanwhile() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    let told = sim.take(citizen);
    assert!(matches!(
        told.last(),
        Some(ServerMessage::Error { code: ErrorCode::InvalidState, .. })
    ));
    sim.say(citizen, ClientMessage::CancelVoiceMessage);
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::VoiceMessageCancelled]));
    assert!(sim.recording.is_empty());
    sim.input(Input::Disconnected { conn: citizen });
}

#[test]
fn a_voice_message_past_the_daily_cap_is_refused_before_the_citizen_speaks() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    for i in 1..=5 {
        let message = ClientMessage::LeaveMessage {
            client_id: format!("text-message-{i:04}"),
            service: None,
            name: None,
            phone: None,
            body: "call me".into(),
            call_id: None,
        };
        sim.say(citizen, message);
    }
    sim.take(citizen);
    let legs_before = sim.legs_made.len();
    sim.say(
        citizen,
        ClientMessage::StartVoiceMessage {
            call_id: None,
            sdp: Some("offer".into()),
            service: None,
        },
    );
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::RateLimited, request_type: Some(r), .. }] if r == "start_voice_message"),
        "{told:?}"
    );
    assert_eq!(sim.legs_made.len(), legs_before, "no leg made, nothing recorded");
    assert!(sim.recording.is_empty());
}
