//! `RelayCore` fed arbitrary datagrams from arbitrary addresses (and sometimes a STUN request
//! naming a real leg's ufrag, so the bytes reach that leg's stack), with time moving forward:
//! never a panic, and two identical runs send the same datagrams to the same addresses.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use voicedesk_media_relay::{RelayCore, RelayStats, RelayTimeouts};

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1 cname:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n";

#[derive(Debug, Arbitrary)]
struct Step {
    /// Which of a few addresses it comes from.
    from: u8,
    /// Milliseconds since the previous step.
    wait_ms: u16,
    /// Prefix a STUN Binding request header with the leg's ufrag.
    as_stun_for_leg: bool,
    bytes: Vec<u8>,
}

/// A STUN Binding request whose USERNAME is `ufrag:peer`, followed by `rest` as attributes.
fn stun(ufrag: &str, rest: &[u8]) -> Vec<u8> {
    let username = format!("{ufrag}:peer");
    let mut attrs = Vec::new();
    attrs.extend_from_slice(&6u16.to_be_bytes());
    attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attrs.extend_from_slice(username.as_bytes());
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    attrs.extend_from_slice(&rest[..rest.len().min(200)]);
    let mut out = vec![0x00, 0x01];
    out.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    out.extend_from_slice(&[7u8; 12]);
    out.extend_from_slice(&attrs);
    out
}

/// One run; returns every datagram sent, with its destination.
fn run(steps: &[Step]) -> Vec<(SocketAddr, Vec<u8>)> {
    let start = Instant::now();
    let advertised: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let timeouts =
        RelayTimeouts { silence: Duration::from_secs(15), connect: Duration::from_secs(20) };
    let mut relay =
        RelayCore::new(start, advertised, timeouts, Arc::new(RelayStats::default())).unwrap();
    let (_leg, answer) = relay.create_leg(start, OFFER, 2).expect("the offer is valid");
    let ufrag = answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("the answer has a ufrag")
        .trim()
        .to_owned();
    let mut now = start;
    let mut sent = Vec::new();
    for step in steps {
        now += Duration::from_millis(u64::from(step.wait_ms));
        let from = SocketAddr::from(([198, 51, 100, step.from % 4], 5000 + u16::from(step.from)));
        let bytes = if step.as_stun_for_leg { stun(&ufrag, &step.bytes) } else { step.bytes.clone() };
        relay.handle_datagram(now, from, &bytes);
        if relay.poll_timeout() <= now {
            relay.handle_timeout(now);
        }
        while let Some(t) = relay.poll_transmit() {
            sent.push((t.to, t.payload.to_vec()));
        }
        while relay.poll_event().is_some() {}
    }
    sent
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary(&mut u) else { return };
    if steps.len() > 64 {
        return;
    }
    let first = run(&steps);
    // STUN replies carry random transaction-independent fields (none here) and DTLS uses fresh
    // randomness, so only the shape is compared: who was sent how many datagrams.
    let second = run(&steps);
    let shape = |s: &[(SocketAddr, Vec<u8>)]| s.iter().map(|(a, _)| *a).collect::<Vec<_>>();
    assert_eq!(shape(&first), shape(&second), "two identical runs, different destinations");
});
