//! How calls end when something else than a hang-up happens: media failure, a dropped
//! connection, server shutdown; and the whole flow on Postgres.

use std::time::Duration;

use voicedesk_protocol::{ClientMessage, EndReason, MediaLegState, ServerMessage};
use voicedesk_softphone::MediaLeg;
use voicedesk_tests::{STEP, TestOptions, TestServer, place_call, wait_ended, wait_offer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_leg_that_never_connects_ends_the_call_as_media_failed() {
    let options = TestOptions { media_connect: Duration::from_millis(800), ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let _agent = server.ready_agent("agent1").await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: None, sdp: offer }).await.unwrap();
    let ServerMessage::CallQueued { call_id, .. } = ws.recv(STEP).await.unwrap() else {
        panic!("not queued")
    };
    // The answer is never applied: ICE never starts.
    let state =
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await.unwrap();
    assert_eq!(state, ServerMessage::MediaState { state: MediaLegState::Failed });
    assert_eq!(wait_ended(&mut ws).await.unwrap(), EndReason::MediaFailed);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("media_failed"));
}

/// The tab closes for good: the call waits for the reconnect grace (tests/tests/reconnect.rs
/// has the citizen coming back), then ends and frees the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_who_closes_the_connection_mid_call_frees_the_agent() {
    let options = TestOptions { reconnect_grace: Duration::from_millis(500), ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let citizen = place_call(&server, "pension_benefit_inquiry").await.unwrap();
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    // The browser tab goes away: the WebSocket and the media connection close.
    citizen.media.close().await.unwrap();
    citizen.ws.close().await.unwrap();
    agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::PeerReconnecting { .. }))
        .await
        .unwrap();
    let reason = wait_ended(&mut agent.ws).await.unwrap();
    assert_eq!(reason, EndReason::CitizenLost);
    let state = agent
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
        .await;
    assert!(state.is_ok(), "the agent is available again");
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some(reason.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_and_records_every_active_call() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut talking = place_call(&server, "medical_reimbursement").await.unwrap();
    let talking_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: talking_id.clone() }).await.unwrap();
    talking
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    let mut waiting = place_call(&server, "unemployment_benefit_claim").await.unwrap();

    server.shutdown().await;

    assert_eq!(wait_ended(&mut talking.ws).await.unwrap(), EndReason::ServerShutdown);
    assert_eq!(wait_ended(&mut waiting.ws).await.unwrap(), EndReason::ServerShutdown);
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::ServerShutdown);
    for id in [&talking_id, &waiting.call_id] {
        let record = server.store.call(id).await.unwrap().unwrap();
        assert_eq!(record.outcome.as_deref(), Some("server_shutdown"), "{id}");
        assert!(record.ended_at_ms.is_some());
    }
}

/// The whole call on Postgres (the store suite covers every store operation on both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_recorded_in_postgres() {
    let Ok(url) = std::env::var("VOICEDESK_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED a_call_is_recorded_in_postgres: VOICEDESK_TEST_POSTGRES_URL is not set");
        return;
    };
    // A fresh schema, so repeated runs and parallel tests do not meet.
    let schema = format!("vd_e2e_{}", std::process::id());
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options[search_path]={schema}");
    let admin = voicedesk_store::PostgresStore::connect(&url).await.unwrap();
    sqlx_exec(&admin, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
    sqlx_exec(&admin, &format!("CREATE SCHEMA {schema}")).await;

    let mut server =
        TestServer::start_with(TestOptions { database_url: Some(scoped), ..Default::default() })
            .await
            .unwrap();
    assert_eq!(server.store.backend(), "postgres");
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "pension_transfer").await.unwrap();
    citizen.media.start_sending(*b"CITP");
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.media.wait_tag_count(0, *b"CITP", 10, STEP).await.unwrap();
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut agent.ws).await.unwrap(), EndReason::CitizenHangUp);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("citizen_hang_up"));
    assert!(record.answered_at_ms.is_some());
    server.shutdown().await;
    sqlx_exec(&admin, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

async fn sqlx_exec(store: &voicedesk_store::PostgresStore, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(store.pool()).await.unwrap();
}
