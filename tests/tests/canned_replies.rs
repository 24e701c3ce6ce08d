//! Canned replies (常用语) of the live chat: admins keep them per service (every change
//! audited), agents read a service's replies for the chat composer; refusals change nothing.

use serde_json::{Value, json};
use voicedesk_softphone::login;
use voicedesk_tests::{DEMO_PASSWORD, TestServer, http, http_json};

async fn cookie(server: &TestServer, username: &str) -> String {
    login(&server.base_url, username, DEMO_PASSWORD).await.unwrap()
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The titles of a service's replies as an agent reads them.
async fn titles_for(server: &TestServer, cookie: &str, service: &str) -> Vec<String> {
    let path = format!("/api/canned-replies?service={service}");
    let (status, body) = http(&server.base_url, "GET", &path, Some(cookie)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    parse(&body)["canned_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The admin audit log's newest (action, target) pairs.
async fn audit(server: &TestServer) -> Vec<(String, String)> {
    let entries = server.store.admin_audit(10, None).await.unwrap();
    entries.into_iter().map(|e| (e.action, e.target)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_keep_canned_replies_per_service_and_agents_read_them() {
    let mut server = TestServer::start().await.unwrap();
    let admin = cookie(&server, "admin1").await;
    let agent = cookie(&server, "agent1").await;
    let seeded = titles_for(&server, &agent, "pension_benefit_inquiry").await;
    assert_eq!(seeded.len(), 3, "{seeded:?}");
    assert!(titles_for(&server, &agent, "pension_transfer").await.is_empty());

    let body = json!({
        "service": "pension_transfer",
        "title": "转移材料 Documents",
        "body": "请准备：身份证、社保卡。 Please bring: ID card, social security card.",
    });
    let (status, text) =
        http_json(&server.base_url, "POST", "/api/admin/canned-replies", Some(&admin), Some(&body))
            .await
            .unwrap();
    assert_eq!(status, 201, "{text}");
    let created = parse(&text)["canned_reply"].clone();
    let id = created["id"].as_str().unwrap().to_owned();
    let admin_id = server.store.user_by_username("admin1").await.unwrap().unwrap().id;
    assert_eq!(created["updated_by"], admin_id.as_str());
    assert_eq!(created["sort"], 0);
    assert_eq!(titles_for(&server, &agent, "pension_transfer").await, ["转移材料 Documents"]);
    let target = format!("canned_reply:{id}");
    assert_eq!(audit(&server).await[0], ("canned_reply.create".to_owned(), target.clone()));

    // A change replaces it (here: moves it to another service, first in its order).
    let path = format!("/api/admin/canned-replies/{id}");
    let changed = json!({
        "service": "pension_benefit_inquiry", "title": "材料 Documents", "body": "身份证", "sort": -1,
    });
    let (status, text) =
        http_json(&server.base_url, "PUT", &path, Some(&admin), Some(&changed)).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(titles_for(&server, &agent, "pension_transfer").await.is_empty());
    assert_eq!(titles_for(&server, &agent, "pension_benefit_inquiry").await[0], "材料 Documents");
    assert_eq!(audit(&server).await[0], ("canned_reply.update".to_owned(), target.clone()));

    let (status, text) =
        http(&server.base_url, "GET", "/api/admin/canned-replies", Some(&admin)).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(parse(&text)["canned_replies"].as_array().unwrap().len(), 4);

    let (status, _) = http(&server.base_url, "DELETE", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 204);
    assert_eq!(audit(&server).await[0], ("canned_reply.delete".to_owned(), target));
    let (status, text) = http(&server.base_url, "DELETE", &path, Some(&admin)).await.unwrap();
    assert_eq!(status, 404, "{text}");
    assert_eq!(titles_for(&server, &agent, "pension_benefit_inquiry").await, seeded);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_canned_reply_changes_name_the_field_and_change_nothing() {
    let mut server = TestServer::start().await.unwrap();
    let admin = cookie(&server, "admin1").await;
    let ok = json!({ "service": "pension_transfer", "title": "标题", "body": "文字" });
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("service", json!("no_such_service")), "service"),
        (with("title", json!("  ")), "title"),
        (with("body", json!("")), "body"),
        (with("body", json!("字".repeat(2001))), "body"),
        (with("sort", json!("first")), "sort"),
        (with("author", json!("me")), "author"),
    ];
    let before = server.store.canned_replies(None).await.unwrap();
    let audited = audit(&server).await;
    let seeded = "/api/admin/canned-replies/pension_greeting";
    for (body, field) in &cases {
        for (method, path) in [("POST", "/api/admin/canned-replies"), ("PUT", seeded)] {
            let (status, text) =
                http_json(&server.base_url, method, path, Some(&admin), Some(body)).await.unwrap();
            assert_eq!(status, 400, "{method} {field}: {text}");
            let error = parse(&text);
            assert_eq!(error["code"], "bad_request", "{text}");
            assert!(error["message"].as_str().unwrap().contains(field), "names {field}: {text}");
        }
    }
    let (status, text) = http_json(
        &server.base_url,
        "PUT",
        "/api/admin/canned-replies/ghost",
        Some(&admin),
        Some(&ok),
    )
    .await
    .unwrap();
    assert_eq!(status, 404, "{text}");
    assert_eq!(server.store.canned_replies(None).await.unwrap(), before, "nothing was written");
    assert_eq!(audit(&server).await, audited, "nothing was audited");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_edit_canned_replies_and_only_members_read_them() {
    let mut server = TestServer::start().await.unwrap();
    let agent = cookie(&server, "agent1").await;
    let staff = cookie(&server, "staff1").await;
    let body = json!({ "service": "pension_transfer", "title": "t", "body": "b" });
    let item = "/api/admin/canned-replies/pension_greeting";
    let requests: [(&str, &str, Option<&Value>); 4] = [
        ("GET", "/api/admin/canned-replies", None),
        ("POST", "/api/admin/canned-replies", Some(&body)),
        ("PUT", item, Some(&body)),
        ("DELETE", item, None),
    ];
    let before = server.store.canned_replies(None).await.unwrap();
    for (method, path, json) in requests {
        let (status, text) = http_json(&server.base_url, method, path, None, json).await.unwrap();
        assert_eq!(status, 401, "{method} {path} without a session: {text}");
        for (who, cookie) in [("agent", &agent), ("staff", &staff)] {
            let (status, text) =
                http_json(&server.base_url, method, path, Some(cookie), json).await.unwrap();
            assert_eq!(status, 403, "{method} {path} as {who}: {text}");
        }
    }
    assert_eq!(server.store.canned_replies(None).await.unwrap(), before);
    // Staff read them too; a citizen (no session) does not.
    assert_eq!(titles_for(&server, &staff, "pension_benefit_inquiry").await.len(), 3);
    let path = "/api/canned-replies?service=pension_benefit_inquiry";
    let (status, _) = http(&server.base_url, "GET", path, None).await.unwrap();
    assert_eq!(status, 401);
    server.shutdown().await;
}
