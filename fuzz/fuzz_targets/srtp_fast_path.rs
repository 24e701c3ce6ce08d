//! The SRTP fast path: any datagram given to a connection's fast-path contexts is decrypted or
//! refused, never a panic; an RTP packet encrypted by the other side (its keys in the other
//! order) decrypts to what was sent.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use rtc::crypto::{BlockCipherAlgorithm, RTCCrypto};
use rtc::shared::marshal::Unmarshal;
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

    // The input as a plain RTP packet from the other side.
    let mut buf = data;
    let Ok(header) = rtc::rtp::header::Header::unmarshal(&mut buf) else { return };
    let Some(sealed) = theirs.encrypt(data, &header) else { return };
    if let Decrypted::Packet(plain) = ours.decrypt(&sealed) {
        assert_eq!(plain.len(), data.len());
    }
});
