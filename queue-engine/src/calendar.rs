//! Business hours, holidays and make-up workdays, in pure integer arithmetic (no time-zone
//! database, no chrono): civil dates follow Howard Hinnant's `days_from_civil` /
//! `civil_from_days` (proleptic Gregorian calendar), and local time is UTC plus a fixed offset
//! (China has had no daylight saving time since 1991).
//!
//! ```
//! use voicedesk_queue_engine::{Calendar, CivilDate, WeeklyHours};
//!
//! let hours: WeeklyHours = "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00".parse().unwrap();
//! let mut calendar = Calendar { utc_offset_minutes: 480, ..Calendar::default() };
//! // Monday 2026-11-30 10:00 in Beijing is 02:00 UTC.
//! let monday_10 = CivilDate::new(2026, 11, 30).unwrap().unix_ms_at(10, 0, 480);
//! assert!(calendar.is_open(&hours, monday_10));
//! calendar.holidays.insert("2026-11-30".parse().unwrap());
//! assert!(!calendar.is_open(&hours, monday_10));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 86_400_000;
/// How far [`Calendar::next_opening`] looks ahead, in days.
pub const OPENING_SEARCH_DAYS: i64 = 60;

/// A day of the week, Monday first (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The three-letter lowercase name used in [`WeeklyHours`].
    pub fn name(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self.index()]
    }

    fn parse(name: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(name))
    }
}

/// A date in the proleptic Gregorian calendar, written `YYYY-MM-DD`.
#[derive(
    serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
pub struct CivilDate {
    /// The year, 0 to 9999.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

impl CivilDate {
    /// The date, if it exists (years 0 to 9999).
    pub fn new(year: i32, month: u8, day: u8) -> Option<CivilDate> {
        let valid = (0..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(CivilDate { year, month, day })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01. Outside years 0 to 9999 the year is clamped
    /// into that range (the engine never asks for such dates).
    pub fn from_days_since_epoch(days: i64) -> CivilDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilDate {
            year: i32::try_from(year.clamp(0, 9999)).unwrap_or(0),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// The day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (index 3).
        let index = (self.days_since_epoch() + 3).rem_euclid(7);
        Weekday::ALL[usize::try_from(index).unwrap_or(0)]
    }

    /// The Unix milliseconds of `hour:minute` local time on this date, at a UTC offset.
    pub fn unix_ms_at(self, hour: u8, minute: u8, utc_offset_minutes: i32) -> i64 {
        self.days_since_epoch() * MS_PER_DAY
            + (i64::from(hour) * 60 + i64::from(minute) - i64::from(utc_offset_minutes))
                * MS_PER_MINUTE
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A date, a weekly schedule or a calendar that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending part of the text.
    pub part: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParseError {
    fn new(part: &str, message: impl Into<String>) -> ParseError {
        ParseError { part: part.trim().to_owned(), message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in \"{}\": {}", self.part, self.message)
    }
}

impl std::error::Error for ParseError {}

impl FromStr for CivilDate {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseError::new(s, "expected a date YYYY-MM-DD");
        let mut parts = s.trim().split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y) && digits(m) && digits(d)) {
            return Err(bad());
        }
        let (y, m, d) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        CivilDate::new(y, m, d).ok_or_else(|| ParseError::new(s, "no such date"))
    }
}

/// Opening hours per day of the week, as minutes since local midnight: each day is a sorted
/// list of disjoint, non-adjacent `[start, end)` spans (`end` may be 24:00).
///
/// Written as `"mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00"`: parts separated by `;`,
/// each a day list (`mon`, `mon-fri`, `mon,wed,fri`, `mon-wed,fri`) and comma-separated
/// spans `HH:MM-HH:MM`; days not named are closed. Two special values: `"always"` (open at
/// every instant, holidays included — for emergency lines) and `"never"`. Overlapping or
/// touching spans are merged, names are case-insensitive; [`fmt::Display`] writes the
/// canonical form, which parses back to the same value.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub enum WeeklyHours {
    /// Open at every instant; holidays do not close it.
    Always,
    /// Open during these spans, Monday first; all empty is `"never"`.
    Weekly([Vec<(u16, u16)>; 7]),
}

impl Default for WeeklyHours {
    /// [`WeeklyHours::Always`].
    fn default() -> Self {
        WeeklyHours::Always
    }
}

impl WeeklyHours {
    /// Never open.
    pub fn never() -> WeeklyHours {
        WeeklyHours::Weekly(Default::default())
    }

    /// The spans of one weekday (empty for [`WeeklyHours::Always`], which has no spans).
    pub fn spans(&self, day: Weekday) -> &[(u16, u16)] {
        match self {
            WeeklyHours::Always => &[],
            WeeklyHours::Weekly(days) => &days[day.index()],
        }
    }
}

fn parse_time(text: &str, part: &str) -> Result<u16, ParseError> {
    let bad = || ParseError::new(part, format!("\"{text}\" is not a time HH:MM"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_days(text: &str, part: &str) -> Result<Vec<Weekday>, ParseError> {
    let mut days = Vec::new();
    for item in text.split(',') {
        let day = |name: &str| {
            Weekday::parse(name).ok_or_else(|| {
                ParseError::new(part, format!("\"{name}\" is not a day (mon, tue, … sun)"))
            })
        };
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                if from > to {
                    return Err(ParseError::new(
                        part,
                        format!("day range \"{item}\" goes backwards (write it as two ranges)"),
                    ));
                }
                days.extend(Weekday::ALL[from.index()..=to.index()].iter().copied());
            }
            None => days.push(day(item)?),
        }
    }
    Ok(days)
}

fn merge(spans: &mut Vec<(u16, u16)>) {
    spans.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(spans.len());
    for &(start, end) in spans.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    *spans = merged;
}

impl FromStr for WeeklyHours {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("always") {
            return Ok(WeeklyHours::Always);
        }
        if text.eq_ignore_ascii_case("never") {
            return Ok(WeeklyHours::never());
        }
        if text.is_empty() {
            return Err(ParseError::new(s, "empty hours (write \"never\" for a closed queue)"));
        }
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for part in text.split(';') {
            let part = part.trim();
            let Some((days, spans)) = part.split_once(char::is_whitespace) else {
                return Err(ParseError::new(
                    part,
                    "expected days and times, such as \"mon-fri 09:00-17:00\"",
                ));
            };
            let days = parse_days(days, part)?;
            for span in spans.split(',') {
                let span = span.trim();
                let (start, end) = span.split_once('-').ok_or_else(|| {
                    ParseError::new(part, format!("\"{span}\" is not a span HH:MM-HH:MM"))
                })?;
                let (start, end) = (parse_time(start.trim(), part)?, parse_time(end.trim(), part)?);
                if start >= end {
                    return Err(ParseError::new(
                        part,
                        format!(
                            "span \"{span}\" must end after it starts (split spans at midnight)"
                        ),
                    ));
                }
                for day in &days {
                    week[day.index()].push((start, end));
                }
            }
        }
        for spans in &mut week {
            merge(spans);
        }
        Ok(WeeklyHours::Weekly(week))
    }
}

impl fmt::Display for WeeklyHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let week = match self {
            WeeklyHours::Always => return f.write_str("always"),
            WeeklyHours::Weekly(week) if week.iter().all(Vec::is_empty) => {
                return f.write_str("never");
            }
            WeeklyHours::Weekly(week) => week,
        };
        let mut first = true;
        let mut i = 0;
        while i < 7 {
            if week[i].is_empty() {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < 7 && week[j + 1] == week[i] {
                j += 1;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(Weekday::ALL[i].name())?;
            if j > i {
                write!(f, "-{}", Weekday::ALL[j].name())?;
            }
            f.write_str(" ")?;
            for (k, (start, end)) in week[i].iter().enumerate() {
                if k > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{:02}:{:02}-{:02}:{:02}", start / 60, start % 60, end / 60, end % 60)?;
            }
            i = j + 1;
        }
        Ok(())
    }
}

/// The hall's calendar: its UTC offset, the public holidays (every queue not
/// [`WeeklyHours::Always`] is closed) and the official make-up working days (China's 调休: a
/// Saturday or Sunday worked in exchange for a holiday), which open with **Monday's** hours.
/// A date in both sets is a holiday.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    /// Local time minus UTC, in minutes (480 for China Standard Time). Default 0.
    pub utc_offset_minutes: i32,
    /// Closed all day.
    pub holidays: BTreeSet<CivilDate>,
    /// Open with Monday's hours whatever their weekday.
    pub workdays: BTreeSet<CivilDate>,
}

impl Calendar {
    /// Local days since the epoch and milliseconds since local midnight of a Unix instant.
    fn local(&self, unix_ms: i64) -> (i64, i64) {
        let local = unix_ms.saturating_add(i64::from(self.utc_offset_minutes) * MS_PER_MINUTE);
        (local.div_euclid(MS_PER_DAY), local.rem_euclid(MS_PER_DAY))
    }

    /// The spans in force on a local day (holidays and make-up workdays applied).
    fn day_spans<'a>(&self, hours: &'a WeeklyHours, days: i64) -> &'a [(u16, u16)] {
        let date = CivilDate::from_days_since_epoch(days);
        if self.holidays.contains(&date) {
            &[]
        } else if self.workdays.contains(&date) {
            hours.spans(Weekday::Mon)
        } else {
            hours.spans(date.weekday())
        }
    }

    /// Whether a queue with `hours` admits calls at `unix_ms`.
    pub fn is_open(&self, hours: &WeeklyHours, unix_ms: i64) -> bool {
        if *hours == WeeklyHours::Always {
            return true;
        }
        let (days, ms) = self.local(unix_ms);
        let minute = ms / MS_PER_MINUTE;
        self.day_spans(hours, days)
            .iter()
            .any(|&(start, end)| i64::from(start) <= minute && minute < i64::from(end))
    }

    /// The first instant at or after `unix_ms` when the queue is open: `unix_ms` itself when
    /// open now, else the start of the next span within [`OPENING_SEARCH_DAYS`] days, else
    /// `None` (e.g. `"never"`).
    pub fn next_opening(&self, hours: &WeeklyHours, unix_ms: i64) -> Option<i64> {
        if self.is_open(hours, unix_ms) {
            return Some(unix_ms);
        }
        let (today, ms) = self.local(unix_ms);
        let offset = i64::from(self.utc_offset_minutes) * MS_PER_MINUTE;
        for days in today..=today + OPENING_SEARCH_DAYS {
            for &(start, _) in self.day_spans(hours, days) {
                let start_ms = i64::from(start) * MS_PER_MINUTE;
                if days > today || start_ms > ms {
                    return Some(days * MS_PER_DAY + start_ms - offset);
                }
            }
        }
        None
    }

    /// Whether `date` is a working day: Monday to Friday and not a public holiday, or an
    /// official make-up working day (调休) on a weekend. A date in both sets is a holiday.
    pub fn is_working_day(&self, date: CivilDate) -> bool {
        if self.holidays.contains(&date) {
            return false;
        }
        self.workdays.contains(&date) || !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The deadline `n` working days after `unix_ms`, e.g. when a citizen's message is due.
    ///
    /// The day of arrival is never counted: counting starts with the next working day (the
    /// rule of Chinese administrative deadlines, 期间开始之日不计算在内), and
    ///
    /// - **arrival on a working day**: due at the same local time of day on the `n`-th working
    ///   day after it. Friday 16:00 + 2 → Tuesday 16:00 (weekend skipped); Monday 09:30 + 2 →
    ///   Wednesday 09:30. Every message gets `n` whole working days.
    /// - **arrival on a weekend or holiday**: due at the **end** (24:00 local, i.e. 00:00 of
    ///   the following day) of the `n`-th working day after it. Saturday 10:00 + 2 → end of
    ///   Tuesday, whatever the hour of arrival: the citizen gets `n` whole working days,
    ///   exactly as if the message had arrived at the first working minute, and the clock time
    ///   of a day nobody works does not shorten the deadline.
    ///
    /// `n = 0` returns `unix_ms` unchanged. The result is always later than `unix_ms` for
    /// `n >= 1`, grows with `n`, and never decreases when `unix_ms` grows. Holidays and
    /// make-up workdays are those of the calendar (a date in both is a holiday); a calendar
    /// with no working day at all cannot exist (holidays are finitely many, so weekdays beyond
    /// them always work). The loop walks one day at a time: `n` up to a few hundred costs
    /// microseconds.
    pub fn add_working_days(&self, unix_ms: i64, n: u32) -> i64 {
        if n == 0 {
            return unix_ms;
        }
        let (today, ms) = self.local(unix_ms);
        let offset = i64::from(self.utc_offset_minutes) * MS_PER_MINUTE;
        let arrived_on_working_day = self.is_working_day(CivilDate::from_days_since_epoch(today));
        let mut day = today;
        let mut left = n;
        while left > 0 {
            day += 1;
            if self.is_working_day(CivilDate::from_days_since_epoch(day)) {
                left -= 1;
            }
        }
        if arrived_on_working_day {
            day * MS_PER_DAY + ms - offset
        } else {
            (day + 1) * MS_PER_DAY - offset
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CST: i32 = 480;

    fn date(s: &str) -> CivilDate {
        s.parse().unwrap()
    }

    fn at(d: &str, h: u8, m: u8) -> i64 {
        date(d).unix_ms_at(h, m, CST)
    }

    fn hall() -> WeeklyHours {
        "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00".parse().unwrap()
    }

    fn cst() -> Calendar {
        Calendar { utc_offset_minutes: CST, ..Calendar::default() }
    }

    #[test]
    fn civil_dates_convert_both_ways_and_know_their_weekday() {
        assert_eq!(date("1970-01-01").days_since_epoch(), 0);
        assert_eq!(date("2000-03-01").days_since_epoch(), 11_017);
        assert_eq!(CivilDate::from_days_since_epoch(-1), date("1969-12-31"));
        assert_eq!(date("2026-11-30").weekday(), Weekday::Mon);
        assert_eq!(date("2024-02-29").weekday(), Weekday::Thu);
        assert_eq!(date("2024-02-29").to_string(), "2024-02-29");
        for bad in ["2023-02-29", "2024-13-01", "2024-1-01", "24-01-01", "2024-01-00", "x"] {
            assert!(bad.parse::<CivilDate>().is_err(), "{bad}");
        }
        assert_eq!(
            "2023-02-29".parse::<CivilDate>().unwrap_err().to_string(),
            "in \"2023-02-29\": no such date"
        );
    }

    #[test]
    fn hours_parse_merge_and_print_canonically() {
        let h: WeeklyHours =
            "Mon-Wed,fri 09:00-12:00, 11:00-13:00; thu 09:00-13:00".parse().unwrap();
        assert_eq!(h.to_string(), "mon-fri 09:00-13:00");
        assert_eq!(hall().to_string(), "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00");
        assert_eq!("always".parse::<WeeklyHours>().unwrap(), WeeklyHours::Always);
        assert_eq!("never".parse::<WeeklyHours>().unwrap().to_string(), "never");
        assert_eq!(
            "sun 00:00-24:00".parse::<WeeklyHours>().unwrap().to_string(),
            "sun 00:00-24:00"
        );
    }

    #[test]
    fn hours_errors_name_the_offending_part() {
        let err = |s: &str| s.parse::<WeeklyHours>().unwrap_err().to_string();
        assert_eq!(
            err("mon-fri 09:00-12:00; sta 09:00-12:00"),
            "in \"sta 09:00-12:00\": \"sta\" is not a day (mon, tue, … sun)"
        );
        assert_eq!(err("mon 9-12"), "in \"mon 9-12\": \"9\" is not a time HH:MM");
        assert_eq!(
            err("mon 22:00-02:00"),
            "in \"mon 22:00-02:00\": span \"22:00-02:00\" must end after it starts (split spans at midnight)"
        );
        assert_eq!(
            err("fri-mon 09:00-10:00"),
            "in \"fri-mon 09:00-10:00\": day range \"fri-mon\" goes backwards (write it as two ranges)"
        );
        assert!(err("monday").contains("expected days and times"));
        assert!(err("mon 09:00-24:30").contains("24:30"));
        assert!(err("").contains("empty hours"));
    }

    #[test]
    fn open_in_hours_closed_at_lunch_at_night_on_sundays_and_holidays() {
        let mut cal = cst();
        let h = hall();
        assert!(cal.is_open(&h, at("2026-11-30", 9, 0)));
        assert!(!cal.is_open(&h, at("2026-11-30", 8, 59)));
        assert!(!cal.is_open(&h, at("2026-11-30", 12, 0)));
        assert!(cal.is_open(&h, at("2026-11-30", 13, 30)));
        assert!(!cal.is_open(&h, at("2026-11-30", 17, 30)));
        assert!(cal.is_open(&h, at("2026-12-05", 11, 59)));
        assert!(!cal.is_open(&h, at("2026-12-05", 13, 30)), "saturday afternoon");
        assert!(!cal.is_open(&h, at("2026-12-06", 10, 0)), "sunday");
        cal.holidays.insert(date("2026-11-30"));
        assert!(!cal.is_open(&h, at("2026-11-30", 10, 0)));
        assert!(cal.is_open(&WeeklyHours::Always, at("2026-11-30", 10, 0)));
        cal.workdays.insert(date("2026-12-06"));
        assert!(cal.is_open(&h, at("2026-12-06", 16, 0)), "make-up sunday has monday's hours");
    }

    #[test]
    fn next_opening_skips_lunch_nights_weekends_and_holidays() {
        let mut cal = cst();
        let h = hall();
        let now = at("2026-11-30", 12, 15);
        assert_eq!(cal.next_opening(&h, now), Some(at("2026-11-30", 13, 30)));
        assert_eq!(cal.next_opening(&h, at("2026-11-30", 10, 0)), Some(at("2026-11-30", 10, 0)));
        assert_eq!(cal.next_opening(&h, at("2026-12-05", 12, 0)), Some(at("2026-12-07", 9, 0)));
        cal.holidays.insert(date("2026-12-07"));
        assert_eq!(cal.next_opening(&h, at("2026-12-05", 12, 0)), Some(at("2026-12-08", 9, 0)));
        assert_eq!(cal.next_opening(&WeeklyHours::never(), now), None);
    }

    /// The 2026 calendar of the State Council (国办发明电〔2025〕7号): holidays and make-up
    /// working days.
    fn china_2026() -> Calendar {
        let mut cal = cst();
        let holidays = [
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ];
        for (from, to) in holidays {
            let (from, to) = (date(from).days_since_epoch(), date(to).days_since_epoch());
            for d in from..=to {
                cal.holidays.insert(CivilDate::from_days_since_epoch(d));
            }
        }
        for d in
            ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
        {
            cal.workdays.insert(date(d));
        }
        cal
    }

    #[test]
    fn working_days_are_weekdays_minus_holidays_plus_make_up_days() {
        let cal = china_2026();
        assert!(cal.is_working_day(date("2026-11-30")), "a Monday");
        assert!(cal.is_working_day(date("2026-12-04")), "a Friday");
        assert!(!cal.is_working_day(date("2026-12-05")), "a Saturday");
        assert!(!cal.is_working_day(date("2026-12-06")), "a Sunday");
        assert!(!cal.is_working_day(date("2026-10-01")), "National Day, a Thursday");
        assert!(cal.is_working_day(date("2026-10-10")), "make-up Saturday");
        assert!(cal.is_working_day(date("2026-02-14")), "make-up Saturday before Spring Festival");
        let mut both = cal.clone();
        both.holidays.insert(date("2026-10-10"));
        assert!(!both.is_working_day(date("2026-10-10")), "a date in both sets is a holiday");
    }

    #[test]
    fn deadlines_skip_weekends_and_keep_the_time_of_day() {
        let cal = china_2026();
        // Friday 16:00 → Tuesday 16:00.
        assert_eq!(cal.add_working_days(at("2026-12-04", 16, 0), 2), at("2026-12-08", 16, 0));
        // Monday 09:30 → Wednesday 09:30.
        assert_eq!(cal.add_working_days(at("2026-11-30", 9, 30), 2), at("2026-12-02", 9, 30));
        // Late on a working day: the same clock time, even outside business hours.
        assert_eq!(cal.add_working_days(at("2026-11-30", 23, 59), 1), at("2026-12-01", 23, 59));
        assert_eq!(cal.add_working_days(at("2026-11-30", 0, 0), 1), at("2026-12-01", 0, 0));
        assert_eq!(cal.add_working_days(at("2026-11-30", 9, 30), 0), at("2026-11-30", 9, 30));
    }

    #[test]
    fn arrivals_on_days_off_are_due_at_the_end_of_the_nth_working_day() {
        let cal = china_2026();
        // Saturday, any time → end of Tuesday (00:00 Wednesday).
        for (h, m) in [(0, 0), (10, 0), (23, 59)] {
            assert_eq!(cal.add_working_days(at("2026-12-05", h, m), 2), at("2026-12-09", 0, 0));
        }
        // Sunday → end of Monday for one working day.
        assert_eq!(cal.add_working_days(at("2026-12-06", 15, 0), 1), at("2026-12-08", 0, 0));
    }

    #[test]
    fn national_day_week_is_skipped_and_the_make_up_saturday_counts() {
        let cal = china_2026();
        // Wednesday 2026-09-30 15:00, the last working day before the holiday (Oct 1-7): the
        // first working day after it is Thursday Oct 8, the second Friday Oct 9.
        assert_eq!(cal.add_working_days(at("2026-09-30", 15, 0), 2), at("2026-10-09", 15, 0));
        // From Friday Oct 9 the next working day is the make-up Saturday Oct 10.
        assert_eq!(cal.add_working_days(at("2026-10-09", 11, 0), 1), at("2026-10-10", 11, 0));
        assert_eq!(cal.add_working_days(at("2026-10-09", 11, 0), 2), at("2026-10-12", 11, 0));
        // Arriving during the holiday (Oct 3, a Saturday): Oct 8 and 9 → end of Oct 9.
        assert_eq!(cal.add_working_days(at("2026-10-03", 9, 0), 2), at("2026-10-10", 0, 0));
        // Arriving on the make-up Saturday itself: it is a working day.
        assert_eq!(cal.add_working_days(at("2026-10-10", 10, 0), 2), at("2026-10-13", 10, 0));
        // Spring Festival: Friday Feb 13 → Sat Feb 14 (make-up), then Tue Feb 24.
        assert_eq!(cal.add_working_days(at("2026-02-13", 16, 0), 2), at("2026-02-24", 16, 0));
    }

    #[test]
    fn deadlines_work_at_other_utc_offsets() {
        // UTC: Friday 2026-12-04 16:00Z + 1 → Monday 16:00Z.
        let utc = Calendar::default();
        let fri = date("2026-12-04").unix_ms_at(16, 0, 0);
        assert_eq!(utc.add_working_days(fri, 1), date("2026-12-07").unix_ms_at(16, 0, 0));
        // The same instant is already Saturday 00:00 in UTC+8: a day off.
        let cal = cst();
        assert_eq!(cal.add_working_days(fri, 1), at("2026-12-08", 0, 0));
    }

    fn hours_strategy() -> impl Strategy<Value = WeeklyHours> {
        let span = (0u16..=1439, 1u16..=240).prop_map(|(s, len)| (s, (s + len).min(1440)));
        let day = proptest::collection::vec(span, 0..3);
        prop_oneof![
            1 => Just(WeeklyHours::Always),
            8 => proptest::array::uniform7(day).prop_map(|mut week| {
                for spans in &mut week {
                    merge(spans);
                }
                WeeklyHours::Weekly(week)
            }),
        ]
    }

    proptest! {
        #[test]
        fn display_parses_back_to_the_same_hours(hours in hours_strategy()) {
            let text = hours.to_string();
            prop_assert_eq!(text.parse::<WeeklyHours>().unwrap(), hours, "{}", text);
        }

        #[test]
        fn deadlines_are_after_arrival_and_grow_with_n_and_with_arrival(
            t in 1_700_000_000_000i64..1_900_000_000_000,
            dt in 0i64..5 * MS_PER_DAY,
            n in 1u32..30,
            holiday_offsets in proptest::collection::vec(0i64..40, 0..10),
            workday_offsets in proptest::collection::vec(0i64..40, 0..4),
            offset in -720i32..=840,
        ) {
            let mut cal = Calendar { utc_offset_minutes: offset, ..Calendar::default() };
            let today = t.div_euclid(MS_PER_DAY);
            for o in holiday_offsets {
                cal.holidays.insert(CivilDate::from_days_since_epoch(today + o));
            }
            for o in workday_offsets {
                cal.workdays.insert(CivilDate::from_days_since_epoch(today + o));
            }
            let due = cal.add_working_days(t, n);
            prop_assert!(due > t);
            prop_assert!(cal.add_working_days(t, n + 1) > due);
            prop_assert!(cal.add_working_days(t + dt, n) >= due);
            prop_assert_eq!(cal.add_working_days(t, 0), t);
            // At least n whole days later, and the due instant lies on (or, for the end of
            // day, right after) a working day.
            prop_assert!(due - t >= i64::from(n) * MS_PER_DAY);
            let (due_day, due_ms) = cal.local(due);
            let worked = if due_ms == 0 { due_day - 1 } else { due_day };
            prop_assert!(
                cal.is_working_day(CivilDate::from_days_since_epoch(worked))
                    || cal.is_working_day(CivilDate::from_days_since_epoch(due_day))
            );
        }

        #[test]
        fn dates_round_trip(days in -719_468i64..2_932_896) {
            let d = CivilDate::from_days_since_epoch(days);
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(d.to_string().parse::<CivilDate>().unwrap(), d);
        }

        #[test]
        fn next_opening_is_open_and_nothing_before_it_is(
            hours in hours_strategy(),
            t in 1_700_000_000_000i64..1_900_000_000_000,
            holiday_offsets in proptest::collection::vec(0i64..20, 0..4),
            samples in proptest::collection::vec(0.0f64..1.0, 8),
        ) {
            let mut cal = cst();
            let today = (t + i64::from(CST) * MS_PER_MINUTE).div_euclid(MS_PER_DAY);
            for o in holiday_offsets {
                cal.holidays.insert(CivilDate::from_days_since_epoch(today + o));
                cal.workdays.insert(CivilDate::from_days_since_epoch(today + o + 3));
            }
            match cal.next_opening(&hours, t) {
                Some(open) => {
                    prop_assert!(open >= t);
                    prop_assert!(cal.is_open(&hours, open));
                    if open > t {
                        prop_assert!(!cal.is_open(&hours, open - 1));
                    }
                    for s in samples {
                        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                        let x = t + ((open - t) as f64 * s) as i64;
                        if x < open {
                            prop_assert!(!cal.is_open(&hours, x), "open at {} before {}", x, open);
                        }
                    }
                }
                None => prop_assert!(!cal.is_open(&hours, t)),
            }
        }
    }
}
