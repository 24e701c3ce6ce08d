//! The relay's SDP offer check: never panics, and an accepted offer has 1 to `max_slots`
//! audio sections.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicedesk_media_relay::sdp::check_offer;

fuzz_target!(|data: &[u8]| {
    let Some((&slots, rest)) = data.split_first() else { return };
    let Ok(sdp) = std::str::from_utf8(rest) else { return };
    let max_slots = usize::from(slots % 4);
    if let Ok(summary) = check_offer(sdp, max_slots) {
        assert!((1..=max_slots).contains(&summary.audio_sections));
    }
});
