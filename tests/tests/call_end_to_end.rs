//! A citizen calls, an agent accepts, both talk through the relay, either hangs up.

use std::time::{Duration, Instant};

use voicedesk_protocol::{ClientMessage, EndReason, ServerMessage};
use voicedesk_tests::{STEP, TestServer, place_call, sent_more, wait_ended, wait_offer};

const CITIZEN: [u8; 4] = *b"CIT1";
const AGENT: [u8; 4] = *b"AGT1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_flows_both_ways_through_the_relay_and_stops_after_hang_up() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let mut agent = server.ready_agent("agent1").await?;
    let mut citizen = place_call(&server, "pension_benefit_inquiry").await?;
    citizen.media.start_sending(CITIZEN);
    agent.media.start_sending(AGENT);

    let offered = wait_offer(&mut agent).await?;
    assert_eq!(offered, citizen.call_id);
    // Before the answer, neither side hears the other while each sends 15 packets.
    sent_more(&citizen.media, 15).await?;
    sent_more(&agent.media, 15).await?;
    assert_eq!(
        agent.media.received(0).count(&CITIZEN),
        0,
        "agent heard the citizen before accepting"
    );
    assert_eq!(
        citizen.media.received(0).count(&AGENT),
        0,
        "citizen heard the agent before the answer"
    );

    agent.ws.send(&ClientMessage::Accept { call_id: offered.clone() }).await?;
    let connected =
        citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;
    assert!(
        matches!(connected, ServerMessage::CallConnected { ref peer_name, .. } if peer_name.contains("Wang Fang"))
    );
    agent.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;

    // Packets arrive both ways, with the payloads that were sent, on slot 0.
    agent.media.wait_tag_count(0, CITIZEN, 25, STEP).await?;
    citizen.media.wait_tag_count(0, AGENT, 25, STEP).await?;
    let at_agent = agent.media.received(0);
    let at_citizen = citizen.media.received(0);
    for marker in at_agent.markers_of(&CITIZEN) {
        assert!(marker.latency() < Duration::from_secs(1));
    }
    assert!(
        at_agent.per_tag.keys().all(|t| *t == CITIZEN),
        "only the citizen on the agent's slot 0: {:?}",
        at_agent.per_tag
    );
    assert!(
        at_citizen.per_tag.keys().all(|t| *t == AGENT),
        "only the agent on the citizen's slot 0: {:?}",
        at_citizen.per_tag
    );
    assert_eq!(agent.media.received(1).packets, 0, "nothing on the agent's coach slot");
    assert_eq!(citizen.media.received(1).packets, 0, "nothing on the citizen's barge slot");

    // The agent hangs up: both are told, and voice stops.
    agent.ws.send(&ClientMessage::HangUp { call_id: offered.clone() }).await?;
    assert_eq!(wait_ended(&mut citizen.ws).await?, EndReason::AgentHangUp);
    assert_eq!(wait_ended(&mut agent.ws).await?, EndReason::AgentHangUp);
    // Packets forwarded before the end drain while the agent sends 15 more (the agent's leg
    // lives for the whole shift, so its sender is the clock); then 30 more must bring nothing.
    sent_more(&agent.media, 15).await?;
    let after = agent.media.received(0).count(&CITIZEN);
    let citizen_after = citizen.media.received(0).count(&AGENT);
    sent_more(&agent.media, 30).await?;
    assert_eq!(
        agent.media.received(0).count(&CITIZEN),
        after,
        "citizen audio still reaches the agent"
    );
    assert_eq!(
        citizen.media.received(0).count(&AGENT),
        citizen_after,
        "agent audio still reaches the citizen"
    );

    // The record has every step.
    let record = server.store.call(&offered).await?.expect("call recorded");
    assert_eq!(record.agent_id.as_deref(), Some(agent.user_id.as_str()));
    assert!(
        record.offered_at_ms.is_some()
            && record.answered_at_ms.is_some()
            && record.ended_at_ms.is_some()
    );
    assert_eq!(record.outcome.as_deref(), Some("agent_hang_up"));
    assert_eq!(record.service.as_deref(), Some("pension_benefit_inquiry"));
    server.shutdown().await;
    Ok(())
}

/// Twenty calls in a row on one agent headset: each reaches the agent, the agent's slot keeps
/// one SSRC with continuous sequence numbers (bridging is re-routing, not renegotiation), and
/// the time from the citizen's call request to the first citizen packet at the agent is
/// reported (median).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_on_one_headset_keep_one_continuous_stream() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let mut agent = server.ready_agent("agent1").await?;
    let mut setup = Vec::new();
    for i in 0..20u8 {
        let tag = [b'C', b'2', b'0', b'a' + i];
        let started = Instant::now();
        let mut citizen = place_call(&server, "medical_reimbursement").await?;
        citizen.media.start_sending(tag);
        let call_id = wait_offer(&mut agent).await?;
        agent.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await?;
        let first = agent.media.wait_for_tag(0, tag, STEP).await?;
        setup.push(first.duration_since(started));
        citizen.ws.send(&ClientMessage::HangUp { call_id }).await?;
        assert_eq!(wait_ended(&mut agent.ws).await?, EndReason::CitizenHangUp);
        citizen.media.close().await?;
    }
    let slot = agent.media.received(0);
    assert_eq!(
        slot.ssrcs.len(),
        1,
        "the agent's slot 0 kept one SSRC across 20 calls: {:?}",
        slot.ssrcs
    );
    assert_eq!(slot.timestamp_backwards, 0, "timestamps never went back");
    // Sequence numbers: at most a few jumps from loss on loopback, not one per call switch.
    assert!(slot.seq_jumps < 5, "sequence continuity across calls: {} jumps", slot.seq_jumps);
    setup.sort();
    eprintln!(
        "call request -> first packet at agent over 20 calls: median {:?}, min {:?}, max {:?} (includes ICE+DTLS of the citizen leg)",
        setup[10], setup[0], setup[19]
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_goes_to_the_next_agent() -> anyhow::Result<()> {
    let mut server = TestServer::start().await?;
    let mut first = server.ready_agent("agent1").await?;
    let mut second = server.ready_agent("agent2").await?;
    let mut citizen = place_call(&server, "unemployment_benefit_claim").await?;
    // agent1 became available first, so it is the longest idle.
    let call_id = wait_offer(&mut first).await?;
    first.ws.send(&ClientMessage::Reject { call_id: call_id.clone() }).await?;
    first.ws.recv_until(STEP, |m| matches!(m, ServerMessage::OfferWithdrawn { .. })).await?;
    assert_eq!(wait_offer(&mut second).await?, call_id);
    second.ws.send(&ClientMessage::Accept { call_id: call_id.clone() }).await?;
    citizen.ws.recv_until(STEP, |m| matches!(m, ServerMessage::CallConnected { .. })).await?;
    citizen.ws.send(&ClientMessage::HangUp { call_id: call_id.clone() }).await?;
    assert_eq!(wait_ended(&mut second.ws).await?, EndReason::CitizenHangUp);
    let record = server.store.call(&call_id).await?.expect("recorded");
    assert_eq!(record.offer_count, 2);
    assert_eq!(record.agent_id.as_deref(), Some(second.user_id.as_str()));
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_offer_times_out_to_the_next_agent() -> anyhow::Result<()> {
    let options = voicedesk_tests::TestOptions {
        ring_timeout: Duration::from_millis(800),
        ..Default::default()
    };
    let mut server = TestServer::start_with(options).await?;
    let mut first = server.ready_agent("agent1").await?;
    let mut second = server.ready_agent("agent2").await?;
    let citizen = place_call(&server, "pension_transfer").await?;
    let call_id = wait_offer(&mut first).await?;
    let withdrawn =
        first.ws.recv_until(STEP, |m| matches!(m, ServerMessage::OfferWithdrawn { .. })).await?;
    assert!(matches!(
        withdrawn,
        ServerMessage::OfferWithdrawn {
            reason: voicedesk_protocol::WithdrawReason::RingTimeout,
            ..
        }
    ));
    assert_eq!(wait_offer(&mut second).await?, call_id);
    drop(citizen);
    server.shutdown().await;
    Ok(())
}
