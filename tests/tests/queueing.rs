//! The queueing issue end to end, with Rust WebRTC clients against the real server: hold audio
//! checked on received RTP, positions with estimates, parking and rejoining after a dropped
//! connection, transfer, wrap-up, skills and the catalogue changed through the admin API,
//! and calls turned away with the reason.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use voicedesk_protocol::{
    AgentActivity, AgentAvailability, ClientMessage, EndReason, ServerMessage,
};
use voicedesk_queue_engine::CivilDate;
use voicedesk_softphone::{MediaLeg, SignalingClient, login};
use voicedesk_tests::{
    Agent, CitizenCall, DEMO_PASSWORD, STEP, TestOptions, TestServer, http, http_json, place_call,
    wait_ended, wait_offer,
};

/// Packets of the agent's voice that must reach the citizen after the bridge while not one
/// more hold packet does (20 ms each: 0.6 s of audio).
const AFTER_BRIDGE_PACKETS: u64 = 30;

async fn set_state(agent: &mut Agent, state: AgentAvailability, reason: Option<&str>) {
    let reason = reason.map(str::to_owned);
    agent.ws.send(&ClientMessage::SetState { state, reason }).await.unwrap();
    let want = match state {
        AgentAvailability::Available => AgentActivity::Available,
        AgentAvailability::Away => AgentActivity::Away,
    };
    agent
        .ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::AgentState { state, .. } if *state == want),
        )
        .await
        .unwrap();
}

/// The next `queue_position` of a citizen: (position, estimated wait).
async fn next_position(ws: &mut SignalingClient) -> (u32, Option<u64>) {
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::QueuePosition { .. })).await.unwrap() {
        ServerMessage::QueuePosition { position, estimated_wait_ms, .. } => {
            (position, estimated_wait_ms)
        }
        _ => unreachable!(),
    }
}

async fn admin_cookie(server: &TestServer) -> String {
    login(&server.base_url, "admin1", DEMO_PASSWORD).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_audio_plays_while_queued_and_stops_the_instant_the_agent_is_bridged() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    set_state(&mut agent, AgentAvailability::Away, Some("break")).await;

    let citizen = place_call(&server, "pension_benefit_inquiry").await.unwrap();
    // While queued: the hold tune, unmarked packets on slot 0, at 50 a second.
    let held = citizen.media.wait_until(0, STEP, |s| s.unmarked >= 25).await.unwrap();
    assert_eq!(held.per_tag.len(), 0, "nothing but hold audio while queued");

    agent.media.start_sending(*b"AGNT");
    set_state(&mut agent, AgentAvailability::Available, None).await;
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id }).await.unwrap();
    citizen.media.wait_for_tag(0, *b"AGNT", STEP).await.unwrap();
    let at_bridge = citizen.media.received(0);
    let after = citizen
        .media
        .wait_until(0, STEP, |s| {
            s.count(b"AGNT") >= at_bridge.count(b"AGNT") + AFTER_BRIDGE_PACKETS
        })
        .await
        .unwrap();
    assert_eq!(after.unmarked, at_bridge.unmarked, "a hold packet arrived after the bridge");
    // Hold and voice are one stream on the slot: one SSRC, no gap, no timestamp going back.
    assert_eq!(after.ssrc_changes, 0, "{}", after.summary());
    assert_eq!(after.timestamp_backwards, 0, "{}", after.summary());
    assert_eq!(after.seq_jumps, 0, "{}", after.summary());
    let metrics = http(&server.base_url, "GET", "/metrics", None).await.unwrap().1;
    assert!(metrics.contains("voicedesk_relay_hold_packets_sent_total"), "{metrics}");
    drop(citizen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_count_down_with_an_estimate_and_stop_once_answered() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut first = place_call(&server, "pension_claim").await.unwrap();
    let first_offer = wait_offer(&mut agent).await.unwrap();
    assert_eq!(first_offer, first.call_id);
    let mut second = place_call(&server, "pension_claim").await.unwrap();
    let mut third = place_call(&server, "pension_claim").await.unwrap();
    // The ringing call is still first in its queue; the agent staffs it, so there is an
    // estimate, and it grows with the position.
    let (p2, e2) = next_position(&mut second.ws).await;
    let (p3, e3) = next_position(&mut third.ws).await;
    assert_eq!((p2, p3), (2, 3));
    let (e2, e3) = (e2.expect("an estimate"), e3.expect("an estimate"));
    assert!(e3 > e2, "position 3 waits longer than position 2 ({e3} vs {e2} ms)");

    agent.ws.send(&ClientMessage::Accept { call_id: first.call_id.clone() }).await.unwrap();
    first.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    first.ws.take_skipped();
    assert_eq!(next_position(&mut second.ws).await.0, 1);
    assert_eq!(next_position(&mut third.ws).await.0, 2);
    agent.ws.send(&ClientMessage::HangUp { call_id: first.call_id.clone() }).await.unwrap();
    wait_ended(&mut first.ws).await.unwrap();
    let after_answer = first.ws.take_skipped();
    assert!(
        !after_answer.iter().any(|m| matches!(m, ServerMessage::QueuePosition { .. })),
        "a position after the answer: {after_answer:?}"
    );
}

/// A citizen connection with its `welcome` token.
async fn citizen_with_token(server: &TestServer) -> (SignalingClient, String) {
    let mut ws =
        SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await.unwrap();
    match ws.recv(STEP).await.unwrap() {
        ServerMessage::Welcome { citizen_token: Some(token), .. } => (ws, token),
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_within_grace_keeps_the_place_and_the_call() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    set_state(&mut agent, AgentAvailability::Away, None).await;

    // The first citizen queues, then its connection drops (a page reload).
    let (mut ws, token) = citizen_with_token(&server).await;
    let media = MediaLeg::new("citizen-1", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    let service = Some("medical_reimbursement".to_owned());
    ws.send(&ClientMessage::Call { service: service.clone(), sdp: offer }).await.unwrap();
    let call_id = match ws.recv(STEP).await.unwrap() {
        ServerMessage::CallQueued { call_id, .. } => call_id,
        other => panic!("expected call_queued, got {other:?}"),
    };
    assert_eq!(next_position(&mut ws).await.0, 1);
    let mut behind = place_call(&server, "medical_reimbursement").await.unwrap();
    assert_eq!(next_position(&mut behind.ws).await.0, 2);
    ws.close().await.unwrap();
    drop(media);

    // Back on a new connection: resume the identity, learn of the parked call, rejoin it.
    let (mut ws, _) = citizen_with_token(&server).await;
    ws.send(&ClientMessage::Resume { citizen_token: token }).await.unwrap();
    let parked = match ws.recv(STEP).await.unwrap() {
        ServerMessage::Resumed { parked_call: Some(parked), .. } => parked,
        other => panic!("expected resumed with the parked call, got {other:?}"),
    };
    assert_eq!((parked.call_id.as_str(), parked.position), (call_id.as_str(), 1));
    let media = MediaLeg::new("citizen-1-again", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::RejoinCall { call_id: call_id.clone(), sdp: offer }).await.unwrap();
    let answer = match ws.recv(STEP).await.unwrap() {
        ServerMessage::CallQueued { call_id: id, sdp } if id == call_id => sdp,
        other => panic!("expected call_queued for the same call, got {other:?}"),
    };
    media.apply_answer(&answer).await.unwrap();
    assert_eq!(next_position(&mut ws).await.0, 1, "the place was kept");
    media.wait_until(0, STEP, |s| s.unmarked >= 5).await.unwrap();
    assert!(
        !behind
            .ws
            .take_skipped()
            .iter()
            .any(|m| matches!(m, ServerMessage::QueuePosition { position: 1, .. })),
        "the citizen behind never moved up"
    );

    // The agent gets the rejoined call first, and it is a working call.
    media.start_sending(*b"CIT1");
    set_state(&mut agent, AgentAvailability::Available, None).await;
    assert_eq!(wait_offer(&mut agent).await.unwrap(), call_id);
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.media.wait_for_tag(0, *b"CIT1", STEP).await.unwrap();
    // A second rejoin of a call that is not parked is refused.
    let (mut other, _) = citizen_with_token(&server).await;
    let stray = MediaLeg::new("stray", 2).await.unwrap().create_offer().await.unwrap();
    other.send(&ClientMessage::RejoinCall { call_id: call_id.clone(), sdp: stray }).await.unwrap();
    assert!(matches!(
        other.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: voicedesk_protocol::ErrorCode::UnknownCall, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_expiry_abandons_the_parked_call() {
    let options = TestOptions { reconnect_grace: Duration::from_millis(300), ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    set_state(&mut agent, AgentAvailability::Away, None).await;
    let citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    let call_id = citizen.call_id.clone();
    // The agent's queue status shows the call waiting, then (the grace over) gone.
    let medical_waiting = |n: u32| {
        move |m: &ServerMessage| {
            matches!(m, ServerMessage::QueueStatus { queues }
                if queues.iter().any(|q| q.skill == "medical" && q.waiting == n))
        }
    };
    agent.ws.recv_until(STEP, medical_waiting(1)).await.unwrap();
    citizen.ws.close().await.unwrap();
    agent.ws.recv_until(STEP, medical_waiting(0)).await.unwrap();
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("abandoned"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_puts_the_citizen_back_on_hold_in_the_new_queue_keeping_its_time() {
    let server = TestServer::start().await.unwrap();
    let mut first = server.ready_agent("agent1").await.unwrap();
    let mut second = server.ready_agent("agent2").await.unwrap();
    set_state(&mut second, AgentAvailability::Away, None).await;
    let mut citizen = place_call(&server, "pension_benefit_inquiry").await.unwrap();
    let call_id = wait_offer(&mut first).await.unwrap();
    first.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    let held_before = citizen.media.received(0).unmarked;

    // A later citizen already waits in the target queue.
    let mut later = place_call(&server, "medical_reimbursement").await.unwrap();
    first.ws.take_skipped();
    let transfer = ClientMessage::Transfer {
        call_id: call_id.clone(),
        service: "medical_reimbursement".into(),
    };
    // agent1 is free again after the transfer (no after-call work here) and is offered the
    // head of the medical queue: the transferred call, not the one that arrived later.
    first.ws.send(&transfer).await.unwrap();
    assert_eq!(wait_ended(&mut first.ws).await.unwrap(), EndReason::Transferred);
    match citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallTransferred { .. }))
        .await
        .unwrap()
    {
        ServerMessage::CallTransferred { service, .. } => {
            assert_eq!(service, "medical_reimbursement")
        }
        _ => unreachable!(),
    }
    // Hold again on the same slot.
    citizen.media.wait_until(0, STEP, |s| s.unmarked >= held_before + 10).await.unwrap();
    // Ordered by its original time: ahead of the citizen who called later.
    match first
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. }))
        .await
        .unwrap()
    {
        ServerMessage::CallOffered { call_id: offered, skill, transfers, .. } => {
            assert_eq!(offered, call_id, "the transferred call keeps its original queue time");
            assert_eq!((skill.as_str(), transfers), ("medical", 1));
        }
        _ => unreachable!(),
    }
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!((record.skill_id.as_deref(), record.transfer_count), (Some("medical"), 1));
    // The later citizen was first in the medical queue, and is second behind it now.
    assert_eq!(next_position(&mut later.ws).await.0, 1);
    assert_eq!(next_position(&mut later.ws).await.0, 2, "the later citizen is behind it");
    // A transfer to a service that does not exist changes nothing.
    first.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    let bad = ClientMessage::Transfer { call_id: call_id.clone(), service: "no_such".into() };
    first.ws.send(&bad).await.unwrap();
    assert!(matches!(
        first.ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await.unwrap(),
        ServerMessage::Error { code: voicedesk_protocol::ErrorCode::UnknownService, .. }
    ));
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_call_work_then_wrap_up_saved_with_the_call_record() {
    let options = TestOptions { after_call_work: Duration::from_secs(30), ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "unemployment_benefit_claim").await.unwrap();
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::CitizenHangUp);
    match agent
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::AgentState { state: AgentActivity::AfterCallWork, .. })
        })
        .await
        .unwrap()
    {
        ServerMessage::AgentState { since_ms, until_ms, .. } => {
            let until = until_ms.expect("after-call work has an end");
            assert!((29_000..=31_000).contains(&(until - since_ms)), "{since_ms} → {until}");
        }
        _ => unreachable!(),
    }

    // Refused wrap-ups change nothing.
    let unknown = ClientMessage::WrapUp {
        call_id: call_id.clone(),
        disposition: "no_such_code".into(),
        notes: String::new(),
    };
    agent.ws.send(&unknown).await.unwrap();
    assert!(matches!(agent.ws.recv(STEP).await.unwrap(), ServerMessage::Error { .. }));
    let not_mine = ClientMessage::WrapUp {
        call_id: "not-a-call".into(),
        disposition: "resolved".into(),
        notes: String::new(),
    };
    agent.ws.send(&not_mine).await.unwrap();
    assert!(matches!(agent.ws.recv(STEP).await.unwrap(), ServerMessage::Error { .. }));
    assert!(server.store.wrapups(&call_id).await.unwrap().is_empty());

    let notes = "解释了失业保险金申领条件 explained the conditions".to_owned();
    let wrap = ClientMessage::WrapUp {
        call_id: call_id.clone(),
        disposition: "resolved".into(),
        notes: notes.clone(),
    };
    agent.ws.send(&wrap).await.unwrap();
    assert_eq!(
        agent.ws.recv(STEP).await.unwrap(),
        ServerMessage::WrapUpSaved { call_id: call_id.clone() }
    );
    let saved = server.store.wrapups(&call_id).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        (saved[0].disposition.as_str(), saved[0].notes.as_str()),
        ("resolved", notes.as_str())
    );
    assert_eq!(saved[0].agent_id, agent.user_id);
    // The agent ends after-call work early.
    set_state(&mut agent, AgentAvailability::Available, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_to_skills_and_limits_take_effect_at_once() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let admin = admin_cookie(&server).await;

    // Only admins may change the catalogue; bad input changes nothing.
    let only_medical = json!({ "skills": [{ "skill_id": "medical", "level": 7 }] });
    let path = format!("/api/admin/agents/{}/skills", agent.user_id);
    let (status, _) =
        http_json(&server.base_url, "PUT", &path, Some(&agent.cookie), Some(&only_medical))
            .await
            .unwrap();
    assert_eq!(status, 403);
    let bad_level = json!({ "skills": [{ "skill_id": "medical", "level": 11 }] });
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&bad_level)).await.unwrap();
    assert_eq!(status, 400, "{body}");
    let unknown_skill = json!({ "skills": [{ "skill_id": "astrology", "level": 3 }] });
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&unknown_skill))
            .await
            .unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(server.store.agent_skills(&agent.user_id).await.unwrap().len(), 8);

    // agent1 keeps only the medical skill: a pension call finds nobody with the skill.
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&only_medical)).await.unwrap();
    assert_eq!(status, 204, "{body}");
    let mut pension = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    let pension_call = ClientMessage::Call { service: Some("pension_claim".into()), sdp: offer };
    // The hub applies the change asynchronously after the 204; the next call sees it.
    pension.send(&pension_call).await.unwrap();
    assert!(matches!(
        pension.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: EndReason::NoAgents, .. }
    ));
    let medical = place_call(&server, "medical_reimbursement").await.unwrap();
    assert_eq!(wait_offer(&mut agent).await.unwrap(), medical.call_id);
    agent.ws.send(&ClientMessage::Reject { call_id: medical.call_id.clone() }).await.unwrap();

    // A queue of at most one call waiting for an agent turns the next away as full. The
    // rejected call rings again at agent1 (the only agent): it has its agent and does not
    // count, so one more call waits, and the one after it is turned away.
    let skill = json!({
        "name_zh": "医疗保险", "name_en": "Medical insurance", "hours": "always", "max_waiting": 1
    });
    let (status, body) =
        http_json(&server.base_url, "PUT", "/api/admin/skills/medical", Some(&admin), Some(&skill))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let bad_hours = json!({ "name_zh": "x", "name_en": "x", "hours": "mon-fri 25:00-26:00" });
    let (status, body) = http_json(
        &server.base_url,
        "PUT",
        "/api/admin/skills/medical",
        Some(&admin),
        Some(&bad_hours),
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{body}");
    let waiting = place_call(&server, "medical_reimbursement").await.unwrap();
    let mut full = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    full.send(&ClientMessage::Call { service: Some("medical_reimbursement".into()), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        full.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: EndReason::QueueFull, .. }
    ));
    drop((medical, waiting));
}

/// Today's date in the hall's time zone (China Standard Time, the tests' default).
fn today_in_china() -> CivilDate {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    CivilDate::from_days_since_epoch((ms + 8 * 3_600_000).div_euclid(86_400_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_on_a_holiday_the_call_is_turned_away_with_when_it_opens() {
    let options = TestOptions { always_open: false, ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let _agent = server.ready_agent("agent1").await.unwrap();
    let admin = admin_cookie(&server).await;
    let today = today_in_china();
    let holiday = json!({ "kind": "holiday", "name_zh": "测试假日", "name_en": "Test holiday" });
    let (status, body) = http_json(
        &server.base_url,
        "PUT",
        &format!("/api/admin/holidays/{today}"),
        Some(&admin),
        Some(&holiday),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let catalogue: serde_json::Value = serde_json::from_str(
        &http(&server.base_url, "GET", "/api/catalogue", None).await.unwrap().1,
    )
    .unwrap();
    let pension = catalogue["skills"].as_array().unwrap().iter().find(|s| s["id"] == "pension");
    assert_eq!(pension.unwrap()["open_now"], false, "a holiday closes the queue");

    let mut ws = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: Some("pension_claim".into()), sdp: offer })
        .await
        .unwrap();
    let (call_id, opens_at_ms) = match ws.recv(STEP).await.unwrap() {
        ServerMessage::CallEnded { call_id, reason: EndReason::Closed, opens_at_ms } => {
            (call_id, opens_at_ms)
        }
        other => panic!("expected call_ended closed, got {other:?}"),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let tomorrow = today.days_since_epoch() + 1;
    let opens = opens_at_ms.expect("when it opens");
    assert!(opens > now, "opens in the future");
    assert!(
        opens >= CivilDate::from_days_since_epoch(tomorrow).unix_ms_at(0, 0, 480) as u64,
        "not before the holiday is over"
    );
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("closed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_services_are_refused_and_change_nothing() {
    let server = TestServer::start().await.unwrap();
    let _agent = server.ready_agent("agent1").await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: Some("teleportation".into()), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: voicedesk_protocol::ErrorCode::UnknownService, .. }
    ));
    assert_eq!(server.store.count_calls().await.unwrap(), 0);
    let _: CitizenCall = place_call(&server, "pension_transfer").await.unwrap();
}
