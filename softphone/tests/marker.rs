//! The payload marker: layout, round trip, rejection of what is not a marker.

use std::time::{Duration, Instant};

use voicedesk_softphone::{
    MARKER_LEN, MARKER_PAYLOAD_LEN, Marker, epoch, micros_since_epoch, parse_marker,
};

#[test]
fn parse_marker_round_trips() {
    let marker = Marker { tag: *b"CIT1", seq: 7, sent_at_us: 123_456_789 };
    let payload = marker.encode(MARKER_PAYLOAD_LEN);
    assert_eq!(payload.len(), 80);
    assert_eq!(&payload[0..4], b"CIT1");
    assert_eq!(&payload[4..8], &7u32.to_be_bytes());
    assert_eq!(&payload[8..16], &123_456_789u64.to_be_bytes());
    assert_eq!(parse_marker(&payload), Some(marker));
    // Only the marker fields are needed; padding is optional.
    assert_eq!(parse_marker(&payload[..MARKER_LEN]), Some(marker));
}

#[test]
fn parse_marker_rejects_short_payloads() {
    let payload = Marker { tag: *b"AGT1", seq: 1, sent_at_us: 2 }.encode(MARKER_PAYLOAD_LEN);
    for len in 0..MARKER_LEN {
        assert_eq!(parse_marker(&payload[..len]), None, "{len}-byte payload");
    }
}

#[test]
fn parse_marker_rejects_payloads_without_the_magic() {
    // What a real Opus frame (e.g. the relay's hold audio) looks like: no marker magic.
    let opus_like: Vec<u8> = (0u8..80).map(|i| i.wrapping_mul(37)).collect();
    assert_eq!(parse_marker(&opus_like), None);
    let mut payload = Marker { tag: *b"STF1", seq: 3, sent_at_us: 4 }.encode(MARKER_PAYLOAD_LEN);
    payload[17] ^= 0xff;
    assert_eq!(parse_marker(&payload), None);
}

#[test]
fn send_times_map_back_to_instants_of_this_process() {
    let start = epoch(); // fixed on first use, so fix it before taking `now`
    let now = Instant::now();
    assert!(now >= start);
    let marker = Marker { tag: *b"T000", seq: 0, sent_at_us: micros_since_epoch(now) };
    let back = marker.sent_at();
    assert!(back <= now && now - back < Duration::from_micros(1), "{:?}", now - back);
    assert!(marker.sent_at() >= epoch());
    assert_eq!(
        marker.latency(now + Duration::from_millis(5)),
        Duration::from_millis(5) + (now - back)
    );
    assert_eq!(marker.latency(epoch()), Duration::ZERO, "never negative");
}
