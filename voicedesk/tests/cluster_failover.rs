//! Cluster mode with the real binary: two `voicedesk --cluster` nodes on a local three-server
//! NATS JetStream cluster and one Postgres. The standby's core equals the leader's after the
//! same log (compared by `/healthz/core`); the leader is killed with SIGKILL, the standby leads,
//! and the queued citizens, reconnecting to it, keep their places and their order; an agent
//! signing in there is offered the first of them.
//!
//! Needs `nats-server` (`scripts/nats-cluster install`) and `VOICEDESK_TEST_POSTGRES_URL`;
//! without either it says SKIPPED loudly and passes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use voicedesk_cluster::local_cluster::{LocalClusterError, LocalNatsCluster};
use voicedesk_protocol::{AgentAvailability, ClientMessage, Role, ServerMessage};
use voicedesk_softphone::{MediaLeg, SignalingClient, login};
use voicedesk_tests::{Agent, http, place_call_at, ready_agent_at, wait_offer};

const STEP: Duration = Duration::from_secs(15);

/// One cluster test at a time: two nodes and three NATS servers each are enough load for a
/// 2-core machine whose leases must be renewed in time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!! SKIPPED cluster_failover: {why} !!!!!!!!\n");
}

/// A `voicedesk` node of the cluster.
struct Node {
    child: Child,
    url: String,
    name: String,
}

impl Node {
    /// A node of the cluster at `nats` (none: one process alone, on the same store).
    fn start(name: &str, nats: &[String], database_url: &str, dir: &std::path::Path) -> Node {
        Node::start_with(name, nats, database_url, dir, &[])
    }

    /// [`Node::start`] with environment settings (flags by their variables).
    fn start_with(
        name: &str,
        nats: &[String],
        database_url: &str,
        dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_voicedesk"));
        command.args(["--demo", "--listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0"]);
        if !nats.is_empty() {
            command.args(["--cluster", &nats.join(","), "--node-name", name]);
        }
        let mut child = command
            .args(["--database-url", database_url, "--data-dir"])
            .arg(dir.join(name))
            .env("RUST_LOG", "info,voicedesk_signaling=debug,rtc=warn,rtc_ice=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("voicedesk listening on ").map(str::to_owned))
            .expect("the listening line");
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Node { child, url, name: name.to_owned() }
    }

    async fn health(&self) -> String {
        match http(&self.url, "GET", "/healthz", None).await {
            Ok((200, body)) => body,
            Ok((status, body)) => format!("status {status}: {body}"),
            Err(e) => format!("unreachable: {e}"),
        }
    }

    /// Waits until `/healthz` says `leading: <leading>` (and, following, no replay lag);
    /// leading, until its own gateway forwards to it.
    async fn wait_leading(&self, leading: bool) -> String {
        let want = format!("leading: {leading}");
        let forwarding = format!("gateway forwards to: {} ", self.name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.health().await;
            let ready = match leading {
                true => body.contains(&forwarding),
                false => body.contains("replay lag: 0"),
            };
            if body.contains(&want) && ready {
                return body;
            }
            assert!(Instant::now() < deadline, "{} never said {want}: {body}", self.url);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until this node's gateway forwards to `leader`.
    async fn wait_forwarding_to(&self, leader: &Node) -> String {
        let want = format!("gateway forwards to: {} ", leader.name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.health().await;
            if body.contains(&want) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{} never forwarded to {}: {body}",
                self.url,
                leader.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn ws(&self) -> String {
        format!("{}/ws", self.url.replacen("http", "ws", 1))
    }

    /// `(last record applied, digest of the core's state)`.
    async fn core(&self) -> (u64, String) {
        let (status, body) = http(&self.url, "GET", "/healthz/core", None).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let (seq, digest) = body.trim().split_once(' ').expect("<seq> <digest>");
        (seq.parse().unwrap(), digest.to_owned())
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A citizen's connection and resumable token.
async fn citizen(url: &str) -> (SignalingClient, String) {
    let ws_url = format!("{}/ws", url.replacen("http", "ws", 1));
    let mut ws = SignalingClient::connect(&ws_url, url, None).await.unwrap();
    let welcome =
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let ServerMessage::Welcome { citizen_token: Some(token), .. } = welcome else {
        panic!("a citizen's welcome carries a token: {welcome:?}");
    };
    (ws, token)
}

/// A citizen calls and is queued with media up; returns the connection, token, leg, call id.
async fn queued_citizen(url: &str) -> (SignalingClient, String, MediaLeg, String) {
    let (mut ws, token) = citizen(url).await;
    let media = MediaLeg::new("citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    let service = Some("pension_transfer".to_owned());
    ws.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
    let (call_id, answer) = match ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::CallQueued { .. } | ServerMessage::Error { .. })
        })
        .await
        .unwrap()
    {
        ServerMessage::CallQueued { call_id, sdp } => (call_id, sdp),
        other => panic!("expected call_queued, got {other:?}"),
    };
    media.apply_answer(&answer).await.unwrap();
    media.wait_connected(STEP).await.unwrap();
    (ws, token, media, call_id)
}

/// Connects a new headset on an agent's console (`media_connect`), up once it returns.
async fn connect_headset(console: &mut SignalingClient, label: &str) -> MediaLeg {
    let headset = MediaLeg::new(label, 2).await.unwrap();
    let offer = headset.create_offer().await.unwrap();
    console.send(&ClientMessage::MediaConnect { sdp: offer }).await.unwrap();
    let ServerMessage::MediaAnswer { sdp } =
        console.recv_until(STEP, |m| matches!(m, ServerMessage::MediaAnswer { .. })).await.unwrap()
    else {
        unreachable!()
    };
    headset.apply_answer(&sdp).await.unwrap();
    headset.wait_connected(STEP).await.unwrap();
    headset
}

/// Waits until both nodes report the same applied record, then returns both digests.
async fn digests_at_the_same_record(a: &Node, b: &Node) -> (u64, String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (seq_a, digest_a) = a.core().await;
        let (seq_b, digest_b) = b.core().await;
        if seq_a == seq_b {
            return (seq_a, digest_a, digest_b);
        }
        assert!(Instant::now() < deadline, "never at the same record: {seq_a} / {seq_b}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// NATS, a fresh Postgres schema and a data directory for one test; `None` (after a loud
/// SKIPPED) without a nats-server binary or `VOICEDESK_TEST_POSTGRES_URL`.
struct Setup {
    nats: LocalNatsCluster,
    admin: voicedesk_store::PostgresStore,
    schema: String,
    database_url: String,
    dir: std::path::PathBuf,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Setup {
    async fn new(name: &str) -> Option<Setup> {
        let guard = ONE_AT_A_TIME.lock().await;
        let Ok(pg) = std::env::var("VOICEDESK_TEST_POSTGRES_URL") else {
            skipped("VOICEDESK_TEST_POSTGRES_URL is not set");
            return None;
        };
        let nats = match LocalNatsCluster::start().await {
            Ok(nats) => nats,
            Err(LocalClusterError::NoBinary) => {
                skipped("no nats-server binary");
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        // A fresh schema shared by the nodes, so repeated runs and other tests do not meet.
        let schema = format!("vd_{name}_{}", std::process::id());
        let separator = if pg.contains('?') { '&' } else { '?' };
        let database_url = format!("{pg}{separator}options[search_path]={schema}");
        let admin = voicedesk_store::PostgresStore::connect(&pg).await.unwrap();
        sql(&admin, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        sql(&admin, &format!("CREATE SCHEMA {schema}")).await;
        let dir = std::env::temp_dir().join(format!("voicedesk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Some(Setup { nats, admin, schema, database_url, dir, _one_at_a_time: guard })
    }

    fn node(&self, name: &str) -> Node {
        Node::start(name, &self.nats.urls(), &self.database_url, &self.dir)
    }

    async fn finish(self) {
        drop(self.nats);
        sql(&self.admin, &format!("DROP SCHEMA {} CASCADE", self.schema)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_mirrors_the_leader_and_takes_over_its_queue_when_it_is_killed() {
    let Some(setup) = Setup::new("failover").await else { return };
    let mut a = setup.node("node-a");
    eprintln!("node a: {}", a.wait_leading(true).await);
    let b = setup.node("node-b");
    eprintln!("node b: {}", b.wait_leading(false).await);

    // An agent signed in at the leader (away): the queue admits calls. Two citizens wait.
    let cookie = login(&a.url, "agent1", "demo").await.unwrap();
    let agent_ws = format!("{}/ws?role=agent", a.url.replacen("http", "ws", 1));
    let mut agent = SignalingClient::connect(&agent_ws, &a.url, Some(&cookie)).await.unwrap();
    agent.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let (_ws1, token1, _media1, call1) = queued_citizen(&a.url).await;
    let (_ws2, token2, _media2, call2) = queued_citizen(&a.url).await;

    // The replay property, on the running system: same record, same state.
    let (seq, digest_a, digest_b) = digests_at_the_same_record(&a, &b).await;
    assert_eq!(digest_a, digest_b, "the standby's core equals the leader's at record {seq}");
    assert!(seq > 3, "the calls are in the log (record {seq})");

    // SIGKILL the leader: the standby leads.
    let killed = Instant::now();
    a.kill();
    let health = b.wait_leading(true).await;
    let takeover = killed.elapsed();
    eprintln!("takeover after SIGKILL: {} ms; node b: {health}", takeover.as_millis());

    // An agent signs in at the new leader (away for now): the queue admits calls again.
    let cookie = login(&b.url, "agent2", "demo").await.unwrap();
    let agent_ws = format!("{}/ws?role=agent", b.url.replacen("http", "ws", 1));
    let mut agent_b = SignalingClient::connect(&agent_ws, &b.url, Some(&cookie)).await.unwrap();
    agent_b.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();

    // The citizens come back to the surviving node, the second first: each keeps its place.
    let mut back = Vec::new();
    for (token, call, place) in [(&token2, &call2, 2), (&token1, &call1, 1)] {
        let (mut ws, _) = citizen(&b.url).await;
        ws.send(&ClientMessage::Resume { citizen_token: token.clone() }).await.unwrap();
        match ws.recv_until(STEP, |m| matches!(m, ServerMessage::Resumed { .. })).await.unwrap() {
            ServerMessage::Resumed { parked_call: Some(parked), .. } => {
                assert_eq!(&parked.call_id, call);
                assert_eq!(parked.position, place, "{call} keeps its place");
            }
            other => panic!("expected resumed with the parked call, got {other:?}"),
        }
        // Back on the line with new media: queued again.
        let media = MediaLeg::new("citizen-again", 2).await.unwrap();
        let offer = media.create_offer().await.unwrap();
        ws.send(&ClientMessage::RejoinCall { call_id: call.clone(), sdp: offer }).await.unwrap();
        let reply = ws
            .recv_until(STEP, |m| {
                matches!(m, ServerMessage::CallQueued { .. } | ServerMessage::Error { .. })
            })
            .await
            .unwrap();
        let ServerMessage::CallQueued { sdp, .. } = reply else {
            panic!("expected call_queued after rejoining, got {reply:?}");
        };
        media.apply_answer(&sdp).await.unwrap();
        back.push((ws, media));
    }

    // The agent connects a headset and becomes available: offered the first citizen's call.
    let _headset = connect_headset(&mut agent_b, "agent").await;
    agent_b.recv_until(STEP, |m| matches!(m, ServerMessage::MediaState { .. })).await.unwrap();
    let available = ClientMessage::SetState { state: AgentAvailability::Available, reason: None };
    agent_b.send(&available).await.unwrap();
    let offered =
        agent_b.recv_until(STEP, |m| matches!(m, ServerMessage::CallOffered { .. })).await.unwrap();
    let ServerMessage::CallOffered { call_id, .. } = offered else { unreachable!() };
    assert_eq!(call_id, call1, "the order is kept: the first citizen is offered first");
    drop(agent);

    drop(b);
    setup.finish().await;
}

const CITIZEN: [u8; 4] = *b"CIT1";
const AGENT: [u8; 4] = *b"AGT1";
const AGENT_AGAIN: [u8; 4] = *b"AGT2";

/// Every node serves `/ws` and forwards to the leader: a citizen on gateway A (the leader),
/// an agent on gateway B (the standby); the call is offered, accepted and carries audio both
/// ways, and a second citizen waits at B. Then B is killed with SIGKILL: the agent's console
/// reconnects to A, gets its call back and, with a new headset, audio flows both ways again;
/// the waiting citizen resumes at A with its parked call at its place and rejoins the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateways_agent_and_citizen_resume_at_another_and_keep_call_and_place() {
    let Some(setup) = Setup::new("gateway").await else { return };
    let a = setup.node("node-a");
    a.wait_leading(true).await;
    let mut b = setup.node("node-b");
    b.wait_leading(false).await;
    b.wait_forwarding_to(&a).await;

    // The agent's console at the standby's gateway; the citizen at the leader's.
    let mut agent = ready_agent_at(&b.url, "agent1", "demo").await.unwrap();
    let mut caller = place_call_at(&a.url, "pension_transfer").await.unwrap();
    caller.media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    let offered = wait_offer(&mut agent).await.unwrap();
    assert_eq!(offered, caller.call_id, "the call reached the agent through B's gateway");
    agent.ws.send(&ClientMessage::Accept { call_id: offered.clone() }).await.unwrap();
    caller.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();
    agent.media.wait_tag_count(0, CITIZEN, 25, STEP).await.unwrap();
    caller.media.wait_tag_count(0, AGENT, 25, STEP).await.unwrap();

    // A second citizen waits at B (the only agent is busy).
    let (mut waiting, token, _media, waiting_call) = queued_citizen(&b.url).await;
    waiting
        .recv_until(STEP, |m| matches!(m, ServerMessage::QueuePosition { position: 1, .. }))
        .await
        .unwrap();

    // Gateway B dies. The leader notices its silence and ends its connections: the citizen
    // hears that the agent is reconnecting (the agent's headset, on A's relay, is still up,
    // so nothing else tells the core).
    b.kill();
    let lost = caller
        .ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::PeerReconnecting { peer: Role::Agent, .. })
        })
        .await
        .unwrap();
    assert!(
        matches!(lost, ServerMessage::PeerReconnecting { ref call_id, .. } if *call_id == caller.call_id)
    );
    let Agent { media: headset, cookie, .. } = agent;
    headset.close().await.unwrap();

    // The agent's console comes back at A: still on the call.
    let mut console =
        SignalingClient::connect(&format!("{}?role=agent", a.ws()), &a.url, Some(&cookie))
            .await
            .unwrap();
    let resumed =
        console.recv_until(STEP, |m| matches!(m, ServerMessage::CallResumed(_))).await.unwrap();
    let ServerMessage::CallResumed(live) = resumed else { unreachable!() };
    assert_eq!(live.call_id, caller.call_id, "the agent keeps the call");
    let headset = connect_headset(&mut console, "agent1-again").await;
    headset.start_sending(AGENT_AGAIN);
    caller.media.wait_tag_count(0, AGENT_AGAIN, 25, STEP).await.unwrap();
    let heard = headset.received(0).count(&CITIZEN);
    headset.wait_tag_count(0, CITIZEN, heard + 25, STEP).await.unwrap();
    assert!(
        !caller.ws.take_skipped().iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })),
        "the call did not end for the citizen"
    );

    // The waiting citizen comes back at A: its call parked at its place, queued again.
    let (mut ws, _) = citizen(&a.url).await;
    ws.send(&ClientMessage::Resume { citizen_token: token }).await.unwrap();
    match ws.recv_until(STEP, |m| matches!(m, ServerMessage::Resumed { .. })).await.unwrap() {
        ServerMessage::Resumed { parked_call: Some(parked), .. } => {
            assert_eq!(parked.call_id, waiting_call);
            assert_eq!(parked.position, 1, "the waiting citizen keeps its place");
        }
        other => panic!("expected resumed with the parked call, got {other:?}"),
    }
    let media = MediaLeg::new("citizen-again", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    ws.send(&ClientMessage::RejoinCall { call_id: waiting_call.clone(), sdp: offer })
        .await
        .unwrap();
    let reply = ws
        .recv_until(STEP, |m| {
            matches!(m, ServerMessage::CallQueued { .. } | ServerMessage::Error { .. })
        })
        .await
        .unwrap();
    assert!(matches!(reply, ServerMessage::CallQueued { .. }), "queued again: {reply:?}");

    drop(a);
    setup.finish().await;
}

/// Each of the three NATS servers killed (SIGKILL) in turn — first the one leading the lease
/// bucket's stream, then the one leading the log's stream (found through JetStream's API, so
/// the test cannot pass by killing a follower), then the third; each restarted and caught up
/// before the next — under an answered call whose sides sit at two gateways: after each loss
/// the call is not ended and its audio flows both ways (media never crosses NATS), the same
/// node keeps leading at the same epoch, a new call through the standby's gateway is queued,
/// and both consoles still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nats_server_ends_no_call_and_new_calls_are_queued() {
    const LEASE_STREAM: &str = "KV_voicedesk_core_leases";
    const LOG_STREAM: &str = "voicedesk_core";
    let Some(mut setup) = Setup::new("natsloss").await else { return };
    let a = setup.node("node-a");
    let leading = a.wait_leading(true).await;
    let epoch = leading.lines().find(|l| l.starts_with("epoch:")).unwrap().to_owned();
    let b = setup.node("node-b");
    b.wait_leading(false).await;
    b.wait_forwarding_to(&a).await;
    let mut agent = ready_agent_at(&b.url, "agent1", "demo").await.unwrap();
    let mut caller = place_call_at(&a.url, "pension_transfer").await.unwrap();
    caller.media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);
    let offered = wait_offer(&mut agent).await.unwrap();
    agent.ws.send(&ClientMessage::Accept { call_id: offered.clone() }).await.unwrap();
    caller.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await.unwrap();

    let mut killed = Vec::new();
    for round in 0..3 {
        let victim = match round {
            0 => setup.nats.stream_leader(LEASE_STREAM).await.unwrap(),
            _ => match setup.nats.stream_leader(LOG_STREAM).await.unwrap() {
                leader if !killed.contains(&leader) => leader,
                _ => (0..3).find(|i| !killed.contains(i)).unwrap(),
            },
        };
        let what = match round {
            0 => "the lease stream's leader",
            _ if setup.nats.stream_leader(LOG_STREAM).await.unwrap() == victim => {
                "the log stream's leader"
            }
            _ => "a follower of both",
        };
        eprintln!("round {round}: killing {} ({what})", setup.nats.servers()[victim].name);
        killed.push(victim);
        let started = Instant::now();
        setup.nats.kill(victim);
        // Audio both ways after the loss (counted from now), and no end.
        let heard = agent.media.received(0).count(&CITIZEN);
        agent.media.wait_tag_count(0, CITIZEN, heard + 50, STEP).await.unwrap();
        let heard = caller.media.received(0).count(&AGENT);
        caller.media.wait_tag_count(0, AGENT, heard + 50, STEP).await.unwrap();
        // A new call, through the standby's gateway, is queued by the leader.
        let (_ws, _token, _media, _call) = queued_citizen(&b.url).await;
        eprintln!("round {round}: a new call queued {:?} after the kill", started.elapsed());
        let health = a.health().await;
        assert!(health.contains("leading: true"), "the leader kept leading: {health}");
        assert!(health.contains(&format!("{epoch}\n")), "at the same {epoch}: {health}");
        for ws in [&mut caller.ws, &mut agent.ws] {
            let heard = ws.take_skipped();
            assert!(
                !heard.iter().any(|m| matches!(m, ServerMessage::CallEnded { .. })),
                "the call did not end: {heard:?}"
            );
            ws.send(&ClientMessage::Ping).await.unwrap();
            ws.recv_until(STEP, |m| matches!(m, ServerMessage::Pong)).await.expect("still open");
        }
        setup.nats.restart(victim).unwrap();
        for stream in [LEASE_STREAM, LOG_STREAM] {
            setup.nats.wait_stream_whole(stream, Duration::from_secs(30)).await.unwrap();
        }
    }

    drop(a);
    drop(b);
    setup.finish().await;
}

/// A node with the gateway role alone serves a citizen through the leader — the call is
/// queued by the leader's core and offered to the agent at the leader — never leads, and when
/// the leader dies with no other core to take over, its gateway closes the citizen's
/// connection once the leader has fallen silent and refuses new ones (503) while none leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_only_node_serves_through_the_leader_and_refuses_clients_without_one() {
    let Some(setup) = Setup::new("gatewayonly").await else { return };
    let mut a = setup.node("node-a");
    a.wait_leading(true).await;
    let nats = setup.nats.urls();
    let roles = [("VOICEDESK_ROLES", "gateway")];
    let g = Node::start_with("gate", &nats, &setup.database_url, &setup.dir, &roles);
    let health = g.wait_forwarding_to(&a).await;
    assert!(health.contains("roles: gateway\n") && health.contains("leading: false"), "{health}");
    assert!(health.contains("replay lag: none"), "a gateway alone replays nothing: {health}");

    let mut agent = ready_agent_at(&a.url, "agent1", "demo").await.unwrap();
    let (mut ws, _, _media, call_id) = queued_citizen(&g.url).await;
    assert_eq!(wait_offer(&mut agent).await.unwrap(), call_id, "queued by the leader's core");

    a.kill();
    ws.wait_closed(STEP).await.expect("the gateway closes its connections without a leader");
    let refused = SignalingClient::connect(&g.ws(), &g.url, None).await.unwrap_err();
    assert_eq!(
        voicedesk_softphone::handshake_status(&refused),
        Some(503),
        "no leader, no connection: {refused:#}"
    );
    assert!(g.health().await.contains("gateway forwards to: none"));

    drop(g);
    setup.finish().await;
}

/// A leader paused (SIGSTOP) until its lease ran out and the standby took over cannot change
/// anything when it wakes (SIGCONT): a citizen's call sent to it is never queued (its
/// connection is closed instead: the node steps down, fenced if it tried to append), and the
/// woken node follows the new leader, its core equal to the new leader's at the same record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_that_wakes_after_a_takeover_changes_nothing_and_follows() {
    let Some(setup) = Setup::new("stale").await else { return };
    let a = setup.node("node-a");
    a.wait_leading(true).await;
    let b = setup.node("node-b");
    b.wait_leading(false).await;
    let cookie = login(&a.url, "agent1", "demo").await.unwrap();
    let agent_ws = format!("{}/ws?role=agent", a.url.replacen("http", "ws", 1));
    let mut agent = SignalingClient::connect(&agent_ws, &a.url, Some(&cookie)).await.unwrap();
    agent.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
    let (mut late, _) = citizen(&a.url).await;

    let pid = a.child.id().to_string();
    let signal = |sig: &str| {
        let status = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(status.success(), "kill {sig} {pid}");
    };
    signal("-STOP");
    b.wait_leading(true).await;
    // The paused node's citizen asks for a call the moment the node wakes.
    let media = MediaLeg::new("late-citizen", 2).await.unwrap();
    let offer = media.create_offer().await.unwrap();
    let service = Some("pension_transfer".to_owned());
    late.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
    signal("-CONT");
    late.wait_closed(STEP).await.expect("the stepped-down node closes its connections");
    let heard = late.take_skipped();
    assert!(
        !heard.iter().any(|m| matches!(m, ServerMessage::CallQueued { .. })),
        "the stale leader queued no call: {heard:?}"
    );
    a.wait_leading(false).await;
    let (seq, digest_a, digest_b) = digests_at_the_same_record(&a, &b).await;
    assert_eq!(digest_a, digest_b, "the woken node mirrors the new leader at record {seq}");

    drop(a);
    drop(b);
    setup.finish().await;
}

async fn sql(store: &voicedesk_store::PostgresStore, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(store.pool()).await.unwrap();
}

// ----- measurements (run by hand; figures in docs/benchmarks.md) ---------------------------

/// Limits out of the way of a measurement's one client address, and no after-call work
/// between two measured calls.
const MEASURE_ENV: [(&str, &str); 5] = [
    ("VOICEDESK_WS_MESSAGES_PER_SEC", "100000"),
    ("VOICEDESK_ADDRESS_MESSAGES_PER_SEC", "1000000"),
    ("VOICEDESK_ADDRESS_CONNECTIONS_PER_MIN", "100000"),
    ("VOICEDESK_AFTER_CALL_WORK_SECS", "0"),
    ("RUST_LOG", "warn"),
];

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "MEASURED {name}: n={} p50 {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    );
}

/// Takeover after SIGKILL of the leader, 20 times: from the kill until the standby leads and
/// its gateway forwards to it (new connections are served). The killed node is replaced by a
/// fresh standby each round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand: figures in docs/benchmarks.md"]
async fn measure_takeover_over_20_sigkills() {
    let Some(setup) = Setup::new("takeovers").await else { return };
    let mut leader = setup.node("node-0");
    leader.wait_leading(true).await;
    let mut standby = setup.node("node-1");
    let mut times = Vec::new();
    for round in 0..20 {
        standby.wait_leading(false).await;
        standby.wait_forwarding_to(&leader).await;
        let killed = Instant::now();
        leader.kill();
        standby.wait_leading(true).await;
        let took = killed.elapsed();
        eprintln!("round {round}: takeover {} ms", took.as_millis());
        times.push(took);
        let fresh = setup.node(&format!("node-{}", round + 2));
        leader = std::mem::replace(&mut standby, fresh);
    }
    percentiles("takeover after SIGKILL", times);
    drop(leader);
    drop(standby);
    setup.finish().await;
}

/// `call` → `call_queued` and `accept` → `call_connected` as the clients see them, through a
/// cluster's leader (both clients at its gateway) and through one process alone on the same
/// Postgres: the difference is what the log (and the gateway's hops) add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand: figures in docs/benchmarks.md"]
async fn measure_the_logs_added_latency_on_call_queued_and_call_connected() {
    const CALLS: usize = 40;
    let Some(setup) = Setup::new("latency").await else { return };
    let env = MEASURE_ENV;
    {
        let alone = Node::start_with("alone", &[], &setup.database_url, &setup.dir, &env);
        let (queued, connected) = call_latencies(&alone, CALLS).await;
        percentiles("alone: call -> call_queued", queued);
        percentiles("alone: accept -> call_connected", connected);
    }
    let nats = setup.nats.urls();
    let a = Node::start_with("node-a", &nats, &setup.database_url, &setup.dir, &env);
    a.wait_leading(true).await;
    let b = Node::start_with("node-b", &nats, &setup.database_url, &setup.dir, &env);
    b.wait_leading(false).await;
    let (queued, connected) = call_latencies(&a, CALLS).await;
    percentiles("cluster leader: call -> call_queued", queued);
    percentiles("cluster leader: accept -> call_connected", connected);
    drop(a);
    drop(b);
    setup.finish().await;
}

/// `calls` calls one after the other to one agent at `node`: the time from `call` to
/// `call_queued` and from `accept` to the agent's `call_connected`.
async fn call_latencies(node: &Node, calls: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut agent = ready_agent_at(&node.url, "agent1", "demo").await.unwrap();
    let (mut queued, mut connected) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        let (mut ws, _) = citizen(&node.url).await;
        let media = MediaLeg::new("citizen", 2).await.unwrap();
        let offer = media.create_offer().await.unwrap();
        let service = Some("pension_transfer".to_owned());
        let sent = Instant::now();
        ws.send(&ClientMessage::Call { service, sdp: offer }).await.unwrap();
        let reply = ws
            .recv_until(STEP, |m| {
                matches!(m, ServerMessage::CallQueued { .. } | ServerMessage::Error { .. })
            })
            .await
            .unwrap();
        queued.push(sent.elapsed());
        let ServerMessage::CallQueued { call_id, sdp } = reply else { panic!("{reply:?}") };
        media.apply_answer(&sdp).await.unwrap();
        media.wait_connected(STEP).await.unwrap();
        assert_eq!(wait_offer(&mut agent).await.unwrap(), call_id);
        let sent = Instant::now();
        agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await.unwrap();
        agent
            .ws
            .recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. }))
            .await
            .unwrap();
        connected.push(sent.elapsed());
        agent.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await.unwrap();
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await.unwrap();
        agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallEnded { .. })).await.unwrap();
        let wrap_up =
            ClientMessage::WrapUp { call_id, disposition: "resolved".into(), notes: String::new() };
        agent.ws.send(&wrap_up).await.unwrap();
        agent
            .ws
            .recv_until(STEP, |m| matches!(m, ServerMessage::WrapUpSaved { .. }))
            .await
            .unwrap();
        let _ = media.close().await;
    }
    (queued, connected)
}

/// Inputs per second: three agent consoles (no headset) each keep 100 `set_state available`
/// in flight — every one an input of the core (through the log in a cluster), each refused
/// with an error (no headset) — alone and through a cluster's leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand: figures in docs/benchmarks.md"]
async fn measure_inputs_per_second_alone_and_through_the_leader() {
    let Some(setup) = Setup::new("throughput").await else { return };
    let env = MEASURE_ENV;
    {
        let alone = Node::start_with("alone", &[], &setup.database_url, &setup.dir, &env);
        let rate = inputs_per_second(&alone).await;
        eprintln!("MEASURED alone: {rate:.0} inputs/s");
    }
    let nats = setup.nats.urls();
    let a = Node::start_with("node-a", &nats, &setup.database_url, &setup.dir, &env);
    a.wait_leading(true).await;
    let b = Node::start_with("node-b", &nats, &setup.database_url, &setup.dir, &env);
    b.wait_leading(false).await;
    let rate = inputs_per_second(&a).await;
    eprintln!("MEASURED cluster leader: {rate:.0} inputs/s");
    drop(a);
    drop(b);
    setup.finish().await;
}

async fn inputs_per_second(node: &Node) -> f64 {
    const PER_CONSOLE: usize = 2_000;
    const WINDOW: usize = 100;
    let mut consoles = Vec::new();
    for name in ["agent1", "agent2", "agent3"] {
        let cookie = login(&node.url, name, "demo").await.unwrap();
        let url = format!("{}?role=agent", node.ws());
        let mut ws = SignalingClient::connect(&url, &node.url, Some(&cookie)).await.unwrap();
        ws.recv_until(STEP, |m| matches!(m, ServerMessage::Welcome { .. })).await.unwrap();
        consoles.push(ws);
    }
    let started = Instant::now();
    let tasks: Vec<_> = consoles
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let available =
                    ClientMessage::SetState { state: AgentAvailability::Available, reason: None };
                let mut answered = 0;
                for sent in 0..PER_CONSOLE {
                    ws.send(&available).await.unwrap();
                    if sent >= WINDOW {
                        ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. }))
                            .await
                            .unwrap();
                        answered += 1;
                    }
                }
                while answered < PER_CONSOLE {
                    ws.recv_until(STEP, |m| matches!(m, ServerMessage::Error { .. }))
                        .await
                        .unwrap();
                    answered += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (3 * PER_CONSOLE) as f64 / started.elapsed().as_secs_f64()
}
