//! Who is offered which call: skill levels, priorities, missed offers, skill changes.

mod common;

use common::*;
use voicedesk_protocol::{AgentActivity, WithdrawReason};
use voicedesk_queue_engine::{
    EngineConfig, EngineError, Input, MISSED_CALLS_REASON, QueueSettings,
};

#[test]
fn ring_timeout_moves_on_to_the_next_agent() {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    h.advance_secs(1);
    h.login_available("a2");
    h.arrive("c1");
    assert_eq!(h.ringing_at("a1").as_deref(), Some("c1"), "a1 has been idle longest");

    let out = h.advance_secs(15);
    assert_eq!(withdrawals(&out), [("c1".into(), "a1".into(), WithdrawReason::RingTimeout)]);
    assert_eq!(offers(&out), pairs(&[("c1", "a2")]));
    let a1 = h.engine.agent(&agent("a1")).unwrap();
    assert_eq!(a1.activity, AgentActivity::Available, "one miss is below the threshold");
    assert_eq!(a1.consecutive_misses, 1);
}

#[test]
fn auto_away_after_consecutive_misses() {
    let mut h = Harness::with_config(EngineConfig::default());
    h.login_available("a1");
    h.arrive("c1");
    let out = h.advance_secs(15);
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]), "nobody else: back to the one who missed");

    let out = h.advance_secs(15);
    assert_eq!(
        agent_states(&out),
        [("a1".into(), AgentActivity::Away, Some(MISSED_CALLS_REASON.into()))]
    );
    assert!(offers(&out).is_empty());
    assert_eq!(h.engine.agent(&agent("a1")).unwrap().consecutive_misses, 0);
    assert_eq!(h.engine.queue_len(), 1);

    // An accept breaks the streak.
    h.available("a1");
    h.advance_secs(15);
    assert_eq!(h.engine.agent(&agent("a1")).unwrap().consecutive_misses, 1);
    h.accept("a1", "c1");
    assert_eq!(h.engine.agent(&agent("a1")).unwrap().consecutive_misses, 0);
}

#[test]
fn higher_skill_level_is_offered_first() {
    let mut h = Harness::new();
    h.configure("pension", QueueSettings::default());
    h.login_available_with("novice", &[("pension", 3)]);
    h.advance_secs(60);
    h.login_available_with("expert", &[("pension", 8)]);
    let out = h.arrive_in("c1", "pension", 0);
    assert_eq!(offers(&out), pairs(&[("c1", "expert")]), "level beats idle time");
    let out = h.arrive_in("c2", "pension", 0);
    assert_eq!(offers(&out), pairs(&[("c2", "novice")]));
}

#[test]
fn higher_priority_is_served_first() {
    let mut h = Harness::new();
    h.login("a1");
    h.arrive_in("c1", GENERAL, 0);
    h.advance_secs(1);
    let out = h.arrive_in("c2", GENERAL, 2);
    assert_eq!(positions(&out), [("c2".into(), 1), ("c1".into(), 2)], "c2 goes ahead of c1");
    h.advance_secs(1);
    h.arrive_in("c3", GENERAL, 0);
    let order: Vec<_> = h.engine.waiting_calls(&skill(GENERAL)).map(|c| c.id.0.clone()).collect();
    assert_eq!(order, ["c2", "c1", "c3"]);
    assert_eq!(offers(&h.available("a1")), pairs(&[("c2", "a1")]));
}

#[test]
fn calls_of_several_queues_are_taken_in_global_order() {
    let mut h = Harness::new();
    h.configure("tax", QueueSettings::default());
    h.login_with("a1", &[(GENERAL, 5), ("tax", 5)]);
    h.arrive_in("c1", "tax", 0);
    h.advance_secs(1);
    h.arrive_in("c2", GENERAL, 0);
    h.advance_secs(1);
    h.arrive_in("c3", GENERAL, 1);
    let out = h.available("a1");
    assert_eq!(offers(&out), pairs(&[("c3", "a1")]), "priority first, across queues");
    h.accept("a1", "c3");
    let out = h.agent_hangs_up("a1", "c3");
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]), "then the earliest, whatever its queue");
}

#[test]
fn skills_change_takes_effect_at_once() {
    let mut h = Harness::new();
    h.configure("tax", QueueSettings::default());
    h.login_with("taxman", &[("tax", 5)]);
    h.login_available("a1");
    h.arrive_in("c1", "tax", 0);
    assert_eq!(h.engine.queue_len(), 1, "a1 does not have the skill");

    h.refused(
        Input::SetAgentSkills { agent: agent("a1"), skills: skills(&[("tax", 11)]) },
        EngineError::InvalidSkillLevel { skill: skill("tax"), level: 11 },
    );
    h.refused(
        Input::SetAgentSkills { agent: agent("a1"), skills: skills(&[("tax", 0)]) },
        EngineError::InvalidSkillLevel { skill: skill("tax"), level: 0 },
    );
    h.refused(
        Input::SetAgentSkills { agent: agent("ghost"), skills: skills(&[("tax", 1)]) },
        EngineError::UnknownAgent(agent("ghost")),
    );

    let out = h.ok(Input::SetAgentSkills { agent: agent("a1"), skills: skills(&[("tax", 2)]) });
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]));

    // Losing the skill while it rings: the offer stays until answered or timed out.
    let out = h.ok(Input::SetAgentSkills { agent: agent("a1"), skills: skills(&[]) });
    assert!(withdrawals(&out).is_empty());
    h.accept("a1", "c1");
    assert_eq!(h.engine.connected_count(), 1);
}

#[test]
fn losing_the_last_agent_with_the_skill_ends_that_queue_only() {
    let mut h = Harness::new();
    h.configure("tax", QueueSettings::default());
    h.login_with("taxman", &[("tax", 5)]);
    h.login("a1");
    h.arrive_in("c1", "tax", 0);
    h.arrive_in("c2", GENERAL, 0);
    let out = h.logout("taxman");
    assert_eq!(
        ends(&out),
        [("c1".into(), None, voicedesk_protocol::EndReason::NoAgents)],
        "general still has a1"
    );
    assert!(matches!(h.engine.call(&call("c2")), Some(c) if c.position == Some(1)));
    assert_eq!(h.engine.poll_timeout(), None);
}
