//! The weekly-hours parser: never panics, and what it accepts prints back to text that parses
//! to the same hours.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicedesk_queue_engine::WeeklyHours;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(hours) = text.parse::<WeeklyHours>() {
        let printed = hours.to_string();
        let again: WeeklyHours = printed.parse().expect("printed hours parse");
        assert_eq!(again, hours, "{text:?} → {printed:?}");
    }
});
