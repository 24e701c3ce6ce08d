//! The datagram demultiplexer (RFC 7983 first-byte classes) and the STUN USERNAME reader that
//! maps a new address to its leg: never panic, and a ufrag found lies inside the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicedesk_media_relay::demux::{DatagramKind, binding_request_local_ufrag, classify};
use voicedesk_media_relay::srtp_fast::is_rtcp;

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    if let Some(ufrag) = binding_request_local_ufrag(data) {
        assert_eq!(kind, DatagramKind::Stun);
        assert!(!ufrag.contains(':'));
        assert!(ufrag.len() < data.len());
    }
    if kind == DatagramKind::Rtp {
        let _ = is_rtcp(data);
    }
});
