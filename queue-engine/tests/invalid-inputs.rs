//! Inputs that do not fit the state are refused with a precise error, and change nothing: the
//! whole engine equals its snapshot from before and no command is queued (see
//! `Harness::refused`).

mod common;

use common::*;
use voicedesk_protocol::{AgentActivity, ErrorCode};
use voicedesk_queue_engine::{EngineError, Input, Party};

/// a1 has c1 ringing, a2 talks on c2, a3 is away, c3 waits.
fn busy_hall() -> Harness {
    let mut h = Harness::new();
    h.login_available("a2");
    h.arrive("c2");
    h.connect("a2", "c2");
    h.login_available("a1");
    h.login("a3");
    h.arrive("c1");
    h.arrive("c3");
    assert_eq!(h.ringing_at("a1").as_deref(), Some("c1"));
    h
}

#[test]
fn accept_or_reject_of_a_call_not_ringing_at_that_agent_is_refused() {
    let mut h = busy_hall();
    for (who, what) in [("a2", "c1"), ("a3", "c1"), ("a1", "c3"), ("a2", "c2"), ("a1", "c2")] {
        let expected = EngineError::NotOfferedToYou { call: call(what), agent: agent(who) };
        h.refused(Input::Accept { agent: agent(who), call: call(what) }, expected.clone());
        h.refused(Input::Reject { agent: agent(who), call: call(what) }, expected);
    }
    h.refused(
        Input::Accept { agent: agent("a1"), call: call("nope") },
        EngineError::UnknownCall(call("nope")),
    );
    h.refused(
        Input::Reject { agent: agent("ghost"), call: call("c1") },
        EngineError::UnknownAgent(agent("ghost")),
    );
}

#[test]
fn an_accepted_call_cannot_be_accepted_twice() {
    let mut h = busy_hall();
    h.accept("a1", "c1");
    h.refused(
        Input::Accept { agent: agent("a1"), call: call("c1") },
        EngineError::NotOfferedToYou { call: call("c1"), agent: agent("a1") },
    );
}

#[test]
fn hang_ups_of_unknown_calls_or_of_someone_elses_call_are_refused() {
    let mut h = busy_hall();
    h.refused(
        Input::HangUp { call: call("nope"), by: Party::Citizen },
        EngineError::UnknownCall(call("nope")),
    );
    for (who, what) in [("a1", "c2"), ("a1", "c1"), ("a3", "c3")] {
        h.refused(
            Input::HangUp { call: call(what), by: Party::Agent(agent(who)) },
            EngineError::NotYourCall { call: call(what), agent: agent(who) },
        );
    }
    h.refused(
        Input::HangUp { call: call("c2"), by: Party::Agent(agent("ghost")) },
        EngineError::UnknownAgent(agent("ghost")),
    );
    h.refused(Input::MediaFailed { call: call("nope") }, EngineError::UnknownCall(call("nope")));
    h.refused(Input::CallAbandoned { call: call("nope") }, EngineError::UnknownCall(call("nope")));
}

#[test]
fn availability_cannot_change_while_ringing_or_on_a_call() {
    let mut h = busy_hall();
    let ringing = EngineError::AgentBusy {
        agent: agent("a1"),
        call: call("c1"),
        activity: AgentActivity::Ringing,
    };
    let talking = EngineError::AgentBusy {
        agent: agent("a2"),
        call: call("c2"),
        activity: AgentActivity::OnCall,
    };
    h.refused(Input::AgentAvailable { agent: agent("a1") }, ringing.clone());
    h.refused(Input::AgentAway { agent: agent("a1"), reason: None }, ringing);
    h.refused(Input::AgentAvailable { agent: agent("a2") }, talking.clone());
    h.refused(Input::AgentAway { agent: agent("a2"), reason: Some("lunch".into()) }, talking);
}

#[test]
fn logins_logouts_and_arrivals_that_do_not_fit_are_refused() {
    let mut h = busy_hall();
    h.refused(
        Input::AgentLoggedIn { agent: agent("a1"), skills: skills(&[(GENERAL, 5)]) },
        EngineError::AlreadyLoggedIn(agent("a1")),
    );
    h.refused(
        Input::AgentLoggedOut { agent: agent("ghost") },
        EngineError::UnknownAgent(agent("ghost")),
    );
    h.refused(
        Input::AgentAvailable { agent: agent("ghost") },
        EngineError::UnknownAgent(agent("ghost")),
    );
    h.refused(
        Input::AgentAway { agent: agent("ghost"), reason: None },
        EngineError::UnknownAgent(agent("ghost")),
    );
    for live in ["c1", "c2", "c3"] {
        h.refused(
            Input::CallArrived {
                call: call(live),
                skill: skill(GENERAL),
                priority: 0,
                service: None,
            },
            EngineError::DuplicateCall(call(live)),
        );
    }
}

#[test]
fn errors_map_to_protocol_codes_and_say_what_was_wrong() {
    assert_eq!(EngineError::UnknownCall(call("c9")).code(), ErrorCode::UnknownCall);
    let not_offered = EngineError::NotOfferedToYou { call: call("c1"), agent: agent("a2") };
    assert_eq!(not_offered.code(), ErrorCode::InvalidState);
    assert_eq!(not_offered.to_string(), "call c1 is not ringing at agent a2");
    assert_eq!(
        EngineError::UnknownCall(call("c9")).to_string(),
        "unknown call c9: it never arrived or it has already ended"
    );
    let busy = EngineError::AgentBusy {
        agent: agent("a2"),
        call: call("c2"),
        activity: AgentActivity::OnCall,
    };
    assert_eq!(busy.code(), ErrorCode::InvalidState);
    assert_eq!(busy.to_string(), "agent a2 is on call c2; hang up before changing state");
}

#[test]
fn a_login_with_a_skill_level_out_of_range_is_refused() {
    let mut h = busy_hall();
    h.refused(
        Input::AgentLoggedIn { agent: agent("a9"), skills: skills(&[(GENERAL, 5), ("tax", 0)]) },
        EngineError::InvalidSkillLevel { skill: skill("tax"), level: 0 },
    );
    h.refused(
        Input::AgentLoggedIn { agent: agent("a9"), skills: skills(&[(GENERAL, 11)]) },
        EngineError::InvalidSkillLevel { skill: skill(GENERAL), level: 11 },
    );
    assert_eq!(
        EngineError::InvalidSkillLevel { skill: skill("tax"), level: 0 }.to_string(),
        "skill level 0 for tax is not between 1 and 10"
    );
}
