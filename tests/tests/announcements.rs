//! The information announcements: the hall's public list of current ones, and the admins'
//! create / read / update / delete — with refusals that change nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use voicedesk_softphone::login;
use voicedesk_tests::{DEMO_PASSWORD, TestServer, http, http_json, http_text};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn cookie(server: &TestServer, username: &str) -> String {
    login(&server.base_url, username, DEMO_PASSWORD).await.unwrap()
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The public list.
async fn public_list(server: &TestServer) -> Vec<Value> {
    let (status, body) = http(&server.base_url, "GET", "/api/announcements", None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let list = parse(&body)["announcements"].as_array().unwrap().clone();
    for a in &list {
        assert!(a.get("created_by").is_none(), "the author's id is not public: {a}");
    }
    list
}

/// The ids of the public list.
async fn public_ids(server: &TestServer) -> Vec<String> {
    public_list(server).await.iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
}

fn announcement(title: &str) -> Value {
    json!({
        "title_zh": format!("{title}（中文）"),
        "title_en": title,
        "body_zh": "即日起可在网上服务大厅办理。",
        "body_en": "From today this can be done in the online hall.",
    })
}

/// Creates an announcement as `admin` and returns it.
async fn create(server: &TestServer, admin: &str, body: &Value) -> Value {
    let (status, text) =
        http_json(&server.base_url, "POST", "/api/admin/announcements", Some(admin), Some(body))
            .await
            .unwrap();
    assert_eq!(status, 201, "{text}");
    parse(&text)["announcement"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hall_lists_current_announcements_pinned_first_then_newest() {
    let mut server = TestServer::start().await.unwrap();
    let admin = cookie(&server, "admin1").await;
    // The seeded ones that are current now, in the store's order.
    let now = now_ms();
    let seeded: Vec<String> = server
        .store
        .announcements()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.is_current(now))
        .map(|a| a.id)
        .collect();
    assert_eq!(server.store.announcements().await.unwrap().len(), 4, "four seeded");
    assert_eq!(public_ids(&server).await, seeded);

    let mut pinned = announcement("Card service moved");
    pinned["pinned"] = json!(true);
    pinned["published_at_ms"] = json!(now - 1_000);
    let pinned = create(&server, &admin, &pinned).await;
    let mut fresh = announcement("New self-service terminal");
    fresh["published_at_ms"] = json!(now - 500);
    let fresh = create(&server, &admin, &fresh).await;
    let mut scheduled = announcement("Spring Festival hours");
    scheduled["published_at_ms"] = json!(now + DAY_MS);
    let scheduled = create(&server, &admin, &scheduled).await;
    let mut expired = announcement("Old notice");
    expired["published_at_ms"] = json!(now - 10 * DAY_MS);
    expired["expires_at_ms"] = json!(now - DAY_MS);
    let expired = create(&server, &admin, &expired).await;

    let list = public_list(&server).await;
    let ids: Vec<&str> = list.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids[0], pinned["id"], "the newest pinned one first: {ids:?}");
    let pinned_count = list.iter().take_while(|a| a["pinned"] == true).count();
    assert!(list[pinned_count..].iter().all(|a| a["pinned"] == false), "pinned first: {ids:?}");
    assert_eq!(ids[pinned_count], fresh["id"], "then the newest: {ids:?}");
    let unpinned_times: Vec<i64> =
        list[pinned_count..].iter().map(|a| a["published_at_ms"].as_i64().unwrap()).collect();
    assert!(unpinned_times.windows(2).all(|w| w[0] >= w[1]), "newest first: {ids:?}");
    for hidden in [&scheduled, &expired] {
        assert!(!ids.iter().any(|id| *id == hidden["id"]), "{hidden} is not current");
    }
    assert_eq!(ids.len(), seeded.len() + 2);

    // Admins see every one, with whether it is shown now.
    let (status, body) =
        http(&server.base_url, "GET", "/api/admin/announcements", Some(&admin)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let all = parse(&body)["announcements"].as_array().unwrap().clone();
    assert_eq!(all.len(), 8);
    let of = |id: &Value| all.iter().find(|a| a["id"] == *id).unwrap().clone();
    assert_eq!(of(&scheduled["id"])["current"], false);
    assert_eq!(of(&expired["id"])["current"], false);
    assert_eq!(of(&fresh["id"])["current"], true);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_read_update_and_delete_announcements() {
    let mut server = TestServer::start().await.unwrap();
    let admin = cookie(&server, "admin1").await;
    let admin_id = server.store.user_by_username("admin1").await.unwrap().unwrap().id;
    let before = now_ms();
    let created = create(&server, &admin, &announcement("Social security card online")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["created_by"], admin_id.as_str());
    assert_eq!(created["pinned"], false);
    assert_eq!(created["expires_at_ms"], Value::Null);
    let published = created["published_at_ms"].as_i64().unwrap();
    assert!(published >= before && published <= now_ms(), "published now by default");
    let path = format!("/api/admin/announcements/{id}");
    let (status, body) = http(&server.base_url, "GET", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(parse(&body)["announcement"], created);

    // A change replaces the content, keeps the author and (absent) the publication time.
    let changed = json!({
        "title_zh": "社保卡线上申领", "title_en": "Apply for the card online",
        "title_es": "Solicite la tarjeta en línea",
        "body_zh": "在网上服务大厅申领。", "body_en": "Apply in the online hall.",
        "body_es": "Solicítela en la sala en línea.",
        "pinned": true, "expires_at_ms": published + 30 * DAY_MS,
    });
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&changed)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let stored = parse(&body)["announcement"].clone();
    assert_eq!(stored["title_es"], "Solicite la tarjeta en línea");
    assert_eq!(stored["pinned"], true);
    assert_eq!(stored["published_at_ms"], published);
    assert_eq!(stored["created_by"], admin_id.as_str());
    let in_store = server.store.announcement(&id).await.unwrap().unwrap();
    assert_eq!(in_store.body_es.as_deref(), Some("Solicítela en la sala en línea."));
    assert_eq!(public_ids(&server).await[0], id, "pinned and newest: first in the hall");

    // The longest texts fit (above the server-wide 16 KiB body limit).
    let longest = json!({
        "title_zh": "标".repeat(200), "title_en": "t".repeat(200),
        "title_es": "t".repeat(200),
        "body_zh": "字".repeat(5000), "body_en": "e".repeat(5000), "body_es": "é".repeat(5000),
    });
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&longest)).await.unwrap();
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);

    let (status, _) = http(&server.base_url, "DELETE", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 204);
    let (status, body) = http(&server.base_url, "DELETE", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(parse(&body)["code"], "not_found");
    let (status, _) = http(&server.base_url, "GET", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 404);
    let (status, body) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&changed)).await.unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(server.store.announcement(&id).await.unwrap().is_none(), "a PUT does not create");
    assert_eq!(server.store.announcements().await.unwrap().len(), 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_reason_and_changes_nothing() {
    let mut server = TestServer::start().await.unwrap();
    let admin = cookie(&server, "admin1").await;
    let base = announcement("Valid");
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let mut no_title_en = base.clone();
    no_title_en.as_object_mut().unwrap().remove("title_en");
    let now = now_ms();
    let cases: Vec<(Value, &str)> = vec![
        (no_title_en, "title_en"),
        (with("title_zh", json!("   ")), "title_zh"),
        (with("title_en", json!("t".repeat(201))), "title_en"),
        (with("body_zh", json!("")), "body_zh"),
        (with("body_en", json!("e".repeat(5001))), "body_en"),
        (with("title_es", json!("Sólo el título")), "body_es"),
        (with("body_es", json!("Sólo el texto")), "title_es"),
        (
            {
                let mut body = with("published_at_ms", json!(now));
                body["expires_at_ms"] = json!(now - DAY_MS);
                body
            },
            "expires_at_ms",
        ),
        (with("published_at_ms", json!(-5)), "published_at_ms"),
        (with("pinned", json!("yes")), "pinned"),
        (with("author", json!("me")), "author"),
    ];
    let before = server.store.announcements().await.unwrap();
    for (body, field) in &cases {
        let (status, text) = http_json(
            &server.base_url,
            "POST",
            "/api/admin/announcements",
            Some(&admin),
            Some(body),
        )
        .await
        .unwrap();
        assert_eq!(status, 400, "{field}: {text}");
        let error = parse(&text);
        assert_eq!(error["code"], "bad_request");
        assert!(error["message"].as_str().unwrap().contains(field), "names {field}: {text}");
    }
    // Not JSON at all.
    let (status, _) = http_text(
        &server.base_url,
        "POST",
        "/api/admin/announcements",
        Some(&admin),
        Some("application/json"),
        "{",
    )
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(server.store.announcements().await.unwrap(), before, "nothing was created");

    // A refused change leaves the announcement as it was.
    let id = "pension_adjustment_2026";
    let path = format!("/api/admin/announcements/{id}");
    let original = server.store.announcement(id).await.unwrap().unwrap();
    for (body, field) in &cases {
        let (status, text) =
            http_json(&server.base_url, "PUT", &path, Some(&admin), Some(body)).await.unwrap();
        assert_eq!(status, 400, "{field}: {text}");
    }
    assert_eq!(server.store.announcement(id).await.unwrap(), Some(original));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_may_edit_and_the_list_is_public() {
    let mut server = TestServer::start().await.unwrap();
    let agent = cookie(&server, "agent1").await;
    let staff = cookie(&server, "staff1").await;
    let body = announcement("Not allowed");
    let id = "medical_payment_window_2027";
    let item = format!("/api/admin/announcements/{id}");
    let requests: Vec<(&str, &str, Option<&Value>)> = vec![
        ("GET", "/api/admin/announcements", None),
        ("POST", "/api/admin/announcements", Some(&body)),
        ("GET", &item, None),
        ("PUT", &item, Some(&body)),
        ("DELETE", &item, None),
    ];
    let before = server.store.announcements().await.unwrap();
    for (method, path, json) in &requests {
        let (status, text) = http_json(&server.base_url, method, path, None, *json).await.unwrap();
        assert_eq!(status, 401, "{method} {path} without a session: {text}");
        for (who, cookie) in [("agent", &agent), ("staff", &staff)] {
            let (status, text) =
                http_json(&server.base_url, method, path, Some(cookie), *json).await.unwrap();
            assert_eq!(status, 403, "{method} {path} as {who}: {text}");
            assert_eq!(parse(&text)["code"], "forbidden");
        }
    }
    assert_eq!(server.store.announcements().await.unwrap(), before);
    // Anyone reads the current ones.
    assert!(!public_ids(&server).await.is_empty());
    server.shutdown().await;
}
