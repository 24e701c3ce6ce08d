//! Checks of caller input against the rules of the schema, before anything is written, so a
//! refusal is a clear [`StoreError::InvalidValue`] rather than a backend-specific CHECK failure.
//! The CHECK constraints of the migrations stay as the backstop.

use crate::StoreError;
use crate::model::{
    AgentSkill, Announcement, Holiday, LabelledCode, MessageKind, NewCall, NewMessage, NewRating,
    NewWrapUp, Service, Skill,
};

/// The longest name, label or hours string, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The longest service description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 1000;
/// The longest announcement text, in characters.
pub const MAX_ANNOUNCEMENT_BODY_CHARS: usize = 5000;

fn invalid(
    entity: &'static str,
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> StoreError {
    let mut shown: String = value.chars().take(64).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    StoreError::InvalidValue { entity, field, value: shown, expected }
}

/// Ids and codes: 1..=64 of `a-z`, `0-9`, `_`, starting with a letter.
pub(crate) fn key(
    entity: &'static str,
    field: &'static str,
    value: &str,
) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            entity,
            field,
            value,
            "1 to 64 characters of a-z, 0-9 and _, starting with a letter",
        ))
    }
}

fn text(
    entity: &'static str,
    field: &'static str,
    value: &str,
    max: usize,
    may_be_blank: bool,
    expected: &'static str,
) -> Result<(), StoreError> {
    if (may_be_blank || !value.trim().is_empty()) && value.chars().count() <= max {
        Ok(())
    } else {
        Err(invalid(entity, field, value, expected))
    }
}

fn name(entity: &'static str, field: &'static str, value: &str) -> Result<(), StoreError> {
    text(entity, field, value, MAX_NAME_CHARS, false, "a non-blank text of at most 200 characters")
}

fn range(
    entity: &'static str,
    field: &'static str,
    value: i32,
    allowed: std::ops::RangeInclusive<i32>,
    expected: &'static str,
) -> Result<(), StoreError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid(entity, field, &value.to_string(), expected))
    }
}

/// A call priority or service priority: 0..=9.
pub(crate) fn priority(entity: &'static str, value: i32) -> Result<(), StoreError> {
    range(entity, "priority", value, 0..=9, "an integer from 0 to 9")
}

/// A positive cap that fits the INTEGER column, as the value to bind.
fn cap(field: &'static str, value: Option<u32>) -> Result<Option<i32>, StoreError> {
    value
        .map(|n| {
            i32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                invalid("skill", field, &n.to_string(), "none, or an integer from 1 to 2147483647")
            })
        })
        .transpose()
}

/// What [`skill`] returns to bind: `max_waiting`, `max_wait_secs`, `service_level_secs`,
/// `service_level_pct`.
type SkillCaps = (Option<i32>, Option<i32>, Option<i32>, Option<i32>);

/// Checks a skill; returns its caps and service level target to bind. The target is both a
/// time and a percentage of 1..=100, or neither.
pub(crate) fn skill(skill: &Skill) -> Result<SkillCaps, StoreError> {
    key("skill", "id", &skill.id)?;
    name("skill", "name_zh", &skill.name_zh)?;
    name("skill", "name_en", &skill.name_en)?;
    name("skill", "hours", &skill.hours)?;
    let pct = match skill.service_level_pct {
        Some(pct) if !(1..=100).contains(&pct) => {
            return Err(invalid(
                "skill",
                "service_level_pct",
                &pct.to_string(),
                "an integer from 1 to 100",
            ));
        }
        pct => pct.map(|p| p as i32),
    };
    match (skill.service_level_secs, skill.service_level_pct) {
        (Some(_), None) => {
            return Err(invalid(
                "skill",
                "service_level_pct",
                "",
                "a percentage with the service level time (or neither)",
            ));
        }
        (None, Some(pct)) => {
            return Err(invalid(
                "skill",
                "service_level_secs",
                &pct.to_string(),
                "a time with the service level percentage (or neither)",
            ));
        }
        _ => {}
    }
    Ok((
        cap("max_waiting", skill.max_waiting)?,
        cap("max_wait_secs", skill.max_wait_secs)?,
        cap("service_level_secs", skill.service_level_secs)?,
        pct,
    ))
}

pub(crate) fn service(service: &Service) -> Result<(), StoreError> {
    key("service", "id", &service.id)?;
    key("service", "area", &service.area)?;
    key("service", "skill_id", &service.skill_id)?;
    name("service", "name_zh", &service.name_zh)?;
    name("service", "name_en", &service.name_en)?;
    // Spanish is optional: empty, or a name like the others.
    if !service.name_es.is_empty() {
        name("service", "name_es", &service.name_es)?;
    }
    let expected = "a text of at most 1000 characters";
    text(
        "service",
        "description_es",
        &service.description_es,
        MAX_DESCRIPTION_CHARS,
        true,
        expected,
    )?;
    text(
        "service",
        "description_zh",
        &service.description_zh,
        MAX_DESCRIPTION_CHARS,
        true,
        expected,
    )?;
    text(
        "service",
        "description_en",
        &service.description_en,
        MAX_DESCRIPTION_CHARS,
        true,
        expected,
    )?;
    priority("service", service.priority)
}

pub(crate) fn call(call: &NewCall) -> Result<(), StoreError> {
    priority("call", call.priority)
}

/// Checks an agent's skill set: valid ids and levels, each skill at most once.
pub(crate) fn agent_skills(skills: &[AgentSkill]) -> Result<(), StoreError> {
    for (i, s) in skills.iter().enumerate() {
        key("agent skill", "skill_id", &s.skill_id)?;
        range("agent skill", "level", s.level, 1..=10, "an integer from 1 to 10")?;
        if skills[..i].iter().any(|earlier| earlier.skill_id == s.skill_id) {
            return Err(invalid("agent skill", "skill_id", &s.skill_id, "each skill at most once"));
        }
    }
    Ok(())
}

/// Whether `day` is a real calendar date written `YYYY-MM-DD`.
fn is_date(day: &str) -> bool {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        day.get(r).filter(|s| s.bytes().all(|c| c.is_ascii_digit()))?.parse().ok()
    };
    let (Some(year), Some(month), Some(dom)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&dom)
}

/// A holiday's day: a real date, `YYYY-MM-DD`.
pub(crate) fn day(value: &str) -> Result<(), StoreError> {
    if is_date(value) {
        Ok(())
    } else {
        Err(invalid("holiday", "day", value, "a calendar date written YYYY-MM-DD"))
    }
}

pub(crate) fn holiday(holiday: &Holiday) -> Result<(), StoreError> {
    day(&holiday.day)?;
    name("holiday", "name_zh", &holiday.name_zh)?;
    name("holiday", "name_en", &holiday.name_en)
}

/// Calendar entries written together: each valid, each day once.
pub(crate) fn holidays(holidays: &[Holiday]) -> Result<(), StoreError> {
    for (i, h) in holidays.iter().enumerate() {
        holiday(h)?;
        if holidays[..i].iter().any(|earlier| earlier.day == h.day) {
            return Err(invalid("holiday", "day", &h.day, "each day at most once"));
        }
    }
    Ok(())
}

/// A replacement list of away reasons or dispositions: not empty, valid codes and labels, each
/// code once, none marked `system` (system codes belong to the migrations).
pub(crate) fn codes(entity: &'static str, codes: &[LabelledCode]) -> Result<(), StoreError> {
    if codes.is_empty() {
        return Err(invalid(entity, "code", "", "at least one code"));
    }
    for (i, c) in codes.iter().enumerate() {
        key(entity, "code", &c.code)?;
        name(entity, "name_zh", &c.name_zh)?;
        name(entity, "name_en", &c.name_en)?;
        if c.system {
            return Err(invalid(entity, "system", "true", "false: system codes cannot be set"));
        }
        if codes[..i].iter().any(|earlier| earlier.code == c.code) {
            return Err(invalid(entity, "code", &c.code, "each code at most once"));
        }
    }
    Ok(())
}

pub(crate) fn wrapup(wrapup: &NewWrapUp) -> Result<(), StoreError> {
    text(
        "call wrap-up",
        "notes",
        &wrapup.notes,
        NewWrapUp::MAX_NOTES_CHARS,
        true,
        "at most 2000 characters",
    )
}

fn optional_text(
    entity: &'static str,
    field: &'static str,
    value: Option<&str>,
    max: usize,
    expected: &'static str,
) -> Result<(), StoreError> {
    value.map_or(Ok(()), |v| text(entity, field, v, max, false, expected))
}

fn absent<T>(field: &'static str, value: &Option<T>) -> Result<(), StoreError> {
    match value {
        None => Ok(()),
        Some(_) => {
            Err(invalid("message", field, "(set)", "nothing: a text message has no recording"))
        }
    }
}

/// Checks a message's client id: 16 to 64 characters of `A-Za-z0-9-_` (a UUID fits). Public
/// through [`NewMessage::check_client_id`] so a caller can refuse before costly work.
pub(crate) fn message_client_id(client_id: &str) -> Result<(), StoreError> {
    let ok = (16..=64).contains(&client_id.len())
        && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(invalid(
            "message",
            "client_id",
            client_id,
            "16 to 64 characters of A-Z, a-z, 0-9, - and _ (a UUID)",
        ));
    }
    Ok(())
}

/// Checks a message: the client id, the optional fields, the fields its kind needs, the times.
pub(crate) fn message(m: &NewMessage) -> Result<(), StoreError> {
    message_client_id(&m.client_id)?;
    if let Some(citizen) = &m.citizen_id
        && (citizen.is_empty() || citizen.chars().count() > 64)
    {
        return Err(invalid("message", "citizen_id", citizen, "1 to 64 characters"));
    }
    optional_text(
        "message",
        "service",
        m.service.as_deref(),
        MAX_NAME_CHARS,
        "a non-blank text of at most 200 characters",
    )?;
    optional_text(
        "message",
        "name",
        m.name.as_deref(),
        NewMessage::MAX_NAME_CHARS,
        "a non-blank name of at most 50 characters",
    )?;
    if let Some(phone) = &m.phone {
        let ok = phone.chars().count() <= NewMessage::MAX_PHONE_CHARS
            && phone.chars().any(|c| c.is_ascii_digit())
            && phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
        if !ok {
            return Err(invalid(
                "message",
                "phone",
                phone,
                "at most 20 characters of digits, +, - and spaces, with at least one digit",
            ));
        }
    }
    optional_text(
        "message",
        "body",
        m.body.as_deref(),
        NewMessage::MAX_BODY_CHARS,
        "a non-blank text of at most 2000 characters",
    )?;
    match m.kind {
        MessageKind::Text => {
            if m.body.is_none() {
                return Err(invalid("message", "body", "", "a text for a text message"));
            }
            absent("voice_file", &m.voice_file)?;
            absent("voice_ms", &m.voice_ms)?;
            absent("voice_bytes", &m.voice_bytes)?;
        }
        MessageKind::Voice => {
            let file = m.voice_file.as_deref().unwrap_or("");
            if !crate::files::is_voice_file_name(file) {
                return Err(invalid(
                    "message",
                    "voice_file",
                    file,
                    "a voice file name made by files::new_voice_file_name (vm-<32 hex>.opus)",
                ));
            }
            if m.voice_ms.is_none_or(|ms| ms < 0) {
                let shown = m.voice_ms.map(|v| v.to_string()).unwrap_or_default();
                return Err(invalid("message", "voice_ms", &shown, "a length in ms, 0 or more"));
            }
            if m.voice_bytes.is_none_or(|b| b <= 0) {
                let shown = m.voice_bytes.map(|v| v.to_string()).unwrap_or_default();
                return Err(invalid("message", "voice_bytes", &shown, "a file size above 0"));
            }
        }
    }
    if m.due_at_ms < m.created_at_ms {
        return Err(invalid(
            "message",
            "due_at_ms",
            &m.due_at_ms.to_string(),
            "not before created_at_ms",
        ));
    }
    Ok(())
}

/// A staff reply: not blank, at most 2000 characters.
pub(crate) fn reply(reply: &str) -> Result<(), StoreError> {
    text(
        "message",
        "reply",
        reply,
        NewMessage::MAX_BODY_CHARS,
        false,
        "a non-blank text of at most 2000 characters",
    )
}

pub(crate) fn rating(r: &NewRating) -> Result<(), StoreError> {
    if r.subject_id.is_empty() || r.subject_id.len() > 64 {
        return Err(invalid("rating", "subject_id", &r.subject_id, "an id of 1 to 64 bytes"));
    }
    range("rating", "level", r.level, 1..=5, "an integer from 1 (very dissatisfied) to 5")?;
    text(
        "rating",
        "comment",
        &r.comment,
        NewRating::MAX_COMMENT_CHARS,
        true,
        "at most 500 characters",
    )
}

/// A follow-up note: at most 2000 characters (may be empty).
pub(crate) fn follow_up_note(note: &str) -> Result<(), StoreError> {
    text("rating", "note", note, NewRating::MAX_NOTE_CHARS, true, "at most 2000 characters")
}

/// An announcement: its id, the required Chinese and English title and text, the optional
/// Spanish pair (both or neither), and an expiry after the publication.
pub(crate) fn announcement(a: &Announcement) -> Result<(), StoreError> {
    const E: &str = "announcement";
    let id_ok = (1..=64).contains(&a.id.len())
        && a.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !id_ok {
        return Err(invalid(E, "id", &a.id, "1 to 64 characters of a-z, 0-9, _ and -"));
    }
    let body_expected = "a non-blank text of at most 5000 characters";
    name(E, "title_zh", &a.title_zh)?;
    name(E, "title_en", &a.title_en)?;
    text(E, "body_zh", &a.body_zh, MAX_ANNOUNCEMENT_BODY_CHARS, false, body_expected)?;
    text(E, "body_en", &a.body_en, MAX_ANNOUNCEMENT_BODY_CHARS, false, body_expected)?;
    match (&a.title_es, &a.body_es) {
        (Some(title), Some(body)) => {
            name(E, "title_es", title)?;
            text(E, "body_es", body, MAX_ANNOUNCEMENT_BODY_CHARS, false, body_expected)?;
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(invalid(E, "body_es", "", "a Spanish text with the Spanish title"));
        }
        (None, Some(_)) => {
            return Err(invalid(E, "title_es", "", "a Spanish title with the Spanish text"));
        }
    }
    if a.published_at_ms < 0 {
        let value = a.published_at_ms.to_string();
        return Err(invalid(E, "published_at_ms", &value, "Unix epoch milliseconds, not negative"));
    }
    if let Some(end) = a.expires_at_ms
        && end <= a.published_at_ms
    {
        return Err(invalid(E, "expires_at_ms", &end.to_string(), "later than published_at_ms"));
    }
    text(E, "created_by", &a.created_by, 64, false, "a user id")
}

/// A canned reply: an id like an announcement's, a title, a body the chat can send as it is.
pub(crate) fn canned_reply(r: &crate::CannedReply) -> Result<(), StoreError> {
    const E: &str = "canned reply";
    let id_ok = (1..=64).contains(&r.id.len())
        && r.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !id_ok {
        return Err(invalid(E, "id", &r.id, "1 to 64 characters of a-z, 0-9, _ and -"));
    }
    name(E, "title", &r.title)?;
    let body_expected = "a non-blank text of at most 2000 characters";
    text(E, "body", &r.body, crate::MAX_CANNED_REPLY_CHARS, false, body_expected)?;
    text(E, "updated_by", &r.updated_by, 64, false, "a user id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for ok in ["2026-01-01", "2024-02-29", "2000-02-29", "2026-12-31", "2026-04-30"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "",
            "2026-1-01",
            "2026/01/01",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-01-011",
            "+026-01-01",
            "2026-0a-01",
            "２026-01-01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn keys() {
        for ok in ["a", "pension", "work_injury", "x2", &"a".repeat(64)] {
            assert!(key("skill", "id", ok).is_ok(), "{ok}");
        }
        for bad in ["", "Pension", "2x", "_a", "a-b", "a b", "养老", &"a".repeat(65)] {
            assert!(key("skill", "id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_values_are_cut_in_the_error() {
        let err = invalid("call wrap-up", "notes", &"é".repeat(3000), "x");
        let StoreError::InvalidValue { value, .. } = err else { panic!() };
        assert_eq!(value.chars().count(), 65);
    }
}
