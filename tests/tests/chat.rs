//! Live chat end to end (issue 16), over real WebSockets against the whole server and its
//! store: a citizen chats with an agent; an agent holds three chats at once and a fourth waits
//! until one ends; a transfer keeps the original queue time; a chat ends with a rating; a
//! reload restores the conversation; bad input is refused and changes nothing; a chat upgraded
//! to a voice call carries audio both ways beside the agent's other chats.

use voicedesk_protocol::{ChatLine, ClientMessage, EndReason, ErrorCode, Role, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient};
use voicedesk_tests::{Agent, STEP, TestServer, http_json, wait_ended};

const SERVICE: &str = "pension_benefit_inquiry";

fn client_id(n: u32) -> String {
    format!("0c0ffee0-1111-4222-8333-{n:012}")
}

fn send(chat_id: &str, n: u32, text: &str) -> ClientMessage {
    ClientMessage::SendChat {
        chat_id: chat_id.to_owned(),
        client_id: client_id(n),
        text: text.to_owned(),
    }
}

/// A citizen connection with its `welcome` token.
async fn citizen(server: &TestServer) -> (SignalingClient, String) {
    let mut ws =
        SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await.unwrap();
    match ws.recv(STEP).await.unwrap() {
        ServerMessage::Welcome { citizen_token: Some(token), .. } => (ws, token),
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn start_chat(ws: &mut SignalingClient, service: &str) -> String {
    ws.send(&ClientMessage::StartChat { service: Some(service.to_owned()) }).await.unwrap();
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::ChatQueued { .. })).await.unwrap() {
        ServerMessage::ChatQueued { chat_id } => chat_id,
        _ => unreachable!(),
    }
}

async fn wait_chat_offer(agent: &mut Agent) -> String {
    match agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatOffered { .. }))
        .await
        .unwrap()
    {
        ServerMessage::ChatOffered { chat_id, .. } => chat_id,
        _ => unreachable!(),
    }
}

async fn wait_connected(ws: &mut SignalingClient, chat_id: &str) {
    ws.recv_until(
        STEP,
        |m| matches!(m, ServerMessage::ChatConnected { chat_id: id, .. } if id == chat_id),
    )
    .await
    .unwrap();
}

async fn wait_sent(ws: &mut SignalingClient) -> u64 {
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::ChatSent { .. })).await.unwrap() {
        ServerMessage::ChatSent { seq, .. } => seq,
        _ => unreachable!(),
    }
}

async fn wait_line(ws: &mut SignalingClient) -> ChatLine {
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::ChatMessage(_))).await.unwrap() {
        ServerMessage::ChatMessage(line) => line,
        _ => unreachable!(),
    }
}

async fn wait_chat_ended(ws: &mut SignalingClient, chat_id: &str) -> EndReason {
    match ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::ChatEnded { chat_id: id, .. } if id == chat_id),
        )
        .await
        .unwrap()
    {
        ServerMessage::ChatEnded { reason, .. } => reason,
        _ => unreachable!(),
    }
}

async fn wait_error(ws: &mut SignalingClient, request: &str) -> ErrorCode {
    match ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::Error { request_type: Some(r), .. } if r == request),
        )
        .await
        .unwrap()
    {
        ServerMessage::Error { code, .. } => code,
        _ => unreachable!(),
    }
}

/// A citizen's chat accepted by `agent`.
async fn connected_chat(
    server: &TestServer,
    agent: &mut Agent,
) -> (SignalingClient, String, String) {
    let (mut ws, token) = citizen(server).await;
    let chat_id = start_chat(&mut ws, SERVICE).await;
    assert_eq!(wait_chat_offer(agent).await, chat_id);
    agent.ws.send(&ClientMessage::Accept { call_id: chat_id.clone() }).await.unwrap();
    wait_connected(&mut ws, &chat_id).await;
    wait_connected(&mut agent.ws, &chat_id).await;
    (ws, token, chat_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_chats_with_an_agent_and_every_acknowledged_text_is_stored_in_order() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut citizen, _, chat_id) = connected_chat(&server, &mut agent).await;

    citizen.send(&send(&chat_id, 1, "我想查询养老金到账时间 <script>x</script>")).await.unwrap();
    assert_eq!(wait_sent(&mut citizen).await, 1);
    let line = wait_line(&mut agent.ws).await;
    assert_eq!((line.seq, line.from), (1, Role::Citizen));
    assert_eq!(
        line.text, "我想查询养老金到账时间 <script>x</script>",
        "stored and relayed as given"
    );

    agent
        .ws
        .send(&ClientMessage::ChatTyping { chat_id: chat_id.clone(), typing: true })
        .await
        .unwrap();
    citizen
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatTyping { typing: true, .. }))
        .await
        .unwrap();
    agent.ws.send(&send(&chat_id, 2, "请提供您的社保卡号")).await.unwrap();
    assert_eq!(wait_sent(&mut agent.ws).await, 2);
    assert_eq!(wait_line(&mut citizen).await.from, Role::Agent);

    // A retry of an acknowledged text is answered the same and stored once.
    citizen.send(&send(&chat_id, 1, "我想查询养老金到账时间 <script>x</script>")).await.unwrap();
    assert_eq!(wait_sent(&mut citizen).await, 1);

    citizen
        .send(&ClientMessage::ChatRead { chat_id: chat_id.clone(), delivered_seq: 2, read_seq: 2 })
        .await
        .unwrap();
    agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatMarks { read_seq: 2, .. }))
        .await
        .unwrap();

    let stored = server.store.chat_messages(&chat_id, 0, 100).await.unwrap();
    let texts: Vec<(i64, &str)> = stored.iter().map(|m| (m.seq, m.body.as_str())).collect();
    assert_eq!(
        texts,
        [(1, "我想查询养老金到账时间 <script>x</script>"), (2, "请提供您的社保卡号")]
    );
    let row = server.store.chat(&chat_id).await.unwrap().unwrap();
    assert_eq!((row.citizen.read_seq, row.agent_id.as_deref()), (2, Some(agent.user_id.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_holds_three_chats_a_fourth_waits_and_one_ends_with_a_rating() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut chats = Vec::new();
    for _ in 0..3 {
        chats.push(connected_chat(&server, &mut agent).await);
    }
    let (mut fourth, _) = citizen(&server).await;
    let fourth_id = start_chat(&mut fourth, SERVICE).await;
    fourth
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatPosition { position: 1, .. }))
        .await
        .unwrap();

    // The first citizen ends the chat: the fourth is offered at once, and the first rates it.
    let (first, _, first_id) = &mut chats[0];
    first.send(&ClientMessage::EndChat { chat_id: first_id.clone() }).await.unwrap();
    assert_eq!(wait_chat_ended(first, first_id).await, EndReason::CitizenHangUp);
    // The slot frees at once, so the offer may come before the end is recorded and told.
    agent.ws.take_skipped();
    assert_eq!(wait_chat_offer(&mut agent).await, fourth_id);
    let ended_before = agent.ws.take_skipped().into_iter().find_map(|m| match m {
        ServerMessage::ChatEnded { chat_id, reason } if chat_id == *first_id => Some(reason),
        _ => None,
    });
    let reason = match ended_before {
        Some(reason) => reason,
        None => wait_chat_ended(&mut agent.ws, first_id).await,
    };
    assert_eq!(reason, EndReason::CitizenHangUp);
    first
        .send(&ClientMessage::Rate {
            call_id: Some(first_id.clone()),
            ticket: None,
            code: None,
            level: 1,
            comment: "没有解决".into(),
        })
        .await
        .unwrap();
    first
        .recv_until(STEP, |m| matches!(m, ServerMessage::RatingSaved { level: 1, .. }))
        .await
        .unwrap();
    let follow_ups = server.store.follow_ups(false).await.unwrap();
    assert!(
        follow_ups.iter().any(|r| r.subject_id == *first_id),
        "a low chat rating is on the follow-up list: {follow_ups:?}"
    );
    let row = server.store.chat(first_id).await.unwrap().unwrap();
    assert_eq!(row.end_reason.as_deref(), Some("citizen_hang_up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_chat_keeps_its_queue_time_and_is_offered_ahead_of_a_later_one() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut citizen_ws, _, chat_id) = connected_chat(&server, &mut agent).await;
    // agent1 steps away (keeping the chat): a later chat waits in the medical queue.
    let away = ClientMessage::SetState {
        state: voicedesk_protocol::AgentAvailability::Away,
        reason: None,
    };
    agent.ws.send(&away).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::AgentState { .. })).await.unwrap();
    let (mut later, _) = citizen(&server).await;
    let later_id = start_chat(&mut later, "medical_reimbursement").await;

    let transfer = ClientMessage::Transfer {
        call_id: chat_id.clone(),
        service: "medical_reimbursement".into(),
    };
    agent.ws.send(&transfer).await.unwrap();
    assert_eq!(wait_chat_ended(&mut agent.ws, &chat_id).await, EndReason::Transferred);
    citizen_ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallTransferred { .. }))
        .await
        .unwrap();
    let mut other = server.ready_agent("agent2").await.unwrap();
    assert_eq!(wait_chat_offer(&mut other).await, chat_id, "the original queue time counts");
    other.ws.send(&ClientMessage::Accept { call_id: chat_id.clone() }).await.unwrap();
    wait_connected(&mut citizen_ws, &chat_id).await;
    assert_eq!(wait_chat_offer(&mut other).await, later_id, "then the later one");
    let row = server.store.chat(&chat_id).await.unwrap().unwrap();
    assert_eq!(row.agent_id.as_deref(), Some(other.user_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_hall_rejoins_the_chat_with_the_texts_it_missed() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut citizen_ws, token, chat_id) = connected_chat(&server, &mut agent).await;
    citizen_ws.send(&send(&chat_id, 1, "one")).await.unwrap();
    assert_eq!(wait_sent(&mut citizen_ws).await, 1);
    drop(citizen_ws);
    agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::PeerReconnecting { .. }))
        .await
        .unwrap();
    agent.ws.send(&send(&chat_id, 2, "two, while you reload")).await.unwrap();
    assert_eq!(wait_sent(&mut agent.ws).await, 2);

    let (mut back, _) = citizen(&server).await;
    back.send(&ClientMessage::Resume { citizen_token: token }).await.unwrap();
    back.recv_until(STEP, |m| matches!(m, ServerMessage::Resumed { .. })).await.unwrap();
    back.send(&ClientMessage::RejoinChat { chat_id: chat_id.clone(), after_seq: 0 }).await.unwrap();
    let messages = match back
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatRejoined { .. }))
        .await
        .unwrap()
    {
        ServerMessage::ChatRejoined { messages, .. } => messages,
        _ => unreachable!(),
    };
    let texts: Vec<&str> = messages.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["one", "two, while you reload"]);
    wait_connected(&mut back, &chat_id).await;
    agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::PeerReconnected { .. }))
        .await
        .unwrap();
    back.send(&send(&chat_id, 3, "back")).await.unwrap();
    assert_eq!(wait_sent(&mut back).await, 3);
    assert_eq!(wait_line(&mut agent.ws).await.text, "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chat_input_is_refused_clearly_and_nothing_is_stored() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut citizen_ws, _, chat_id) = connected_chat(&server, &mut agent).await;
    let (mut stranger, _) = citizen(&server).await;

    citizen_ws.send(&send(&chat_id, 1, &"长".repeat(2001))).await.unwrap();
    assert_eq!(wait_error(&mut citizen_ws, "send_chat").await, ErrorCode::InvalidState);
    citizen_ws.send(&send(&chat_id, 2, "  ")).await.unwrap();
    assert_eq!(wait_error(&mut citizen_ws, "send_chat").await, ErrorCode::InvalidState);
    stranger.send(&send(&chat_id, 3, "not mine")).await.unwrap();
    assert_eq!(wait_error(&mut stranger, "send_chat").await, ErrorCode::InvalidState);
    citizen_ws.take_skipped();
    for n in 0..10 {
        citizen_ws.send(&send(&chat_id, 10 + n, "flood")).await.unwrap();
    }
    citizen_ws.send(&send(&chat_id, 99, "one too many")).await.unwrap();
    assert_eq!(wait_error(&mut citizen_ws, "send_chat").await, ErrorCode::RateLimited);
    // The ten within the limit are written one after the other: each is acknowledged.
    let sent = |m: &ServerMessage| matches!(m, ServerMessage::ChatSent { .. });
    let mut acked = citizen_ws.take_skipped().iter().filter(|m| sent(m)).count();
    while acked < 10 {
        wait_sent(&mut citizen_ws).await;
        acked += 1;
    }
    let stored = server.store.chat_messages(&chat_id, 0, 100).await.unwrap();
    assert_eq!(stored.len(), 10, "only the ten texts within the limit");
    assert!(stored.iter().all(|m| m.body == "flood"));

    agent.ws.send(&ClientMessage::EndChat { chat_id: chat_id.clone() }).await.unwrap();
    assert_eq!(wait_chat_ended(&mut citizen_ws, &chat_id).await, EndReason::AgentHangUp);
    citizen_ws.send(&send(&chat_id, 100, "after the end")).await.unwrap();
    assert_eq!(wait_error(&mut citizen_ws, "send_chat").await, ErrorCode::InvalidState);
    assert_eq!(server.store.chat_messages(&chat_id, 0, 100).await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_an_agents_chat_capacity_and_it_routes_at_once() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let admin =
        voicedesk_softphone::login(&server.base_url, "admin1", voicedesk_tests::DEMO_PASSWORD)
            .await
            .unwrap();
    let path = format!("/api/admin/agents/{}/chat_capacity", agent.user_id);
    let one = serde_json::json!({ "chat_capacity": 1 });
    let (status, _) =
        http_json(&server.base_url, "PUT", &path, Some(&agent.cookie), Some(&one)).await.unwrap();
    assert_eq!(status, 403, "agents may not set it");
    let eleven = serde_json::json!({ "chat_capacity": 11 });
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&eleven)).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(server.store.chat_capacity(&agent.user_id).await.unwrap(), None);
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&one)).await.unwrap();
    assert_eq!(status, 204, "{body}");
    let (_, listed) =
        voicedesk_tests::http(&server.base_url, "GET", "/api/admin/agents", Some(&admin))
            .await
            .unwrap();
    assert!(listed.contains("\"chat_capacity\":1"), "{listed}");

    // The change reaches the routing engine before the next chat (the catalogue reload is
    // read before the next input), so the second chat waits.
    let (_first, _, _) = connected_chat(&server, &mut agent).await;
    let (mut second, _) = citizen(&server).await;
    let second_id = start_chat(&mut second, SERVICE).await;
    second
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatPosition { position: 1, .. }))
        .await
        .unwrap();
    let back = serde_json::json!({ "chat_capacity": null });
    let (status, _) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&back)).await.unwrap();
    assert_eq!(status, 204);
    assert_eq!(wait_chat_offer(&mut agent).await, second_id, "the default (3) again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_holds_three_chats_upgrades_one_to_voice_transfers_another_and_the_third_is_rated()
{
    const CITIZEN: [u8; 4] = *b"CIT1";
    const AGENT: [u8; 4] = *b"AGT1";
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut voice, _, voice_id) = connected_chat(&server, &mut agent).await;
    let (mut moved, _, moved_id) = connected_chat(&server, &mut agent).await;
    let (mut rated, _, rated_id) = connected_chat(&server, &mut agent).await;
    voice.send(&send(&voice_id, 1, "能电话说吗？")).await.unwrap();
    assert_eq!(wait_sent(&mut voice).await, 1);

    // The first becomes a voice call with the same agent, without queueing again.
    let mic = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = mic.create_offer().await.unwrap();
    voice
        .send(&ClientMessage::UpgradeChat { chat_id: voice_id.clone(), sdp: offer })
        .await
        .unwrap();
    let answer = match voice
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatUpgraded { .. }))
        .await
        .unwrap()
    {
        ServerMessage::ChatUpgraded { sdp: Some(sdp), .. } => sdp,
        other => panic!("expected the relay's answer, got {other:?}"),
    };
    mic.apply_answer(&answer).await.unwrap();
    mic.wait_connected(STEP).await.unwrap();
    voice.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent
        .ws
        .recv_until(
            STEP,
            |m| matches!(m, ServerMessage::CallConnected { call_id, .. } if *call_id == voice_id),
        )
        .await
        .unwrap();

    // Audio both ways through the relay, on slot 0.
    mic.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    agent.media.wait_tag_count(0, CITIZEN, 25, STEP).await.unwrap();
    mic.wait_tag_count(0, AGENT, 25, STEP).await.unwrap();
    assert!(agent.media.received(0).per_tag.keys().all(|t| *t == CITIZEN));
    assert!(mic.received(0).per_tag.keys().all(|t| *t == AGENT));

    // The texts go on beside the call.
    agent.ws.send(&send(&voice_id, 2, "材料清单：https://example.org/list")).await.unwrap();
    assert_eq!(wait_sent(&mut agent.ws).await, 2);
    assert!(wait_line(&mut voice).await.text.contains("example.org"));

    // The second is transferred while the agent talks on the first.
    let transfer = ClientMessage::Transfer {
        call_id: moved_id.clone(),
        service: "medical_reimbursement".into(),
    };
    agent.ws.send(&transfer).await.unwrap();
    assert_eq!(wait_chat_ended(&mut agent.ws, &moved_id).await, EndReason::Transferred);
    moved.recv_until(STEP, |m| matches!(m, ServerMessage::CallTransferred { .. })).await.unwrap();
    let mut other = server.ready_agent("agent2").await.unwrap();
    assert_eq!(wait_chat_offer(&mut other).await, moved_id);

    // The third ends and is rated.
    rated.send(&ClientMessage::EndChat { chat_id: rated_id.clone() }).await.unwrap();
    assert_eq!(wait_chat_ended(&mut rated, &rated_id).await, EndReason::CitizenHangUp);
    rated
        .send(&ClientMessage::Rate {
            call_id: Some(rated_id.clone()),
            ticket: None,
            code: None,
            level: 5,
            comment: String::new(),
        })
        .await
        .unwrap();
    rated
        .recv_until(STEP, |m| matches!(m, ServerMessage::RatingSaved { level: 5, .. }))
        .await
        .unwrap();

    // The call ends: the chat ends with it, both recorded.
    agent.ws.send(&ClientMessage::HangUp { call_id: voice_id.clone() }).await.unwrap();
    assert_eq!(wait_ended(&mut voice).await.unwrap(), EndReason::AgentHangUp);
    assert_eq!(wait_chat_ended(&mut voice, &voice_id).await, EndReason::AgentHangUp);
    let call = server.store.call(&voice_id).await.unwrap().expect("the call is recorded");
    assert_eq!(call.agent_id.as_deref(), Some(agent.user_id.as_str()));
    assert_eq!(call.outcome.as_deref(), Some("agent_hang_up"));
    let chat = server.store.chat(&voice_id).await.unwrap().unwrap();
    assert_eq!(chat.end_reason.as_deref(), Some("agent_hang_up"));
    let texts = server.store.chat_messages(&voice_id, 0, 10).await.unwrap();
    assert_eq!(texts.len(), 2, "the texts before and during the call are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_the_agent_cannot_take_is_refused_and_the_chat_goes_on() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let (mut citizen_ws, _, chat_id) = connected_chat(&server, &mut agent).await;
    // A relay that cannot answer this offer: refused, and the chat goes on.
    let bad = ClientMessage::UpgradeChat { chat_id: chat_id.clone(), sdp: "v=0 broken".into() };
    citizen_ws.send(&bad).await.unwrap();
    assert_eq!(wait_error(&mut citizen_ws, "upgrade_chat").await, ErrorCode::BadSdp);
    assert!(server.store.call(&chat_id).await.unwrap().is_none(), "no call recorded");
    // The agent proposes the call; a stranger cannot take it up.
    agent.ws.send(&ClientMessage::OfferUpgrade { chat_id: chat_id.clone() }).await.unwrap();
    citizen_ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::UpgradeOffered { .. }))
        .await
        .unwrap();
    let (mut stranger, _) = citizen(&server).await;
    let theirs = ClientMessage::UpgradeChat { chat_id: chat_id.clone(), sdp: "v=0".into() };
    stranger.send(&theirs).await.unwrap();
    assert_eq!(wait_error(&mut stranger, "upgrade_chat").await, ErrorCode::InvalidState);
    citizen_ws.send(&send(&chat_id, 1, "then by text")).await.unwrap();
    assert_eq!(wait_sent(&mut citizen_ws).await, 1);
}

/// Staff on a live chat (issue 16): staff1 opens it read-only with the conversation so far,
/// whispers to the agent — the citizen's socket never receives it (everything it got until a
/// later marker text is read) —, then takes it over. Each audit row is committed before its
/// effect reaches anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_watch_whisper_to_and_take_over_a_chat_each_audited_first() {
    use voicedesk_store::ChatAuditAction;
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut staff = server.ready_staff("staff1").await.unwrap();
    let (mut citizen, _, chat_id) = connected_chat(&server, &mut agent).await;
    citizen.send(&send(&chat_id, 1, "我想查询养老金")).await.unwrap();
    assert_eq!(wait_sent(&mut citizen).await, 1);
    wait_line(&mut agent.ws).await;
    let audit_actions = |entries: Vec<voicedesk_store::ChatAuditEntry>| {
        entries.iter().rev().map(|e| e.action).collect::<Vec<_>>()
    };

    // Watch: the audit row exists by the time the conversation arrives.
    staff.ws.send(&ClientMessage::WatchChat { chat_id: chat_id.clone() }).await.unwrap();
    let watching = staff
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatWatching { .. }))
        .await
        .unwrap();
    let entries = server.store.chat_audit_entries(Some(&chat_id), 10).await.unwrap();
    assert_eq!(audit_actions(entries), [ChatAuditAction::Watch]);
    let ServerMessage::ChatWatching { messages, .. } = watching else { unreachable!() };
    assert_eq!(messages.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["我想查询养老金"]);
    // New texts reach the watcher live.
    agent.ws.send(&send(&chat_id, 2, "请稍等")).await.unwrap();
    assert_eq!(wait_line(&mut staff.ws).await.text, "请稍等");
    assert_eq!(wait_line(&mut citizen).await.text, "请稍等");

    // Whisper: to the agent, audited with its text; never to the citizen.
    let whisper = ClientMessage::WhisperChat {
        chat_id: chat_id.clone(),
        text: "先核对社保卡号 (staff only)".into(),
    };
    staff.ws.send(&whisper).await.unwrap();
    let got = agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatWhisper { .. }))
        .await
        .unwrap();
    let entries = server.store.chat_audit_entries(Some(&chat_id), 10).await.unwrap();
    assert_eq!(entries[0].action, ChatAuditAction::Whisper);
    assert_eq!(entries[0].detail.as_deref(), Some("先核对社保卡号 (staff only)"));
    assert!(
        matches!(got, ServerMessage::ChatWhisper { text, .. } if text == "先核对社保卡号 (staff only)")
    );
    agent.ws.send(&send(&chat_id, 3, "marker after the whisper")).await.unwrap();
    let mut to_citizen = Vec::new();
    loop {
        let m = citizen.recv(STEP).await.unwrap();
        let done =
            matches!(&m, ServerMessage::ChatMessage(l) if l.text == "marker after the whisper");
        to_citizen.push(m);
        if done {
            break;
        }
    }
    assert!(
        !to_citizen.iter().any(|m| matches!(m, ServerMessage::ChatWhisper { .. })
            || serde_json::to_string(m).unwrap().contains("staff only")),
        "the citizen got the whisper: {to_citizen:?}"
    );

    // Take over: the agent's part ends, the citizen sees the staff member's name.
    staff.ws.send(&ClientMessage::TakeOverChat { chat_id: chat_id.clone() }).await.unwrap();
    assert_eq!(wait_chat_ended(&mut agent.ws, &chat_id).await, EndReason::TakenOver);
    let entries = server.store.chat_audit_entries(Some(&chat_id), 10).await.unwrap();
    assert_eq!(entries[0].action, ChatAuditAction::TakeOver);
    let connected = citizen
        .recv_until(STEP, |m| matches!(m, ServerMessage::ChatConnected { .. }))
        .await
        .unwrap();
    let staff_name = server.store.user_by_id(&staff.user_id).await.unwrap().unwrap().display_name;
    assert!(
        matches!(&connected, ServerMessage::ChatConnected { peer_name, .. } if *peer_name == staff_name),
        "{connected:?}"
    );
    wait_connected(&mut staff.ws, &chat_id).await;
    staff.ws.send(&send(&chat_id, 4, "我来为您处理")).await.unwrap();
    assert_eq!(wait_sent(&mut staff.ws).await, 4);
    let line = wait_line(&mut citizen).await;
    assert_eq!((line.text.as_str(), line.from), ("我来为您处理", Role::Agent));
    citizen.send(&ClientMessage::EndChat { chat_id: chat_id.clone() }).await.unwrap();
    assert_eq!(wait_chat_ended(&mut staff.ws, &chat_id).await, EndReason::CitizenHangUp);
    let stored = server.store.chat_messages(&chat_id, 0, 100).await.unwrap();
    assert_eq!(stored.len(), 4, "the whisper is not a chat text");
}
