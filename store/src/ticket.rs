//! Message tickets and secret codes: how they look, how they are made and how codes are checked.
//!
//! A **ticket** is what a citizen quotes to find a message again: `XXXX-XXXX`, 8 characters of
//! [`ALPHABET`] (31 characters without the look-alikes 0/O, 1/I/L), about 40 bits — random, so it
//! reveals neither how many messages arrive nor when, and needs no counter shared by the nodes
//! of a cluster. A clash with a stored ticket (unique column) is retried with a new one.
//!
//! A **secret code** (8 characters of the same alphabet) proves that the reader is the citizen
//! who left the message. Only a salted SHA-256 of it is stored (salt: the message id), and codes
//! are compared as hashes in constant time. A fast hash suffices: the code protects one message
//! whose text and reply are stored in clear beside the hash, so a reader of the database gains
//! nothing by cracking it; online guessing is the signaling layer's to rate-limit.
//!
//! Both are read case-insensitively, with spaces and `-` ignored ([`normalize_ticket`]).

use rand::Rng;
use sha2::{Digest, Sha256};

/// The characters of tickets and codes: digits 2-9 and A-Z without I, L and O.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Characters in a ticket or a code (the ticket's `-` not counted).
pub(crate) const CODE_CHARS: usize = 8;

fn random_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_CHARS).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// The 8 code characters of `input` (upper-cased, spaces and `-` dropped), if that is what it is.
fn normalize_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b));
    ok.then_some(code)
}

/// A ticket as stored (`XXXX-XXXX`) from what a citizen typed (`xxxx xxxx`, `XXXXXXXX`, …);
/// `None` if it cannot be one.
pub fn normalize_ticket(input: &str) -> Option<String> {
    let code = normalize_code(input)?;
    Some(format!("{}-{}", &code[..4], &code[4..]))
}

pub(crate) fn new_ticket() -> String {
    let code = random_code();
    format!("{}-{}", &code[..4], &code[4..])
}

pub(crate) fn new_secret() -> String {
    random_code()
}

/// The stored hash of a code for the message `id`: SHA-256 of a domain tag, the id and the
/// normalised code, hex.
pub(crate) fn secret_hash(id: &str, code: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"voicedesk message secret\0");
    hash.update(id.as_bytes());
    hash.update(b"\0");
    hash.update(code.as_bytes());
    hex::encode(hash.finalize())
}

/// Whether the code a citizen typed matches `stored_hash` for the message `id`. Always hashes
/// and compares the whole hash (constant time), whatever the input.
pub(crate) fn secret_matches(id: &str, typed: &str, stored_hash: &str) -> bool {
    let typed_ok = normalize_code(typed);
    let computed = secret_hash(id, typed_ok.as_deref().unwrap_or(""));
    constant_time_eq(computed.as_bytes(), stored_hash.as_bytes()) && typed_ok.is_some()
}

/// Compares without an early exit: the time depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_and_codes_use_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let t = new_ticket();
            assert_eq!(t.len(), 9);
            assert_eq!(&t[4..5], "-");
            assert_eq!(normalize_ticket(&t).as_deref(), Some(t.as_str()));
            let s = new_secret();
            assert_eq!(normalize_code(&s).as_deref(), Some(s.as_str()));
        }
        assert_eq!(normalize_ticket(" abcd efgh ").as_deref(), Some("ABCD-EFGH"));
        assert_eq!(normalize_ticket("abcd-efgh").as_deref(), Some("ABCD-EFGH"));
        for bad in
            ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ABCD-EFGI", "ABCD-EFGL", "ABCD-ÉFGH"]
        {
            assert_eq!(normalize_ticket(bad), None, "{bad}");
        }
    }

    #[test]
    fn codes_match_only_their_hash_and_message() {
        let hash = secret_hash("m1", "ABCD2345");
        assert_eq!(hash.len(), 64);
        assert!(secret_matches("m1", "abcd 2345", &hash));
        assert!(secret_matches("m1", "ABCD-2345", &hash));
        assert!(!secret_matches("m1", "ABCD2346", &hash));
        assert!(!secret_matches("m2", "ABCD2345", &hash), "salted with the message id");
        assert!(!secret_matches("m1", "", &hash));
        assert!(
            !secret_matches("m1", "", &secret_hash("m1", "")),
            "a malformed code never matches"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
