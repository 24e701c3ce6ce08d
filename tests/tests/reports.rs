//! `/api/reports` and its CSV files: staff and admins only, clear refusals of bad input, and a
//! real call (answered by an agent, hung up by the citizen) found in the JSON and in the CSVs.
//! The figures themselves are checked on a hand-computed scenario in the store's
//! `reports_suite`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_queue_engine::CivilDate;
use voicedesk_softphone::login;
use voicedesk_tests::{
    DEMO_PASSWORD, STEP, TestServer, http, http_bytes, place_call, wait_ended, wait_offer,
};

/// Today in the hall (the server's default offset, UTC+8), plus `days`.
fn today_plus(days: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    CivilDate::from_days_since_epoch((now + 480 * 60_000).div_euclid(86_400_000) + days).to_string()
}

fn today() -> String {
    today_plus(0)
}

async fn cookie(server: &TestServer, username: &str) -> String {
    login(&server.base_url, username, DEMO_PASSWORD).await.unwrap()
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The body of a `Transfer-Encoding: chunked` response, or the body as it is.
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let Ok(size) = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap_or("x"), 16)
        else {
            return raw.to_vec();
        };
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[end + 2..end + 2 + size]);
        rest = &rest[end + 2 + size + 2..];
    }
    raw.to_vec()
}

/// A CSV file's text after its byte order mark, which it must have.
async fn csv(server: &TestServer, cookie: &str, path: &str) -> String {
    let (status, raw) = http_bytes(&server.base_url, "GET", path, Some(cookie)).await.unwrap();
    let body = dechunk(&raw);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body).expect("UTF-8");
    text.strip_prefix('\u{feff}').unwrap_or_else(|| panic!("no BOM: {text:?}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_for_staff_and_admins_and_bad_input_is_refused_clearly() {
    let mut server = TestServer::start().await.unwrap();
    let base = &server.base_url;
    let day = today();
    let good = format!("/api/reports?from={day}&to={day}");

    let (status, body) = http(base, "GET", &good, None).await.unwrap();
    assert_eq!((status, parse(&body)["code"].as_str()), (401, Some("session_expired")));
    let agent = cookie(&server, "agent1").await;
    for path in [good.clone(), format!("/api/reports/calls.csv?from={day}&to={day}")] {
        let (status, body) = http(base, "GET", &path, Some(&agent)).await.unwrap();
        assert_eq!((status, parse(&body)["code"].as_str()), (403, Some("forbidden")), "{path}");
    }

    let staff = cookie(&server, "staff1").await;
    let refused = [
        ("/api/reports?from=2026-09-30", "bad_date"),
        ("/api/reports?to=2026-09-30", "bad_date"),
        ("/api/reports?from=2026-9-30&to=2026-10-01", "bad_date"),
        ("/api/reports?from=2026-02-30&to=2026-03-01", "bad_date"),
        ("/api/reports?from=yesterday&to=2026-10-01", "bad_date"),
        ("/api/reports?from=2026-10-02&to=2026-10-01", "bad_range"),
        ("/api/reports?from=2025-10-01&to=2026-10-02", "range_too_long"),
        ("/api/reports?from=2026-10-01&to=2026-10-01&group=room", "bad_group"),
        ("/api/reports/hours.csv?from=2026-10-02&to=2026-10-01", "bad_range"),
    ];
    for (path, code) in refused {
        let (status, body) = http(base, "GET", path, Some(&staff)).await.unwrap();
        let body = parse(&body);
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{path}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let (status, body) =
        http(base, "GET", &format!("/api/reports/secrets.csv?from={day}&to={day}"), Some(&staff))
            .await
            .unwrap();
    assert_eq!((status, parse(&body)["code"].as_str()), (404, Some("not_found")));

    // Without days: the hall's today (the test server's hall is at the default UTC+8).
    let (status, body) = http(base, "GET", "/api/reports", Some(&staff)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let body = parse(&body);
    assert_eq!(
        (body["from"].as_str(), body["to"].as_str()),
        (Some(day.as_str()), Some(day.as_str()))
    );

    // A whole leap year is allowed; staff and admins both read.
    let (status, body) =
        http(base, "GET", "/api/reports?from=2028-01-01&to=2028-12-31&group=agent", Some(&staff))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(parse(&body)["days"].as_array().unwrap().len(), 366);
    let admin = cookie(&server, "admin1").await;
    let (status, body) = http(base, "GET", &good, Some(&admin)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_is_in_the_report_and_in_the_csv_files() {
    let mut server = TestServer::start().await.unwrap();
    let mut agent = server.ready_agent("agent1").await.unwrap();
    let mut citizen = place_call(&server, "medical_reimbursement").await.unwrap();
    let call_id = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
    wait_ended(&mut agent.ws).await.unwrap();

    let staff = cookie(&server, "staff1").await;
    // Yesterday to tomorrow: the call is in it even if the hall's midnight passed meanwhile.
    let query = format!("from={}&to={}", today_plus(-1), today_plus(1));
    let (status, body) =
        http(&server.base_url, "GET", &format!("/api/reports?{query}"), Some(&staff))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let report = parse(&body);
    assert_eq!(report["group"], "queue");
    assert_eq!(report["service_level_seconds"], 20);
    let calls = report["calls"].as_array().unwrap();
    let (medical, total) = (&calls[0], calls.last().unwrap());
    assert_eq!(
        (medical["key"].as_str(), medical["name_zh"].as_str()),
        (Some("medical"), Some("医疗保险"))
    );
    assert_eq!(total["key"], "total");
    for row in [medical, total] {
        assert_eq!((row["arrived"].as_u64(), row["offered"].as_u64()), (Some(1), Some(1)));
        assert_eq!((row["answered"].as_u64(), row["handled"].as_u64()), (Some(1), Some(1)));
        assert_eq!(row["abandoned"], 0);
    }
    assert_eq!(
        report["hours"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["arrived"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    let day = days.iter().find(|d| d["answered"] == 1).expect("the call's day");
    assert_eq!((day["offered"].as_u64(), day["service_level"].as_f64()), (Some(1), Some(1.0)));
    let day = day["day"].as_str().unwrap();

    let figures = csv(&server, &staff, &format!("/api/reports/call-figures.csv?{query}")).await;
    let mut lines = figures.lines();
    assert!(lines.next().unwrap().starts_with("key,name_zh,name_en,arrived,offered,answered,"));
    assert!(
        lines.next().unwrap().starts_with("medical,医疗保险,Medical insurance,1,1,1,"),
        "{figures}"
    );
    assert!(lines.next().unwrap().starts_with("total,,,1,1,1,"), "{figures}");

    let records = csv(&server, &staff, &format!("/api/reports/calls.csv?{query}")).await;
    let lines: Vec<&str> = records.lines().collect();
    assert_eq!(lines.len(), 2, "{records}");
    assert!(lines[0].starts_with("id,queued_at,queue,service,agent,"));
    // Each side's audio quality, kept with the record (issue 22).
    assert!(lines[0].ends_with(
        ",citizen_mos,citizen_loss_pct,agent_mos,agent_loss_pct,citizen_rtt_ms,agent_rtt_ms"
    ));
    let agent_id = server.store.user_by_username("agent1").await.unwrap().unwrap().id;
    let prefix = format!("{call_id},{day} ");
    assert!(lines[1].starts_with(&prefix), "{records}");
    assert!(lines[1].contains(&format!(",medical,medical_reimbursement,{agent_id},")), "{records}");
    assert!(lines[1].contains(",citizen_hang_up,"), "{records}");

    for table in ["message-figures", "hours", "days", "ratings"] {
        let text = csv(&server, &staff, &format!("/api/reports/{table}.csv?{query}")).await;
        assert!(text.lines().count() >= 2, "{table}: {text}");
    }
    server.shutdown().await;
}
