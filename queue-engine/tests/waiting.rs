//! What a waiting citizen is told: positions, estimates, the maximum-wait notice.

mod common;

use std::time::Duration;

use common::*;
use voicedesk_queue_engine::{Command, EngineConfig, Input, QueueSettings};

#[test]
fn max_wait_notifies_once_and_keeps_place() {
    let mut h = Harness::new();
    h.configure(GENERAL, QueueSettings::default().with_max_wait(Some(Duration::from_secs(120))));
    h.login("a1");
    h.arrive("c1");
    h.advance_secs(30);
    h.arrive("c2");
    let out = h.advance_secs(90);
    assert_eq!(
        out,
        [Command::WaitLimitReached { call: call("c1"), waited: Duration::from_secs(120) }]
    );
    let out = h.advance_secs(600);
    assert_eq!(
        out,
        [Command::WaitLimitReached { call: call("c2"), waited: Duration::from_secs(120) }]
    );
    assert_eq!(h.engine.poll_timeout(), None);
    assert!(h.engine.call(&call("c1")).unwrap().wait_limit_reached);
    assert_eq!(h.engine.position(&call("c1")), Some(1));
    assert_eq!(offers(&h.available("a1")), pairs(&[("c1", "a1")]));
}

#[test]
fn estimate_follows_handle_time_and_staffing() {
    let config = EngineConfig::default()
        .with_after_call_work(Duration::ZERO)
        .with_default_handle_time(Duration::from_secs(60));
    let mut h = Harness::with_config(config);
    h.login("a1");
    let mut out = Vec::new();
    for id in ["c1", "c2", "c3"] {
        out.extend(h.arrive(id));
    }
    assert!(estimates(&out).iter().all(|(_, _, e)| e.is_none()), "nobody staffed: no estimate");

    let out = h.available("a1");
    let e = |list: &[(&str, u32, u64)]| -> Vec<(String, u32, Option<u64>)> {
        list.iter().map(|(c, p, s)| (c.to_string(), *p, Some(*s))).collect()
    };
    assert_eq!(estimates(&out), e(&[("c1", 1, 60), ("c2", 2, 120), ("c3", 3, 180)]));
    assert_eq!(estimates(&h.accept("a1", "c1")), e(&[("c2", 1, 60), ("c3", 2, 120)]));

    // A 160 s call: the average handle time becomes (4 × 60 + 160) / 5 = 80 s.
    h.advance_secs(160);
    let out = h.agent_hangs_up("a1", "c1");
    assert_eq!(estimates(&out), e(&[("c2", 1, 80), ("c3", 2, 160)]));
    let q = h.engine.queue(&skill(GENERAL), h.now).unwrap();
    assert_eq!(q.handle_time, Duration::from_secs(80));

    // A second staffed agent halves the estimates.
    let out = h.login_available("a2");
    assert_eq!(estimates(&out), e(&[("c2", 1, 40), ("c3", 2, 80)]));
    let q = h.engine.queue(&skill(GENERAL), h.now).unwrap();
    assert_eq!((q.staffed, q.waiting, q.ringing), (2, 2, 2));
    assert_eq!(q.estimate_for_new_call, Some(Duration::from_secs(120)));
}

#[test]
fn positions_never_after_answer() {
    let mut h = Harness::new();
    h.login_available("a1");
    h.login("a2");
    h.arrive("c1");
    h.arrive("c2");
    let out = h.accept("a1", "c1");
    assert_eq!(positions(&out), [("c2".into(), 1)]);
    let mut later = h.arrive("c3");
    later.extend(h.available("a2"));
    later.extend(h.advance_secs(15));
    later.extend(h.logout("a2"));
    assert!(positions(&later).iter().all(|(c, _)| c != "c1"), "{later:?}");
    assert_eq!(h.engine.position(&call("c1")), None);

    // Transferred back to the queue, it is waiting again and hears positions again.
    let out = h.ok(Input::Transfer {
        agent: agent("a1"),
        call: call("c1"),
        to_skill: skill(GENERAL),
        priority: None,
    });
    assert_eq!(positions(&out)[0], ("c1".into(), 1));
    let out = h.citizen_hangs_up("c1");
    assert!(positions(&out).iter().all(|(c, _)| c != "c1"));
}
