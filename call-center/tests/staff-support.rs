//! Staff on live calls: modes as routing, audit before effect, take over, help requests,
//! transfer.

mod common;

use common::{Answer, Sim, mode};
use voicedesk_call_center::store::{AuditAction, StoreFailure, StoreRequest};
use voicedesk_protocol::{
    ClientMessage, EndReason, ErrorCode, HelpState, ServerMessage, SupportMode,
};

struct Call3 {
    sim: Sim,
    citizen: voicedesk_call_center::ConnId,
    agent: voicedesk_call_center::ConnId,
    staff: voicedesk_call_center::ConnId,
    call: voicedesk_call_center::CallId,
    c: voicedesk_call_center::LegId,
    a: voicedesk_call_center::LegId,
    s: voicedesk_call_center::LegId,
}

fn set(legs: &[voicedesk_call_center::LegId]) -> Vec<voicedesk_call_center::LegId> {
    let mut v = legs.to_vec();
    v.sort();
    v
}

fn call_with_staff() -> Call3 {
    let mut sim = Sim::new();
    let agent = sim.ready_agent("agent1");
    let a = *sim.legs_made.last().unwrap();
    let staff = sim.ready_staff("staff1");
    let s = *sim.legs_made.last().unwrap();
    let (citizen, call) = sim.connected_call(agent);
    let c = sim.citizen_leg();
    sim.take(staff);
    Call3 { sim, citizen, agent, staff, call, c, a, s }
}

#[test]
fn whisper_never_feeds_the_citizen() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::Whisper);
    assert_eq!(t.sim.hears(t.c), vec![t.a], "the citizen hears only the agent");
    assert_eq!(t.sim.hears(t.a), set(&[t.c, t.s]), "the agent hears citizen and coach");
    assert_eq!(t.sim.hears(t.s), set(&[t.c, t.a]));
    assert!(
        !t.sim.take(t.citizen).iter().any(|m| matches!(m, ServerMessage::SupportChanged { .. })),
        "the citizen is not told of a whisperer"
    );
    t.sim.staff_never_feeds_citizen_unless_allowed().unwrap();
}

#[test]
fn monitor_hears_both_and_nobody_hears_the_monitor() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::Monitor);
    assert_eq!(t.sim.hears(t.c), vec![t.a]);
    assert_eq!(t.sim.hears(t.a), vec![t.c]);
    assert_eq!(t.sim.hears(t.s), set(&[t.c, t.a]));
}

#[test]
fn barge_is_heard_by_both_and_the_citizen_is_told() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::Barge);
    assert_eq!(t.sim.hears(t.c), set(&[t.a, t.s]));
    let told = t.sim.take(t.citizen);
    assert!(told.iter().any(
        |m| matches!(m, ServerMessage::SupportChanged { supporters, .. } if supporters.len() == 1)
    ));
    // Back to whisper: the staff member is out of the citizen's ears, and the citizen is told.
    t.sim.say(
        t.staff,
        ClientMessage::SetMode { call_id: t.call.0.clone(), mode: SupportMode::Whisper },
    );
    assert_eq!(t.sim.hears(t.c), vec![t.a]);
    assert!(t.sim.take(t.citizen).iter().any(
        |m| matches!(m, ServerMessage::SupportChanged { supporters, .. } if supporters.is_empty())
    ));
    t.sim.staff_never_feeds_citizen_unless_allowed().unwrap();
}

#[test]
fn a_join_takes_effect_only_after_its_audit_entry_is_committed() {
    let mut t = call_with_staff();
    t.sim.store_policy =
        Box::new(|r| if matches!(r, StoreRequest::Audit(_)) { Answer::Hold } else { Answer::Ok });
    t.sim.join(t.staff, &t.call, SupportMode::Barge);
    assert_eq!(t.sim.hears(t.c), vec![t.a], "not routed before the audit entry commits");
    assert!(t.sim.hears(t.s).is_empty());
    t.sim.release(Answer::Ok);
    assert_eq!(t.sim.hears(t.c), set(&[t.a, t.s]));
}

#[test]
fn an_audit_failure_refuses_the_join_and_routes_nothing() {
    let mut t = call_with_staff();
    t.sim.store_policy = Box::new(|r| {
        if matches!(r, StoreRequest::Audit(_)) {
            Answer::Fail(StoreFailure::Unavailable("x".into()))
        } else {
            Answer::Ok
        }
    });
    t.sim.join(t.staff, &t.call, SupportMode::Barge);
    assert!(matches!(
        &t.sim.take(t.staff)[..],
        [ServerMessage::Error { code: ErrorCode::Internal, .. }]
    ));
    assert!(t.sim.hears(t.s).is_empty());
    assert_eq!(t.sim.hears(t.c), vec![t.a]);
}

#[test]
fn a_second_speaker_is_refused_but_may_monitor() {
    let mut t = call_with_staff();
    let other = t.sim.ready_staff("staff2");
    t.sim.join(t.staff, &t.call, SupportMode::Whisper);
    t.sim.join(other, &t.call, SupportMode::Barge);
    assert!(matches!(
        &t.sim.take(other)[..],
        [ServerMessage::Error { code: ErrorCode::InvalidState, .. }]
    ));
    t.sim.join(other, &t.call, SupportMode::Monitor);
    assert!(t.sim.take(other).iter().any(
        |m| matches!(m, ServerMessage::SupportChanged { supporters, .. } if supporters.len() == 2)
    ));
}

#[test]
fn take_over_hands_the_citizen_to_staff_and_sends_the_agent_to_after_call_work() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, mode("take_over"));
    assert_eq!(t.sim.hears(t.c), vec![t.s]);
    assert_eq!(t.sim.hears(t.s), vec![t.c]);
    assert!(t.sim.hears(t.a).is_empty(), "the agent is out of the call");
    let to_agent = t.sim.take(t.agent);
    assert!(
        to_agent
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::TakenOver, .. }))
    );
    assert!(t.sim.ends_written().is_empty(), "the call goes on with the staff member");
    assert!(t.sim.store_log.iter().any(|(r, _)| matches!(r, StoreRequest::CallTakenOver { .. })));
}

#[test]
fn staff_leaving_a_taken_over_call_ends_it_staff_hang_up() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::TakeOver);
    t.sim.say(t.staff, ClientMessage::LeaveCall { call_id: t.call.0.clone() });
    assert_eq!(t.sim.ends_written(), vec![(t.call.clone(), EndReason::StaffHangUp)]);
    assert!(
        t.sim
            .take(t.citizen)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::StaffHangUp, .. }))
    );
}

#[test]
fn a_help_request_is_answered_by_accept_help_in_whisper() {
    let mut t = call_with_staff();
    t.sim.say(
        t.agent,
        ClientMessage::RequestHelp { call_id: t.call.0.clone(), reason: "pension rules".into() },
    );
    assert!(
        t.sim
            .take(t.agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::HelpStatus { state: HelpState::Pending, .. }))
    );
    let board = t.sim.take(t.staff);
    assert!(
        board
            .iter()
            .any(|m| matches!(m, ServerMessage::Wallboard(w) if w.help_requests.len() == 1))
    );
    t.sim.say(t.staff, ClientMessage::AcceptHelp { call_id: t.call.0.clone() });
    assert!(
        t.sim
            .take(t.agent)
            .iter()
            .any(|m| matches!(m, ServerMessage::HelpStatus { state: HelpState::Accepted, .. }))
    );
    assert_eq!(t.sim.hears(t.a), set(&[t.c, t.s]));
    assert_eq!(t.sim.hears(t.c), vec![t.a]);
}

#[test]
fn accept_help_without_a_request_is_refused() {
    let mut t = call_with_staff();
    t.sim.say(t.staff, ClientMessage::AcceptHelp { call_id: t.call.0.clone() });
    assert!(matches!(
        &t.sim.take(t.staff)[..],
        [ServerMessage::Error { code: ErrorCode::InvalidState, .. }]
    ));
}

#[test]
fn a_supporter_whose_call_ends_leaves_with_an_audit_entry() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::Monitor);
    t.sim.say(t.citizen, ClientMessage::HangUp { call_id: t.call.0.clone() });
    assert!(t.sim.take(t.staff).iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })));
    assert!(
        t.sim
            .store_log
            .iter()
            .any(|(r, _)| matches!(r, StoreRequest::Audit(a) if a.action == AuditAction::Leave))
    );
}

#[test]
fn a_transfer_sends_supporters_away_and_the_citizen_back_to_hold() {
    let mut t = call_with_staff();
    t.sim.join(t.staff, &t.call, SupportMode::Monitor);
    t.sim.say(
        t.agent,
        ClientMessage::Transfer { call_id: t.call.0.clone(), service: "medical".into() },
    );
    assert!(t.sim.take(t.citizen).iter().any(
        |m| matches!(m, ServerMessage::CallTransferred { service, .. } if service == "medical")
    ));
    assert!(
        t.sim
            .take(t.staff)
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::Transferred, .. }))
    );
    assert!(t.sim.hears(t.c).is_empty(), "the citizen's slots have no source: the hold tune plays");
    assert!(t.sim.ends_written().is_empty(), "a transfer is not an end");
}

#[test]
fn the_agent_hears_who_takes_the_call_over_before_the_call_ends_for_them() {
    let mut t = call_with_staff();
    t.sim.take(t.agent);
    t.sim.join(t.staff, &t.call, SupportMode::TakeOver);
    let to_agent = t.sim.take(t.agent);
    let told_who = to_agent.iter().position(|m| {
        matches!(m, ServerMessage::SupportChanged { supporters, .. }
            if supporters.iter().any(|s| s.mode == SupportMode::TakeOver))
    });
    let ended = to_agent
        .iter()
        .position(|m| matches!(m, ServerMessage::CallEnded { reason: EndReason::TakenOver, .. }));
    assert!(
        matches!((told_who, ended), (Some(w), Some(e)) if w < e),
        "support_changed naming the take over, then call_ended: {to_agent:?}"
    );
}

#[test]
fn each_queue_is_measured_against_its_own_service_level_target() {
    use voicedesk_call_center::{Input, Routing, ServiceLevelTarget, SkillId};
    let mut sim = Sim::new();
    // Medical has its own target (90 % within 60 s); general uses the defaults (80 % in 20 s).
    let medical = ServiceLevelTarget { seconds: Some(60), pct: Some(90) };
    let routing = Routing {
        service_levels: [(SkillId("medical".into()), medical)].into(),
        ..common::routing()
    };
    sim.input(Input::Catalogue { routing, agent_skills: Default::default() });
    let staff = sim.ready_staff("staff1");
    // One call of each queue waits 30 s for the only agent, who is away, then answers it.
    let agent = sim.member("agent1", voicedesk_protocol::Role::Agent);
    sim.headset(agent);
    for service in ["medical", "pension"] {
        let citizen = sim.citizen();
        let call = sim.place_call(citizen, Some(service));
        sim.secs(30);
        let available = voicedesk_protocol::AgentAvailability::Available;
        sim.say(agent, ClientMessage::SetState { state: available, reason: None });
        sim.accept(agent, &call);
        sim.say(agent, ClientMessage::HangUp { call_id: call.0.clone() });
        sim.secs(31);
        let away = voicedesk_protocol::AgentAvailability::Away;
        sim.say(agent, ClientMessage::SetState { state: away, reason: None });
    }
    sim.secs(5);
    let board = sim
        .take(staff)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Wallboard(w) => Some(w),
            _ => None,
        })
        .next_back()
        .expect("a wallboard");
    let row = |name: &str| board.queues.iter().find(|q| q.name == name).expect(name).clone();
    let (medical, general, all) = (row("medical"), row("general"), row("all"));
    assert_eq!(
        (
            medical.service_level_pct,
            medical.service_level_seconds,
            medical.service_level_target_pct
        ),
        (Some(100.0), 60, 90),
        "30 s is within medical's own 60 s"
    );
    assert_eq!(
        (
            general.service_level_pct,
            general.service_level_seconds,
            general.service_level_target_pct
        ),
        (Some(0.0), 20, 80),
        "30 s is over the default 20 s"
    );
    assert_eq!((all.answered_today, all.service_level_pct), (2, Some(50.0)));
}
