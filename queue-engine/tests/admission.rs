//! Which calls a queue admits: business hours, holidays, make-up workdays, its size limit, and
//! whether anyone with the skill is logged in.

mod common;

use common::*;
use voicedesk_protocol::EndReason;
use voicedesk_queue_engine::{
    Calendar, ClockAnchor, EngineError, Input, QueueSettings, TurnAway, WeeklyHours,
};

fn office_hours() -> QueueSettings {
    let hours: WeeklyHours = "mon-fri 09:00-12:00,13:30-17:30".parse().unwrap();
    QueueSettings::default().with_hours(hours)
}

/// Moves wall time so that fake `now` is this CST local time.
fn wall(h: &mut Harness, date: &str, hour: u8, minute: u8) {
    h.engine.set_clock_anchor(ClockAnchor { instant: h.now, unix_ms: cst_ms(date, hour, minute) });
}

fn calendar(holidays: &[&str], workdays: &[&str]) -> Calendar {
    Calendar {
        utc_offset_minutes: CST,
        holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
        workdays: workdays.iter().map(|d| d.parse().unwrap()).collect(),
    }
}

#[test]
fn closed_on_a_holiday() {
    let mut h = Harness::new();
    h.configure("pension", office_hours());
    h.login_with("a1", &[("pension", 5)]);
    h.ok(Input::SetCalendar { calendar: calendar(&["2026-11-30"], &[]) });
    // Monday 10:00, but a holiday.
    let opens_at_ms = Some(cst_ms("2026-12-01", 9, 0));
    assert_eq!(h.engine.admission(&skill("pension"), h.now), Err(TurnAway::Closed { opens_at_ms }));
    let out = h.arrive_in("c1", "pension", 0);
    assert_eq!(ends(&out), [("c1".into(), None, EndReason::Closed)]);
    assert_eq!(out.len(), 1, "only the end: {out:?}");
    assert!(h.engine.call(&call("c1")).is_none());
    // An "always" queue ignores holidays.
    assert_eq!(h.engine.admission(&skill(GENERAL), h.now), Err(TurnAway::NoAgents));
    h.login("a2");
    assert_eq!(h.engine.admission(&skill(GENERAL), h.now), Ok(()));
}

#[test]
fn closed_outside_hours_and_open_on_a_make_up_workday() {
    let mut h = Harness::new();
    h.configure("pension", office_hours());
    h.login_with("a1", &[("pension", 5)]);
    wall(&mut h, "2026-11-30", 12, 30);
    let out = h.arrive_in("lunch", "pension", 0);
    assert_eq!(ends(&out), [("lunch".into(), None, EndReason::Closed)]);
    wall(&mut h, "2026-12-05", 10, 0); // a Saturday
    assert_eq!(
        h.engine.admission(&skill("pension"), h.now),
        Err(TurnAway::Closed { opens_at_ms: Some(cst_ms("2026-12-07", 9, 0)) })
    );
    h.ok(Input::SetCalendar { calendar: calendar(&[], &["2026-12-05"]) });
    assert_eq!(h.engine.admission(&skill("pension"), h.now), Ok(()));
    let out = h.arrive_in("c1", "pension", 0);
    assert!(ends(&out).is_empty());
    assert_eq!(positions(&out), [("c1".into(), 1)]);
}

#[test]
fn closing_does_not_end_the_calls_already_waiting() {
    let mut h = Harness::new();
    h.configure("pension", office_hours());
    h.login_with("a1", &[("pension", 5)]);
    h.arrive_in("c1", "pension", 0);
    wall(&mut h, "2026-11-30", 18, 0);
    h.arrive_in("late", "pension", 0);
    assert!(h.engine.call(&call("c1")).is_some());
    assert_eq!(offers(&h.available("a1")), pairs(&[("c1", "a1")]));
}

#[test]
fn queue_full_turns_away() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(2)));
    h.login("a1");
    h.arrive("c1");
    h.arrive("c2");
    assert_eq!(h.engine.admission(&skill(GENERAL), h.now), Err(TurnAway::QueueFull));
    assert_eq!(ends(&h.arrive("c3")), [("c3".into(), None, EndReason::QueueFull)]);

    // Lowering the limit evicts nobody; raising it admits again.
    let out = h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(1)));
    assert!(ends(&out).is_empty());
    assert_eq!(h.engine.queue(&skill(GENERAL), h.now).unwrap().waiting, 2);
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(3)));
    assert!(ends(&h.arrive("c4")).is_empty());
}

#[test]
fn ringing_calls_do_not_count_toward_max_waiting() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(2)));
    for a in ["a1", "a2", "a3"] {
        h.login_available(a);
    }
    // Three calls ring at three free agents: none of them waits for an agent.
    for c in ["c1", "c2", "c3"] {
        let out = h.arrive(c);
        assert!(ends(&out).is_empty(), "{c} turned away: {out:?}");
        assert_eq!(offers(&out).len(), 1);
    }
    assert_eq!(h.engine.admission(&skill(GENERAL), h.now), Ok(()));
    // Two more wait for an agent: now the queue is full.
    assert!(ends(&h.arrive("c4")).is_empty());
    assert!(ends(&h.arrive("c5")).is_empty());
    assert_eq!(h.engine.admission(&skill(GENERAL), h.now), Err(TurnAway::QueueFull));
    assert_eq!(ends(&h.arrive("c6")), [("c6".into(), None, EndReason::QueueFull)]);
    // The view still shows every waiting call, ringing ones included.
    let q = h.engine.queue(&skill(GENERAL), h.now).unwrap();
    assert_eq!((q.waiting, q.ringing), (5, 3));
}

#[test]
fn a_burst_at_as_many_free_agents_is_never_turned_away() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(30)));
    for a in 0..1000 {
        h.login_available(&format!("a{a}"));
    }
    // A thousand citizens press Call before any agent has answered.
    for c in 0..1000 {
        let out = h.arrive(&format!("c{c}"));
        assert!(ends(&out).is_empty(), "c{c} turned away: {out:?}");
        assert_eq!(offers(&out).len(), 1, "c{c} not offered at once");
    }
    let q = h.engine.queue(&skill(GENERAL), h.now).unwrap();
    assert_eq!((q.waiting, q.ringing, q.available), (1000, 1000, 0));
    // Agents all ringing, nobody free: the next 30 wait, the 31st is turned away.
    for c in 1000..1030 {
        assert!(ends(&h.arrive(&format!("c{c}"))).is_empty());
    }
    assert_eq!(ends(&h.arrive("late")), [("late".into(), None, EndReason::QueueFull)]);
}

#[test]
fn a_withdrawn_offer_goes_back_to_its_place_even_above_the_limit() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(1)));
    h.login("standby"); // away: keeps the queue admitting
    h.login_available("a1");
    assert_eq!(offers(&h.arrive("c1")), pairs(&[("c1", "a1")]));
    assert!(ends(&h.arrive("c2")).is_empty(), "c1 rings: one call waits for an agent");
    assert_eq!(ends(&h.arrive("c3")), [("c3".into(), None, EndReason::QueueFull)]);

    // a1 leaves while c1 rings: c1 is back at its place, nobody is evicted, the queue is now
    // above its limit, and later arrivals are turned away until it is below.
    let out = h.logout("a1");
    assert!(ends(&out).is_empty(), "{out:?}");
    let order: Vec<_> =
        h.engine.waiting_calls(&skill(GENERAL)).map(|v| (v.id.0.clone(), v.position)).collect();
    assert_eq!(order, [("c1".to_owned(), Some(1)), ("c2".to_owned(), Some(2))]);
    assert_eq!(ends(&h.arrive("c4")), [("c4".into(), None, EndReason::QueueFull)]);

    // The first free agent gets c1 (first in line), then c2 is the only call waiting for an
    // agent: still full. The next agent takes c2: admitting again.
    assert_eq!(offers(&h.available("standby")), pairs(&[("c1", "standby")]));
    assert_eq!(ends(&h.arrive("c5")), [("c5".into(), None, EndReason::QueueFull)]);
    assert_eq!(offers(&h.login_available("a2")), pairs(&[("c2", "a2")]));
    assert!(ends(&h.arrive("c6")).is_empty());
}

#[test]
fn a_rejected_or_rung_out_offer_is_not_turned_away_by_a_full_queue() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(1)));
    h.login_available("a1");
    h.arrive("c1"); // rings at a1
    h.arrive("c2"); // waits for an agent: full
    // a1 rejects: c1 goes back first in line and, a1 being the only free agent, straight back
    // to a1; c2 still waits. Nobody ends.
    let out = h.reject("a1", "c1");
    assert!(ends(&out).is_empty(), "{out:?}");
    assert_eq!(offers(&out), pairs(&[("c1", "a1")]));
    // It rings out (a1 goes away after one miss in this configuration): both wait, above the
    // limit, and both keep their places.
    let out = h.advance_secs(15);
    assert!(ends(&out).is_empty(), "{out:?}");
    let q = h.engine.queue(&skill(GENERAL), h.now).unwrap();
    assert_eq!((q.waiting, q.ringing), (2, 0));
    assert_eq!(ends(&h.arrive("c3")), [("c3".into(), None, EndReason::QueueFull)]);
    assert_eq!(offers(&h.available("a1")), pairs(&[("c1", "a1")]));
}

#[test]
fn a_parked_call_still_counts_toward_max_waiting() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(1)));
    h.login("a1");
    h.arrive("c1");
    h.ok(Input::CitizenDisconnected { call: call("c1") });
    // Parked, it waits for its citizen and then for an agent: it keeps its place and counts.
    assert_eq!(ends(&h.arrive("c2")), [("c2".into(), None, EndReason::QueueFull)]);
}

#[test]
fn calls_still_being_placed_count_only_beyond_the_free_agents() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_waiting(Some(2)));
    for a in ["a1", "a2", "a3"] {
        h.login_available(a);
    }
    let general = skill(GENERAL);
    // Three being placed take the three free agents on arrival; a fourth and a fifth would
    // wait; with five already admitted the queue is full for the sixth.
    assert_eq!(h.engine.admission_expecting(&general, h.now, 3), Ok(()));
    assert_eq!(h.engine.admission_expecting(&general, h.now, 4), Ok(()));
    assert_eq!(h.engine.admission_expecting(&general, h.now, 5), Err(TurnAway::QueueFull));
    // Nobody being placed: the plain check.
    assert_eq!(
        h.engine.admission_expecting(&general, h.now, 0),
        h.engine.admission(&general, h.now)
    );
    // One call waits already (all agents ringing): one more being placed fills the queue.
    for c in ["c1", "c2", "c3", "c4"] {
        h.arrive(c);
    }
    assert_eq!(h.engine.admission_expecting(&general, h.now, 0), Ok(()));
    assert_eq!(h.engine.admission_expecting(&general, h.now, 1), Err(TurnAway::QueueFull));
}

#[test]
fn no_agent_with_the_skill_turns_away() {
    let mut h = Harness::new();
    h.configure("tax", QueueSettings::default());
    h.login_available("a1");
    assert_eq!(h.engine.admission(&skill("tax"), h.now), Err(TurnAway::NoAgents));
    assert_eq!(ends(&h.arrive_in("c1", "tax", 0)), [("c1".into(), None, EndReason::NoAgents)]);
    // An away agent with the skill counts: the call waits.
    h.login_with("taxman", &[("tax", 5)]);
    assert!(ends(&h.arrive_in("c2", "tax", 0)).is_empty());
}

#[test]
fn an_unknown_queue_is_refused() {
    let mut h = Harness::new();
    h.login("a1");
    h.refused(
        Input::CallArrived { call: call("c1"), skill: skill("nope"), priority: 0, service: None },
        EngineError::UnknownQueue(skill("nope")),
    );
    assert_eq!(h.engine.admission(&skill("nope"), h.now), Err(TurnAway::NoAgents));
}

#[test]
fn agents_may_have_skills_of_queues_configured_later() {
    let mut h = Harness::new();
    h.login_available_with("a1", &[("later", 4)]);
    h.configure("later", QueueSettings::default());
    let q = h.engine.queue(&skill("later"), h.now).unwrap();
    assert_eq!((q.staffed, q.available), (1, 1));
    assert_eq!(offers(&h.arrive_in("c1", "later", 0)), pairs(&[("c1", "a1")]));
}
