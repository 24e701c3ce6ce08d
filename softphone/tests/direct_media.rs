//! Two media legs in one process connected directly over UDP on loopback: one offers (as a
//! client does), the other answers (as the relay does).

use std::time::Duration;

use voicedesk_softphone::{MediaLeg, OPUS_PAYLOAD_TYPE, RTCPeerConnectionState, TIMESTAMP_STEP};

const LONG: Duration = Duration::from_secs(20);

/// A offers with `slots` slots, B answers; both connected.
async fn connected_pair(slots: usize) -> (MediaLeg, MediaLeg) {
    let a = MediaLeg::new("A", slots).await.expect("leg A");
    let offer = a.create_offer().await.expect("offer");
    assert!(offer.contains("a=candidate:"), "the offer carries its candidates:\n{offer}");
    assert!(offer.contains("127.0.0.1"), "a loopback host candidate:\n{offer}");
    assert_eq!(offer.matches("m=audio").count(), slots, "{offer}");
    assert!(offer.contains("opus/48000/2"), "{offer}");
    assert!(offer.contains(&format!("a=rtpmap:{OPUS_PAYLOAD_TYPE} ")), "{offer}");
    let (b, answer) = MediaLeg::answer("B", &offer).await.expect("leg B");
    assert_eq!(answer.matches("m=audio").count(), slots, "{answer}");
    a.apply_answer(&answer).await.expect("apply answer");
    a.wait_connected(LONG).await.expect("A connects");
    b.wait_connected(LONG).await.expect("B connects");
    assert_eq!(a.connection_state(), RTCPeerConnectionState::Connected);
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_sent_by_the_offerer_arrive_on_slot_0_of_the_answerer() {
    let (a, b) = connected_pair(2).await;

    a.start_sending(*b"CIT1");
    let first = b.wait_for_tag(0, *b"CIT1", LONG).await.expect("first CIT1 packet");
    let stats = b.wait_tag_count(0, *b"CIT1", 50, LONG).await.expect("50 CIT1 packets");
    assert!(stats.first_arrival_by_tag[b"CIT1"] == first);

    // Only A's tag, only A's SSRC, only Opus.
    assert_eq!(stats.per_tag.len(), 1, "{}", stats.summary());
    assert_eq!(stats.unmarked, 0);
    assert_eq!(stats.ssrcs, vec![a.local_ssrc(0).unwrap()]);
    assert_eq!(stats.payload_types, vec![OPUS_PAYLOAD_TYPE]);
    assert_eq!(stats.bytes, stats.packets * 80);

    // Marker sequence numbers strictly increase; latency is sane.
    let markers: Vec<_> = stats.markers_of(b"CIT1").copied().collect();
    assert!(markers.len() >= 50);
    for pair in markers.windows(2) {
        assert!(pair[1].marker.seq > pair[0].marker.seq, "{pair:?}");
        assert!(
            pair[1].rtp.seq == pair[0].rtp.seq.wrapping_add(1)
                || pair[1].marker.seq > pair[0].marker.seq + 1
        );
    }
    for m in &markers {
        assert!(m.latency() < Duration::from_secs(1), "latency {:?}", m.latency());
    }

    // RTP timestamps advance 960 per packet along the stream.
    let (first_rtp, last_rtp) = (stats.first_rtp.unwrap(), stats.last_rtp.unwrap());
    let steps = u32::from(last_rtp.seq.wrapping_sub(first_rtp.seq));
    assert_eq!(last_rtp.timestamp.wrapping_sub(first_rtp.timestamp), steps * TIMESTAMP_STEP);
    assert_eq!(stats.timestamp_backwards, 0);

    // Nothing is received on slot 1 of B: A's m-line 1 is recvonly.
    assert_eq!(b.received(1).packets, 0);

    // After stop_sending, the last packet sent arrives and then nothing more.
    let sent = a.stop_sending().await;
    let last_seq = sent.last_seq.expect("something was sent");
    let stats = b
        .wait_until(0, LONG, |s| {
            s.last_by_tag.get(b"CIT1").is_some_and(|m| m.marker.seq == last_seq)
        })
        .await
        .expect("the last packet sent arrives");
    assert!(stats.count(b"CIT1") <= sent.packets);
    let settled = stats.packets;
    let more = b.wait_until(0, Duration::from_millis(600), |s| s.packets > settled).await;
    assert!(more.is_err(), "a packet arrived after stop_sending: {}", b.received(0).summary());
    assert_eq!(a.sent(), sent, "the sender stays silent");

    a.close().await.unwrap();
    b.close().await.unwrap();
    assert_eq!(a.connection_state(), RTCPeerConnectionState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retagging_keeps_the_marker_sequence_and_the_rtp_stream_going() {
    let (a, b) = connected_pair(1).await;
    a.start_sending(*b"OLD1");
    b.wait_tag_count(0, *b"OLD1", 5, LONG).await.unwrap();
    a.start_sending(*b"NEW1");
    let stats = b.wait_tag_count(0, *b"NEW1", 5, LONG).await.unwrap();
    let old_last = stats.last_by_tag[b"OLD1"];
    let new_first = stats.markers_of(b"NEW1").next().copied().unwrap();
    assert!(new_first.marker.seq > old_last.marker.seq);
    assert!(new_first.arrived_at() >= old_last.arrived_at());
    assert_eq!(stats.ssrcs.len(), 1, "one stream: {}", stats.summary());

    // Stop and start again: the marker sequence continues.
    let sent = a.stop_sending().await;
    a.start_sending(*b"AGN1");
    let stats = b.wait_tag_count(0, *b"AGN1", 1, LONG).await.unwrap();
    let again = stats.markers_of(b"AGN1").next().unwrap();
    assert!(again.marker.seq > sent.last_seq.unwrap());
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_m_line_of_the_answer_feeds_its_own_slot() {
    let (a, b) = connected_pair(3).await;
    let tags = [*b"SLT0", *b"SLT1", *b"SLT2"];
    for (slot, tag) in tags.iter().enumerate() {
        b.start_sending_on(slot, *tag);
    }
    for (slot, tag) in tags.iter().enumerate() {
        let stats = a.wait_tag_count(slot, *tag, 10, LONG).await.expect("tag on its slot");
        assert_eq!(
            stats.per_tag.len(),
            1,
            "slot {slot} hears only its source: {}",
            stats.summary()
        );
        assert_eq!(stats.ssrcs, vec![b.local_ssrc(slot).unwrap()], "slot {slot}");
    }
    let distinct: std::collections::HashSet<_> = (0..3).map(|s| b.local_ssrc(s).unwrap()).collect();
    assert_eq!(distinct.len(), 3);

    // A sends on slot 0 only, and B hears it there.
    a.start_sending(*b"OFR1");
    b.wait_tag_count(0, *b"OFR1", 10, LONG).await.unwrap();
    assert_eq!(b.received(1).packets + b.received(2).packets, 0);

    let waited = a.wait_for_tag(1, *b"NONE", Duration::from_millis(300)).await;
    let message = format!("{:#}", waited.expect_err("no such tag"));
    assert!(message.contains("SLT1=") && message.contains("NONE"), "{message}");

    a.close().await.unwrap();
    b.close().await.unwrap();
}
