//! The citizen's other channels: messages, the assistant, ratings; and the agent's wrap-up.

mod common;

use common::{Answer, Sim};
use voicedesk_call_center::store::{StoreFailure, StoreRequest};
use voicedesk_call_center::{Effect, Input};
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

#[test]
fn a_sixth_message_in_a_day_is_refused_rate_limited_but_a_retry_of_a_saved_one_is_not() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    for i in 1..=5 {
        sim.say(citizen, message(&format!("m-{i}"), None));
    }
    let saved = sim.take(citizen);
    assert_eq!(saved.len(), 5, "{saved:?}");
    assert!(saved.iter().all(|m| matches!(m, ServerMessage::MessageSaved { .. })), "{saved:?}");

    sim.say(citizen, message("m-6", None));
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::RateLimited, request_type: Some(r), .. }] if r == "leave_message"),
        "{told:?}"
    );
    assert!(!sim.messages_committed.contains("m-6"), "nothing written");

    // The retry of a message already saved is not a new one.
    sim.say(citizen, message("m-5", None));
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::MessageSaved { client_id, .. }] if client_id == "m-5"),
        "{told:?}"
    );
    // Another citizen is not held to this one's count.
    let other = sim.citizen();
    sim.say(other, message("m-7", None));
    assert!(matches!(&sim.take(other)[..], [ServerMessage::MessageSaved { .. }]));
}

#[test]
fn a_message_cap_count_that_fails_refuses_the_message_and_writes_nothing() {
    let mut sim = Sim::new();
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CountMessages { .. }) {
            Answer::Fail(StoreFailure::Unavailable("down".into()))
        } else {
            Answer::Ok
        }
    });
    let citizen = sim.citizen();
    sim.say(citizen, message("m-1", None));
    let told = sim.take(citizen);
    assert!(
        matches!(&told[..], [ServerMessage::Error { code: ErrorCode::Internal, .. }]),
        "{told:?}"
    );
    assert!(sim.messages_committed.is_empty());
}

#[test]
fn a_burst_of_messages_is_counted_one_at_a_time_so_it_cannot_slip_past_the_cap() {
    let mut sim = Sim::new();
    sim.store_policy = Box::new(|_| Answer::Hold);
    let citizen = sim.citizen();
    for i in 1..=7 {
        sim.say(citizen, message(&format!("m-{i}"), None));
    }
    assert_eq!(sim.held.len(), 1, "one message in flight, the others wait behind it");
    while !sim.held.is_empty() {
        sim.release(Answer::Ok);
    }
    let told = sim.take(citizen);
    let saved = told.iter().filter(|m| matches!(m, ServerMessage::MessageSaved { .. })).count();
    let capped = told
        .iter()
        .filter(|m| matches!(m, ServerMessage::Error { code: ErrorCode::RateLimited, .. }))
        .count();
    assert_eq!((saved, capped), (5, 2), "{told:?}");
    assert_eq!(sim.messages_committed.len(), 5);
}

#[test]
fn a_citizen_who_leaves_with_a_message_in_flight_hears_it_saved_before_the_close() {
    let mut sim = Sim::new();
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertMessage(_)) { Answer::Hold } else { Answer::Ok }
    });
    let citizen = sim.citizen();
    sim.say(citizen, message("m-1", None));
    sim.input(Input::Disconnected { conn: citizen });
    let closed = |sim: &Sim| {
        sim.effects.iter().any(|e| matches!(e, Effect::Close { conn } if *conn == citizen))
    };
    assert!(!closed(&sim), "kept while its message is in flight");
    sim.release(Answer::Ok);
    assert!(matches!(&sim.take(citizen)[..], [ServerMessage::MessageSaved { .. }]));
    assert!(closed(&sim), "then forgotten");
    assert!(!sim.core.has_connection(citizen));
}
