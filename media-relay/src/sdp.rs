//! Checks an offer before the WebRTC stack sees it, so a bad offer gets a precise error and
//! allocates nothing.

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::sdp::description::media::MediaDescription;

use crate::RelayError;

/// Largest SDP the relay reads. A browser's audio offer is about 2–5 KiB.
pub const MAX_SDP_BYTES: usize = 32 * 1024;

/// What the relay needs to know about an acceptable offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSummary {
    /// Number of audio sections = receive slots this leg will have.
    pub audio_sections: usize,
}

/// Accepts an audio-only offer with 1 to `max_slots` sections, the first of which sends the
/// microphone, every one offering Opus, with ICE credentials and a DTLS fingerprint.
pub fn check_offer(sdp: &str, max_slots: usize) -> Result<OfferSummary, RelayError> {
    let bad = |why: &str| RelayError::BadSdp(why.to_owned());
    if sdp.len() > MAX_SDP_BYTES {
        return Err(bad("the offer is larger than 32 KiB"));
    }
    let parsed = RTCSessionDescription::offer(sdp.to_owned())
        .and_then(|d| d.unmarshal())
        .map_err(|e| RelayError::BadSdp(format!("not a valid SDP offer: {e}")))?;
    let sections = &parsed.media_descriptions;
    if sections.is_empty() {
        return Err(bad("the offer has no media section"));
    }
    if sections.len() > max_slots {
        return Err(RelayError::BadSdp(format!(
            "the offer has {} media sections; at most {max_slots} audio sections are allowed",
            sections.len()
        )));
    }
    for (i, media) in sections.iter().enumerate() {
        if media.media_name.media != "audio" {
            return Err(RelayError::BadSdp(format!(
                "media section {i} is \"{}\"; only audio is accepted",
                media.media_name.media
            )));
        }
        if media.media_name.port.value == 0 {
            return Err(RelayError::BadSdp(format!("media section {i} is rejected (port 0)")));
        }
        if !offers_opus(media) {
            return Err(RelayError::BadSdp(format!("media section {i} does not offer Opus")));
        }
        let has = |key: &str| media.has_attribute(key) || parsed.has_attribute(key);
        if !has("ice-ufrag") || !has("ice-pwd") {
            return Err(RelayError::BadSdp(format!("media section {i} has no ICE credentials")));
        }
        if !has("fingerprint") {
            return Err(RelayError::BadSdp(format!("media section {i} has no DTLS fingerprint")));
        }
    }
    let first = &sections[0];
    if first.has_attribute("recvonly") || first.has_attribute("inactive") {
        return Err(bad("the first audio section must send the microphone (sendrecv)"));
    }
    Ok(OfferSummary { audio_sections: sections.len() })
}

fn offers_opus(media: &MediaDescription) -> bool {
    media.attributes.iter().any(|a| {
        a.key == "rtpmap"
            && a.value.as_deref().is_some_and(|v| v.to_ascii_lowercase().contains("opus/48000"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const CHROME_LIKE_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1 cname:x\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn a_two_slot_audio_offer_is_accepted() {
        assert_eq!(check_offer(CHROME_LIKE_OFFER, 2).unwrap().audio_sections, 2);
    }

    #[test]
    fn broken_video_oversized_and_too_many_sections_are_refused() {
        let err = |sdp: &str, slots| match check_offer(sdp, slots) {
            Err(RelayError::BadSdp(why)) => why,
            other => panic!("expected BadSdp, got {other:?}"),
        };
        assert!(err("hello", 2).contains("not a valid SDP"));
        assert!(
            err(&CHROME_LIKE_OFFER.replacen("m=audio", "m=video", 1), 2).contains("only audio")
        );
        assert!(err(&"x".repeat(MAX_SDP_BYTES + 1), 2).contains("32 KiB"));
        assert!(err(CHROME_LIKE_OFFER, 1).contains("at most 1"));
        assert!(err(&CHROME_LIKE_OFFER.replace("opus/48000/2", "PCMU/8000"), 2).contains("Opus"));
        let recv_first = CHROME_LIKE_OFFER.replacen("a=sendrecv", "a=recvonly", 1);
        assert!(err(&recv_first, 2).contains("first audio section"));
        assert!(
            err(&CHROME_LIKE_OFFER.replace("a=fingerprint", "a=x-fp"), 2).contains("fingerprint")
        );
    }
}
