//! The citizen's other channels: messages, the assistant, ratings; and the agent's wrap-up.

mod common;

use common::{Answer, Sim};
use voicedesk_call_center::store::{StoreFailure, StoreRequest};
use voicedesk_protocol::{ClientMessage, EndReason, ErrorCode, ServerMessage};

fn message(client_id: &str, call_id: Option<String>) -> ClientMessage {
    ClientMessage::LeaveMessage {
        client_id: client_id.into(),
        service: Some("pension".into()),
        name: None,
        phone: None,
        body: "please call me back".into(),
        call_id,
    }
}

#[test]
fn a_message_is_acknowledged_only_after_it_is_committed() {
    let mut sim = Sim::new();
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertMessage(_)) { Answer::Hold } else { Answer::Ok }
    });
    let citizen = sim.citizen();
    sim.say(citizen, message("m-1", None));
    assert!(sim.take(citizen).is_empty());
    sim.release(Answer::Ok);
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::MessageSaved { client_id, .. }] if client_id == "m-1"),
        "{told:?}"
    );
}

#[test]
fn message_write_failure_acknowledges_nothing() {
    let mut sim = Sim::new();
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertMessage(_)) {
            Answer::Fail(StoreFailure::InvalidValue("body: too long".into()))
        } else {
            Answer::Ok
        }
    });
    let citizen = sim.citizen();
    sim.say(citizen, message("m-1", None));
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::InvalidState, message, .. }] if message.contains("body"))
    );
}

#[test]
fn a_message_left_from_a_waiting_call_ends_it_message_left() {
    let mut sim = Sim::new();
    sim.ready_agent("agent1");
    let busy = sim.citizen();
    sim.place_call(busy, None);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, None);
    sim.say(citizen, message("m-2", Some(call.0.clone())));
    assert_eq!(sim.ends_written(), vec![(call, EndReason::MessageLeft)]);
    let told = sim.take(citizen);
    let saved = told.iter().position(|m| matches!(m, ServerMessage::MessageSaved { .. })).unwrap();
    let ended = told
        .iter()
        .position(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::MessageLeft, .. }))
        .unwrap();
    assert!(saved < ended, "saved first, then the call ends");
}

#[test]
fn the_assistant_answers_and_its_transcript_goes_to_the_agent_with_the_offer() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Ask { text: "how do I move my pension".into() });
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::Answer { confident: true, .. }]));
    sim.place_call(citizen, None);
    let offer = sim.take(agent);
    assert!(
        offer.iter().any(
            |m| matches!(m, ServerMessage::CallOffered { transcript, .. } if transcript.len() == 2)
        ),
        "{offer:?}"
    );
    sim.say(citizen, ClientMessage::Ask { text: "and my card?".into() });
    assert!(
        matches!(
            &sim.take(citizen)[..],
            [.., ServerMessage::Error { code: ErrorCode::InvalidState, .. }]
        ),
        "quiet after the hand-off"
    );
}

#[test]
fn an_empty_question_is_refused() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::Ask { text: "   ".into() });
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::Error { .. }]));
}

#[test]
fn rating_an_answered_call_is_saved_after_commit() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.say(citizen, ClientMessage::HangUp { call_id: call.0.clone() });
    sim.take(citizen);
    sim.say(
        citizen,
        ClientMessage::Rate {
            call_id: Some(call.0.clone()),
            ticket: None,
            code: None,
            level: 5,
            comment: String::new(),
        },
    );
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::RatingSaved { level: 5, .. }]));
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertRating { .. }) {
            Answer::Fail(StoreFailure::Conflict)
        } else {
            Answer::Ok
        }
    });
    sim.say(
        citizen,
        ClientMessage::Rate {
            call_id: Some(call.0),
            ticket: None,
            code: None,
            level: 1,
            comment: String::new(),
        },
    );
    assert!(
        matches!(&sim.take(citizen)[..], [ServerMessage::Error { message, .. }] if message.contains("already been rated"))
    );
}

#[test]
fn another_citizens_call_cannot_be_rated() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (citizen, call) = sim.connected_call(agent);
    sim.say(citizen, ClientMessage::HangUp { call_id: call.0.clone() });
    let stranger = sim.citizen();
    sim.say(
        stranger,
        ClientMessage::Rate {
            call_id: Some(call.0),
            ticket: None,
            code: None,
            level: 5,
            comment: String::new(),
        },
    );
    assert!(matches!(
        &sim.take(stranger)[..],
        [ServerMessage::Error { code: ErrorCode::UnknownCall, .. }]
    ));
}

#[test]
fn a_ticket_is_rated_only_with_its_code_and_once_answered() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    let rate = |ticket: &str, code: &str| ClientMessage::Rate {
        call_id: None,
        ticket: Some(ticket.into()),
        code: Some(code.into()),
        level: 4,
        comment: String::new(),
    };
    sim.say(citizen, rate("T0001", "wrong"));
    assert!(
        matches!(&sim.take(citizen)[..], [ServerMessage::Error { message, .. }] if message.contains("wrong code"))
    );
    sim.say(citizen, rate("T0002", "secret"));
    assert!(
        matches!(&sim.take(citizen)[..], [ServerMessage::Error { message, .. }] if message.contains("no reply"))
    );
    sim.say(citizen, rate("T0001", "secret"));
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::RatingSaved { .. }]));
}

#[test]
fn a_wrap_up_is_saved_after_commit_and_an_unknown_disposition_refused() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let (_, call) = sim.connected_call(agent);
    sim.say(agent, ClientMessage::HangUp { call_id: call.0.clone() });
    sim.take(agent);
    let wrap = |d: &str| ClientMessage::WrapUp {
        call_id: call.0.clone(),
        disposition: d.into(),
        notes: "ok".into(),
    };
    sim.store_policy = Box::new(|r| match r {
        StoreRequest::WrapUp { disposition, .. } if disposition == "nonsense" => {
            Answer::Fail(StoreFailure::InvalidReference { target: "disposition".into() })
        }
        _ => Answer::Ok,
    });
    sim.say(agent, wrap("nonsense"));
    assert!(
        matches!(&sim.take(agent)[..], [ServerMessage::Error { message, .. }] if message.contains("unknown disposition"))
    );
    sim.say(agent, wrap("resolved"));
    assert!(matches!(&sim.take(agent)[..], [ServerMessage::WrapUpSaved { .. }]));
}

#[test]
fn a_wrap_up_of_someone_elses_call_is_refused() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    sim.say(
        agent,
        ClientMessage::WrapUp {
            call_id: "nope".into(),
            disposition: "resolved".into(),
            notes: String::new(),
        },
    );
    assert!(matches!(
        &sim.take(agent)[..],
        [ServerMessage::Error { code: ErrorCode::UnknownCall, .. }]
    ));
}
