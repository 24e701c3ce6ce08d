//! The admin console's API end to end, against the real server: a service pointed at a queue
//! that does not exist is refused and names the field; a queue that services use cannot be
//! deleted; a holiday file with a bad row changes nothing; dispositions and away reasons change
//! at once (an agent picks a new away reason right away, a removed one is refused); an admin's
//! synonym group changes the next answer; and a citizen's question without a confident answer
//! is listed for the admins, counted, while an admin's "try a question" is not.

use serde_json::{Value, json};
use voicedesk_protocol::{AgentActivity, AgentAvailability, ClientMessage, ServerMessage};
use voicedesk_tests::{DEMO_PASSWORD, STEP, TestServer, http, http_json};

async fn admin_cookie(server: &TestServer) -> String {
    voicedesk_softphone::login(&server.base_url, "admin1", DEMO_PASSWORD).await.expect("admin1")
}

async fn send(
    server: &TestServer,
    cookie: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let (status, text) =
        http_json(&server.base_url, method, path, Some(cookie), Some(&body)).await.expect(path);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(server: &TestServer, cookie: &str, path: &str) -> Value {
    let (status, text) = http(&server.base_url, "GET", path, Some(cookie)).await.expect(path);
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_changes_are_validated_field_by_field_and_apply_at_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;

    // A service pointing at a queue that does not exist (deleted meanwhile): 400 naming
    // `skill_id`, nothing created.
    let service = json!({
        "area": "self_service", "skill_id": "dentistry", "kind": "inquiry",
        "name_zh": "养老金测算", "name_en": "Pension estimate", "name_es": "Cálculo de la pensión",
    });
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/services/pension_estimate", service.clone()).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("skill_id")), "{body}");
    let full = get(&server, &admin, "/api/admin/catalogue").await;
    assert!(!full["services"].as_array().unwrap().iter().any(|s| s["id"] == "pension_estimate"));

    // A blank Spanish name is refused next to its field; an empty one means "not written".
    let mut blank = service.clone();
    blank["skill_id"] = json!("pension");
    blank["name_es"] = json!("  ");
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/services/pension_estimate", blank).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name_es")), "{body}");

    let mut good = service.clone();
    good["skill_id"] = json!("pension");
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/services/pension_estimate", good).await;
    assert_eq!(status, 200, "{body}");
    let (_, public) = http(&server.base_url, "GET", "/api/catalogue", None).await?;
    let public: Value = serde_json::from_str(&public)?;
    let listed =
        public["services"].as_array().unwrap().iter().find(|s| s["id"] == "pension_estimate");
    assert_eq!(listed.map(|s| s["name_es"].clone()), Some(json!("Cálculo de la pensión")));

    // Deleting a queue that services use: 409, the queue stays.
    let (status, text) =
        http(&server.base_url, "DELETE", "/api/admin/skills/pension", Some(&admin)).await?;
    assert_eq!(status, 409, "{text}");
    let full = get(&server, &admin, "/api/admin/catalogue").await;
    assert!(full["skills"].as_array().unwrap().iter().any(|s| s["id"] == "pension"));

    // A service level target without its time: refused naming the missing field.
    let queue = json!({
        "name_zh": "养老保险", "name_en": "Pension insurance",
        "hours": "mon-fri 09:00-12:00,13:00-17:00", "service_level_pct": 90,
    });
    let (status, body) = send(&server, &admin, "PUT", "/api/admin/skills/pension", queue).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("service_level_secs")), "{body}");

    // The recording policy: an unknown one is refused; so are `all` and `on_demand` while the
    // call-center does not start recordings (the hall must not claim a recording that does not
    // happen). Nothing changes.
    let queue = |recording: &str| {
        json!({
            "name_zh": "养老保险", "name_en": "Pension insurance",
            "hours": "mon-fri 09:00-12:00,13:00-17:00", "recording": recording,
        })
    };
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/skills/pension", queue("always")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("recording"), "{body}");
    for policy in ["all", "on_demand"] {
        let (status, body) =
            send(&server, &admin, "PUT", "/api/admin/skills/pension", queue(policy)).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("recording")), "{body}");
    }
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/skills/pension", queue("none")).await;
    assert_eq!(status, 200, "{body}");
    let (_, public) = http(&server.base_url, "GET", "/api/catalogue", None).await?;
    let public: Value = serde_json::from_str(&public)?;
    let pension = public["skills"].as_array().unwrap().iter().find(|s| s["id"] == "pension");
    assert_eq!(pension.unwrap()["recording"], "none");

    // A holiday file with one bad row: 400 naming the row's value, nothing added.
    let file = "day,kind,name_zh,name_en\n2028-01-01,holiday,元旦,New Year\n2028-02-30,holiday,春节,Spring\n";
    let (status, body) =
        send(&server, &admin, "POST", "/api/admin/holidays/import", json!({ "csv": file })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("day")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("2028-02-30"), "{body}");
    let full = get(&server, &admin, "/api/admin/catalogue").await;
    assert!(!full["holidays"].as_array().unwrap().iter().any(|h| h["day"] == "2028-01-01"));
    let file = "day,kind,name_zh,name_en\n2028-01-01,holiday,元旦,New Year\n2028-01-29,workday,调休上班,Make-up day\n";
    let (status, body) =
        send(&server, &admin, "POST", "/api/admin/holidays/import", json!({ "csv": file })).await;
    assert_eq!((status, &body["imported"]), (200, &json!(2)), "{body}");

    // Dispositions: replaced at once; one in use by no wrap-up can be removed.
    let codes = json!({ "codes": [
        { "code": "resolved", "name_zh": "已解答", "name_en": "Resolved", "sort": 10 },
        { "code": "callback_promised", "name_zh": "已约回电", "name_en": "Callback promised", "sort": 20 },
    ]});
    let (status, body) = send(&server, &admin, "PUT", "/api/admin/dispositions", codes).await;
    assert_eq!(status, 200, "{body}");
    let (_, public) = http(&server.base_url, "GET", "/api/catalogue", None).await?;
    let public: Value = serde_json::from_str(&public)?;
    let codes: Vec<&str> = public["dispositions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(codes, ["resolved", "callback_promised"]);

    // Every change is in the admin audit log.
    let audit = get(&server, &admin, "/api/admin/audit-log").await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["service.create", "holidays.import", "dispositions.update"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synonyms_apply_to_the_next_question_and_unconfident_questions_are_listed()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let try_question = |question: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            let (status, body) = send(
                server,
                admin,
                "POST",
                "/api/admin/knowledge/try",
                json!({ "question": question }),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    // No article knows the word; an admin's group makes it find the card articles at once.
    let before = try_question("zorblax").await;
    assert!(before["ranked"].as_array().unwrap().is_empty(), "{before}");
    let group = json!({ "lang": "en", "phrases": ["Zorblax", "social security card"] });
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/knowledge/synonyms/card_slang", group).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["group"]["phrases"][0], "zorblax");
    let after = try_question("zorblax").await;
    assert!(!after["ranked"].as_array().unwrap().is_empty(), "{after}");
    let bad = json!({ "lang": "en", "phrases": ["only one"] });
    let (status, body) =
        send(&server, &admin, "PUT", "/api/admin/knowledge/synonyms/card_slang", bad).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("phrases")), "{body}");
    let groups = get(&server, &admin, "/api/admin/knowledge/synonyms").await;
    assert_eq!(groups["groups"][0]["phrases"][0], "zorblax", "the refused change changed nothing");

    // A citizen asks the same unanswerable question twice; an admin's try of another one is a
    // preview and is not listed.
    try_question("wibble wobble").await;
    let mut citizen = server.citizen().await?;
    for _ in 0..2 {
        citizen.send(&ClientMessage::Ask { text: "flimflam  quux wibble".into() }).await?;
        match citizen.recv(STEP).await? {
            ServerMessage::Answer { confident, .. } => assert!(!confident),
            other => panic!("expected an answer, got {other:?}"),
        }
    }
    // Recorded by a task after the answer: wait until the listing shows both askings.
    let deadline = tokio::time::Instant::now() + STEP;
    let listed = loop {
        let list = get(&server, &admin, "/api/admin/knowledge/unanswered").await;
        let questions = list["questions"].as_array().unwrap().clone();
        if questions.iter().any(|q| q["asked"] == 2) || tokio::time::Instant::now() > deadline {
            break questions;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["question"], "flimflam quux wibble", "whitespace collapsed");
    assert_eq!((listed[0]["lang"].as_str(), listed[0]["asked"].as_i64()), (Some("en"), Some(2)));

    // Dismissed once its article is written: off the list.
    let dismiss = json!({ "lang": "en", "question": "flimflam quux wibble" });
    let path = "/api/admin/knowledge/unanswered/dismiss";
    let (status, body) = send(&server, &admin, "POST", path, dismiss.clone()).await;
    assert_eq!(status, 204, "{body}");
    let list = get(&server, &admin, "/api/admin/knowledge/unanswered").await;
    assert_eq!(list["questions"], json!([]));
    let (status, _) = send(&server, &admin, "POST", path, dismiss).await;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_away_reason_an_admin_adds_is_one_agents_can_pick_at_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let admin = admin_cookie(&server).await;
    let mut agent = server.ready_agent("agent1").await?;
    let away = |reason: &str| ClientMessage::SetState {
        state: AgentAvailability::Away,
        reason: Some(reason.to_owned()),
    };

    // Not on the list yet: refused, the agent stays available.
    agent.ws.send(&away("fresh_air")).await?;
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. })).await?;

    // The admins replace the list: the new reason is good at once, a removed one is not.
    let codes = json!({ "codes": [
        { "code": "fresh_air", "name_zh": "透气", "name_en": "Fresh air", "sort": 10 },
        { "code": "meal", "name_zh": "用餐", "name_en": "Meal", "sort": 20 },
    ]});
    let (status, body) = send(&server, &admin, "PUT", "/api/admin/away-reasons", codes).await;
    assert_eq!(status, 200, "{body}");
    agent.ws.send(&away("fresh_air")).await?;
    let state = agent
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::AgentState { .. } | ServerMessage::Error { .. })
        })
        .await?;
    assert!(
        matches!(&state, ServerMessage::AgentState { state: AgentActivity::Away, reason: Some(r), .. } if r == "fresh_air"),
        "{state:?}"
    );
    agent.ws.send(&away("break")).await?;
    let refused = agent
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::AgentState { .. } | ServerMessage::Error { .. })
        })
        .await?;
    assert!(matches!(refused, ServerMessage::Error { .. }), "{refused:?}");

    // A code that is not a code: refused naming the field, the list unchanged.
    let bad =
        json!({ "codes": [{ "code": "Fresh Air!", "name_zh": "透气", "name_en": "Fresh air" }]});
    let (status, body) = send(&server, &admin, "PUT", "/api/admin/away-reasons", bad).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("code")), "{body}");
    let (_, public) = http(&server.base_url, "GET", "/api/catalogue", None).await?;
    let public: Value = serde_json::from_str(&public)?;
    let listed: Vec<&str> = public["away_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(listed.contains(&"fresh_air") && !listed.contains(&"break"), "{listed:?}");
    Ok(())
}
