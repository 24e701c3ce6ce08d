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
