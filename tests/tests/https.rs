//! HTTPS in the binary (issue 17): pages, the API and `/ws` over TLS with a self-signed
//! certificate the clients trust; the plain-HTTP redirect; HSTS and `Secure` cookies; a
//! certificate reload that keeps a call up and serves new connections the new certificate.

use voicedesk_protocol::{ClientMessage, ServerMessage};
use voicedesk_signaling::tls::{TlsFiles, self_signed, self_signed_in};
use voicedesk_softphone::{ClientTls, SignalingClient, http_request};
use voicedesk_tests::{STEP, TempDir, TestOptions, TestServer, place_call, wait_offer};

const CITIZEN: [u8; 4] = *b"CITS";
const AGENT: [u8; 4] = *b"AGTS";

/// A self-signed certificate for 127.0.0.1 in a fresh directory.
fn certificate(name: &str) -> anyhow::Result<(TempDir, TlsFiles)> {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "voicedesk-https-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )));
    let (files, _) = self_signed_in(&dir.0, &["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    Ok((dir, files))
}

async fn tls_server(files: &TlsFiles) -> anyhow::Result<TestServer> {
    TestServer::start_with(TestOptions {
        tls: Some(files.clone()),
        http_redirect: true,
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_api_and_websocket_are_served_over_tls_and_plain_http_redirects() -> anyhow::Result<()>
{
    let (_dir, files) = certificate("serve")?;
    let mut server = tls_server(&files).await?;
    let base = server.base_url.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let tls = server.tls.clone();

    // A page: 200, HSTS.
    let page = http_request(&base, "GET", "/agent", &[], None, tls.as_ref()).await?;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("strict-transport-security"), Some("max-age=31536000"));
    assert!(String::from_utf8_lossy(&page.body).contains("<html"));

    // The API: refused without a session, as over plain HTTP.
    let me = http_request(&base, "GET", "/api/me", &[], None, tls.as_ref()).await?;
    assert_eq!(me.status, 401);

    // Sign-in sets a Secure cookie without --secure-cookies.
    let body = r#"{"username":"agent1","password":"demo"}"#;
    let login = http_request(&base, "POST", "/api/login", &[], Some(body), tls.as_ref()).await?;
    assert_eq!(login.status, 200);
    let cookie = login.header("set-cookie").expect("a session cookie");
    assert!(cookie.ends_with("; Secure"), "{cookie}");

    // A client that trusts another certificate is refused: the check is real.
    let other = ClientTls::trusting(&self_signed(&["127.0.0.1".to_owned()])?.cert_pem)?;
    let untrusted = http_request(&base, "GET", "/", &[], None, Some(&other)).await;
    let error = format!("{:#}", untrusted.expect_err("an untrusted certificate"));
    assert!(error.contains("TLS handshake"), "{error}");

    // `/ws` over TLS: a citizen is welcomed.
    server.citizen().await?;

    // The plain-HTTP port redirects to the same path on the HTTPS port, keeping the query.
    let redirect = server.server.as_ref().expect("running").redirect_addr.expect("redirect");
    let plain =
        http_request(&format!("http://{redirect}"), "GET", "/ticket?lang=en", &[], None, None)
            .await?;
    assert_eq!(plain.status, 308);
    let port = base.rsplit(':').next().expect("a port");
    assert_eq!(
        plain.header("location"),
        Some(format!("https://127.0.0.1:{port}/ticket?lang=en").as_str())
    );
    // A POST keeps its method (308) and reaches nothing over plain HTTP.
    let post =
        http_request(&format!("http://{redirect}"), "POST", "/api/login", &[], Some(body), None)
            .await?;
    assert_eq!(post.status, 308);
    assert!(post.header("set-cookie").is_none());
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_reload_keeps_the_call_up_and_serves_the_new_certificate()
-> anyhow::Result<()> {
    let (_dir, files) = certificate("reload")?;
    let mut server = tls_server(&files).await?;
    let old_tls = server.tls.clone().expect("tls");
    let mut agent = server.ready_agent("agent1").await?;
    let mut citizen = place_call(&server, "pension_benefit_inquiry").await?;
    citizen.media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    let call_id = wait_offer(&mut agent).await?;
    agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await?;
    citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;
    agent.media.wait_tag_count(0, CITIZEN, 10, STEP).await?;

    // A bad pair (a new certificate with the old key) is refused; the old one stays.
    let running = server.server.as_ref().expect("running");
    let before = running.tls_cert().expect("tls");
    let fresh = self_signed(&["127.0.0.1".to_owned()])?;
    std::fs::write(&files.cert, &fresh.cert_pem)?;
    assert!(running.reload_tls().is_err());
    assert_eq!(running.tls_cert(), Some(before.clone()));

    // The new pair is taken.
    std::fs::write(&files.key, &fresh.key_pem)?;
    let after = running.reload_tls()?;
    assert_eq!(after, fresh.info);
    assert_ne!(after, before);

    // New connections get the new certificate: trusted with it, refused with the old one.
    let new_tls = ClientTls::trusting(&fresh.cert_pem)?;
    let page = http_request(&server.base_url, "GET", "/", &[], None, Some(&new_tls)).await?;
    assert_eq!(page.status, 200);
    let old = http_request(&server.base_url, "GET", "/", &[], None, Some(&old_tls)).await;
    assert!(old.is_err(), "the old certificate is still served");
    let ws_url = server.citizen_ws();
    assert!(
        SignalingClient::connect_tls(&ws_url, &server.base_url, None, Some(&old_tls))
            .await
            .is_err()
    );
    SignalingClient::connect_tls(&ws_url, &server.base_url, None, Some(&new_tls)).await?;

    // The call's WebSockets, opened before the reload, still carry messages, and voice still
    // flows both ways.
    citizen.ws.send(&ClientMessage::Ping).await?;
    citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::Pong)).await?;
    agent.ws.send(&ClientMessage::Ping).await?;
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::Pong)).await?;
    let heard = agent.media.received(0).count(&CITIZEN);
    let citizen_heard = citizen.media.received(0).count(&AGENT);
    agent.media.wait_tag_count(0, CITIZEN, heard + 25, STEP).await?;
    citizen.media.wait_tag_count(0, AGENT, citizen_heard + 25, STEP).await?;
    server.shutdown().await;
    Ok(())
}
