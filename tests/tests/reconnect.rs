//! A call survives a lost connection: the citizen's page reloads (or its network changes)
//! during an answered call, or the agent's console does; the call waits for the grace period,
//! the other side is told, and a new offer on the resumed session brings the voice back — the
//! same call, one record. When the grace passes the call ends as `citizen_lost` / `agent_lost`.

use std::time::Duration;

use voicedesk_protocol::{
    AgentActivity, ClientMessage, EndReason, ErrorCode, LiveCall, Role, ServerMessage, SupportMode,
};
use voicedesk_softphone::{MediaLeg, SignalingClient};
use voicedesk_tests::{Agent, STEP, TestOptions, TestServer, wait_ended, wait_offer};

const CITIZEN: [u8; 4] = *b"CIT1";
const CITIZEN_AGAIN: [u8; 4] = *b"CIT2";
const AGENT: [u8; 4] = *b"AGT1";
const AGENT_AGAIN: [u8; 4] = *b"AGT2";

/// A citizen connection with its `welcome` token.
async fn citizen_with_token(server: &TestServer) -> (SignalingClient, String) {
    let mut ws =
        SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await.unwrap();
    match ws.recv(STEP).await.unwrap() {
        ServerMessage::Welcome { citizen_token: Some(token), .. } => (ws, token),
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// A citizen in an answered call: its connection, token, media and the call id.
struct Talking {
    ws: SignalingClient,
    token: String,
    media: MediaLeg,
    call_id: String,
}

/// A citizen calls, `agent` accepts, and voice flows both ways.
async fn talking(server: &TestServer, agent: &mut Agent) -> Talking {
    let (mut ws, token) = citizen_with_token(server).await;
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    let service = Some("pension_benefit_inquiry".to_owned());
    ws.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
    let (call_id, answer) = match ws.recv(STEP).await.unwrap() {
        ServerMessage::CallQueued { call_id, sdp } => (call_id, sdp),
        other => panic!("expected call_queued, got {other:?}"),
    };
    media.apply_answer(&answer).await.unwrap();
    media.wait_connected(STEP).await.unwrap();
    media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    assert_eq!(wait_offer(agent).await.unwrap(), call_id);
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.wait_tag_count(0, CITIZEN, 10, STEP).await.unwrap();
    media.wait_tag_count(0, AGENT, 10, STEP).await.unwrap();
    Talking { ws, token, media, call_id }
}

/// Waits for `peer_reconnecting` about `peer` and returns its deadline.
async fn wait_reconnecting(ws: &mut SignalingClient, call_id: &str, peer: Role) -> u64 {
    let message = ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::PeerReconnecting { peer: p, .. } if *p == peer),
        )
        .await
        .unwrap();
    match message {
        ServerMessage::PeerReconnecting { call_id: id, reconnect_by_ms, .. } => {
            assert_eq!(id, call_id);
            reconnect_by_ms
        }
        _ => unreachable!(),
    }
}

async fn wait_reconnected(ws: &mut SignalingClient, call_id: &str, peer: Role) {
    let message = ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::PeerReconnected { peer: p, .. } if *p == peer),
        )
        .await
        .unwrap();
    assert!(
        matches!(message, ServerMessage::PeerReconnected { call_id: ref id, .. } if id == call_id)
    );
}

/// Resumes `token` on a new connection and returns it with the `active_call` reported.
async fn resume(server: &TestServer, token: &str) -> (SignalingClient, Option<LiveCall>) {
    let (mut ws, _) = citizen_with_token(server).await;
    ws.send(&ClientMessage::Resume { citizen_token: token.to_owned() }).await.unwrap();
    match ws.recv(STEP).await.unwrap() {
        ServerMessage::Resumed { parked_call, active_call, .. } => {
            assert!(parked_call.is_none(), "an answered call is not parked: {parked_call:?}");
            (ws, active_call)
        }
        other => panic!("expected resumed, got {other:?}"),
    }
}

/// Sends a new offer for `call_id` and applies the `call_rejoined` answer.
async fn rejoin(ws: &mut SignalingClient, call_id: &str, label: &str) -> MediaLeg {
    let media = MediaLeg::new(label, 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::RejoinCall { call_id: call_id.to_owned(), sdp: offer }).await.unwrap();
    let answer = match ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::CallRejoined { .. } | ServerMessage::Error { .. })
        })
        .await
        .unwrap()
    {
        ServerMessage::CallRejoined { call_id: id, sdp } if id == call_id => sdp,
        other => panic!("expected call_rejoined for {call_id}, got {other:?}"),
    };
    media.apply_answer(&answer).await.unwrap();
    media.wait_connected(STEP).await.unwrap();
    media
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_whose_page_reloads_mid_call_comes_back_to_the_same_call() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { ws, token, media, call_id } = talking(&server, &mut agent).await;
    let answered_at_ms = server.store.call(&call_id).await.unwrap().unwrap().answered_at_ms;
    assert!(answered_at_ms.is_some());

    // The page reloads: the WebSocket and the peer connection go away.
    ws.close().await.unwrap();
    media.close().await.unwrap();
    let deadline = wait_reconnecting(&mut agent.ws, &call_id, Role::Citizen).await;
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    assert!(deadline > now_ms + 50_000, "about a minute of grace: {deadline} vs now {now_ms}");
    // The agent stays in the call with a working headset; nothing ended.
    assert_eq!(format!("{:?}", agent.media.connection_state()), "Connected");
    assert!(
        !agent.ws.take_skipped().iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })),
        "the call did not end for the agent"
    );

    // The reloaded page resumes its session and learns of the live call.
    let (mut ws, active) = resume(&server, &token).await;
    let active = active.expect("the answered call is reported as active_call");
    assert_eq!(active.call_id, call_id);
    assert_eq!(Some(active.answered_at_ms as i64), answered_at_ms);
    assert!(active.peer_name.contains("Wang Fang"), "{active:?}");
    assert_eq!(active.reconnect_by_ms, deadline);

    // A new offer: a new leg in the same place, voice both ways again.
    let media = rejoin(&mut ws, &call_id, "citizen-again").await;
    media.start_sending(CITIZEN_AGAIN);
    wait_reconnected(&mut agent.ws, &call_id, Role::Citizen).await;
    agent.media.wait_tag_count(0, CITIZEN_AGAIN, 10, STEP).await.unwrap();
    let heard_before = media.received(0).count(&AGENT);
    media.wait_until(0, STEP, |s| s.count(&AGENT) >= heard_before + 10).await.unwrap();
    let at_agent = agent.media.received(0);
    assert_eq!(
        at_agent.ssrcs.len(),
        1,
        "the agent's slot 0 stayed one stream: {:?}",
        at_agent.ssrcs
    );
    assert_eq!(at_agent.timestamp_backwards, 0);

    // One call, answered once, with its original answer time; the citizen ends it.
    ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::CitizenHangUp);
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::CitizenHangUp);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.answered_at_ms, answered_at_ms);
    assert_eq!(record.outcome.as_deref(), Some("citizen_hang_up"));
    assert_eq!(record.offer_count, 1);
    assert_eq!(server.store.count_calls().await.unwrap(), 1, "one call record, not two");
    let metrics = voicedesk_tests::http(&server.base_url, "GET", "/metrics", None).await.unwrap().1;
    assert!(metrics.contains("voicedesk_call_sides_lost_total 1"), "{metrics}");
    assert!(metrics.contains("voicedesk_call_sides_back_total 1"), "{metrics}");
    server.shutdown().await;
}

/// The WebSocket stays up but the media path breaks (a network change): a new offer for the
/// call on the same connection replaces the leg; staff on the call are told too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_offer_on_the_same_connection_replaces_the_citizens_leg() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut staff = server.ready_staff("staff1").await.unwrap();
    let Talking { mut ws, media, call_id, .. } = talking(&server, &mut agent).await;
    staff
        .ws
        .send(&ClientMessage::JoinCall { call_id: call_id.clone(), mode: SupportMode::Monitor })
        .await
        .unwrap();
    staff.media.wait_tag_count(0, CITIZEN, 5, STEP).await.unwrap();

    let again = rejoin(&mut ws, &call_id, "citizen-new-network").await;
    media.close().await.unwrap();
    again.start_sending(CITIZEN_AGAIN);
    wait_reconnecting(&mut agent.ws, &call_id, Role::Citizen).await;
    wait_reconnecting(&mut staff.ws, &call_id, Role::Citizen).await;
    wait_reconnected(&mut agent.ws, &call_id, Role::Citizen).await;
    wait_reconnected(&mut staff.ws, &call_id, Role::Citizen).await;
    agent.media.wait_tag_count(0, CITIZEN_AGAIN, 10, STEP).await.unwrap();
    staff.media.wait_tag_count(0, CITIZEN_AGAIN, 10, STEP).await.unwrap();
    again.wait_tag_count(0, AGENT, 10, STEP).await.unwrap();
    assert_eq!(again.received(0).count(&CITIZEN), 0);
    // The monitoring staff member is still not heard by the citizen.
    assert_eq!(again.received(1).packets, 0);

    agent.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::AgentHangUp);
    assert_eq!(server.store.count_calls().await.unwrap(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_ends_as_citizen_lost_when_the_grace_passes() {
    let options = TestOptions { reconnect_grace: Duration::from_millis(700), ..Default::default() };
    let mut server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { ws, token, media, call_id } = talking(&server, &mut agent).await;
    ws.close().await.unwrap();
    media.close().await.unwrap();
    wait_reconnecting(&mut agent.ws, &call_id, Role::Citizen).await;
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::CitizenLost);
    agent
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::AgentState { state: AgentActivity::Available, .. })
        })
        .await
        .unwrap();
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("citizen_lost"));
    assert!(record.answered_at_ms.is_some() && record.ended_at_ms.is_some());

    // Too late: the resumed session has no call, and a new offer for it is refused.
    let (mut ws, active) = resume(&server, &token).await;
    assert!(active.is_none());
    let offer = MediaLeg::new("late", 2).await.unwrap().create_offer().await.unwrap();
    ws.send(&ClientMessage::RejoinCall { call_id, sdp: offer }).await.unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::UnknownCall, .. }
    ));
    server.shutdown().await;
}

/// Another citizen cannot take over someone else's call, and a resumed citizen may hang up
/// the waiting call without re-offering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_same_session_may_rejoin_and_it_may_hang_up_instead() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { ws, token, media, call_id } = talking(&server, &mut agent).await;
    ws.close().await.unwrap();
    media.close().await.unwrap();
    wait_reconnecting(&mut agent.ws, &call_id, Role::Citizen).await;

    let (mut stranger, _) = citizen_with_token(&server).await;
    let offer = MediaLeg::new("stranger", 2).await.unwrap().create_offer().await.unwrap();
    stranger
        .send(&ClientMessage::RejoinCall { call_id: call_id.clone(), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        stranger.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::UnknownCall, .. }
    ));
    stranger.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert!(matches!(
        stranger.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::UnknownCall, .. }
    ));

    let (mut ws, active) = resume(&server, &token).await;
    assert_eq!(active.map(|a| a.call_id), Some(call_id.clone()));
    ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::CitizenHangUp);
    server.shutdown().await;
}

/// The agent's console reloads mid-call: the citizen hears the hold tune and is told; the
/// console signs in again with its session, learns of the call, connects a new headset, and the
/// call goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_console_reloads_mid_call_comes_back_to_it() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { mut ws, media, call_id, .. } = talking(&server, &mut agent).await;
    let Agent { ws: agent_ws, media: headset, cookie, .. } = agent;
    agent_ws.close().await.unwrap();
    headset.close().await.unwrap();
    wait_reconnecting(&mut ws, &call_id, Role::Agent).await;
    // Meanwhile the citizen hears the hold tune, not silence.
    let unmarked = media.received(0).unmarked;
    media.wait_until(0, STEP, |s| s.unmarked >= unmarked + 10).await.unwrap();

    let mut console = SignalingClient::connect(&server.agent_ws(), &server.base_url, Some(&cookie))
        .await
        .unwrap();
    assert!(matches!(console.recv(STEP).await.unwrap(), ServerMessage::Welcome { .. }));
    let state = console.recv(STEP).await.unwrap();
    assert!(
        matches!(state, ServerMessage::AgentState { state: AgentActivity::OnCall, .. }),
        "{state:?}"
    );
    match console.recv(STEP).await.unwrap() {
        ServerMessage::CallResumed(live) => {
            assert_eq!(live.call_id, call_id);
            assert_eq!(live.service.as_deref(), Some("pension_benefit_inquiry"));
        }
        other => panic!("expected call_resumed, got {other:?}"),
    }
    let headset = MediaLeg::new("agent1-again", 2).await.unwrap();
    let offer = headset.create_offer().await.unwrap();
    console.send(&ClientMessage::MediaConnect { sdp: offer }).await.unwrap();
    let answer = match console
        .recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. }))
        .await
        .unwrap()
    {
        ServerMessage::MediaAnswer { sdp } => sdp,
        _ => unreachable!(),
    };
    headset.apply_answer(&answer).await.unwrap();
    headset.wait_connected(STEP).await.unwrap();
    headset.start_sending(AGENT_AGAIN);
    wait_reconnected(&mut ws, &call_id, Role::Agent).await;
    media.wait_tag_count(0, AGENT_AGAIN, 10, STEP).await.unwrap();
    headset.wait_tag_count(0, CITIZEN, 10, STEP).await.unwrap();

    console.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::AgentHangUp);
    // The wrap-up of the call is still the agent's to write.
    let wrap_up = ClientMessage::WrapUp {
        call_id: call_id.clone(),
        disposition: "resolved".into(),
        notes: String::new(),
    };
    console.send(&wrap_up).await.unwrap();
    console.recv_until(STEP, |m| matches!(m, ServerMessage::WrapUpSaved { .. })).await.unwrap();
    assert_eq!(server.store.count_calls().await.unwrap(), 1);
    server.shutdown().await;
}

/// The agent's console stays but the headset's media path breaks: a new `media_connect`
/// brings the call back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_headset_fails_mid_call_reconnects_it() {
    // A headset that vanishes is noticed by the relay's silence limit.
    let options = TestOptions { media_silence: Duration::from_secs(2), ..Default::default() };
    let mut server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { mut ws, media, call_id, .. } = talking(&server, &mut agent).await;
    agent.media.close().await.unwrap();
    agent
        .ws
        .recv_until(STEP, |m| {
            matches!(
                m,
                ServerMessage::MediaState { state: voicedesk_protocol::MediaLegState::Failed }
            )
        })
        .await
        .unwrap();
    wait_reconnecting(&mut ws, &call_id, Role::Agent).await;
    assert!(
        !agent.ws.take_skipped().iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })),
        "the call goes on"
    );
    let headset = MediaLeg::new("agent1-new-headset", 2).await.unwrap();
    let offer = headset.create_offer().await.unwrap();
    agent.ws.send(&ClientMessage::MediaConnect { sdp: offer }).await.unwrap();
    let answer = match agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. }))
        .await
        .unwrap()
    {
        ServerMessage::MediaAnswer { sdp } => sdp,
        _ => unreachable!(),
    };
    headset.apply_answer(&answer).await.unwrap();
    headset.wait_connected(STEP).await.unwrap();
    headset.start_sending(AGENT_AGAIN);
    wait_reconnected(&mut ws, &call_id, Role::Agent).await;
    media.wait_tag_count(0, AGENT_AGAIN, 10, STEP).await.unwrap();
    headset.wait_tag_count(0, CITIZEN, 10, STEP).await.unwrap();
    server.shutdown().await;
}

/// Without a new headset in time the call ends `agent_lost` and the agent is set away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_new_headset_the_call_ends_as_agent_lost_and_the_agent_is_away() {
    let options = TestOptions {
        reconnect_grace: Duration::from_millis(700),
        media_silence: Duration::from_secs(2),
        ..Default::default()
    };
    let mut server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { mut ws, call_id, media: _media, .. } = talking(&server, &mut agent).await;
    agent.media.close().await.unwrap();
    wait_reconnecting(&mut ws, &call_id, Role::Agent).await;
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::AgentLost);
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::AgentLost);
    agent
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::AgentState { state: AgentActivity::Away, reason: Some(r), .. } if r == "headset_disconnected")
        })
        .await
        .unwrap();
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("agent_lost"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_ends_as_agent_lost_when_the_console_does_not_come_back() {
    let options = TestOptions { reconnect_grace: Duration::from_millis(700), ..Default::default() };
    let mut server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let Talking { mut ws, call_id, media: _media, .. } = talking(&server, &mut agent).await;
    let Agent { ws: agent_ws, media: headset, cookie, .. } = agent;
    agent_ws.close().await.unwrap();
    headset.close().await.unwrap();
    wait_reconnecting(&mut ws, &call_id, Role::Agent).await;
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::AgentLost);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("agent_lost"));
    // The agent was signed out of the queueing (a later sign-in starts afresh, away).
    let mut console = SignalingClient::connect(&server.agent_ws(), &server.base_url, Some(&cookie))
        .await
        .unwrap();
    assert!(matches!(console.recv(STEP).await.unwrap(), ServerMessage::Welcome { .. }));
    console.send(&ClientMessage::Ping).await.unwrap();
    console.recv_until(STEP, |m| *m == ServerMessage::Pong).await.unwrap();
    assert!(
        !console.take_skipped().iter().any(|m| matches!(m, ServerMessage::CallResumed(_))),
        "no call to come back to"
    );
    server.shutdown().await;
}

/// A citizen whose connection drops while the call is ringing at an agent gets the place back
/// (the offer is withdrawn; the call is parked), as while queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_while_ringing_parks_the_call_and_rejoining_rings_again() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut ws, token) = citizen_with_token(&server).await;
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: None, sdp: offer }).await.unwrap();
    let call_id = match ws.recv(STEP).await.unwrap() {
        ServerMessage::CallQueued { call_id, .. } => call_id,
        other => panic!("expected call_queued, got {other:?}"),
    };
    assert_eq!(wait_offer(&mut agent).await.unwrap(), call_id);
    ws.close().await.unwrap();
    media.close().await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::OfferWithdrawn { .. })).await.unwrap();

    let (mut ws, _) = citizen_with_token(&server).await;
    ws.send(&ClientMessage::Resume { citizen_token: token }).await.unwrap();
    let parked = match ws.recv(STEP).await.unwrap() {
        ServerMessage::Resumed { parked_call: Some(parked), active_call: None, .. } => parked,
        other => panic!("expected resumed with the parked call, got {other:?}"),
    };
    assert_eq!(parked.call_id, call_id);
    let media = MediaLeg::new("citizen-again", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::RejoinCall { call_id: call_id.clone(), sdp: offer }).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::CallQueued { .. }));
    assert_eq!(wait_offer(&mut agent).await.unwrap(), call_id, "offered again");
    server.shutdown().await;
}
