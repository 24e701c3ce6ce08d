//! A refused client request: the error code and text sent back.

use voicedesk_protocol::ErrorCode;

/// A refused request. Nothing changed; the client gets an `error` with this code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) text: String,
}

pub(crate) fn refuse(code: ErrorCode, text: impl Into<String>) -> Refusal {
    Refusal { code, text: text.into() }
}
