//! Staff support a live call: monitor, whisper, barge, take over — proven packet by packet
//! with three Rust WebRTC clients, each marking its RTP payloads.

use std::time::{Duration, Instant};

use voicedesk_protocol::{
    ClientMessage, EndReason, ErrorCode, HelpState, ServerMessage, SupportMode,
};
use voicedesk_softphone::Tag;
use voicedesk_tests::{
    Agent, CitizenCall, STEP, Stream, TestServer, counts_while, http, place_call, settle,
    wait_ended, wait_offer,
};

const CIT: Tag = *b"CIT_";
const AGT: Tag = *b"AGT_";
const STF: Tag = *b"STF_";

/// A talking call with every party sending marked audio, and staff1 signed in.
async fn talking_call(server: &TestServer) -> (CitizenCall, Agent, Agent) {
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let staff = server.ready_staff("staff1").await.unwrap();
    let mut citizen = place_call(server, "pension_transfer").await.unwrap();
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    citizen.media.start_sending(CIT);
    agent.media.start_sending(AGT);
    staff.media.start_sending(STF);
    agent.media.wait_tag_count(0, CIT, 10, STEP).await.unwrap();
    (citizen, agent, staff)
}

/// Counts of each watched stream while the `witness` stream (one that must be flowing)
/// delivers 30 packets (600 ms of audio).
async fn window(witness: Stream<'_>, watched: &[Stream<'_>]) -> Vec<u64> {
    counts_while(witness, 30, watched).await.unwrap()
}

async fn support(
    ws: &mut voicedesk_softphone::SignalingClient,
    message: ClientMessage,
) -> ServerMessage {
    ws.send(&message).await.unwrap();
    ws.recv_until(STEP, |m| {
        matches!(m, ServerMessage::SupportChanged { .. } | ServerMessage::Error { .. })
    })
    .await
    .unwrap()
}

fn mode_of(message: &ServerMessage) -> Option<SupportMode> {
    match message {
        ServerMessage::SupportChanged { supporters, .. } => supporters.first().map(|s| s.mode),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_routes_exactly_as_designed_and_staff_never_leak_to_the_citizen() {
    let server = TestServer::start().await.unwrap();
    let (mut citizen, mut agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    let (c, a, s) = (&citizen.media, &agent.media, &staff.media);

    // Monitor: staff hear both; nobody hears staff.
    let reply = support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Monitor },
    )
    .await;
    assert_eq!(mode_of(&reply), Some(SupportMode::Monitor));
    let seen = agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { .. }))
        .await
        .unwrap();
    assert_eq!(mode_of(&seen), Some(SupportMode::Monitor), "the agent sees who supports and how");
    let w = window((a, 0, CIT), &[(s, 0, CIT), (s, 1, AGT), (a, 1, STF), (c, 0, AGT), (a, 0, CIT)])
        .await;
    assert!(w[0] >= 20 && w[1] >= 20, "staff hear citizen and agent: {w:?}");
    assert_eq!(w[2], 0, "the agent does not hear a monitoring supervisor");
    assert!(w[3] >= 20 && w[4] >= 20, "the call goes on: {w:?}");

    // Whisper: the agent hears staff on the coach slot; the citizen does not.
    let reply = support(
        &mut staff.ws,
        ClientMessage::SetMode { call_id: call_id.clone(), mode: SupportMode::Whisper },
    )
    .await;
    assert_eq!(mode_of(&reply), Some(SupportMode::Whisper));
    let w = window((c, 0, AGT), &[(a, 1, STF), (s, 0, CIT), (s, 1, AGT)]).await;
    assert!(w.iter().all(|n| *n >= 20), "whisper: {w:?}");
    for slot in 0..2 {
        assert_eq!(
            c.received(slot).count(&STF),
            0,
            "not one staff packet reached the citizen (slot {slot})"
        );
    }

    // Barge: everyone hears everyone; the citizen is told.
    let reply = support(
        &mut staff.ws,
        ClientMessage::SetMode { call_id: call_id.clone(), mode: SupportMode::Barge },
    )
    .await;
    assert_eq!(mode_of(&reply), Some(SupportMode::Barge));
    let told = citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { .. }))
        .await
        .unwrap();
    assert_eq!(mode_of(&told), Some(SupportMode::Barge), "the citizen is told of the barge");
    let w = window((a, 0, CIT), &[(c, 1, STF), (a, 1, STF), (c, 0, AGT), (a, 0, CIT)]).await;
    assert!(w.iter().all(|n| *n >= 20), "barge: {w:?}");
    assert_eq!(
        c.received(0).count(&STF),
        0,
        "staff come on the citizen's barge slot, not the agent's"
    );

    // Leave: staff hear nothing more and are heard by nobody; the call goes on.
    let reply = support(&mut staff.ws, ClientMessage::LeaveCall { call_id: call_id.clone() }).await;
    assert_eq!(
        reply,
        ServerMessage::SupportChanged { call_id: call_id.clone(), supporters: vec![] }
    );
    settle((c, 0, AGT)).await.unwrap();
    let w = window(
        (a, 0, CIT),
        &[(s, 0, CIT), (s, 1, AGT), (c, 1, STF), (a, 1, STF), (c, 0, AGT), (a, 0, CIT)],
    )
    .await;
    assert_eq!(&w[..4], &[0, 0, 0, 0], "after leaving: {w:?}");
    assert!(w[4] >= 20 && w[5] >= 20, "citizen and agent still talk: {w:?}");
    let told = citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { .. }))
        .await
        .unwrap();
    assert_eq!(
        told,
        ServerMessage::SupportChanged { call_id: call_id.clone(), supporters: vec![] }
    );

    // The slots stayed continuous streams through all of it.
    for (leg, slot) in [(a, 1), (c, 1), (s, 0), (s, 1)] {
        let stats = leg.received(slot);
        assert_eq!(stats.ssrcs.len(), 1, "one SSRC per slot: {:?}", stats.ssrcs);
        assert_eq!(stats.timestamp_backwards, 0);
    }

    // Every step is in the audit log, committed.
    let user = server.store.user_by_username("staff1").await.unwrap().unwrap();
    let filter =
        voicedesk_store::AuditFilter { call_id: Some(call_id.clone()), actor_id: None, limit: 10 };
    let entries = server.store.audit_entries(&filter).await.unwrap();
    let actions: Vec<(String, Option<SupportMode>)> =
        entries.iter().rev().map(|e| (e.action.as_str().to_owned(), e.mode)).collect();
    assert_eq!(
        actions,
        vec![
            ("join".to_owned(), Some(SupportMode::Monitor)),
            ("mode".to_owned(), Some(SupportMode::Whisper)),
            ("mode".to_owned(), Some(SupportMode::Barge)),
            ("leave".to_owned(), None),
        ]
    );
    assert!(entries.iter().all(|e| e.actor_id == user.id));
    agent.ws.send(&ClientMessage::HangUp { call_id }).await.unwrap();
    wait_ended(&mut citizen.ws).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_over_frees_the_agent_and_the_staff_member_keeps_the_citizen() {
    let server = TestServer::start().await.unwrap();
    let (mut citizen, mut agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::TakeOver },
    )
    .await;
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::TakenOver);
    let told = citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { .. }))
        .await
        .unwrap();
    assert_eq!(mode_of(&told), Some(SupportMode::TakeOver), "the citizen is told of the take over");
    let (c, a, s) = (&citizen.media, &agent.media, &staff.media);
    // The new route is in effect once the citizen hears the staff member.
    settle((c, 0, STF)).await.unwrap();
    let w = window(
        (s, 0, CIT),
        &[(a, 0, CIT), (a, 1, STF), (c, 0, AGT), (c, 0, STF), (s, 0, CIT), (s, 1, AGT)],
    )
    .await;
    assert_eq!((w[0], w[1], w[2]), (0, 0, 0), "the agent is out of the call: {w:?}");
    assert!(w[3] >= 20 && w[4] >= 20, "citizen and staff talk: {w:?}");
    assert_eq!(w[5], 0);
    // The agent is free for the next call.
    agent
        .ws
        .recv_until(STEP, |m| {
            matches!(
                m,
                ServerMessage::AgentState {
                    state: voicedesk_protocol::AgentActivity::Available,
                    ..
                }
            )
        })
        .await
        .unwrap();
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    let staff_user = server.store.user_by_username("staff1").await.unwrap().unwrap();
    assert_eq!(record.handled_by.as_deref(), Some(staff_user.id.as_str()));
    assert!(record.taken_over_at_ms.is_some() && record.ended_at_ms.is_none());
    // The staff member hangs up: the call ends for the citizen and is recorded.
    staff.ws.send(&ClientMessage::LeaveCall { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut citizen.ws).await.unwrap(), EndReason::StaffHangUp);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("staff_hang_up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_staff_may_join_and_only_live_answered_calls() {
    let server = TestServer::start().await.unwrap();
    let (mut citizen, mut agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    let join = ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Monitor };
    for ws in [&mut citizen.ws, &mut agent.ws] {
        ws.send(&join).await.unwrap();
        let reply =
            ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await.unwrap();
        assert!(
            matches!(reply, ServerMessage::Error { code: ErrorCode::Forbidden, .. }),
            "{reply:?}"
        );
    }
    let unknown =
        ClientMessage::JoinCall { call_id: "no-such-call".into(), mode: SupportMode::Monitor };
    let reply = support(&mut staff.ws, unknown).await;
    assert!(
        matches!(reply, ServerMessage::Error { code: ErrorCode::UnknownCall, .. }),
        "{reply:?}"
    );
    // A second speaking supporter is refused; monitoring is fine.
    let mut admin = server.ready_staff("admin1").await.unwrap();
    support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Whisper },
    )
    .await;
    let reply = support(
        &mut admin.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Barge },
    )
    .await;
    assert!(
        matches!(reply, ServerMessage::Error { code: ErrorCode::InvalidState, .. }),
        "{reply:?}"
    );
    let reply = support(&mut admin.ws, join.clone()).await;
    assert!(
        matches!(reply, ServerMessage::SupportChanged { ref supporters, .. } if supporters.len() == 2)
    );
    // An ended call cannot be joined.
    agent.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    wait_ended(&mut citizen.ws).await.unwrap();
    staff.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await.unwrap();
    let reply = support(&mut staff.ws, join).await;
    assert!(
        matches!(reply, ServerMessage::Error { code: ErrorCode::UnknownCall, .. }),
        "{reply:?}"
    );
    // Refused joins wrote nothing; the call's end closed both supporters' entries.
    let filter = voicedesk_store::AuditFilter { call_id: Some(call_id), actor_id: None, limit: 20 };
    let entries = server.store.audit_entries(&filter).await.unwrap();
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["join", "join", "leave", "leave"]);
    // The audit API is for staff only.
    let (status, body) =
        http(&server.base_url, "GET", "/api/audit?limit=5", Some(&staff.cookie)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"entries\""));
    let (status, _) =
        http(&server.base_url, "GET", "/api/audit", Some(&agent.cookie)).await.unwrap();
    assert_eq!(status, 403);
    let (status, _) = http(&server.base_url, "GET", "/api/audit", None).await.unwrap();
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_help_request_reaches_staff_and_accepting_it_joins_in_whisper() {
    let server = TestServer::start().await.unwrap();
    let (citizen, mut agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    agent
        .ws
        .send(&ClientMessage::RequestHelp {
            call_id: call_id.clone(),
            reason: "跨省转移政策".into(),
        })
        .await
        .unwrap();
    let status =
        agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::HelpStatus { .. })).await.unwrap();
    assert!(matches!(status, ServerMessage::HelpStatus { state: HelpState::Pending, .. }));
    let board = staff
        .ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::Wallboard(b) if !b.help_requests.is_empty()),
        )
        .await
        .unwrap();
    let ServerMessage::Wallboard(board) = board else { unreachable!() };
    assert_eq!(board.help_requests[0].reason, "跨省转移政策");
    assert_eq!(board.calls.len(), 1);
    let reply =
        support(&mut staff.ws, ClientMessage::AcceptHelp { call_id: call_id.clone() }).await;
    assert_eq!(mode_of(&reply), Some(SupportMode::Whisper));
    let status =
        agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::HelpStatus { .. })).await.unwrap();
    assert!(matches!(
        status,
        ServerMessage::HelpStatus { state: HelpState::Accepted, staff_name: Some(_), .. }
    ));
    agent.media.wait_tag_count(1, STF, 10, STEP).await.unwrap();
    assert_eq!(citizen.media.received(1).count(&STF) + citizen.media.received(0).count(&STF), 0);
}

/// Time from a mode change request to the first packet routed the new way, over 20 switches
/// (monitor → whisper: the first staff packet on the agent's coach slot). Reported, not
/// asserted: it includes up to one 20 ms packet interval of the sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_changes_take_effect_at_the_next_packet() {
    let server = TestServer::start().await.unwrap();
    let (citizen, agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Monitor },
    )
    .await;
    let mut delays = Vec::new();
    for _ in 0..20 {
        let asked = Instant::now();
        staff
            .ws
            .send(&ClientMessage::SetMode { call_id: call_id.clone(), mode: SupportMode::Whisper })
            .await
            .unwrap();
        let stats = agent
            .media
            .wait_until(1, STEP, |s| s.markers_of(&STF).any(|m| m.arrived_at() > asked))
            .await
            .unwrap();
        let first = stats
            .markers_of(&STF)
            .filter(|m| m.arrived_at() > asked)
            .map(|m| m.arrived_at())
            .min()
            .unwrap();
        delays.push(first.duration_since(asked));
        staff
            .ws
            .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { .. }))
            .await
            .unwrap();
        support(
            &mut staff.ws,
            ClientMessage::SetMode { call_id: call_id.clone(), mode: SupportMode::Monitor },
        )
        .await;
        // In monitor the coach slot is silent again.
        let citizen_at_agent = (&agent.media, 0, CIT);
        settle(citizen_at_agent).await.unwrap();
        let coach = counts_while(citizen_at_agent, 5, &[(&agent.media, 1, STF)]).await.unwrap();
        assert_eq!(coach, [0], "monitor silences the coach slot");
    }
    delays.sort();
    eprintln!(
        "mode change -> first packet routed the new way over 20 switches: median {:?}, min {:?}, max {:?}",
        delays[10], delays[0], delays[19]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_whose_headset_drops_leaves_the_call_and_it_goes_on() {
    // A headset that vanishes is noticed by the relay's silence limit.
    let options = voicedesk_tests::TestOptions {
        media_silence: Duration::from_secs(2),
        ..Default::default()
    };
    let server = TestServer::start_with(options).await.unwrap();
    let (citizen, mut agent, mut staff) = talking_call(&server).await;
    let call_id = citizen.call_id.clone();
    support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Whisper },
    )
    .await;
    agent.media.wait_tag_count(1, STF, 5, STEP).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { supporters, .. } if !supporters.is_empty())).await.unwrap();
    staff.media.close().await.unwrap();
    let gone = agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::SupportChanged { supporters, .. } if supporters.is_empty()))
        .await
        .unwrap();
    assert!(matches!(gone, ServerMessage::SupportChanged { .. }));
    let w =
        window((&citizen.media, 0, AGT), &[(&citizen.media, 0, AGT), (&agent.media, 0, CIT)]).await;
    assert!(w.iter().all(|n| *n >= 20), "the call goes on: {w:?}");
    let filter = voicedesk_store::AuditFilter { call_id: Some(call_id), actor_id: None, limit: 5 };
    let last = &server.store.audit_entries(&filter).await.unwrap()[0];
    assert_eq!(last.action.as_str(), "leave");
    assert_eq!(last.detail.as_deref(), Some("headset disconnected"));
}

/// The audit entry is committed before the action takes effect: when it cannot be written
/// (here the staff account vanished from the database under a live session), the join is
/// refused and not one packet is routed to or from the supervisor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_cannot_be_audited_is_refused_and_routes_nothing() {
    let server = TestServer::start().await.unwrap();
    let (citizen, agent, mut staff) = talking_call(&server).await;
    let db = voicedesk_store::SqliteStore::open(&server.database_url).await.unwrap();
    sqlx::query("DELETE FROM users WHERE username = 'staff1'").execute(db.pool()).await.unwrap();
    let reply = support(
        &mut staff.ws,
        ClientMessage::JoinCall { call_id: citizen.call_id.clone(), mode: SupportMode::Barge },
    )
    .await;
    assert!(matches!(reply, ServerMessage::Error { code: ErrorCode::Internal, .. }), "{reply:?}");
    let w = window(
        (&agent.media, 0, CIT),
        &[
            (&staff.media, 0, CIT),
            (&staff.media, 1, AGT),
            (&citizen.media, 1, STF),
            (&agent.media, 1, STF),
        ],
    )
    .await;
    assert_eq!(w, vec![0, 0, 0, 0], "nothing was routed");
    let filter = voicedesk_store::AuditFilter {
        call_id: Some(citizen.call_id.clone()),
        actor_id: None,
        limit: 5,
    };
    assert!(server.store.audit_entries(&filter).await.unwrap().is_empty());
}
