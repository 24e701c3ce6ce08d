//! Two channels in one queue: chats and voice calls wait in the same order, an agent holds up
//! to their chat capacity of chats or one call, a chat never rings at an agent in a call, and
//! a call rings at an agent holding chats only when their routing profile allows it (and
//! never at chat capacity).

mod common;

use std::time::Duration;

use common::*;
use voicedesk_protocol::{AgentActivity, EndReason};
use voicedesk_queue_engine::{
    Channel, Command, EngineConfig, EngineError, Input, MAX_CHAT_CAPACITY, QueueSettings,
    RoutingProfile,
};

#[test]
fn an_agent_holds_three_chats_by_default_and_the_fourth_waits() {
    let mut h = Harness::new();
    h.login_available("a1");
    for id in ["h1", "h2", "h3"] {
        assert_eq!(offers(&h.chat(id)), pairs(&[(id, "a1")]));
        h.accept("a1", id);
        assert_eq!(h.activity("a1"), Some(AgentActivity::Available), "chats leave a1 available");
    }
    assert_eq!(h.chats_of("a1"), ["h1", "h2", "h3"]);

    let out = h.chat("h4");
    assert_eq!(offers(&out), pairs(&[]), "a1 is at chat capacity");
    assert_eq!(positions(&out), [("h4".to_owned(), 1)]);
    assert_eq!(h.engine.channel(&call("h4")), Some(Channel::Chat));

    // One chat ends: its slot frees at once and the waiting chat rings.
    let out = h.citizen_hangs_up("h2");
    assert_eq!(ends(&out), [("h2".to_owned(), Some("a1".to_owned()), EndReason::CitizenHangUp)]);
    assert_eq!(offers(&out), pairs(&[("h4", "a1")]));
}

#[test]
fn a_chat_never_rings_at_an_agent_in_a_call() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    let out = h.chat("h1");
    assert_eq!(offers(&out), pairs(&[]), "a1 is in a voice call");
    assert_eq!(positions(&out), [("h1".to_owned(), 1)]);

    // The call ends (no after-call work in this configuration): the chat rings at once.
    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(offers(&out), pairs(&[("h1", "a1")]));
}

#[test]
fn a_chat_never_rings_at_an_agent_in_after_call_work_or_away() {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    h.arrive("c1");
    h.connect("a1", "c1");
    h.agent_hangs_up("a1", "c1");
    assert_eq!(h.activity("a1"), Some(AgentActivity::AfterCallWork));
    assert_eq!(offers(&h.chat("h1")), pairs(&[]));
    let out = h.advance(EngineConfig::DEFAULT_AFTER_CALL_WORK);
    assert_eq!(offers(&out), pairs(&[("h1", "a1")]), "wrap-up over: the chat rings");
}

#[test]
fn by_default_a_call_rings_only_at_an_agent_holding_no_chat() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.chat("h1");
    h.accept("a1", "h1");

    let out = h.arrive("c1");
    assert_eq!(offers(&out), pairs(&[]), "a1 holds a chat");
    assert_eq!(offers(&h.login_available("a2")), pairs(&[("c1", "a2")]));
    h.accept("a2", "c1");

    // a1's last chat ends: a1 takes calls again.
    h.agent_hangs_up("a1", "h1");
    assert_eq!(offers(&h.arrive("c2")), pairs(&[("c2", "a1")]));
}

#[test]
fn with_calls_beside_chats_a_call_rings_below_chat_capacity_but_never_at_it() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.profile("a1", 2, true);
    h.chat("h1");
    h.accept("a1", "h1");

    // One chat of two: a call may ring.
    assert_eq!(offers(&h.arrive("c1")), pairs(&[("c1", "a1")]));
    h.accept("a1", "c1");
    assert_eq!(h.activity("a1"), Some(AgentActivity::OnCall));
    assert_eq!(h.chats_of("a1"), ["h1"], "the chat stays with a1 during the call");
    assert_eq!(offers(&h.chat("h2")), pairs(&[]), "no chat during a call");

    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(offers(&out), pairs(&[("h2", "a1")]));
    h.accept("a1", "h2");

    // Two chats of two: at capacity, no call.
    assert_eq!(offers(&h.arrive("c2")), pairs(&[]));
    assert_eq!(offers(&h.agent_hangs_up("a1", "h1")), pairs(&[("c2", "a1")]));
}

#[test]
fn chats_and_calls_are_served_in_one_order() {
    let mut h = Harness::new();
    h.login("a1");
    h.arrive("c1");
    h.advance_secs(1);
    h.chat("h1");
    h.advance_secs(1);
    h.arrive("c2");
    h.advance_secs(1);
    let out = h.chat_in("h2", GENERAL, 1);
    let expected = [("h2", 1), ("c1", 2), ("h1", 3), ("c2", 4)].map(|(c, p)| (c.to_owned(), p));
    assert_eq!(positions(&out), expected, "a higher priority goes first, whatever the channel");

    // Whatever its channel, the first contact in the queue rings first.
    assert_eq!(offers(&h.available("a1")), pairs(&[("h2", "a1")]));
    assert_eq!(offers(&h.reject("a1", "h2")), pairs(&[("h2", "a1")]), "nobody else");
    h.accept("a1", "h2");
    // a1 holds a chat: calls wait, the next chat rings.
    assert_eq!(h.ringing_at("a1").as_deref(), Some("h1"));
    h.accept("a1", "h1");
    let out = h.agent_hangs_up("a1", "h2");
    assert_eq!(offers(&out), pairs(&[]), "a1 still holds h1, so c1 and c2 wait");
    assert_eq!(offers(&h.agent_hangs_up("a1", "h1")), pairs(&[("c1", "a1")]));
}

#[test]
fn a_chat_nobody_can_take_does_not_hold_up_the_calls_behind_it() {
    let mut h = Harness::new();
    h.login("a1");
    h.profile("a1", 0, false);
    h.chat("h1");
    h.advance_secs(1);
    h.arrive("c1");
    let out = h.available("a1");
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]), "a1 takes no chats");
    assert_eq!(h.engine.position(&call("h1")), Some(1), "the chat keeps its place");
}

#[test]
fn chats_go_to_the_agent_holding_the_fewest() {
    let mut h = Harness::new();
    h.login_available_with("a1", &[(GENERAL, 9)]);
    h.advance_secs(1);
    h.login_available_with("a2", &[(GENERAL, 1)]);
    let mut offered = Vec::new();
    for id in ["h1", "h2", "h3", "h4"] {
        h.advance_secs(1);
        let out = h.chat(id);
        offered.extend(offers(&out));
        let (_, to) = offers(&out).pop().expect("a chat rings at once");
        h.accept(&to, id);
    }
    // Load first, then the skill level: a1 (level 9) gets the first, a2 the second even though
    // its level is lower, then a1 again.
    assert_eq!(offered, pairs(&[("h1", "a1"), ("h2", "a2"), ("h3", "a1"), ("h4", "a2")]));
}

#[test]
fn a_chat_that_ends_needs_no_after_call_work() {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    h.chat("h1");
    h.accept("a1", "h1");
    let out = h.agent_hangs_up("a1", "h1");
    assert_eq!(ends(&out), [("h1".to_owned(), Some("a1".to_owned()), EndReason::AgentHangUp)]);
    assert_eq!(agent_states(&out), [], "the agent's state does not change");
    assert_eq!(h.activity("a1"), Some(AgentActivity::Available));
    assert_eq!(offers(&h.chat("h2")), pairs(&[("h2", "a1")]), "straight on");
}

#[test]
fn a_transferred_chat_frees_the_slot_and_keeps_its_queue_time() {
    let mut h = Harness::new();
    h.configure("tax", QueueSettings::default());
    h.login_available("a1");
    h.login_with("a2", &[("tax", 5)]);
    h.chat("h1");
    h.accept("a1", "h1");
    h.advance_secs(20);
    h.login_with("a3", &[("tax", 5)]);
    h.chat_in("h2", "tax", 0);

    let out = h.ok(Input::Transfer {
        agent: agent("a1"),
        call: call("h1"),
        to_skill: skill("tax"),
        priority: None,
    });
    assert!(out.contains(&Command::Transferred {
        call: call("h1"),
        agent: agent("a1"),
        skill: skill("tax"),
    }));
    assert_eq!(h.chats_of("a1"), Vec::<String>::new());
    assert_eq!(h.activity("a1"), Some(AgentActivity::Available), "no after-call work");
    assert_eq!(h.engine.position(&call("h1")), Some(1), "ahead of the later h2");
    let out = h.available("a2");
    assert_eq!(offers(&out), pairs(&[("h1", "a2")]));
}

#[test]
fn an_agent_who_logs_out_ends_every_chat_they_hold() {
    let mut h = Harness::new();
    h.login_available("a1");
    for id in ["h1", "h2"] {
        h.chat(id);
        h.accept("a1", id);
    }
    let out = h.logout("a1");
    assert_eq!(
        ends(&out),
        [
            ("h1".to_owned(), Some("a1".to_owned()), EndReason::AgentDisconnected),
            ("h2".to_owned(), Some("a1".to_owned()), EndReason::AgentDisconnected),
        ]
    );
    assert_eq!(h.engine.calls().count(), 0);
}

#[test]
fn an_agent_away_keeps_their_chats_and_gets_no_new_one() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.chat("h1");
    h.accept("a1", "h1");
    h.away("a1");
    assert_eq!(h.chats_of("a1"), ["h1"]);
    assert_eq!(offers(&h.chat("h2")), pairs(&[]));
    assert_eq!(offers(&h.available("a1")), pairs(&[("h2", "a1")]));
}

#[test]
fn lowering_the_capacity_keeps_the_chats_and_offers_none_until_below_it() {
    let mut h = Harness::new();
    h.login_available("a1");
    for id in ["h1", "h2", "h3"] {
        h.chat(id);
        h.accept("a1", id);
    }
    assert_eq!(h.profile("a1", 1, false), []);
    assert_eq!(h.chats_of("a1"), ["h1", "h2", "h3"]);
    h.chat("h4");
    assert_eq!(offers(&h.agent_hangs_up("a1", "h1")), pairs(&[]));
    assert_eq!(offers(&h.agent_hangs_up("a1", "h2")), pairs(&[]), "one chat: at capacity 1");
    assert_eq!(offers(&h.agent_hangs_up("a1", "h3")), pairs(&[("h4", "a1")]));

    // Raising it offers at once.
    h.accept("a1", "h4");
    h.chat("h5");
    assert_eq!(offers(&h.profile("a1", 2, false)), pairs(&[("h5", "a1")]));
}

#[test]
fn a_parked_chat_keeps_its_place_and_rings_again_when_its_citizen_is_back() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.chat("h1");
    let out = h.ok(Input::CitizenDisconnected { call: call("h1") });
    assert_eq!(withdrawals(&out).len(), 1);
    assert_eq!(h.engine.position(&call("h1")), Some(1));
    let out = h.ok(Input::CitizenReconnected { call: call("h1") });
    assert_eq!(offers(&out), pairs(&[("h1", "a1")]));
}

#[test]
fn a_chat_that_rings_out_goes_to_the_next_agent() {
    let mut h = Harness::with_config(classic().with_max_missed_offers(0));
    h.login_available("a1");
    h.chat("h1");
    h.advance_secs(1);
    h.login_available("a2");
    let out = h.advance(EngineConfig::DEFAULT_RING_TIMEOUT + Duration::from_secs(1));
    assert_eq!(offers(&out), pairs(&[("h1", "a2")]));
}

#[test]
fn bad_routing_profiles_and_chat_ids_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    h.login_available("a1");
    let too_many = RoutingProfile { chat_capacity: MAX_CHAT_CAPACITY + 1, calls_with_chats: false };
    h.refused(
        Input::SetRoutingProfile { agent: agent("a1"), profile: too_many },
        EngineError::InvalidChatCapacity(MAX_CHAT_CAPACITY + 1),
    );
    h.refused(
        Input::SetRoutingProfile { agent: agent("a9"), profile: RoutingProfile::default() },
        EngineError::UnknownAgent(agent("a9")),
    );
    h.chat("h1");
    h.refused(
        Input::SetRoutingProfile { agent: agent("a1"), profile: RoutingProfile::default() },
        EngineError::AgentBusy {
            agent: agent("a1"),
            call: call("h1"),
            activity: AgentActivity::Ringing,
        },
    );
    // Calls and chats share one id space.
    h.refused(
        Input::CallArrived { call: call("h1"), skill: skill(GENERAL), priority: 0, service: None },
        EngineError::DuplicateCall(call("h1")),
    );
    h.refused(
        Input::ChatArrived { chat: call("h1"), skill: skill(GENERAL), priority: 0, service: None },
        EngineError::DuplicateCall(call("h1")),
    );
    h.refused(
        Input::ChatArrived { chat: call("h2"), skill: skill("nope"), priority: 0, service: None },
        EngineError::UnknownQueue(skill("nope")),
    );
    h.accept("a1", "h1");
    h.refused(
        Input::HangUp { call: call("h1"), by: voicedesk_queue_engine::Party::Agent(agent("a2")) },
        EngineError::UnknownAgent(agent("a2")),
    );
    h.login("a2");
    h.refused(
        Input::HangUp { call: call("h1"), by: voicedesk_queue_engine::Party::Agent(agent("a2")) },
        EngineError::NotYourCall { call: call("h1"), agent: agent("a2") },
    );
}

#[test]
fn a_chat_turned_away_ends_once_like_a_call() {
    let mut h = Harness::new();
    let out = h.chat("h1");
    assert_eq!(ends(&out), [("h1".to_owned(), None, EndReason::NoAgents)]);
    assert_eq!(out.len(), 1);
}

#[test]
fn an_upgraded_chat_is_a_call_with_the_same_agent_and_the_other_chats_stay() {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    for id in ["h1", "h2"] {
        h.chat(id);
        h.accept("a1", id);
    }
    let out = h.ok(Input::UpgradeChat { chat: call("h1"), agent: agent("a1") });
    assert_eq!(h.activity("a1"), Some(AgentActivity::OnCall));
    assert_eq!(agent_states(&out).len(), 1, "the agent's state is told: on the call");
    assert_eq!(h.engine.channel(&call("h1")), Some(Channel::Voice));
    assert_eq!(h.chats_of("a1"), ["h2"], "the other chat stays open, h1 left the chat slots");

    // In the call nothing new rings at a1, neither a chat nor a call.
    assert_eq!(offers(&h.chat("h3")), pairs(&[]));
    assert_eq!(offers(&h.arrive("c1")), pairs(&[]));
    // Upgrading a second chat while on the call is refused, nothing changes.
    let refused = h.input(Input::UpgradeChat { chat: call("h2"), agent: agent("a1") });
    assert!(matches!(refused, Err(EngineError::AgentBusy { .. })), "{refused:?}");
    assert_eq!(h.chats_of("a1"), ["h2"]);

    // The call ends like any call: after-call work, then the waiting contacts ring.
    let out = h.agent_hangs_up("a1", "h1");
    assert_eq!(ends(&out), [("h1".to_owned(), Some("a1".to_owned()), EndReason::AgentHangUp)]);
    assert_eq!(h.activity("a1"), Some(AgentActivity::AfterCallWork));
    let out = h.advance(EngineConfig::DEFAULT_AFTER_CALL_WORK);
    assert_eq!(offers(&out), pairs(&[("h3", "a1")]), "h3 waited longest; c1 needs no chat held");
}

#[test]
fn only_a_chat_connected_to_the_agent_can_be_upgraded() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login_available("a2");
    h.chat("h1");
    let ringing = h.input(Input::UpgradeChat { chat: call("h1"), agent: agent("a1") });
    assert!(matches!(ringing, Err(EngineError::NotYourCall { .. })), "{ringing:?}");
    h.accept("a1", "h1");
    let other = h.input(Input::UpgradeChat { chat: call("h1"), agent: agent("a2") });
    assert!(matches!(other, Err(EngineError::NotYourCall { .. })), "{other:?}");
    h.arrive("c1");
    h.accept("a2", "c1");
    let voice = h.input(Input::UpgradeChat { chat: call("c1"), agent: agent("a2") });
    assert!(matches!(voice, Err(EngineError::AgentBusy { .. })), "{voice:?}");
    assert_eq!(h.chats_of("a1"), ["h1"]);
}
