//! Accounts end to end: an admin creates an agent who must change the password before the
//! console opens; disabling an agent during a call lets the call finish, then signs the agent
//! out; repeated failed sign-ins slow, then lock (the same for a name that does not exist),
//! and the lock lifts after its period (the server's clock is moved, not waited for); a
//! state-changing request from a foreign origin is refused even with a valid cookie.

use std::time::Duration;

use serde_json::{Value, json};
use voicedesk_protocol::{ClientMessage, EndReason, ServerMessage};
use voicedesk_tests::{
    DEMO_PASSWORD, STEP, TestServer, http, http_json, http_with_headers, place_call,
    ready_agent_at, wait_ended, wait_offer,
};

const GOOD_PASSWORD: &str = "blue-heron-41-lantern";

async fn admin_cookie(server: &TestServer) -> String {
    voicedesk_softphone::login(&server.base_url, "admin1", DEMO_PASSWORD).await.expect("admin1")
}

async fn login_status(server: &TestServer, username: &str, password: &str) -> (u16, Value) {
    let body = json!({ "username": username, "password": password });
    let (status, text) =
        http_json(&server.base_url, "POST", "/api/login", None, Some(&body)).await.expect("login");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn audit_actions(server: &TestServer, cookie: &str) -> Vec<(String, String)> {
    let (status, body) =
        http(&server.base_url, "GET", "/api/admin/audit-log", Some(cookie)).await.expect("audit");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_agent_changes_the_password_then_answers_a_call() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let create = json!({
        "username": "zhou.min",
        "display_name": "周敏",
        "name_latin": "Zhou Min",
        "role": "agent",
        "skills": [{ "skill_id": "pension", "level": 7 }],
    });
    let (status, body) =
        http_json(&server.base_url, "POST", "/api/admin/users", Some(&admin), Some(&create))
            .await?;
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body)?;
    let first = created["generated_password"].as_str().expect("a generated password").to_owned();
    assert_eq!(created["user"]["must_change_password"], true);

    // The same username again is refused and names the field.
    let (status, body) =
        http_json(&server.base_url, "POST", "/api/admin/users", Some(&admin), Some(&create))
            .await?;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("\"field\":\"username\""), "{body}");

    // Signed in with the first password: nothing but the password change works.
    let cookie = voicedesk_softphone::login(&server.base_url, "zhou.min", &first).await?;
    let (status, _) = http(&server.base_url, "GET", "/api/catalogue", Some(&cookie)).await?;
    assert_eq!(status, 200, "public routes stay public");
    let (status, body) = http(&server.base_url, "GET", "/api/audit", Some(&cookie)).await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("password_change_required"), "{body}");
    let refused = voicedesk_softphone::SignalingClient::connect(
        &server.agent_ws(),
        &server.base_url,
        Some(&cookie),
    )
    .await;
    assert!(refused.is_err(), "the console does not open before the change");

    // A common new password is refused; a good one is accepted.
    let weak = json!({ "current_password": first, "new_password": "Password123" });
    let (status, body) =
        http_json(&server.base_url, "POST", "/api/password", Some(&cookie), Some(&weak)).await?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("password_common") && body.contains("new_password"), "{body}");
    let good = json!({ "current_password": first, "new_password": GOOD_PASSWORD });
    let (status, body) =
        http_json(&server.base_url, "POST", "/api/password", Some(&cookie), Some(&good)).await?;
    assert_eq!(status, 204, "{body}");
    let (status, _) = login_status(&server, "zhou.min", &first).await;
    assert_eq!(status, 401, "the old password no longer works");

    // The agent signs in with the new password and answers a pension call.
    let mut agent = ready_agent_at(&server.base_url, "zhou.min", GOOD_PASSWORD).await?;
    let mut citizen = place_call(&server, "pension_benefit_inquiry").await?;
    let offered = wait_offer(&mut agent).await?;
    assert_eq!(offered, citizen.call_id);
    agent.ws.send(&ClientMessage::Accept { call_id: offered }).await?;
    citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;

    let actions = audit_actions(&server, &admin).await;
    assert!(actions.contains(&("user.create".into(), "user:zhou.min".into())), "{actions:?}");
    assert!(
        actions.contains(&("user.change_own_password".into(), "user:zhou.min".into())),
        "{actions:?}"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_disabled_during_a_call_finishes_it_and_is_then_signed_out() -> anyhow::Result<()>
{
    let mut server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let mut agent = server.ready_agent("agent1").await?;
    let mut citizen = place_call(&server, "pension_benefit_inquiry").await?;
    let call_id = wait_offer(&mut agent).await?;
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await?;
    citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;

    let path = format!("/api/admin/users/{}/disable", agent.user_id);
    let (status, body) = http(&server.base_url, "POST", &path, Some(&admin)).await?;
    assert_eq!(status, 200, "{body}");

    // The session is gone at once: no API request, no new sign-in.
    let (status, _) = http(&server.base_url, "GET", "/api/me", Some(&agent.cookie)).await?;
    assert_eq!(status, 401);
    let (status, body) = login_status(&server, "agent1", DEMO_PASSWORD).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "account_disabled");

    // The call goes on: the citizen hangs up, the agent hears of it, then is signed out.
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await?;
    assert_eq!(wait_ended(&mut citizen.ws).await?, EndReason::CitizenHangUp);
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await?;
    let expired = agent
        .ws
        .recv_until(STEP, |m| {
            matches!(
                m,
                ServerMessage::Error { code: voicedesk_protocol::ErrorCode::SessionExpired, .. }
            )
        })
        .await?;
    assert!(matches!(expired, ServerMessage::Error { .. }));
    agent.ws.wait_closed(STEP).await?;
    let record = server.store.call(&call_id).await?.expect("the call record");
    assert_eq!(record.outcome.as_deref(), Some("citizen_hang_up"), "the call was not cut short");

    let actions = audit_actions(&server, &admin).await;
    assert!(actions.contains(&("user.disable".into(), "user:agent1".into())), "{actions:?}");
    server.shutdown().await;
    Ok(())
}

/// Tries `password` for `username` until the server evaluates it (401 or 200), moving the
/// server's clock past every slow-down; returns the status and how many 429s it met.
async fn attempt(server: &TestServer, username: &str, password: &str) -> (u16, u32) {
    let mut slowed = 0;
    loop {
        let (status, body) = login_status(server, username, password).await;
        if status != 429 {
            return (status, slowed);
        }
        assert_eq!(body["code"], "too_many_attempts");
        assert_eq!(body["locked"], false, "locked while expecting only a slow-down: {body}");
        slowed += 1;
        let secs = body["retry_after_secs"].as_u64().expect("retry_after_secs");
        server.clock.advance(Duration::from_secs(secs));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_slow_then_lock_alike_for_real_and_unknown_names_and_unlock_later()
-> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let policy = voicedesk_signaling::signin_guard::SignInPolicy::default().account;
    let mut seen = Vec::new();
    for name in ["agent2", "nobody-here"] {
        let mut slowed_total = 0;
        for _ in 0..policy.lock_after - 1 {
            let (status, slowed) = attempt(&server, name, "wrong password!").await;
            assert_eq!(status, 401);
            slowed_total += slowed;
        }
        assert!(slowed_total > 0, "{name}: failures past {} are slowed", policy.slow_after);
        // The failure that reaches the limit locks: the right password is now refused too.
        let (status, _) = attempt(&server, name, "wrong password!").await;
        assert_eq!(status, 401);
        let (status, body) = login_status(&server, name, DEMO_PASSWORD).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["locked"], true);
        assert!(body["message"].as_str().unwrap_or("").contains("locked"), "{body}");
        seen.push(body["retry_after_secs"].clone());
    }
    assert_eq!(seen[0], seen[1], "an unknown name is locked exactly like a real one");

    let actions = audit_actions(&server, &admin).await;
    assert!(actions.contains(&("sign_in.locked".into(), "account:agent2".into())), "{actions:?}");
    assert!(
        actions.contains(&("sign_in.locked".into(), "account:nobody-here".into())),
        "{actions:?}"
    );

    // Another account is not locked by agent2's failures (the address, with 16 failures, is
    // only slowed).
    let (status, _) = attempt(&server, "agent3", DEMO_PASSWORD).await;
    assert_eq!(status, 200);

    // After the lock's period the right password works again.
    server.clock.advance(policy.lock);
    let (status, body) = login_status(&server, "agent2", DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_cannot_change_anything_with_a_valid_cookie() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let base = &server.base_url;
    let evil = [("Origin", "http://evil.example")];
    let json_type = Some("application/json");
    let before = server.store.catalogue().await?;

    let skill = json!({ "name_zh": "恶意", "name_en": "Evil", "hours": "always" }).to_string();
    let holiday = json!({ "kind": "holiday", "name_zh": "假", "name_en": "Fake" }).to_string();
    let notice =
        json!({ "title_zh": "假", "title_en": "Fake", "body_zh": "假", "body_en": "Fake" })
            .to_string();
    let attempts: Vec<(&str, String, Option<&str>, String)> = vec![
        ("PUT", "/api/admin/skills/evil".into(), json_type, skill),
        ("PUT", "/api/admin/holidays/2027-03-03".into(), json_type, holiday),
        ("POST", "/api/admin/announcements".into(), json_type, notice),
        ("DELETE", "/api/admin/services/pension_benefit_inquiry".into(), None, String::new()),
        (
            "POST",
            "/api/admin/users".into(),
            Some("application/x-www-form-urlencoded"),
            "username=evil&role=admin".into(),
        ),
        ("POST", "/api/logout".into(), None, String::new()),
    ];
    for (method, path, content_type, body) in &attempts {
        let (status, text) =
            http_with_headers(base, method, path, Some(&admin), &evil, *content_type, body).await?;
        assert_eq!(status, 403, "{method} {path}: {text}");
        assert!(text.contains("origin_not_allowed"), "{text}");
    }
    // Cross-site without Origin (a browser's Sec-Fetch-Site) is refused too.
    let (status, _) = http_with_headers(
        base,
        "DELETE",
        "/api/admin/services/pension_benefit_inquiry",
        Some(&admin),
        &[("Sec-Fetch-Site", "cross-site")],
        None,
        "",
    )
    .await?;
    assert_eq!(status, 403);
    // Login from a foreign origin is refused.
    let credentials = json!({ "username": "admin1", "password": DEMO_PASSWORD }).to_string();
    let (status, _) =
        http_with_headers(base, "POST", "/api/login", None, &evil, json_type, &credentials).await?;
    assert_eq!(status, 403);

    // Nothing changed, and the admin is still signed in.
    let after = server.store.catalogue().await?;
    assert_eq!(before.skills, after.skills);
    assert_eq!(before.services, after.services);
    assert_eq!(before.holidays, after.holidays);
    assert!(server.store.announcements().await?.iter().all(|a| a.title_en != "Fake"));
    let (status, _) = http(base, "GET", "/api/me", Some(&admin)).await?;
    assert_eq!(status, 200);

    // The same request from the server's own origin goes through.
    let own = format!("http://{}", base.trim_start_matches("http://"));
    let holiday = json!({ "kind": "holiday", "name_zh": "测试", "name_en": "Test" }).to_string();
    let (status, text) = http_with_headers(
        base,
        "PUT",
        "/api/admin/holidays/2027-03-03",
        Some(&admin),
        &[("Origin", &own)],
        json_type,
        &holiday,
    )
    .await?;
    assert_eq!(status, 200, "{text}");
    server.shutdown().await;
    Ok(())
}
