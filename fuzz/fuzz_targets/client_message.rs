//! `ClientMessage` decoding: never panics; an error never echoes much of the input; a decoded
//! message re-encodes to JSON that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicedesk_protocol::{MAX_DECODE_ERROR_CHARS, decode_client_message};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match decode_client_message(text) {
        Ok(message) => {
            let again = serde_json::to_string(&message).expect("a message serializes");
            assert_eq!(decode_client_message(&again).expect("re-decodes"), message);
        }
        Err(e) => {
            assert!(e.message.chars().count() <= MAX_DECODE_ERROR_CHARS + 1, "{}", e.message);
        }
    }
});
