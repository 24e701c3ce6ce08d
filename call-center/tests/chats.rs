//! Live chat (issue 16): a citizen types to an agent. Each test names the behaviour it proves,
//! on fake time with the fake store and relay of the shared harness.

mod common;

use std::time::Duration;

use common::{Answer, Sim, client_id, is_error};
use voicedesk_call_center::CallId;
use voicedesk_call_center::store::{RatingKind, StoreFailure, StoreRequest};
use voicedesk_protocol::{ChatLine, ClientMessage, EndReason, ErrorCode, Role, ServerMessage};

/// The fake store holds every chat text until the test releases it.
fn hold_texts(sim: &mut Sim) {
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::AppendChat { .. }) { Answer::Hold } else { Answer::Ok }
    });
}

fn appends(sim: &Sim) -> usize {
    sim.store_log.iter().filter(|(r, _)| matches!(r, StoreRequest::AppendChat { .. })).count()
}

fn error_code(heard: &[ServerMessage], request: &str) -> Option<ErrorCode> {
    heard.iter().find_map(|m| match m {
        ServerMessage::Error { code, request_type: Some(r), .. } if r == request => Some(*code),
        _ => None,
    })
}

fn sent_seq(heard: &[ServerMessage]) -> Vec<u64> {
    heard
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ChatSent { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

fn lines(heard: &[ServerMessage]) -> Vec<ChatLine> {
    heard
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ChatMessage(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn ended(heard: &[ServerMessage]) -> Option<EndReason> {
    heard.iter().find_map(|m| match m {
        ServerMessage::ChatEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn a_chat_is_queued_only_once_its_row_is_committed() {
    let mut sim = Sim::new();
    sim.ready_agent("a1");
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertChat { .. }) { Answer::Hold } else { Answer::Ok }
    });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::StartChat { service: Some("pension".into()) });
    assert!(sim.take(citizen).is_empty(), "nothing told before the commit");
    sim.release(Answer::Ok);
    let heard = sim.take(citizen);
    assert!(matches!(heard.first(), Some(ServerMessage::ChatQueued { .. })), "{heard:?}");
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_chat_whose_row_cannot_be_written_is_refused_and_never_queued() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::InsertChat { .. }) {
            Answer::Fail(StoreFailure::Unavailable("disk".into()))
        } else {
            Answer::Ok
        }
    });
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::StartChat { service: Some("pension".into()) });
    assert_eq!(error_code(&sim.take(citizen), "start_chat"), Some(ErrorCode::Internal));
    assert!(sim.take(agent).is_empty(), "no offer: {:?}", sim.heard(agent));
    assert_eq!(sim.core.engine().queue_len(), 0);
}

#[test]
fn a_chat_rings_an_available_agent_and_both_sides_hear_it_connected_after_the_answer_commits() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let citizen = sim.citizen();
    let chat = sim.start_chat(citizen, Some("pension"));
    let offered = sim.take(agent);
    assert!(
        offered
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatOffered { chat_id, .. } if *chat_id == chat.0)),
        "{offered:?}"
    );
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::ChatAnswered { .. }) { Answer::Hold } else { Answer::Ok }
    });
    sim.accept(agent, &chat);
    sim.take(citizen);
    assert!(!sim.heard(citizen).iter().any(|m| matches!(m, ServerMessage::ChatConnected { .. })));
    sim.release(Answer::Ok);
    let to_citizen = sim.take(citizen);
    assert!(
        to_citizen.iter().any(|m| matches!(m, ServerMessage::ChatConnected { peer_name, .. } if peer_name == "Name of a1")),
        "{to_citizen:?}"
    );
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatConnected { .. })));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_chat_needs_no_headset_and_keeps_the_agent_available_for_more_chats() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (_citizen, _chat) = sim.connected_chat(agent);
    let view = sim.core.engine().agents().find(|a| a.id.0 == "a1").map(|a| a.activity);
    assert_eq!(view, Some(voicedesk_protocol::AgentActivity::Available));
}

#[test]
fn a_text_is_acknowledged_after_its_commit_and_relayed_to_the_other_side() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    hold_texts(&mut sim);
    sim.text(citizen, &chat, 1, "我想查询养老金到账时间 <b>not html</b>");
    assert!(sim.take(citizen).is_empty() && sim.take(agent).is_empty());
    sim.release(Answer::Ok);
    assert_eq!(sent_seq(&sim.take(citizen)), vec![1]);
    let got = lines(&sim.take(agent));
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].seq, got[0].from), (1, Role::Citizen));
    assert_eq!(got[0].text, "我想查询养老金到账时间 <b>not html</b>");
    sim.store_policy = Box::new(|_| Answer::Ok);
    sim.text(agent, &chat, 2, "请提供您的社保卡号");
    assert_eq!(sent_seq(&sim.take(agent)), vec![2]);
    let got = lines(&sim.take(citizen));
    assert_eq!((got[0].seq, got[0].from), (2, Role::Agent));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_retried_text_with_the_same_client_id_is_answered_the_same_and_stored_once() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.text(citizen, &chat, 7, "hello");
    sim.text(citizen, &chat, 7, "hello");
    assert_eq!(sent_seq(&sim.take(citizen)), vec![1, 1]);
    assert_eq!(lines(&sim.take(agent)).len(), 1, "the other side hears it once");
    assert_eq!(sim.chats[&chat.0].lines.len(), 1);
}

#[test]
fn a_failed_write_is_not_acknowledged_and_the_sender_is_told_to_send_again() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::AppendChat { .. }) {
            Answer::Fail(StoreFailure::Unavailable("disk".into()))
        } else {
            Answer::Ok
        }
    });
    sim.text(citizen, &chat, 1, "hello");
    let heard = sim.take(citizen);
    assert!(sent_seq(&heard).is_empty());
    assert_eq!(error_code(&heard, "send_chat"), Some(ErrorCode::Internal));
    assert!(lines(&sim.take(agent)).is_empty());
}

#[test]
fn texts_of_one_chat_are_written_one_at_a_time_in_the_order_sent() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    hold_texts(&mut sim);
    sim.text(citizen, &chat, 1, "first");
    sim.text(agent, &chat, 2, "second");
    sim.text(citizen, &chat, 3, "third");
    assert_eq!(appends(&sim), 1, "one write in flight");
    sim.release(Answer::Ok);
    assert_eq!(appends(&sim), 2);
    sim.release(Answer::Ok);
    sim.release(Answer::Ok);
    let texts: Vec<String> = sim.chats[&chat.0].lines.iter().map(|(_, l)| l.text.clone()).collect();
    assert_eq!(texts, ["first", "second", "third"]);
    assert_eq!(sent_seq(&sim.take(citizen)), vec![1, 3]);
    let to_agent: Vec<u64> = lines(&sim.heard(agent)).iter().map(|l| l.seq).collect();
    assert_eq!(to_agent, vec![1, 3]);
}

#[test]
fn typing_is_relayed_to_the_other_side_and_not_stored() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let before = sim.store_log.len();
    sim.say(agent, ClientMessage::ChatTyping { chat_id: chat.0.clone(), typing: true });
    let heard = sim.take(citizen);
    assert!(
        matches!(heard.as_slice(), [ServerMessage::ChatTyping { typing: true, .. }]),
        "{heard:?}"
    );
    assert!(sim.take(agent).is_empty(), "not echoed");
    assert_eq!(sim.store_log.len(), before);
}

#[test]
fn read_marks_are_stored_then_relayed_and_never_move_back_or_past_the_last_text() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.text(agent, &chat, 1, "one");
    sim.text(agent, &chat, 2, "two");
    sim.take(agent);
    sim.take(citizen);
    let read =
        |d, r| ClientMessage::ChatRead { chat_id: chat.0.clone(), delivered_seq: d, read_seq: r };
    sim.say(citizen, read(2, 1));
    let heard = sim.take(agent);
    assert!(
        matches!(
            heard.as_slice(),
            [ServerMessage::ChatMarks { delivered_seq: 2, read_seq: 1, .. }]
        ),
        "{heard:?}"
    );
    assert_eq!(sim.chats[&chat.0].marks.0, 2);
    sim.say(citizen, read(1, 0));
    assert!(sim.take(agent).is_empty(), "an older mark changes nothing");
    sim.say(citizen, read(3, 3));
    assert_eq!(error_code(&sim.take(citizen), "chat_read"), Some(ErrorCode::InvalidState));
    assert_eq!(sim.chats[&chat.0].marks, (2, 1, 0, 0));
}

#[test]
fn either_side_ends_the_chat_once_and_both_hear_why_after_the_end_commits() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(agent, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(ended(&sim.take(citizen)), Some(EndReason::AgentHangUp));
    assert_eq!(ended(&sim.take(agent)), Some(EndReason::AgentHangUp));
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(error_code(&sim.take(citizen), "end_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::AgentHangUp));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);

    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(ended(&sim.take(agent)), Some(EndReason::CitizenHangUp));
}

#[test]
fn an_agent_holds_three_chats_at_once_and_a_fourth_waits_until_one_ends() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let chats: Vec<(_, CallId)> = (0..3).map(|_| sim.connected_chat(agent)).collect();
    let fourth_citizen = sim.citizen();
    let fourth = sim.start_chat(fourth_citizen, Some("pension"));
    assert!(
        !sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatOffered { .. })),
        "not offered at capacity"
    );
    assert!(
        sim.heard(fourth_citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatPosition { position: 1, .. })),
        "{:?}",
        sim.heard(fourth_citizen)
    );
    let (first_citizen, first) = &chats[0];
    sim.say(*first_citizen, ClientMessage::EndChat { chat_id: first.0.clone() });
    let heard = sim.take(agent);
    assert!(
        heard.iter().any(
            |m| matches!(m, ServerMessage::ChatOffered { chat_id, .. } if *chat_id == fourth.0)
        ),
        "{heard:?}"
    );
}

#[test]
fn a_chat_is_never_offered_to_an_agent_in_a_voice_call() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (_caller, _call) = sim.connected_call(agent);
    let citizen = sim.citizen();
    sim.start_chat(citizen, Some("pension"));
    assert!(!sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatOffered { .. })));
}

#[test]
fn a_chat_nobody_can_take_is_turned_away_like_a_call_and_a_message_left_next_says_why() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    sim.say(citizen, ClientMessage::StartChat { service: Some("pension".into()) });
    let heard = sim.take(citizen);
    assert_eq!(ended(&heard), Some(EndReason::NoAgents), "{heard:?}");
    assert!(!heard.iter().any(|m| matches!(m, ServerMessage::ChatQueued { .. })));
    sim.say(
        citizen,
        ClientMessage::LeaveMessage {
            client_id: client_id(1),
            service: Some("pension".into()),
            name: None,
            phone: None,
            body: "typed in the chat".into(),
            call_id: None,
        },
    );
    let reason = sim.store_log.iter().find_map(|(r, _)| match r {
        StoreRequest::InsertMessage(m) => Some(m.reason),
        _ => None,
    });
    assert_eq!(reason, Some(voicedesk_call_center::store::MessageReason::NoAgents));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn bad_texts_are_refused_clearly_and_change_nothing() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let stranger = sim.citizen();
    let long = "字".repeat(2001);
    let cases: Vec<(voicedesk_call_center::ConnId, ClientMessage)> = vec![
        (citizen, send(&chat, &client_id(1), "   \n")),
        (citizen, send(&chat, &client_id(2), &long)),
        (citizen, send(&chat, "short", "hello")),
        (citizen, send(&chat, "not a uuid with spaces!!", "hello")),
        (stranger, send(&chat, &client_id(3), "not my chat")),
        (citizen, send(&CallId("no-such-chat".into()), &client_id(4), "hello")),
        (stranger, ClientMessage::ChatTyping { chat_id: chat.0.clone(), typing: true }),
        (stranger, ClientMessage::EndChat { chat_id: chat.0.clone() }),
        (stranger, ClientMessage::RejoinChat { chat_id: chat.0.clone(), after_seq: 0 }),
    ];
    for (conn, message) in cases {
        let request = message.type_name();
        sim.say(conn, message.clone());
        let heard = sim.take(conn);
        assert!(heard.len() == 1 && is_error(&heard[0], request), "{message:?} → {heard:?}");
        let ServerMessage::Error { code, .. } = &heard[0] else { unreachable!() };
        assert_eq!(*code, ErrorCode::InvalidState, "{message:?}");
    }
    assert_eq!(appends(&sim), 0);
    assert!(sim.take(agent).is_empty(), "the agent heard nothing: {:?}", sim.heard(agent));
    sim.text(citizen, &chat, 9, "still works");
    assert_eq!(sent_seq(&sim.take(citizen)), vec![1]);
}

fn send(chat: &CallId, client_id: &str, text: &str) -> ClientMessage {
    ClientMessage::SendChat {
        chat_id: chat.0.clone(),
        client_id: client_id.to_owned(),
        text: text.to_owned(),
    }
}

#[test]
fn a_text_to_an_ended_chat_is_refused() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    sim.take(citizen);
    sim.text(citizen, &chat, 1, "too late");
    sim.text(agent, &chat, 2, "too late");
    assert_eq!(error_code(&sim.take(citizen), "send_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(error_code(&sim.take(agent), "send_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(appends(&sim), 0);
}

#[test]
fn flooding_a_chat_is_rate_limited_with_a_clear_error_and_allowed_again_later() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    for n in 0..10 {
        sim.text(citizen, &chat, n, "spam");
    }
    assert_eq!(sent_seq(&sim.take(citizen)).len(), 10);
    sim.text(citizen, &chat, 10, "one too many");
    let heard = sim.take(citizen);
    assert_eq!(error_code(&heard, "send_chat"), Some(ErrorCode::RateLimited), "{heard:?}");
    assert_eq!(appends(&sim), 10);
    sim.text(agent, &chat, 100, "the agent has a budget of their own");
    assert_eq!(sent_seq(&sim.take(agent)).len(), 1);
    sim.advance(Duration::from_secs(10));
    sim.text(citizen, &chat, 11, "later");
    assert_eq!(sent_seq(&sim.take(citizen)).len(), 1);
}

#[test]
fn a_reloaded_citizen_rejoins_within_the_grace_with_every_text_after_their_last_seq() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.text(citizen, &chat, 1, "one");
    sim.text(agent, &chat, 2, "two");
    sim.input(voicedesk_call_center::Input::Disconnected { conn: citizen });
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::PeerReconnecting { peer: Role::Citizen, .. })),
    );
    sim.text(agent, &chat, 3, "three, while the citizen is away");
    sim.secs(30);
    let back = sim.citizen();
    sim.input(voicedesk_call_center::Input::Resumed {
        conn: back,
        citizen_id: format!("citizen-{}", citizen.0),
        citizen_token: "t".into(),
    });
    sim.take(back);
    sim.say(back, ClientMessage::RejoinChat { chat_id: chat.0.clone(), after_seq: 1 });
    let heard = sim.take(back);
    let Some(ServerMessage::ChatRejoined { messages, .. }) = heard.first() else {
        panic!("{heard:?}")
    };
    let seqs: Vec<u64> = messages.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    assert!(heard.iter().any(|m| matches!(m, ServerMessage::ChatConnected { .. })));
    assert!(sim.take(agent).iter().any(|m| matches!(m, ServerMessage::PeerReconnected { .. })));
    sim.secs(60);
    sim.text(back, &chat, 4, "still here after the grace");
    assert_eq!(sent_seq(&sim.take(back)), vec![4]);
}

#[test]
fn an_answered_chat_whose_citizen_does_not_come_back_ends_citizen_lost_after_the_grace() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.input(voicedesk_call_center::Input::Disconnected { conn: citizen });
    sim.secs(59);
    assert_eq!(ended(&sim.take(agent)), None);
    sim.secs(2);
    assert_eq!(ended(&sim.take(agent)), Some(EndReason::CitizenLost));
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::CitizenLost));
}

#[test]
fn a_waiting_chat_keeps_its_place_while_the_citizen_reloads() {
    let mut sim = Sim::new();
    let citizen = sim.citizen();
    let agent = sim.member("a1", Role::Agent);
    sim.headset(agent);
    let chat = sim.start_chat(citizen, Some("pension"));
    sim.input(voicedesk_call_center::Input::Disconnected { conn: citizen });
    let back = sim.citizen();
    sim.input(voicedesk_call_center::Input::Resumed {
        conn: back,
        citizen_id: format!("citizen-{}", citizen.0),
        citizen_token: "t".into(),
    });
    sim.say(back, ClientMessage::RejoinChat { chat_id: chat.0.clone(), after_seq: 0 });
    assert!(sim.take(back).iter().any(|m| matches!(m, ServerMessage::ChatRejoined { .. })));
    sim.say(
        agent,
        ClientMessage::SetState {
            state: voicedesk_protocol::AgentAvailability::Available,
            reason: None,
        },
    );
    assert!(
        sim.take(agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::ChatOffered { chat_id, .. } if *chat_id == chat.0))
    );
}

#[test]
fn a_waiting_chat_left_for_good_ends_abandoned() {
    let mut sim = Sim::new();
    let _agent = sim.member("a1", Role::Agent);
    let citizen = sim.citizen();
    let chat = sim.start_chat(citizen, Some("pension"));
    sim.input(voicedesk_call_center::Input::Disconnected { conn: citizen });
    sim.secs(61);
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::Abandoned));
}

#[test]
fn the_agent_gets_what_the_citizen_typed_while_waiting_when_the_chat_connects() {
    let mut sim = Sim::new();
    let agent = sim.member("a1", Role::Agent);
    sim.headset(agent);
    let citizen = sim.citizen();
    let chat = sim.start_chat(citizen, Some("pension"));
    sim.text(citizen, &chat, 1, "typed while waiting");
    assert_eq!(sent_seq(&sim.take(citizen)), vec![1]);
    sim.say(
        agent,
        ClientMessage::SetState {
            state: voicedesk_protocol::AgentAvailability::Available,
            reason: None,
        },
    );
    sim.accept(agent, &chat);
    let got = lines(&sim.take(agent));
    assert_eq!(got.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["typed while waiting"]);
}

#[test]
fn a_transferred_chat_waits_in_the_new_queue_with_its_original_queue_time() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.secs(40);
    // Away (keeping the chat), so the chat is not offered straight back to a1.
    let away = voicedesk_protocol::AgentAvailability::Away;
    sim.say(agent, ClientMessage::SetState { state: away, reason: None });
    sim.say(agent, ClientMessage::Transfer { call_id: chat.0.clone(), service: "medical".into() });
    assert_eq!(ended(&sim.take(agent)), Some(EndReason::Transferred));
    assert!(sim.take(citizen).iter().any(
        |m| matches!(m, ServerMessage::CallTransferred { service, .. } if service == "medical")
    ));
    let other = sim.ready_agent("a2");
    let offered = sim.heard(other);
    let waited = offered.iter().find_map(|m| match m {
        ServerMessage::ChatOffered { waited_ms, chat_id, .. } if *chat_id == chat.0 => {
            Some(*waited_ms)
        }
        _ => None,
    });
    assert!(waited.is_some_and(|w| w >= 40_000), "{offered:?}");
    sim.accept(other, &chat);
    sim.text(citizen, &chat, 1, "hello again");
    assert_eq!(lines(&sim.take(other)).len(), 1);
    assert!(lines(&sim.take(agent)).is_empty(), "the first agent hears no more");
}

#[test]
fn an_ended_chat_is_rated_like_a_call_and_a_low_rating_is_a_chat_rating() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(agent, ClientMessage::EndChat { chat_id: chat.0.clone() });
    sim.take(citizen);
    sim.say(
        citizen,
        ClientMessage::Rate {
            call_id: Some(chat.0.clone()),
            ticket: None,
            code: None,
            level: 2,
            comment: "slow".into(),
        },
    );
    let heard = sim.take(citizen);
    assert!(
        heard.iter().any(|m| matches!(m, ServerMessage::RatingSaved { level: 2, .. })),
        "{heard:?}"
    );
    let kind = sim.store_log.iter().find_map(|(r, _)| match r {
        StoreRequest::InsertRating { kind, subject_id, .. } if *subject_id == chat.0 => Some(*kind),
        _ => None,
    });
    assert_eq!(kind, Some(RatingKind::Chat));
}

#[test]
fn a_chat_ending_while_a_text_is_written_ends_after_it_and_the_other_side_hears_the_text_first() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    hold_texts(&mut sim);
    sim.text(citizen, &chat, 1, "last words");
    sim.text(citizen, &chat, 2, "never written");
    sim.say(agent, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(ended(&sim.heard(agent)), None, "the end waits for the text");
    sim.release(Answer::Ok);
    let heard = sim.take(agent);
    let text_at = heard.iter().position(|m| matches!(m, ServerMessage::ChatMessage(_)));
    let end_at = heard.iter().position(|m| matches!(m, ServerMessage::ChatEnded { .. }));
    assert!(text_at.is_some() && text_at < end_at, "{heard:?}");
    let to_citizen = sim.take(citizen);
    assert_eq!(sent_seq(&to_citizen), vec![1]);
    assert_eq!(error_code(&to_citizen, "send_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(sim.chats[&chat.0].lines.len(), 1);
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn an_agent_who_signs_out_ends_their_chats_agent_disconnected() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.input(voicedesk_call_center::Input::SignedOut { user_id: "a1".into() });
    assert_eq!(ended(&sim.take(citizen)), Some(EndReason::AgentDisconnected));
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::AgentDisconnected));
}

#[test]
fn shutdown_ends_every_chat_as_server_shutdown() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.input(voicedesk_call_center::Input::Shutdown);
    assert_eq!(ended(&sim.take(citizen)), Some(EndReason::ServerShutdown));
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::ServerShutdown));
}

#[test]
fn an_agents_chat_capacity_set_by_an_admin_bounds_their_chats_and_waits_while_something_rings() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let capacity = |n: Option<u8>| voicedesk_call_center::Input::ChatCapacities {
        capacities: [("a1".to_owned(), n)].into_iter().collect(),
    };
    sim.input(capacity(Some(1)));
    let (_c1, _chat) = sim.connected_chat(agent);
    let second_citizen = sim.citizen();
    let second = sim.start_chat(second_citizen, Some("pension"));
    assert!(
        !sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatOffered { .. })),
        "at a capacity of one, the second chat waits"
    );
    // Back to the default (3): the waiting chat rings at once, and while it rings a new
    // capacity waits for the next tick after it stopped ringing.
    sim.input(capacity(None));
    assert!(
        sim.take(agent).iter().any(
            |m| matches!(m, ServerMessage::ChatOffered { chat_id, .. } if *chat_id == second.0)
        )
    );
    sim.input(capacity(Some(0)));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.accept(agent, &second);
    sim.secs(1);
    let third_citizen = sim.citizen();
    sim.say(third_citizen, ClientMessage::StartChat { service: Some("pension".into()) });
    assert!(
        !sim.take(agent).iter().any(|m| matches!(m, ServerMessage::ChatOffered { .. })),
        "a capacity of 0 (applied at the tick) takes no new chat"
    );
    let view = sim.core.engine().agents().find(|a| a.id.0 == "a1").map(|a| a.profile.chat_capacity);
    assert_eq!(view, Some(0));
}

#[test]
fn the_wallboard_shows_chats_waiting_the_longest_chat_wait_active_chats_and_each_agents_load() {
    let mut sim = Sim::new();
    let staff = sim.ready_staff("staff1");
    let agent = sim.ready_agent("a1");
    sim.input(voicedesk_call_center::Input::ChatCapacities {
        capacities: [("a1".to_owned(), Some(1))].into_iter().collect(),
    });
    let (_citizen, _chat) = sim.connected_chat(agent);
    let waiting = sim.citizen();
    sim.start_chat(waiting, Some("pension"));
    sim.secs(30);
    let board = sim
        .heard(staff)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::Wallboard(board) => Some(board),
            _ => None,
        })
        .expect("a wallboard");
    let general = board.queues.iter().find(|q| q.name == "general").expect("the general queue");
    assert_eq!((general.chats_waiting, general.active_chats), (1, 1));
    assert!(general.longest_chat_wait_ms >= 29_000, "{general:?}");
    let all = &board.queues[0];
    assert_eq!((all.name.as_str(), all.chats_waiting, all.active_chats), ("all", 1, 1));
    let a1 = board.agents.iter().find(|a| a.user_id == "a1").expect("a1 on the board");
    assert_eq!((a1.chats, a1.chat_capacity), (1, 1));
    assert!(board.calls.is_empty(), "chats are not calls");
}

#[test]
fn a_citizen_waiting_in_a_chat_may_leave_a_message_instead_and_the_chat_ends_message_left() {
    let mut sim = Sim::new();
    let _agent = sim.member("a1", Role::Agent);
    let citizen = sim.citizen();
    let chat = sim.start_chat(citizen, Some("pension"));
    sim.say(
        citizen,
        ClientMessage::LeaveMessage {
            client_id: client_id(1),
            service: Some("pension".into()),
            name: None,
            phone: None,
            body: "what I typed in the chat".into(),
            call_id: Some(chat.0.clone()),
        },
    );
    let heard = sim.take(citizen);
    assert!(heard.iter().any(|m| matches!(m, ServerMessage::MessageSaved { .. })), "{heard:?}");
    assert_eq!(ended(&heard), Some(EndReason::MessageLeft));
    let message_call = sim.store_log.iter().find_map(|(r, _)| match r {
        StoreRequest::InsertMessage(m) => Some(m.call.clone()),
        _ => None,
    });
    assert_eq!(message_call, Some(None), "a message row names calls only");
    assert_eq!(sim.chats[&chat.0].ended, Some(EndReason::MessageLeft));
}
