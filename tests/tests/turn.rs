//! TURN credentials (issue 17): `GET /api/ice-servers` hands them to sessions only, in the
//! TURN REST form coturn checks, and the Rust softphone calls through a real coturn with them
//! (relay candidates only), voice both ways. The Chromium side is tests/browser/reach.test.mjs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_signaling::ice::{TurnConfig, TurnSecret, credential};
use voicedesk_softphone::{
    MediaLeg, MediaLegConfig, SignalingClient, fetch_ice_servers, http_request,
};
use voicedesk_tests::{STEP, TempDir, TestOptions, TestServer, wait_offer};

const SECRET: &str = "a-test-secret-of-some-length";
const CITIZEN: [u8; 4] = *b"CITT";
const AGENT: [u8; 4] = *b"AGTT";

fn turn_options(uri: &str) -> anyhow::Result<TestOptions> {
    let turn = TurnConfig::new(
        vec![uri.to_owned()],
        TurnSecret::new(SECRET.to_owned()).map_err(anyhow::Error::msg)?,
        Duration::from_secs(600),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(TestOptions { turn: Some(turn), ..Default::default() })
}

/// A citizen's connection and the token from its `welcome`.
async fn citizen(server: &TestServer) -> anyhow::Result<(SignalingClient, String)> {
    let mut ws = SignalingClient::connect(&server.citizen_ws(), &server.base_url, None).await?;
    match ws.recv(STEP).await? {
        ServerMessage::Welcome { citizen_token: Some(token), .. } => Ok((ws, token)),
        other => bail!("expected a citizen welcome, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_to_sessions_only_and_are_the_hmac_coturn_checks() -> anyhow::Result<()> {
    let uri = "turn:127.0.0.1:3478?transport=udp";
    let mut server = TestServer::start_with(turn_options(uri)?).await?;
    let (_ws, token) = citizen(&server).await?;

    let issued = fetch_ice_servers(&server.base_url, Some(&token), None, None).await?;
    let [turn] = issued.servers.as_slice() else { bail!("{issued:?}") };
    assert_eq!(turn.urls, [uri]);
    let (expiry, id) = turn.username.split_once(':').context("expiry:id")?;
    let expiry: u64 = expiry.parse()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    assert!((now + 599..=now + 601).contains(&expiry), "expiry {expiry}, now {now}");
    assert_eq!(issued.expires_at_ms, Some(expiry * 1000));
    let secret = TurnSecret::new(SECRET.to_owned()).map_err(anyhow::Error::msg)?;
    assert_eq!(credential(&secret, expiry, id), (turn.username.clone(), turn.credential.clone()));
    // Every request gets a credential of its own.
    let again = fetch_ice_servers(&server.base_url, Some(&token), None, None).await?;
    assert_ne!(again.servers[0].username, turn.username);

    // A signed-in member by the cookie.
    let cookie = voicedesk_softphone::login(&server.base_url, "agent1", "demo").await?;
    let member = fetch_ice_servers(&server.base_url, None, Some(&cookie), None).await?;
    assert_eq!(member.servers.len(), 1);

    // No session, or a made-up one: 401 and no credential.
    for headers in
        [vec![], vec![("Authorization", "Bearer 00ff")], vec![("Cookie", "vd_session=x")]]
    {
        let refused =
            http_request(&server.base_url, "GET", "/api/ice-servers", &headers, None, None).await?;
        assert_eq!(refused.status, 401, "{headers:?}");
        assert!(!String::from_utf8_lossy(&refused.body).contains("credential"));
    }
    server.shutdown().await;

    // Without TURN: an empty list.
    let mut plain = TestServer::start().await?;
    let (_ws, token) = citizen(&plain).await?;
    let none = fetch_ice_servers(&plain.base_url, Some(&token), None, None).await?;
    assert_eq!(none.servers, []);
    assert_eq!(none.expires_at_ms, None);
    plain.shutdown().await;
    Ok(())
}

/// coturn on loopback with `use-auth-secret`, stopped on drop.
struct Coturn {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_coturn() -> anyhow::Result<Coturn> {
    let dir =
        TempDir(std::env::temp_dir().join(format!("voicedesk-coturn-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    // A free port (coturn listens on UDP and TCP on it) and a relay range of its own.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let min_port = 30000 + (std::process::id() % 200) as u16 * 100;
    let config = format!(
        "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\nmin-port={min_port}\n\
         max-port={}\nuse-auth-secret\nstatic-auth-secret={SECRET}\nrealm=voicedesk.test\n\
         fingerprint\nno-tls\nno-dtls\nno-cli\nallow-loopback-peers\nuserdb={}\npidfile={}\n\
         log-file=stdout\nsimple-log\nverbose\n",
        min_port + 99,
        dir.0.join("turndb").display(),
        dir.0.join("turnserver.pid").display(),
    );
    let path = dir.0.join("turnserver.conf");
    std::fs::write(&path, config)?;
    let mut child = Command::new("turnserver")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start turnserver (apt-get install coturn)")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // Blocks until coturn says its UDP listener is open (or it exits: the lines end).
    loop {
        let Some(line) = lines.next() else { bail!("turnserver exited before listening") };
        if line?.contains("UDP listener opened on") {
            break;
        }
    }
    // The rest of coturn's output is drained so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Coturn { child, port, _dir: dir })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_softphone_calls_through_coturn_with_relay_candidates_only() -> anyhow::Result<()> {
    let coturn = tokio::time::timeout(STEP, tokio::task::spawn_blocking(start_coturn))
        .await
        .context("coturn did not open its UDP listener")???;
    let uri = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let mut server = TestServer::start_with(turn_options(&uri)?).await?;
    let mut agent = server.ready_agent("agent1").await?;

    let (mut ws, token) = citizen(&server).await?;
    let ice = fetch_ice_servers(&server.base_url, Some(&token), None, None).await?;
    let config =
        MediaLegConfig { ice_servers: ice.servers, relay_only: true, ..Default::default() };
    let media = MediaLeg::with_config("citizen", 2, config).await?;
    let offer = media.create_offer().await?;
    assert!(offer.contains("typ relay"), "no relay candidate in the offer:\n{offer}");
    assert!(!offer.contains("typ host"), "a host candidate despite relay only:\n{offer}");
    ws.send(&ClientMessage::Call { service: Some("pension_benefit_inquiry".into()), sdp: offer })
        .await?;
    let answer = match ws.recv(STEP).await? {
        ServerMessage::CallQueued { sdp, .. } => sdp,
        other => bail!("expected call_queued, got {other:?}"),
    };
    media.apply_answer(&answer).await?;
    media.wait_connected(STEP).await?;
    media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    let call_id = wait_offer(&mut agent).await?;
    agent.ws.send(&ClientMessage::Accept { call_id }).await?;
    ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;
    agent.media.wait_tag_count(0, CITIZEN, 25, STEP).await?;
    media.wait_tag_count(0, AGENT, 25, STEP).await?;
    server.shutdown().await;
    drop(coturn);
    Ok(())
}
