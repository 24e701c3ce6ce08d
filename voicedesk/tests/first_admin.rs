//! A real deployment without `--demo`, as a new operator does it: the server starts on an
//! empty data directory and says how to create the first administrator; `voicedesk user add`
//! creates one (a common password is refused); the admin signs in and creates an agent, who
//! chooses a password and answers a call; `voicedesk user disable` from the shell stops the
//! agent from signing in again.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_tests::{STEP, TempDir, http, http_json, place_call_at, ready_agent_at, wait_offer};

const ADMIN_PASSWORD: &str = "quiet-river-27-lamp";
const AGENT_PASSWORD: &str = "north-gate-93-cedar";

/// `voicedesk user …` on `dir`, with `stdin` as its standard input.
fn user(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicedesk"))
        .arg("--data-dir")
        .arg(dir)
        .arg("user")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voicedesk runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    child.wait_with_output().expect("voicedesk ends")
}

/// Starts the service on `dir` (no `--demo`; hours ignored so the test runs at any time) and
/// returns it, its URL and what it printed up to its listening line.
fn start(dir: &Path) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicedesk"))
        .args(["--always-open", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("voicedesk starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let mut url = None;
    // Anything said about the accounts comes before the listening line.
    for line in lines.by_ref().map_while(Result::ok) {
        url = line.strip_prefix("voicedesk listening on ").map(str::to_owned);
        printed.push(line);
        if url.is_some() {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, url.expect("the listening line"), printed)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_an_empty_server_to_an_agent_answering_a_call() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voicedesk-first-admin-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();

    // First start: no account, the server says how to create the administrator. A sign-in
    // with the demo's credentials is refused.
    let (child, url, printed) = start(&dir.0);
    let text = printed.join("\n");
    assert!(text.contains("voicedesk user add --role admin"), "{text}");
    let denied = voicedesk_softphone::login(&url, "admin1", "demo").await;
    assert!(denied.is_err(), "no demo accounts without --demo");
    stop(child);

    // The first administrator from the shell; a common password is refused and creates nothing.
    let weak =
        user(&dir.0, &["add", "--role", "admin", "--name", "管理员", "lead"], "password123\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too common"), "{weak:?}");
    let added = user(
        &dir.0,
        &[
            "add",
            "--role",
            "admin",
            "--name",
            "刘洋",
            "--latin",
            "Liu Yang",
            "lead",
            "--password-stdin",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
    );
    assert!(added.status.success(), "{added:?}");
    let listed = user(&dir.0, &["list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("lead") && listed.contains("admin") && listed.contains("Liu Yang"),
        "{listed}"
    );

    // Second start: no hint; the admin signs in and creates an agent with queue skills.
    let (child, url, printed) = start(&dir.0);
    assert!(!printed.join("\n").contains("no administrator"), "{printed:?}");
    let admin =
        voicedesk_softphone::login(&url, "lead", ADMIN_PASSWORD).await.expect("admin signs in");
    let create = json!({
        "username": "agent.wu",
        "display_name": "吴静",
        "name_latin": "Wu Jing",
        "role": "agent",
        "password": "temporary-pass-5521",
        "skills": [{ "skill_id": "pension", "level": 5 }],
    });
    let (status, body) =
        http_json(&url, "POST", "/api/admin/users", Some(&admin), Some(&create)).await.unwrap();
    assert_eq!(status, 201, "{body}");

    // The agent replaces the administrator's password, then takes a call.
    let first = voicedesk_softphone::login(&url, "agent.wu", "temporary-pass-5521").await.unwrap();
    let (status, body) = http(&url, "GET", "/api/me", Some(&first)).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["must_change_password"], true);
    let change =
        json!({ "current_password": "temporary-pass-5521", "new_password": AGENT_PASSWORD });
    let (status, body) =
        http_json(&url, "POST", "/api/password", Some(&first), Some(&change)).await.unwrap();
    assert_eq!(status, 204, "{body}");
    let mut agent = ready_agent_at(&url, "agent.wu", AGENT_PASSWORD).await.expect("agent ready");
    let mut citizen = place_call_at(&url, "pension_benefit_inquiry").await.expect("call placed");
    let call_id = wait_offer(&mut agent).await.unwrap();
    assert_eq!(call_id, citizen.call_id);
    agent.ws.send(&ClientMessage::Accept { call_id }).await.unwrap();
    citizen
        .ws
        .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
        .await
        .unwrap();

    // Disabled from the shell while the server runs: the agent cannot sign in again.
    let disabled = user(&dir.0, &["disable", "agent.wu"], "");
    assert!(disabled.status.success(), "{disabled:?}");
    let again = voicedesk_softphone::login(&url, "agent.wu", AGENT_PASSWORD).await;
    assert!(again.is_err(), "a disabled account cannot sign in");
    let (status, _) = http(&url, "GET", "/api/me", Some(&agent.cookie)).await.unwrap();
    assert_eq!(status, 401, "its session ended");
    stop(child);
}
