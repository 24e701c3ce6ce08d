//! When no agent can answer, end to end with Rust clients against the real server: the
//! self-service assistant and its hand-off to an agent.

use voicedesk_protocol::{ClientMessage, ErrorCode, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient};
use voicedesk_tests::{STEP, TestServer};

async fn ask(ws: &mut SignalingClient, text: &str) -> ServerMessage {
    ws.send(&ClientMessage::Ask { text: text.into() }).await.unwrap();
    ws.recv(STEP).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_answers_then_hands_over_to_an_agent_with_the_transcript() {
    let server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut ws = server.citizen().await.unwrap();

    // A question in the citizen's words finds the cross-region pension transfer article.
    let service = match ask(&mut ws, "我换城市工作了,养老保险怎么转过去?要多久?").await
    {
        ServerMessage::Answer { best, suggestions, confident, .. } => {
            let ids: Vec<String> =
                best.iter().chain(suggestions.iter()).map(|h| h.article_id.clone()).collect();
            assert!(ids.iter().any(|id| id == "pension_transfer"), "{ids:?}");
            if confident {
                assert_eq!(best.as_ref().unwrap().article_id, "pension_transfer");
            }
            Some("pension_transfer".to_owned())
        }
        other => panic!("expected an answer, got {other:?}"),
    };
    // Bad questions are refused and change nothing.
    assert!(matches!(
        ask(&mut ws, "   ").await,
        ServerMessage::Error { code: ErrorCode::InvalidState, .. }
    ));

    // "Talk to an agent": a call for the article's service; the agent sees the transcript.
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::CallQueued { .. }));
    match agent
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. }))
        .await
        .unwrap()
    {
        ServerMessage::CallOffered { service, transcript, .. } => {
            assert_eq!(service.as_deref(), Some("pension_transfer"));
            assert_eq!(transcript.len(), 2, "{transcript:?}");
            assert_eq!(transcript[0].from, "citizen");
            assert!(transcript[0].text.contains("养老保险怎么转"), "{transcript:?}");
            assert_eq!(transcript[1].from, "assistant");
        }
        _ => unreachable!(),
    }
    // After the hand-off the assistant says nothing more.
    match ask(&mut ws, "还有别的问题").await {
        ServerMessage::Error { code: ErrorCode::InvalidState, message, .. } => {
            assert!(message.contains("agent"), "{message}");
        }
        ServerMessage::QueuePosition { .. } => {
            // A position may arrive first; the next message is the refusal.
            match ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await.unwrap() {
                ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidState),
                _ => unreachable!(),
            }
        }
        other => panic!("the assistant must say nothing more after the hand-off, got {other:?}"),
    }
}

// ---- Messages, tickets, the inbox and ratings ------------------------------------------------

use serde_json::{Value, json};
use voicedesk_protocol::{AgentAvailability, EndReason};
use voicedesk_softphone::{login, parse_marker};
use voicedesk_tests::{DEMO_PASSWORD, TestOptions, http, http_json, place_call, wait_ended};

/// A client id as clients make them (16 to 64 characters) from a short test name.
fn client_id_of(name: &str) -> String {
    format!("test-{name:-<16}")
}

/// Sends a text message and returns (ticket, code).
async fn leave_text(
    ws: &mut SignalingClient,
    client_id: &str,
    body: &str,
    call_id: Option<String>,
) -> (String, String) {
    let message = ClientMessage::LeaveMessage {
        client_id: client_id_of(client_id),
        service: Some("pension_claim".into()),
        name: Some("王先生".into()),
        phone: Some("138 0000 0000".into()),
        body: body.into(),
        call_id,
    };
    ws.send(&message).await.unwrap();
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::MessageSaved { .. })).await.unwrap() {
        ServerMessage::MessageSaved { ticket, code: Some(code), due_at_ms, .. } => {
            assert!(due_at_ms > 0);
            (ticket, code)
        }
        other => panic!("expected message_saved with a code, got {other:?}"),
    }
}

/// The staff inbox as JSON.
async fn inbox(server: &TestServer, cookie: &str, query: &str) -> Vec<Value> {
    let (status, body) =
        http(&server.base_url, "GET", &format!("/api/inbox{query}"), Some(cookie)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["messages"].as_array().unwrap().clone()
}

fn reason_of(messages: &[Value], ticket: &str) -> String {
    let m = messages.iter().find(|m| m["ticket"] == ticket).expect("the message is in the inbox");
    m["reason"].as_str().unwrap().to_owned()
}

async fn set_state(agent: &mut voicedesk_tests::Agent, state: AgentAvailability) {
    agent.ws.send(&ClientMessage::SetState { state, reason: None }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::AgentState { .. })).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fallback_trigger_leads_to_a_message_with_its_reason() {
    let server = TestServer::start().await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let admin = login(&server.base_url, "admin1", DEMO_PASSWORD).await.unwrap();

    // Nobody signed in: turned away at once, and a message takes its place.
    let mut ws = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: Some("pension_claim".into()), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: EndReason::NoAgents, .. }
    ));
    let (no_agents, _) = leave_text(&mut ws, "m-no-agents", "没人接,我留言。", None).await;

    // Full: a queue of one, the second caller is turned away.
    let mut agent = server.ready_agent("agent1").await.unwrap();
    set_state(&mut agent, AgentAvailability::Away).await;
    let one = json!({ "name_zh": "养老保险", "name_en": "Pension insurance", "hours": "always",
                      "max_waiting": 1, "max_wait_secs": 1 });
    let (status, body) =
        http_json(&server.base_url, "PUT", "/api/admin/skills/pension", Some(&admin), Some(&one))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let mut first = place_call(&server, "pension_claim").await.unwrap();
    let mut ws2 = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c2", 2).await.unwrap().create_offer().await.unwrap();
    ws2.send(&ClientMessage::Call { service: Some("pension_claim".into()), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        ws2.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: EndReason::QueueFull, .. }
    ));
    let (full, _) = leave_text(&mut ws2, "m-full", "排队满了。", None).await;

    // Waited past the limit (one second here): told, keeps the place, then leaves a message
    // from the call, which ends as message_left.
    first
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::WaitLimitReached { .. }))
        .await
        .unwrap();
    let call_id = first.call_id.clone();
    let (waited, _) =
        leave_text(&mut first.ws, "m-wait", "等太久了。", Some(call_id.clone())).await;
    assert_eq!(wait_ended(&mut first.ws).await.unwrap(), EndReason::MessageLeft);
    let record = server.store.call(&call_id).await.unwrap().unwrap();
    assert_eq!(record.outcome.as_deref(), Some("message_left"));

    // The citizen's own choice while queued.
    let mut chooser = place_call(&server, "pension_claim").await.unwrap();
    let id = chooser.call_id.clone();
    let (chosen, _) = leave_text(&mut chooser.ws, "m-choice", "我不等了。", Some(id)).await;
    assert_eq!(wait_ended(&mut chooser.ws).await.unwrap(), EndReason::MessageLeft);

    let messages = inbox(&server, &staff, "?state=new").await;
    assert_eq!(reason_of(&messages, &no_agents), "no_agents");
    assert_eq!(reason_of(&messages, &full), "queue_full");
    assert_eq!(reason_of(&messages, &waited), "wait_limit");
    assert_eq!(reason_of(&messages, &chosen), "choice");
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_on_a_holiday_leads_to_a_message_with_reason_closed() {
    let options = TestOptions { always_open: false, ..Default::default() };
    let server = TestServer::start_with(options).await.unwrap();
    let _agent = server.ready_agent("agent1").await.unwrap();
    let admin = login(&server.base_url, "admin1", DEMO_PASSWORD).await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let never = json!({ "name_zh": "养老保险", "name_en": "Pension insurance", "hours": "never" });
    http_json(&server.base_url, "PUT", "/api/admin/skills/pension", Some(&admin), Some(&never))
        .await
        .unwrap();
    let mut ws = server.citizen().await.unwrap();
    let offer = MediaLeg::new("c", 2).await.unwrap().create_offer().await.unwrap();
    ws.send(&ClientMessage::Call { service: Some("pension_claim".into()), sdp: offer })
        .await
        .unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::CallEnded { reason: EndReason::Closed, .. }
    ));
    let (ticket, _) = leave_text(&mut ws, "m-closed", "下班了,我留言。", None).await;
    assert_eq!(reason_of(&inbox(&server, &staff, "").await, &ticket), "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_client_id_creates_no_duplicate() {
    let server = TestServer::start().await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let (ticket, first_code) = leave_text(&mut ws, "same-id", "同一条留言", None).await;
    let (again, second_code) = leave_text(&mut ws, "same-id", "同一条留言", None).await;
    assert_eq!(ticket, again, "a retry gets the same ticket");
    // The latest code works (a retry means the first answer was lost).
    let path = format!("/api/tickets/{ticket}?code={second_code}");
    assert_eq!(http(&server.base_url, "GET", &path, None).await.unwrap().0, 200);
    let _ = first_code;
    // The same id with other content is refused; nothing changes.
    let other = ClientMessage::LeaveMessage {
        client_id: client_id_of("same-id"),
        service: None,
        name: None,
        phone: None,
        body: "别的内容".into(),
        call_id: None,
    };
    ws.send(&other).await.unwrap();
    assert!(matches!(
        ws.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::InvalidState, .. }
    ));
    // Bad input is refused with the reason.
    let empty = ClientMessage::LeaveMessage {
        client_id: client_id_of("empty"),
        service: None,
        name: None,
        phone: None,
        body: String::new(),
        call_id: None,
    };
    ws.send(&empty).await.unwrap();
    assert!(matches!(ws.recv(STEP).await.unwrap(), ServerMessage::Error { .. }));
    assert_eq!(inbox(&server, &staff, "").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reply_reaches_the_ticket_page_and_a_low_rating_is_followed_up() {
    let server = TestServer::start().await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let mut ws = server.citizen().await.unwrap();
    let (ticket, code) = leave_text(&mut ws, "m-reply", "养老金什么时候到账?", None).await;

    // Wrong code: the same answer as an unknown ticket.
    let wrong = format!("/api/tickets/{ticket}?code=WRONG-CODE");
    assert_eq!(http(&server.base_url, "GET", &wrong, None).await.unwrap().0, 404);
    let page = format!("/api/tickets/{ticket}?code={code}");
    let (status, body) = http(&server.base_url, "GET", &page, None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["state"], "new");

    // Not answered yet: no rating.
    let rating = json!({ "code": code, "level": 2, "comment": "太慢" });
    let rate_path = format!("/api/tickets/{ticket}/rating");
    assert_eq!(
        http_json(&server.base_url, "POST", &rate_path, None, Some(&rating)).await.unwrap().0,
        400
    );

    let id = inbox(&server, &staff, "").await[0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        http(&server.base_url, "POST", &format!("/api/inbox/{id}/assign"), Some(&staff))
            .await
            .unwrap();
    assert_eq!(status, 200);
    let reply = json!({ "reply": "每月15日前发放到社保卡。" });
    let (status, body) = http_json(
        &server.base_url,
        "POST",
        &format!("/api/inbox/{id}/reply"),
        Some(&staff),
        Some(&reply),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");

    let v: Value =
        serde_json::from_str(&http(&server.base_url, "GET", &page, None).await.unwrap().1).unwrap();
    assert_eq!(
        (v["state"].as_str(), v["reply"].as_str()),
        (Some("answered"), Some("每月15日前发放到社保卡。"))
    );

    // A low rating goes onto the follow-up list until handled; a second rating is refused.
    let (status, body) =
        http_json(&server.base_url, "POST", &rate_path, None, Some(&rating)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http_json(&server.base_url, "POST", &rate_path, None, Some(&rating)).await.unwrap().0,
        409
    );
    let follow_ups: Value = serde_json::from_str(
        &http(&server.base_url, "GET", "/api/follow-ups", Some(&staff)).await.unwrap().1,
    )
    .unwrap();
    let list = follow_ups["follow_ups"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{follow_ups}");
    assert_eq!(list[0]["level"], 2);
    let handled = json!({ "note": "已电话回访" });
    let path = format!("/api/follow-ups/message/{id}/handled");
    let (status, body) =
        http_json(&server.base_url, "POST", &path, Some(&staff), Some(&handled)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let open: Value = serde_json::from_str(
        &http(&server.base_url, "GET", "/api/follow-ups", Some(&staff)).await.unwrap().1,
    )
    .unwrap();
    assert!(open["follow_ups"].as_array().unwrap().is_empty(), "{open}");
    // Citizens and agents cannot read the inbox.
    let agent = login(&server.base_url, "agent1", DEMO_PASSWORD).await.unwrap();
    assert_eq!(http(&server.base_url, "GET", "/api/inbox", Some(&agent)).await.unwrap().0, 403);
    assert_eq!(http(&server.base_url, "GET", "/api/inbox", None).await.unwrap().0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_rated_once_and_a_bad_rating_is_followed_up() {
    let server = TestServer::start().await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    let call_id = citizen.call_id.clone();
    // Not answered yet: cannot be rated.
    let rate = |level| ClientMessage::Rate {
        call_id: Some(call_id.clone()),
        ticket: None,
        code: None,
        level,
        comment: "等太久".into(),
    };
    voicedesk_tests::wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();
    citizen.ws.send(&rate(1)).await.unwrap();
    assert!(matches!(
        citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::InvalidState, .. }
    ));
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    wait_ended(&mut citizen.ws).await.unwrap();
    citizen.ws.send(&rate(9)).await.unwrap();
    assert!(matches!(citizen.ws.recv(STEP).await.unwrap(), ServerMessage::Error { .. }));
    citizen.ws.send(&rate(1)).await.unwrap();
    assert_eq!(
        citizen.ws.recv(STEP).await.unwrap(),
        ServerMessage::RatingSaved { subject: call_id.clone(), level: 1 }
    );
    citizen.ws.send(&rate(5)).await.unwrap();
    assert!(matches!(citizen.ws.recv(STEP).await.unwrap(), ServerMessage::Error { .. }));
    // Somebody else's call cannot be rated.
    let mut stranger = server.citizen().await.unwrap();
    stranger.send(&rate(5)).await.unwrap();
    assert!(matches!(
        stranger.recv(STEP).await.unwrap(),
        ServerMessage::Error { code: ErrorCode::UnknownCall, .. }
    ));
    let follow_ups: Value = serde_json::from_str(
        &http(&server.base_url, "GET", "/api/follow-ups", Some(&staff)).await.unwrap().1,
    )
    .unwrap();
    let list = follow_ups["follow_ups"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0]["subject_kind"].as_str(), list[0]["level"].as_i64()),
        (Some("call"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_message_recorded_from_the_queued_call_plays_back_as_ogg_opus() {
    let server = TestServer::start().await.unwrap();
    let staff = login(&server.base_url, "staff1", DEMO_PASSWORD).await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    set_state(&mut agent, AgentAvailability::Away).await;
    let mut citizen = place_call(&server, "pension_transfer").await.unwrap();
    let call_id = citizen.call_id.clone();
    citizen.media.start_sending(*b"VOIC");
    let start = ClientMessage::StartVoiceMessage {
        call_id: Some(call_id.clone()),
        sdp: None,
        service: None,
    };
    citizen.ws.send(&start).await.unwrap();
    match citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::VoiceRecording { .. }))
        .await
        .unwrap()
    {
        ServerMessage::VoiceRecording { sdp: None, max_ms } => assert_eq!(max_ms, 120_000),
        other => panic!("{other:?}"),
    }
    let before = citizen.media.sent().packets;
    // About one second of speech: count packets the citizen sends, not wall time.
    citizen.media.wait_sent(before + 50, STEP).await.unwrap();
    let finish = ClientMessage::FinishVoiceMessage {
        client_id: client_id_of("voice-1"),
        name: None,
        phone: Some("138 0000 0000".into()),
    };
    citizen.ws.send(&finish).await.unwrap();
    let sent = citizen.media.sent().packets - before;
    match citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::MessageSaved { .. }))
        .await
        .unwrap()
    {
        ServerMessage::MessageSaved { code: Some(_), .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(wait_ended(&mut citizen.ws).await.unwrap(), EndReason::MessageLeft);

    let message = inbox(&server, &staff, "").await.remove(0);
    assert_eq!(message["kind"], "voice");
    let id = message["id"].as_str().unwrap();
    let (status, bytes) = voicedesk_tests::http_bytes(
        &server.base_url,
        "GET",
        &format!("/api/inbox/{id}/voice"),
        Some(&staff),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let ogg = voicedesk_media_relay::ogg::parse_ogg_opus(&bytes).expect("valid Ogg/Opus");
    let tagged: Vec<_> = ogg.packets.iter().filter_map(|p| parse_marker(p)).collect();
    assert!(tagged.iter().all(|m| &m.tag == b"VOIC"));
    // The packets sent while recording, give or take the ones in flight at start and stop.
    assert!(
        tagged.len() as u64 + 10 >= sent && tagged.len() as u64 <= sent + 10,
        "{} packets recorded, {sent} sent",
        tagged.len()
    );
    let seqs: Vec<u32> = tagged.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, none lost: {seqs:?}");
    // The access was audited, and the file is the only one in the voice directory.
    assert_eq!(server.store.message_audit(id).await.unwrap().len(), 1);
    let files: Vec<_> = std::fs::read_dir(&server.voice_dir).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_article_answers_at_once_and_after_a_restart() {
    let mut server = TestServer::start().await.unwrap();
    let admin = login(&server.base_url, "admin1", DEMO_PASSWORD).await.unwrap();
    let (_, body) = http(&server.base_url, "GET", "/api/knowledge/articles", None).await.unwrap();
    let articles: Value = serde_json::from_str(&body).unwrap();
    let mut article = articles["articles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "social_security_card_loss")
        .expect("the card-loss article")
        .clone();
    article["zh"]["body"] =
        json!("1. 拨打 12333 挂失。\n2. 带身份证到银行网点补卡(本说明已更新 V2)。");
    let path = "/api/admin/articles/social_security_card_loss";
    let agent = login(&server.base_url, "agent1", DEMO_PASSWORD).await.unwrap();
    let refused = http_json(&server.base_url, "PUT", path, Some(&agent), Some(&article)).await;
    assert_eq!(refused.unwrap().0, 403);
    let (status, body) =
        http_json(&server.base_url, "PUT", path, Some(&admin), Some(&article)).await.unwrap();
    assert_eq!(status, 200, "{body}");

    let updated = |answer: ServerMessage| match answer {
        ServerMessage::Answer { best, suggestions, .. } => best
            .into_iter()
            .chain(suggestions)
            .any(|h| h.article_id == "social_security_card_loss" && h.body.contains("V2")),
        other => panic!("expected an answer, got {other:?}"),
    };
    let mut ws = server.citizen().await.unwrap();
    assert!(updated(ask(&mut ws, "社保卡丢了怎么办").await), "the edit answers at once");
    drop(ws);

    server.shutdown().await;
    let options =
        TestOptions { database_url: Some(server.database_url.clone()), ..Default::default() };
    let again = TestServer::start_with(options).await.unwrap();
    let mut ws = again.citizen().await.unwrap();
    assert!(updated(ask(&mut ws, "社保卡丢了怎么办").await), "the edit survives a restart");
}
