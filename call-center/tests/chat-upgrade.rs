//! A chat upgraded to a voice call with the same agent (issue 16): no queueing again, the
//! media bridged as for a call once the call's record and answer are committed, the texts go
//! on beside the call, and a refusal leaves the chat as it was.

mod common;

use common::{Answer, Sim, is_error};
use voicedesk_call_center::AgentId;
use voicedesk_call_center::CallId;
use voicedesk_call_center::store::StoreRequest;
use voicedesk_protocol::{AgentActivity, ClientMessage, EndReason, ErrorCode, ServerMessage};
use voicedesk_queue_engine::Channel;

fn upgrade(sim: &mut Sim, citizen: voicedesk_call_center::ConnId, chat: &CallId, sdp: &str) {
    sim.say(citizen, ClientMessage::UpgradeChat { chat_id: chat.0.clone(), sdp: sdp.into() });
}

fn upgraded(heard: &[ServerMessage]) -> Option<Option<String>> {
    heard.iter().find_map(|m| match m {
        ServerMessage::ChatUpgraded { sdp, .. } => Some(sdp.clone()),
        _ => None,
    })
}

fn error_code(heard: &[ServerMessage], request: &str) -> Option<ErrorCode> {
    heard.iter().find_map(|m| match m {
        ServerMessage::Error { code, request_type: Some(r), .. } if r == request => Some(*code),
        _ => None,
    })
}

fn activity(sim: &Sim, agent: &str) -> Option<AgentActivity> {
    sim.core.engine().agent_activity(&AgentId(agent.into()))
}

#[test]
fn a_citizen_upgrades_a_chat_and_talks_to_the_same_agent_both_ways() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let agent_leg = *sim.legs_made.last().expect("headset");
    let (citizen, chat) = sim.connected_chat(agent);
    let (_, other) = sim.connected_chat(agent);
    sim.text(citizen, &chat, 1, "before the call");

    upgrade(&mut sim, citizen, &chat, "mic");
    let to_citizen = sim.take(citizen);
    assert_eq!(upgraded(&to_citizen), Some(Some(format!("answer-{}", sim.citizen_leg().0))));
    assert!(
        to_citizen.iter().any(
            |m| matches!(m, ServerMessage::CallConnected { call_id, .. } if *call_id == chat.0)
        ),
        "{to_citizen:?}"
    );
    let to_agent = sim.take(agent);
    assert_eq!(upgraded(&to_agent), Some(None), "the agent hears it, without an SDP");
    assert!(to_agent.iter().any(|m| matches!(m, ServerMessage::CallConnected { .. })));

    // Audio both ways through the relay, as for a call.
    let citizen_leg = sim.citizen_leg();
    assert_eq!(sim.hears(citizen_leg), [agent_leg]);
    assert_eq!(sim.hears(agent_leg), [citizen_leg]);
    assert_eq!(activity(&sim, "a1"), Some(AgentActivity::OnCall));
    assert_eq!(sim.core.engine().channel(&chat), Some(Channel::Voice));
    assert!(sim.records.get(&chat.0).is_some_and(|f| f.answered), "the call is recorded");
    assert!(
        !sim.store_log.iter().any(|(r, _)| matches!(r, StoreRequest::ChatEnded { .. })),
        "the chat goes on"
    );

    // Texts go on beside the call, and the agent's other chat stays open.
    sim.text(agent, &chat, 2, "https://example.org/form.pdf");
    assert!(
        sim.take(citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatMessage(l) if l.text.contains("form.pdf")))
    );
    sim.text(agent, &other, 3, "still here");
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatSent { .. })));

    // Nothing new rings at the agent in the call.
    let newcomer = sim.citizen();
    sim.start_chat(newcomer, Some("pension"));
    assert!(!sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatOffered { .. })));

    // The agent hangs up: the call and the chat end together, each written once.
    sim.say(agent, ClientMessage::HangUp { call_id: chat.0.clone() });
    let heard = sim.take(citizen);
    assert!(
        heard
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::AgentHangUp, .. })),
        "{heard:?}"
    );
    assert!(
        heard
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatEnded { reason: EndReason::AgentHangUp, .. })),
        "{heard:?}"
    );
    assert_eq!(sim.ends_written(), [(chat.clone(), EndReason::AgentHangUp)]);
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::AgentHangUp));
    assert!(sim.closed_legs.contains(&citizen_leg));
    assert_eq!(activity(&sim, "a1"), Some(AgentActivity::AfterCallWork));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn the_call_is_told_only_once_its_record_and_answer_are_committed() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertCall(_) | StoreRequest::CallAnswered { .. }) {
            Answer::Hold
        } else {
            Answer::Ok
        }
    });
    upgrade(&mut sim, citizen, &chat, "mic");
    assert_eq!(upgraded(&sim.take(citizen)), None, "nothing told before the record");
    sim.release(Answer::Ok);
    assert_eq!(upgraded(&sim.take(citizen)), None, "nothing told before the answer");
    sim.release(Answer::Ok);
    assert!(upgraded(&sim.take(citizen)).is_some());
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn an_upgrade_whose_answer_cannot_be_written_ends_as_media_failed_and_is_never_told() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::CallAnswered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    upgrade(&mut sim, citizen, &chat, "mic");
    sim.release(Answer::Fail(voicedesk_call_center::store::StoreFailure::Unavailable(
        "disk".into(),
    )));
    let heard = sim.take(citizen);
    assert_eq!(upgraded(&heard), None);
    assert!(
        heard
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatEnded { reason: EndReason::MediaFailed, .. })),
        "{heard:?}"
    );
    assert!(sim.closed_legs.contains(&sim.legs_made[sim.legs_made.len() - 1]));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn an_agent_whose_headset_is_not_connected_cannot_take_the_upgrade_and_the_chat_goes_on() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let headset = *sim.legs_made.last().expect("headset");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.leg_lost(headset);
    sim.take(agent);
    let legs = sim.legs_made.len();
    upgrade(&mut sim, citizen, &chat, "mic");
    let heard = sim.take(citizen);
    assert_eq!(error_code(&heard, "upgrade_chat"), Some(ErrorCode::InvalidState), "{heard:?}");
    assert!(
        heard.iter().any(
            |m| matches!(m, ServerMessage::Error { message, .. } if message.contains("headset"))
        )
    );
    assert_eq!(sim.legs_made.len(), legs, "no leg made");
    assert_eq!(sim.core.engine().channel(&chat), Some(Channel::Chat));
    sim.text(citizen, &chat, 1, "then by text");
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::ChatSent { .. })));
}

#[test]
fn bad_upgrades_are_refused_and_change_nothing() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    // Not one's chat.
    let stranger = sim.citizen();
    upgrade(&mut sim, stranger, &chat, "mic");
    assert_eq!(error_code(&sim.take(stranger), "upgrade_chat"), Some(ErrorCode::InvalidState));
    // A chat nobody answered yet.
    sim.say(
        agent,
        ClientMessage::SetState {
            state: voicedesk_protocol::AgentAvailability::Away,
            reason: None,
        },
    );
    let waiting = sim.citizen();
    let queued = sim.start_chat(waiting, Some("pension"));
    upgrade(&mut sim, waiting, &queued, "mic");
    assert!(sim.take(waiting).iter().any(|m| is_error(m, "upgrade_chat")));
    // The relay refuses the offer: told, the chat goes on, the agent is as before.
    upgrade(&mut sim, citizen, &chat, "bad");
    assert_eq!(error_code(&sim.take(citizen), "upgrade_chat"), Some(ErrorCode::BadSdp));
    assert_eq!(sim.core.engine().channel(&chat), Some(Channel::Chat));
    assert_eq!(activity(&sim, "a1"), Some(AgentActivity::Away));
    assert!(!sim.records.contains_key(&chat.0), "no call recorded");
    // A second upgrade after the first succeeded is refused.
    upgrade(&mut sim, citizen, &chat, "mic");
    assert!(upgraded(&sim.take(citizen)).is_some(), "an agent away still takes their chat's call");
    upgrade(&mut sim, citizen, &chat, "mic");
    assert_eq!(error_code(&sim.take(citizen), "upgrade_chat"), Some(ErrorCode::InvalidState));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn the_agent_proposes_the_call_and_the_citizen_accepts() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(agent, ClientMessage::OfferUpgrade { chat_id: chat.0.clone() });
    assert!(
        sim.take(citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::UpgradeOffered { chat_id } if *chat_id == chat.0))
    );
    upgrade(&mut sim, citizen, &chat, "mic");
    assert!(upgraded(&sim.take(citizen)).is_some());
    // Not the agent's chat: refused.
    let other = sim.ready_agent("a2");
    sim.say(other, ClientMessage::OfferUpgrade { chat_id: chat.0.clone() });
    assert_eq!(error_code(&sim.take(other), "offer_upgrade"), Some(ErrorCode::InvalidState));
}

#[test]
fn a_chat_ended_while_its_leg_is_made_closes_the_leg_and_stays_ended() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.hold_legs = true;
    upgrade(&mut sim, citizen, &chat, "mic");
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    sim.release_leg(true);
    let leg = *sim.legs_made.last().expect("the leg");
    assert!(sim.closed_legs.contains(&leg));
    assert_eq!(upgraded(&sim.take(citizen)), None);
    assert_eq!(activity(&sim, "a1"), Some(AgentActivity::Available));
    assert!(!sim.records.contains_key(&chat.0));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

// ----- a voice call's text panel ---------------------------------------------------------------

fn lines_heard(heard: &[ServerMessage]) -> Vec<String> {
    heard
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ChatMessage(line) => Some(line.text.clone()),
            _ => None,
        })
        .collect()
}

fn send(sim: &mut Sim, conn: voicedesk_call_center::ConnId, call: &CallId, n: u32, text: &str) {
    let message = ClientMessage::SendChat {
        chat_id: call.0.clone(),
        client_id: common::client_id(n),
        text: text.to_owned(),
    };
    sim.say(conn, message);
}

#[test]
fn a_voice_call_has_a_text_panel_with_the_chat_rules() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, call) = sim.connected_call(agent);
    send(&mut sim, agent, &call, 1, "材料清单：\n- 身份证\n- https://example.org/form.pdf");
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatSent { seq: 1, .. })));
    assert_eq!(lines_heard(&sim.take(citizen)).len(), 1, "the citizen gets the list");
    send(&mut sim, citizen, &call, 2, "收到");
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::ChatSent { seq: 2, .. })));
    assert_eq!(lines_heard(&sim.take(agent)), ["收到"]);
    // A retry is answered the same and stored once; too long, blank or a stranger's: refused.
    send(&mut sim, citizen, &call, 2, "收到");
    assert!(sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::ChatSent { seq: 2, .. })));
    send(&mut sim, citizen, &call, 3, &"长".repeat(2001));
    assert_eq!(error_code(&sim.take(citizen), "send_chat"), Some(ErrorCode::InvalidState));
    let stranger = sim.citizen();
    send(&mut sim, stranger, &call, 4, "not mine");
    assert_eq!(error_code(&sim.take(stranger), "send_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(sim.chats[&call.0].lines.len(), 2);
    // The call's figures stay a call's: no live chat on the wallboard.
    assert_eq!(sim.core.engine().agent(&AgentId("a1".into())).map(|a| a.chats.len()), Some(0));

    // The call ends: its texts end with it, each end written once.
    sim.say(agent, ClientMessage::HangUp { call_id: call.0.clone() });
    let heard = sim.take(citizen);
    assert!(heard.iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })));
    assert!(heard.iter().any(|m| matches!(m, ServerMessage::ChatEnded { .. })));
    assert_eq!(sim.chats[&call.0].ended, Some(EndReason::AgentHangUp));
    send(&mut sim, citizen, &call, 5, "after the end");
    assert_eq!(error_code(&sim.take(citizen), "send_chat"), Some(ErrorCode::InvalidState));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn a_call_not_yet_answered_has_no_text_panel() {
    let mut sim = Sim::new();
    // Signed in, away: the call waits.
    sim.member("a1", voicedesk_protocol::Role::Agent);
    let citizen = sim.citizen();
    let call = sim.place_call(citizen, Some("pension"));
    send(&mut sim, citizen, &call, 1, "hello?");
    assert_eq!(error_code(&sim.take(citizen), "send_chat"), Some(ErrorCode::InvalidState));
    assert!(sim.chats.is_empty(), "nothing stored");
}

#[test]
fn a_transferred_call_hands_its_texts_to_the_agent_who_answers_next() {
    let mut sim = Sim::new();
    let first = sim.ready_agent("a1");
    let (citizen, call) = sim.connected_call(first);
    send(&mut sim, citizen, &call, 1, "my card number is 123");
    sim.take(first);
    sim.say(first, ClientMessage::Transfer { call_id: call.0.clone(), service: "pension".into() });
    assert!(
        sim.take(first)
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatEnded { reason: EndReason::Transferred, .. }))
    );
    let second = sim.ready_agent("a2");
    sim.accept(second, &call);
    assert_eq!(
        lines_heard(&sim.take(second)),
        ["my card number is 123"],
        "what was written before"
    );
    send(&mut sim, second, &call, 2, "thanks, checking");
    assert_eq!(lines_heard(&sim.take(citizen)), ["thanks, checking"]);
    send(&mut sim, first, &call, 3, "not mine any more");
    assert_eq!(error_code(&sim.take(first), "send_chat"), Some(ErrorCode::InvalidState));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[test]
fn a_calls_first_text_waits_for_the_panels_row_and_agent_and_a_failed_row_refuses_it() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, call) = sim.connected_call(agent);
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertChat { .. }) { Answer::Hold } else { Answer::Ok }
    });
    send(&mut sim, agent, &call, 1, "the form");
    let appended = |sim: &Sim| {
        sim.store_log.iter().filter(|(r, _)| matches!(r, StoreRequest::AppendChat { .. })).count()
    };
    assert_eq!(appended(&sim), 0, "the text waits for the row");
    sim.release(Answer::Fail(voicedesk_call_center::store::StoreFailure::Unavailable(
        "disk".into(),
    )));
    assert_eq!(error_code(&sim.take(agent), "send_chat"), Some(ErrorCode::Internal));
    assert_eq!(appended(&sim), 0, "nothing written without its row");
    assert!(lines_heard(&sim.take(citizen)).is_empty());

    // The next text opens the panel again; the row, then its agent, then the text.
    sim.store_policy = Box::new(|_| Answer::Ok);
    send(&mut sim, agent, &call, 1, "the form");
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatSent { seq: 1, .. })));
    let order: Vec<&str> = sim
        .store_log
        .iter()
        .filter_map(|(r, a)| match (r, a) {
            (StoreRequest::InsertChat { .. }, Answer::Ok) => Some("row"),
            (StoreRequest::ChatAnswered { .. }, _) => Some("agent"),
            (StoreRequest::AppendChat { .. }, _) => Some("text"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["row", "agent", "text"]);
    assert_eq!(lines_heard(&sim.take(citizen)), ["the form"]);
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}
