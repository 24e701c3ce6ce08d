//! Telling datagrams apart on the one shared UDP port (RFC 7983) and finding which leg a
//! first-contact STUN request is for.

/// What a datagram is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    /// STUN (ICE connectivity checks and consent).
    Stun,
    /// DTLS (the key exchange).
    Dtls,
    /// RTP or RTCP (SRTP-protected media).
    Rtp,
    /// Anything else; dropped.
    Unknown,
}

/// Classifies by the first byte (RFC 7983 §7).
pub fn classify(datagram: &[u8]) -> DatagramKind {
    match datagram.first() {
        Some(0..=3) => DatagramKind::Stun,
        Some(20..=63) => DatagramKind::Dtls,
        Some(128..=191) => DatagramKind::Rtp,
        _ => DatagramKind::Unknown,
    }
}

const STUN_HEADER: usize = 20;
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const BINDING_REQUEST: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;

/// For a STUN Binding request, the local (relay-side) ICE username fragment: the part of
/// USERNAME before the colon (RFC 8445 §7.2.2). `None` for anything else, including every
/// malformed input.
pub fn binding_request_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if datagram.len() < STUN_HEADER || datagram[4..8] != MAGIC_COOKIE {
        return None;
    }
    let message_type = u16::from_be_bytes([datagram[0], datagram[1]]);
    if message_type != BINDING_REQUEST {
        return None;
    }
    let length = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let body = datagram.get(STUN_HEADER..STUN_HEADER + length)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split_once(':').map(|(local, _)| local);
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        // A PRIORITY attribute after it, as browsers send.
        attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        let mut msg = Vec::new();
        msg.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attrs);
        msg
    }

    #[test]
    fn the_local_ufrag_is_read_from_a_binding_request() {
        let msg = binding_request(b"relayufrag:browser");
        assert_eq!(classify(&msg), DatagramKind::Stun);
        assert_eq!(binding_request_local_ufrag(&msg), Some("relayufrag"));
    }

    #[test]
    fn non_requests_and_truncated_messages_yield_nothing() {
        let mut msg = binding_request(b"a:b");
        assert_eq!(binding_request_local_ufrag(&msg[..msg.len() - 9]), None);
        msg[0] = 0x01; // 0x0101 = binding success response
        assert_eq!(binding_request_local_ufrag(&msg), None);
        assert_eq!(binding_request_local_ufrag(&binding_request(b"no-colon")), None);
        assert_eq!(classify(&[200]), DatagramKind::Unknown);
        assert_eq!(classify(&[]), DatagramKind::Unknown);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = classify(&data);
            let _ = binding_request_local_ufrag(&data);
        }
    }
}
