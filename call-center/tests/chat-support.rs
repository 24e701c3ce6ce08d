//! Staff on live chats (issue 16): watch read-only, whisper to the agent, take over — each
//! audited before it takes effect (the harness also flags any such message told before its
//! audit entry committed, in `sim.broken`).

mod common;

use common::{Answer, Sim};
use voicedesk_call_center::CallId;
use voicedesk_call_center::store::{ChatAuditAction, StoreFailure, StoreRequest};
use voicedesk_protocol::{ClientMessage, EndReason, ErrorCode, Role, ServerMessage};

fn watch(sim: &mut Sim, staff: voicedesk_call_center::ConnId, chat: &CallId) {
    sim.say(staff, ClientMessage::WatchChat { chat_id: chat.0.clone() });
}

fn whisper(sim: &mut Sim, staff: voicedesk_call_center::ConnId, chat: &CallId, text: &str) {
    let message = ClientMessage::WhisperChat { chat_id: chat.0.clone(), text: text.to_owned() };
    sim.say(staff, message);
}

fn error_code(heard: &[ServerMessage], request: &str) -> Option<ErrorCode> {
    heard.iter().find_map(|m| match m {
        ServerMessage::Error { code, request_type: Some(r), .. } if r == request => Some(*code),
        _ => None,
    })
}

fn audits(sim: &Sim) -> Vec<ChatAuditAction> {
    sim.chat_audits.iter().map(|a| a.action).collect()
}

fn hold_chat_audits(sim: &mut Sim) {
    sim.store_policy =
        Box::new(
            |r| {
                if matches!(r, StoreRequest::ChatAudit(_)) { Answer::Hold } else { Answer::Ok }
            },
        );
}

#[test]
fn staff_watch_a_chat_only_after_the_audit_commits_and_get_the_conversation_so_far() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.text(citizen, &chat, 1, "养老金什么时候到账?");
    let staff = sim.ready_staff("s1");
    hold_chat_audits(&mut sim);
    watch(&mut sim, staff, &chat);
    assert!(sim.take(staff).is_empty(), "nothing before the audit commits");
    sim.release(Answer::Ok);
    let heard = sim.take(staff);
    let watching = heard.iter().find_map(|m| match m {
        ServerMessage::ChatWatching { chat_id, agent_name, messages } if *chat_id == chat.0 => {
            Some((agent_name.clone(), messages.clone()))
        }
        _ => None,
    });
    let (agent_name, messages) = watching.expect("chat_watching");
    assert_eq!(agent_name, "Name of a1");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "养老金什么时候到账?");
    assert_eq!(audits(&sim), vec![ChatAuditAction::Watch]);

    // New texts of both sides come live.
    sim.store_policy = Box::new(|_| Answer::Ok);
    sim.text(agent, &chat, 2, "预计本月15日");
    sim.text(citizen, &chat, 3, "谢谢");
    let live: Vec<(Role, String)> = sim
        .take(staff)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::ChatMessage(l) => Some((l.from, l.text)),
            _ => None,
        })
        .collect();
    assert_eq!(
        live,
        vec![(Role::Agent, "预计本月15日".to_owned()), (Role::Citizen, "谢谢".to_owned())]
    );
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_whisper_goes_to_the_agent_and_the_staff_member_only_never_to_the_citizen() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    hold_chat_audits(&mut sim);
    whisper(&mut sim, staff, &chat, "先核对身份证号");
    assert!(sim.take(agent).is_empty(), "nothing before the audit commits");
    sim.release(Answer::Ok);
    let to_agent = sim.take(agent);
    assert!(
        to_agent.iter().any(|m| matches!(m, ServerMessage::ChatWhisper { text, staff_name, .. }
            if text == "先核对身份证号" && staff_name == "Name of s1")),
        "{to_agent:?}"
    );
    assert!(sim.take(staff).iter().any(|m| matches!(m, ServerMessage::ChatWhisper { .. })));
    assert!(
        !sim.heard(citizen).iter().any(|m| format!("{m:?}").contains("先核对身份证号")),
        "the citizen never gets the whisper: {:?}",
        sim.heard(citizen)
    );
    let audit = sim.chat_audits.last().expect("whisper audited");
    assert_eq!(audit.action, ChatAuditAction::Whisper);
    assert_eq!(audit.detail.as_deref(), Some("先核对身份证号"));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn a_take_over_makes_the_staff_member_the_agent_and_frees_the_agents_capacity() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let chats_of =
        |sim: &Sim| sim.core.engine().agents().find(|a| a.id.0 == "a1").map(|a| a.chats.len());
    assert_eq!(chats_of(&sim), Some(1));
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    hold_chat_audits(&mut sim);
    sim.say(staff, ClientMessage::TakeOverChat { chat_id: chat.0.clone() });
    assert!(sim.take(agent).is_empty() && sim.take(citizen).is_empty(), "not before the audit");
    assert_eq!(chats_of(&sim), Some(1));
    sim.release(Answer::Ok);
    assert_eq!(ended_reason(&sim.take(agent)), Some(EndReason::TakenOver));
    assert_eq!(chats_of(&sim), Some(0), "the agent's chat capacity is freed");
    let to_citizen = sim.take(citizen);
    assert!(
        to_citizen.iter().any(|m| matches!(m, ServerMessage::ChatConnected { peer_name, .. }
            if peer_name == "Name of s1")),
        "{to_citizen:?}"
    );
    assert!(ended_reason(&to_citizen).is_none(), "the chat goes on for the citizen");
    assert!(sim.take(staff).iter().any(|m| matches!(m, ServerMessage::ChatConnected { .. })));

    // The staff member now writes as the chat's agent; the old agent may not.
    sim.store_policy = Box::new(|_| Answer::Ok);
    sim.text(staff, &chat, 7, "我来帮您处理");
    assert!(sim.take(citizen).iter().any(
        |m| matches!(m, ServerMessage::ChatMessage(l) if l.text == "我来帮您处理" && l.from == Role::Agent)
    ));
    sim.text(agent, &chat, 8, "还是我");
    assert_eq!(error_code(&sim.take(agent), "send_chat"), Some(ErrorCode::InvalidState));
    // The citizen's end ends it for both, once.
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(ended_reason(&sim.take(staff)), Some(EndReason::CitizenHangUp));
    let ends: Vec<EndReason> = sim
        .store_log
        .iter()
        .filter_map(|(r, _)| match r {
            StoreRequest::ChatEnded { chat: c, reason, .. } if *c == chat => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(ends, vec![EndReason::CitizenHangUp], "the chat ends once");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

fn ended_reason(heard: &[ServerMessage]) -> Option<EndReason> {
    heard.iter().find_map(|m| match m {
        ServerMessage::ChatEnded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn a_chat_that_ends_while_watched_ends_the_watching() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    sim.say(citizen, ClientMessage::EndChat { chat_id: chat.0.clone() });
    assert_eq!(ended_reason(&sim.take(staff)), Some(EndReason::CitizenHangUp));
    let last = sim.chat_audits.last().expect("leave noted");
    assert_eq!((last.action, last.detail.as_deref()), (ChatAuditAction::Leave, Some("chat ended")));
    whisper(&mut sim, staff, &chat, "还在吗");
    assert_eq!(error_code(&sim.take(staff), "whisper_chat"), Some(ErrorCode::UnknownCall));
}

#[test]
fn leaving_the_view_ends_the_monitoring_after_its_audit() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    sim.say(staff, ClientMessage::UnwatchChat { chat_id: chat.0.clone() });
    assert_eq!(ended_reason(&sim.take(staff)), Some(EndReason::StaffHangUp));
    sim.text(citizen, &chat, 1, "你好");
    assert!(sim.take(staff).is_empty(), "no more texts after leaving");
    assert_eq!(audits(&sim), vec![ChatAuditAction::Watch, ChatAuditAction::Leave]);
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}

#[test]
fn wrong_role_unknown_chat_and_unwatched_chat_are_refused_and_nothing_changes() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let other = sim.ready_agent("a2");
    watch(&mut sim, other, &chat);
    assert_eq!(error_code(&sim.take(other), "watch_chat"), Some(ErrorCode::Forbidden));
    watch(&mut sim, citizen, &chat);
    assert_eq!(error_code(&sim.take(citizen), "watch_chat"), Some(ErrorCode::Forbidden));
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &CallId("no-such-chat".into()));
    assert_eq!(error_code(&sim.take(staff), "watch_chat"), Some(ErrorCode::UnknownCall));
    whisper(&mut sim, staff, &chat, "hi");
    assert_eq!(error_code(&sim.take(staff), "whisper_chat"), Some(ErrorCode::InvalidState));
    sim.say(staff, ClientMessage::TakeOverChat { chat_id: chat.0.clone() });
    assert_eq!(error_code(&sim.take(staff), "take_over_chat"), Some(ErrorCode::InvalidState));
    // A watcher cannot write to the chat as if it were theirs.
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    sim.text(staff, &chat, 1, "我是旁听");
    assert_eq!(error_code(&sim.take(staff), "send_chat"), Some(ErrorCode::InvalidState));
    whisper(&mut sim, staff, &chat, "   ");
    assert_eq!(error_code(&sim.take(staff), "whisper_chat"), Some(ErrorCode::InvalidState));
    assert_eq!(audits(&sim), vec![ChatAuditAction::Watch], "only the one watch was audited");
    assert!(sim.take(agent).is_empty() && sim.take(citizen).is_empty());
}

#[test]
fn an_action_whose_audit_fails_is_refused_and_does_not_happen() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::ChatAudit(_)) {
            Answer::Fail(StoreFailure::Unavailable("disk".into()))
        } else {
            Answer::Ok
        }
    });
    sim.say(staff, ClientMessage::TakeOverChat { chat_id: chat.0.clone() });
    assert_eq!(error_code(&sim.take(staff), "take_over_chat"), Some(ErrorCode::Internal));
    assert!(sim.take(agent).is_empty() && sim.take(citizen).is_empty());
    let chats = sim.core.engine().agents().find(|a| a.id.0 == "a1").map(|a| a.chats.len());
    assert_eq!(chats, Some(1), "the agent keeps the chat");
}

#[test]
fn the_wallboard_lists_live_chats_with_their_watchers() {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (_citizen, chat) = sim.connected_chat(agent);
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    let board = sim
        .take(staff)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ServerMessage::Wallboard(b) => Some(b),
            _ => None,
        })
        .expect("a wallboard push");
    let row = board.chats.iter().find(|c| c.chat_id == chat.0).expect("the chat's row");
    assert!(row.answered);
    assert_eq!(row.agent_name.as_deref(), Some("Name of a1"));
    assert_eq!(row.watchers, vec!["Name of s1".to_owned()]);
}

#[test]
fn a_chat_becoming_a_call_is_taken_over_as_the_call_and_a_taken_over_chat_stays_a_chat() {
    // An upgraded chat's texts belong to the voice call: staff may watch and whisper, but a
    // take over goes through the call's support.
    let mut sim = Sim::new();
    let agent = sim.ready_agent("a1");
    let (citizen, chat) = sim.connected_chat(agent);
    sim.say(citizen, ClientMessage::UpgradeChat { chat_id: chat.0.clone(), sdp: "mic".into() });
    assert!(
        sim.take(citizen).iter().any(|m| matches!(m, ServerMessage::ChatUpgraded { .. })),
        "upgraded"
    );
    let staff = sim.ready_staff("s1");
    watch(&mut sim, staff, &chat);
    sim.take(staff);
    sim.say(staff, ClientMessage::TakeOverChat { chat_id: chat.0.clone() });
    assert_eq!(error_code(&sim.take(staff), "take_over_chat"), Some(ErrorCode::InvalidState));
    assert!(ended_reason(&sim.take(agent)).is_none(), "the agent keeps the call's texts");

    // A chat a staff member took over is not turned into a call with the agent who left it.
    let agent = sim.ready_agent("a2");
    let (citizen, chat) = sim.connected_chat(agent);
    watch(&mut sim, staff, &chat);
    sim.say(staff, ClientMessage::TakeOverChat { chat_id: chat.0.clone() });
    assert_eq!(ended_reason(&sim.take(agent)), Some(EndReason::TakenOver));
    sim.take(citizen);
    sim.say(citizen, ClientMessage::UpgradeChat { chat_id: chat.0.clone(), sdp: "mic".into() });
    assert_eq!(error_code(&sim.take(citizen), "upgrade_chat"), Some(ErrorCode::InvalidState));
    assert!(sim.broken.is_empty(), "{:?}", sim.broken);
}
