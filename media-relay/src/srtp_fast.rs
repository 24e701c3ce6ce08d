//! The SRTP fast path: RTP forwarded with our own SRTP contexts instead of through rtc's
//! per-packet pipeline.
//!
//! Profiling showed that rtc 0.21 spends most of a forwarded packet's CPU outside the
//! cryptography: the read chain (demuxer → ICE → DTLS → SRTP → interceptors → endpoint) and the
//! write chain move large messages by value through every handler, and the RTCP report
//! interceptors walk their state per packet. A relay only needs "decrypt with the sender's
//! key, rewrite the header, encrypt with the receiver's key". rtc 0.21 does not expose the
//! DTLS-SRTP keying material, but it does let every connection use its own crypto provider
//! ([`SettingEngineBuilder::with_crypto_provider`]), and derives each SRTP session key
//! (RFC 3711 §4.3, AES-CM PRF) by calling [`RTCCrypto::block_encrypt`] with the master key on
//! a block that, for the first call (label 0, i = 0), *is* the master salt padded with zeros.
//! [`KeyTap`] wraps the default provider, forwards everything, and notes the master key and
//! salt of each SRTP context the connection creates. rtc's DTLS handler creates the local
//! (sending) context first, then the remote (receiving) one; nothing else in rtc, DTLS, ICE
//! or STUN calls `block_encrypt` (checked in the 0.21.1 sources).
//!
//! [`FastSrtp::from_tap`] builds the two contexts from what the tap saw. The receiving one is
//! verified on the first RTP packet ([`FastSrtp::decrypt`]): if it does not authenticate, the
//! roles are swapped once, then the fast path gives up and the connection goes back to rtc's
//! own pipeline — a wrong guess costs the slow path, never a wrong packet (SRTP authenticates
//! every packet).
//!
//! RTP takes the fast path both ways, and so does the participant's RTCP once RTP proved the
//! keys ([`FastSrtp::decrypt_rtcp`]: the relay reads its reports for the round-trip time).
//! STUN, DTLS and the relay's own RTCP (its sender reports) go through the connection, whose
//! SRTCP contexts are independent of these.
//!
//! [`SettingEngineBuilder::with_crypto_provider`]: rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder::with_crypto_provider

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use rtc::crypto::{
    ActiveKeyExchange, AeadAlgorithm, AeadCipher, BlockCipherAlgorithm, CbcAlgorithm, CbcCipher,
    CryptoAlgorithm, CryptoError, HashAlgorithm, HmacAlgorithm, KeyExchangeAlgorithm, Mac,
    PublicKey, RTCCrypto, RTCCryptoProvider, RTCRandom, SignatureScheme, SigningKey, StreamCipher,
    StreamCipherAlgorithm,
};
use rtc::shared::marshal::{MarshalSize, Unmarshal};
use rtc::srtp::context::Context;
use rtc::srtp::protection_profile::ProtectionProfile;

/// Replay window for received SRTP, as rtc's default.
const REPLAY_WINDOW: usize = 64;

/// A crypto provider that forwards to another and remembers SRTP master keys and salts.
pub struct KeyTap {
    inner: Arc<dyn RTCCryptoProvider>,
    /// (master key, first KDF block) per distinct master key, in order of first use.
    seen: Mutex<Vec<(Vec<u8>, [u8; 16])>>,
}

impl KeyTap {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn RTCCryptoProvider>) -> Arc<Self> {
        Arc::new(Self { inner, seen: Mutex::new(Vec::new()) })
    }

    /// Master keys and KDF blocks seen so far (two once DTLS-SRTP is up).
    fn seen(&self) -> Vec<(Vec<u8>, [u8; 16])> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl RTCCryptoProvider for KeyTap {
    fn name(&self) -> &'static str {
        "voicedesk-key-tap"
    }
    fn crypto(&self) -> &dyn RTCCrypto {
        self
    }
    fn random(&self) -> &dyn RTCRandom {
        self.inner.random()
    }
}

impl RTCCrypto for KeyTap {
    fn supports(&self, algorithm: CryptoAlgorithm) -> bool {
        self.inner.crypto().supports(algorithm)
    }
    fn hash(&self, algorithm: HashAlgorithm, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.inner.crypto().hash(algorithm, data)
    }
    fn block_encrypt(
        &self,
        algorithm: BlockCipherAlgorithm,
        key: &[u8],
        block: &mut [u8],
    ) -> Result<(), CryptoError> {
        if let Ok(mut seen) = self.seen.lock()
            && block.len() == 16
            && !seen.iter().any(|(k, _)| k == key)
        {
            let mut first = [0u8; 16];
            first.copy_from_slice(block);
            seen.push((key.to_vec(), first));
        }
        self.inner.crypto().block_encrypt(algorithm, key, block)
    }
    fn new_hmac(&self, algorithm: HmacAlgorithm, key: &[u8]) -> Result<Box<dyn Mac>, CryptoError> {
        self.inner.crypto().new_hmac(algorithm, key)
    }
    fn new_stream_cipher(
        &self,
        algorithm: StreamCipherAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn StreamCipher>, CryptoError> {
        self.inner.crypto().new_stream_cipher(algorithm, key)
    }
    fn new_aead(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn AeadCipher>, CryptoError> {
        self.inner.crypto().new_aead(algorithm, key)
    }
    fn new_cbc(
        &self,
        algorithm: CbcAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn CbcCipher>, CryptoError> {
        self.inner.crypto().new_cbc(algorithm, key)
    }
    fn start_key_exchange(
        &self,
        algorithm: KeyExchangeAlgorithm,
    ) -> Result<Box<dyn ActiveKeyExchange>, CryptoError> {
        self.inner.crypto().start_key_exchange(algorithm)
    }
    fn generate_signing_key(
        &self,
        scheme: SignatureScheme,
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner.crypto().generate_signing_key(scheme)
    }
    fn import_signing_key(
        &self,
        scheme: SignatureScheme,
        pkcs8_der: &[u8],
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner.crypto().import_signing_key(scheme, pkcs8_der)
    }
    fn verify_signature(
        &self,
        scheme: SignatureScheme,
        public_key: PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.inner.crypto().verify_signature(scheme, public_key, message, signature)
    }
}

/// The SRTP profiles voicedesk connections offer, in order of preference: AEAD-AES-GCM first
/// (one pass for encryption and authentication), the mandatory AES-CM/HMAC-SHA1-80 second.
/// Keeping the list to these two keeps [`FastSrtp::from_tap`]'s guess to two candidates.
pub fn srtp_profiles() -> Vec<rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile> {
    use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile as P;
    vec![P::Srtp_Aead_Aes_128_Gcm, P::Srtp_Aes128_Cm_Hmac_Sha1_80]
}

/// Whether a datagram of the RTP/RTCP class (RFC 7983) is RTCP (RFC 5761 §4: payload types
/// 64–95 with the marker bit are RTCP packet types 192–223).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.get(1).is_some_and(|b| (192..=223).contains(b))
}

/// Whether a connection's RTP takes the fast path.
pub enum FastPath {
    /// DTLS-SRTP not up yet.
    Pending,
    /// Our own SRTP contexts carry the connection's RTP.
    Ready(Box<FastSrtp>),
    /// The captured keys did not work: rtc's pipeline carries it.
    Off,
}

impl FastPath {
    /// Switches from `Pending` to `Ready` (or `Off` when the keys cannot be used); call it when
    /// the connection reports `Connected`. False if the fast path is off.
    pub fn start(&mut self, tap: &Arc<KeyTap>) -> bool {
        if matches!(self, FastPath::Pending) {
            *self = match FastSrtp::from_tap(tap) {
                Some(fast) => FastPath::Ready(Box::new(fast)),
                None => FastPath::Off,
            };
        }
        !matches!(self, FastPath::Off)
    }
}

/// Whether verification of the receiving context is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verified {
    /// No packet decrypted yet with the current role assignment.
    No,
    /// Roles swapped once already.
    NoSwapped,
    Yes,
}

/// One connection's SRTP contexts for the fast path.
pub struct FastSrtp {
    /// Encrypts what we send.
    local: Context,
    /// Decrypts what we receive.
    remote: Context,
    keys: [(Vec<u8>, Vec<u8>); 2],
    profile: ProtectionProfile,
    verified: Verified,
    crypto: Arc<KeyTap>,
}

/// What [`FastSrtp::decrypt`] concluded.
pub enum Decrypted {
    /// The plaintext packet (header and payload).
    Packet(BytesMut),
    /// Not authentic (or a replay): drop it.
    Rejected,
    /// The captured keys do not work for this connection: use rtc's own pipeline from now on.
    GiveUp,
}

impl FastSrtp {
    /// Contexts from the keys `tap` saw, or `None` while DTLS-SRTP is not up (or the tap saw
    /// something it cannot interpret).
    pub fn from_tap(tap: &Arc<KeyTap>) -> Option<Self> {
        let seen = tap.seen();
        if seen.len() != 2 {
            return None;
        }
        // A 12-byte salt (AEAD-AES-GCM) leaves bytes 12..14 of the first KDF block zero; a
        // 14-byte salt (AES-CM) fills them. Verification catches the 1-in-65536 miss.
        let gcm = seen.iter().all(|(_, b)| b[12] == 0 && b[13] == 0);
        let profile = if gcm {
            ProtectionProfile::AeadAes128Gcm
        } else {
            ProtectionProfile::Aes128CmHmacSha1_80
        };
        let salt_len = profile.salt_len();
        let key = |i: usize| (seen[i].0.clone(), seen[i].1[..salt_len].to_vec());
        let keys = [key(0), key(1)];
        if keys.iter().any(|(k, _)| k.len() != profile.key_len()) {
            return None;
        }
        let local = Self::context(tap, &keys[0], profile, false)?;
        let remote = Self::context(tap, &keys[1], profile, true)?;
        Some(Self { local, remote, keys, profile, verified: Verified::No, crypto: tap.clone() })
    }

    fn context(
        tap: &Arc<KeyTap>,
        (key, salt): &(Vec<u8>, Vec<u8>),
        profile: ProtectionProfile,
        receiving: bool,
    ) -> Option<Context> {
        let replay = receiving.then(|| rtc::srtp::option::srtp_replay_protection(REPLAY_WINDOW));
        Context::new(key, salt, profile, replay, None, tap.inner.crypto()).ok()
    }

    /// Decrypts one received SRTP packet.
    pub fn decrypt(&mut self, datagram: &[u8]) -> Decrypted {
        let mut buf = datagram;
        let Ok(header) = rtc::rtp::header::Header::unmarshal(&mut buf) else {
            return Decrypted::Rejected;
        };
        if let Ok(plain) = self.remote.decrypt_rtp_with_header(datagram, &header) {
            self.verified = Verified::Yes;
            return Decrypted::Packet(plain);
        }
        match self.verified {
            Verified::Yes => Decrypted::Rejected,
            Verified::NoSwapped => Decrypted::GiveUp,
            Verified::No => {
                // Try the other role assignment once (with fresh contexts).
                self.keys.swap(0, 1);
                let (Some(local), Some(remote)) = (
                    Self::context(&self.crypto, &self.keys[0], self.profile, false),
                    Self::context(&self.crypto, &self.keys[1], self.profile, true),
                ) else {
                    return Decrypted::GiveUp;
                };
                self.local = local;
                self.remote = remote;
                self.verified = Verified::NoSwapped;
                match self.remote.decrypt_rtp_with_header(datagram, &header) {
                    Ok(plain) => {
                        self.verified = Verified::Yes;
                        Decrypted::Packet(plain)
                    }
                    Err(_) => Decrypted::GiveUp,
                }
            }
        }
    }

    /// Decrypts one received SRTCP packet, once an RTP packet proved the receiving keys
    /// (`None` before that, or if it does not authenticate). The SRTCP keys come from the same
    /// master key as the SRTP ones (RFC 3711 §4.3); rtc's own SRTCP contexts then see none of
    /// the participant's RTCP (the relay reads it itself, see `crate::core`).
    pub fn decrypt_rtcp(&mut self, datagram: &[u8]) -> Option<BytesMut> {
        if self.verified != Verified::Yes {
            return None;
        }
        self.remote.decrypt_rtcp(datagram).ok()
    }

    /// Encrypts one RTP packet (`plain` = marshalled header, then payload; `header` is that
    /// header).
    pub fn encrypt(&mut self, plain: &[u8], header: &rtc::rtp::header::Header) -> Option<BytesMut> {
        debug_assert!(header.marshal_size() <= plain.len());
        self.local.encrypt_rtp_with_header(plain, header).ok()
    }
}
