//! The SRTP fast path: any datagram given to a connection's fast-path contexts is decrypted or
//! refused, never a panic; an RTP packet encrypted by the other side (its keys in the other
//! order) decrypts to what was sent.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use rtc::crypto::{BlockCipherAlgorithm, RTCCrypto};
use rtc::shared::marshal::{Marshal, Unmarshal};
use voicedesk_media_relay::srtp_fast::{Decrypted, FastSrtp, KeyTap};

/// A tap that has "seen" the two master keys and salts of an AES-CM DTLS-SRTP session, in
/// this order, as rtc's KDF would show them.
fn tap(keys: [([u8; 16], [u8; 14]); 2]) -> Arc<KeyTap> {
    let tap = KeyTap::new(rtc::crypto::default_provider().expect("a crypto provider"));
    for (key, salt) in keys {
        let mut block = [0u8; 16];
        block[..14].copy_from_slice(&salt);
        tap.block_encrypt(BlockCipherAlgorithm::Aes128, &key, &mut block).expect("AES");
    }
    tap
}

fuzz_target!(|data: &[u8]| {
    let a = ([1u8; 16], [2u8; 14]);
    let b = ([3u8; 16], [4u8; 14]);
    let Some(mut ours) = FastSrtp::from_tap(&tap([a, b])) else { panic!("keys from the tap") };
    let Some(mut theirs) = FastSrtp::from_tap(&tap([b, a])) else { panic!("keys from the tap") };

    // Whatever arrives.
    match ours.decrypt(data) {
        Decrypted::Packet(_) | Decrypted::Rejected | Decrypted::GiveUp => {}
    }

    // The input as a plain RTP packet from the other side: its header as the relay writes
    // headers (marshalled again, so a malformed extension cannot make the two disagree), then
    // whatever followed the header as the payload.
    let mut rest = data;
    let Ok(header) = rtc::rtp::header::Header::unmarshal(&mut rest) else { return };
    let Ok(marshalled) = header.marshal() else { return };
    let mut plain = marshalled.to_vec();
    plain.extend_from_slice(rest);
    let Some(sealed) = theirs.encrypt(&plain, &header) else { return };
    // A fresh receiver: the garbage above may have made `ours` try the other key order.
    let Some(mut receiver) = FastSrtp::from_tap(&tap([a, b])) else { panic!("keys from the tap") };
    match receiver.decrypt(&sealed) {
        Decrypted::Packet(got) => assert_eq!(&got[..], &plain[..]),
        other => panic!("the other side's packet was not decrypted: {}", match other {
            Decrypted::Rejected => "rejected",
            _ => "given up",
        }),
    }
});
