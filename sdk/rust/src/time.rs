//! UTC timestamps: RFC 3339 parsing and formatting, and whole-day arithmetic.
//!
//! The civil-calendar conversion (proleptic Gregorian, UTC only) is implemented here so the
//! module works unchanged on wasm32-wasip2. There are no time zones beyond fixed offsets in the
//! input, no clock access (the host passes "now" in), and no date library.

use std::fmt;

use serde_json::Value;

const SECONDS_PER_DAY: i64 = 86_400;
const NANOS_PER_SECOND: u32 = 1_000_000_000;

/// A point in time: seconds and nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), UTC.
///
/// `nanoseconds` is always below 1 000 000 000 for values produced by this module. Ordering is
/// chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since the Unix epoch; negative before 1970.
    pub seconds: i64,
    /// Nanoseconds past `seconds`, in `0..1_000_000_000`.
    pub nanoseconds: u32,
}

impl Timestamp {
    /// `0001-01-01T00:00:00Z`, the value the resource model uses for "N/A" / "no information".
    pub const ZERO_TIME: Timestamp = Timestamp {
        seconds: days_from_civil(1, 1, 1) * SECONDS_PER_DAY,
        nanoseconds: 0,
    };

    /// The Unix epoch, `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Timestamp = Timestamp {
        seconds: 0,
        nanoseconds: 0,
    };

    /// Returns true if this is [`Timestamp::ZERO_TIME`].
    pub fn is_zero_time(&self) -> bool {
        *self == Self::ZERO_TIME
    }

    /// Builds a timestamp from whole seconds since the Unix epoch.
    pub const fn from_unix(seconds: i64) -> Self {
        Timestamp {
            seconds,
            nanoseconds: 0,
        }
    }

    /// Whole days elapsed from `self` to `later`, rounded down (towards negative infinity).
    ///
    /// 23h59m is 0 days; 24h is 1 day; if `later` is before `self` the result is negative
    /// (one second before is -1). Saturates instead of overflowing for extreme values.
    pub fn days_until(&self, later: Timestamp) -> i64 {
        let mut seconds = i128::from(later.seconds) - i128::from(self.seconds);
        if later.nanoseconds < self.nanoseconds {
            // Borrow one second so the nanosecond part of the difference is non-negative.
            seconds -= 1;
        }
        let days = seconds.div_euclid(i128::from(SECONDS_PER_DAY));
        i64::try_from(days).unwrap_or(if days < 0 { i64::MIN } else { i64::MAX })
    }

    /// Age of `self` at `now`, in whole days (rounded down); same as `self.days_until(now)`.
    ///
    /// Negative when `self` is in the future.
    pub fn age_days(&self, now: Timestamp) -> i64 {
        self.days_until(now)
    }
}

/// Formats as RFC 3339 in UTC, like [`format_rfc3339`], without allocating.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        );
        if year < 0 {
            write!(f, "-{:04}", year.unsigned_abs())?;
        } else {
            write!(f, "{year:04}")?;
        }
        write!(f, "-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")?;
        if self.nanoseconds != 0 {
            // Shortest exact fraction: strip trailing zeros from the 9-digit form.
            let mut digits = self.nanoseconds.min(NANOS_PER_SECOND - 1);
            let mut width = 9;
            while digits.is_multiple_of(10) {
                digits /= 10;
                width -= 1;
            }
            write!(f, ".{digits:0width$}")?;
        }
        f.write_str("Z")
    }
}

/// Why a string is not an RFC 3339 timestamp. Kept separate from [`TimeError`] so callers that
/// discard the error (such as [`parse_timestamp_value`]) never allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Syntax(&'static str),
    MonthOutOfRange(u32),
    DayOutOfRange { year: i64, month: u32, day: u32 },
    HourOutOfRange(u32),
    MinuteOutOfRange(u32),
    SecondOutOfRange(u32),
    OffsetOutOfRange,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::Syntax(expected) => write!(f, "expected {expected}"),
            Reason::MonthOutOfRange(month) => write!(f, "month {month} is out of range 01-12"),
            Reason::DayOutOfRange { year, month, day } => write!(
                f,
                "day {day} is out of range for {year:04}-{month:02} (which has {} days)",
                days_in_month(year, month)
            ),
            Reason::HourOutOfRange(hour) => write!(f, "hour {hour} is out of range 00-23"),
            Reason::MinuteOutOfRange(minute) => {
                write!(f, "minute {minute} is out of range 00-59")
            }
            Reason::SecondOutOfRange(second) => write!(
                f,
                "second {second} is out of range 00-59 (leap seconds are not supported)"
            ),
            Reason::OffsetOutOfRange => f.write_str("UTC offset is out of range (max 23:59)"),
        }
    }
}

/// A string that could not be parsed as an RFC 3339 timestamp.
///
/// The message names the offending input and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    input: String,
    reason: Reason,
}

impl TimeError {
    /// The string that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid RFC 3339 timestamp {:?}: {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for TimeError {}

/// Parses an RFC 3339 timestamp into UTC.
///
/// Accepted: `2024-05-01T12:30:00Z`; a fraction of any length (`12:30:00.123456789Z`; digits
/// beyond nanoseconds are truncated); offsets `Z`, `+HH:MM`, `-HH:MM`; lowercase `t`/`z`; and a
/// space instead of `T` (`2024-05-01 12:30:00+00:00`, as Python prints datetimes). Rejected:
/// missing offset, out-of-range fields (month 13, February 30, February 29 outside leap years,
/// hour 24, second 60 — leap seconds do not occur in AWS data), and anything after the offset.
///
/// ```
/// use palisade_sdk::time::{format_rfc3339, parse_rfc3339};
/// let ts = parse_rfc3339("2024-05-01 05:30:00-07:00").unwrap();
/// assert_eq!(format_rfc3339(ts), "2024-05-01T12:30:00Z");
/// assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
/// ```
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
    parse(s).map_err(|reason| TimeError {
        input: s.to_owned(),
        reason,
    })
}

/// Formats `ts` as RFC 3339 in UTC: `2024-05-01T12:30:00Z`, with a fraction only when the
/// nanoseconds are non-zero (shortest exact form, e.g. `.5`, `.123456789`).
///
/// Years outside 0000-9999 are written with more digits or a leading `-`, which is not valid
/// RFC 3339 and will not parse back.
pub fn format_rfc3339(ts: Timestamp) -> String {
    ts.to_string()
}

/// Reads a timestamp from a resource-model value.
///
/// A string in RFC 3339 form parses to `Some` — including `0001-01-01T00:00:00Z`, which gives
/// `Some(Timestamp::ZERO_TIME)` (check [`Timestamp::is_zero_time`]). Returns `None` for `null`,
/// non-strings, the credential-report placeholders `N/A`, `no_information` and `not_supported`,
/// and any other unparsable string. Never allocates.
pub fn parse_timestamp_value(v: &Value) -> Option<Timestamp> {
    let s = v.as_str()?;
    if matches!(s, "N/A" | "no_information" | "not_supported") {
        return None;
    }
    parse(s).ok()
}

/// Number of days in `month` (1-12) of `year`.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before 1970).
///
/// Counts in 400-year eras of 146 097 days, with years starting on March 1 so the leap day is
/// the last day of the (shifted) year and month lengths follow a fixed 153-days-per-5-months
/// pattern.
const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift so the year starts in March: January and February belong to the previous year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400); // 0..=399
    let shifted_month = ((month + 9) % 12) as i64; // March = 0 .. February = 11
    let day_of_year = (153 * shifted_month + 2) / 5 + day as i64 - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days separate 0000-03-01 (the start of era 0) from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`]: the (year, month, day) of a day count since 1970-01-01.
const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097); // 0..=146_096
    // Remove the leap days accumulated so far (one every 4 years, minus every 100th, plus the
    // 400th, which only occurs on the last day of the era), then divide by 365.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0 .. February = 11
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = era * 400 + year_of_era + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// A cursor over the ASCII bytes of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Reads exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize, what: &'static str) -> Result<u32, Reason> {
        let end = self.pos + n;
        let field = self.bytes.get(self.pos..end).ok_or(Reason::Syntax(what))?;
        let mut value = 0u32;
        for &b in field {
            if !b.is_ascii_digit() {
                return Err(Reason::Syntax(what));
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos = end;
        Ok(value)
    }

    /// Consumes `b` or fails with "expected `what`".
    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), Reason> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Reason::Syntax(what))
        }
    }
}

/// The allocation-free parser behind [`parse_rfc3339`] and [`parse_timestamp_value`].
fn parse(s: &str) -> Result<Timestamp, Reason> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "a 4-digit year at the start")?;
    c.expect(b'-', "'-' after the year")?;
    let month = c.digits(2, "a 2-digit month")?;
    c.expect(b'-', "'-' after the month")?;
    let day = c.digits(2, "a 2-digit day")?;
    match c.peek() {
        Some(b'T' | b't' | b' ') => c.pos += 1,
        _ => return Err(Reason::Syntax("'T' or ' ' between date and time")),
    }
    let hour = c.digits(2, "a 2-digit hour")?;
    c.expect(b':', "':' after the hour")?;
    let minute = c.digits(2, "a 2-digit minute")?;
    c.expect(b':', "':' after the minute")?;
    let second = c.digits(2, "2-digit seconds")?;

    let mut nanoseconds = 0u32;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let start = c.pos;
        let mut scale = NANOS_PER_SECOND;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            // Digits past the ninth are below nanosecond precision: truncate.
            if scale > 1 {
                scale /= 10;
                nanoseconds += u32::from(b - b'0') * scale;
            }
            c.pos += 1;
        }
        if c.pos == start {
            return Err(Reason::Syntax("digits after the decimal point"));
        }
    }

    let offset_seconds = match c.peek() {
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c.digits(2, "a UTC offset of the form +HH:MM")?;
            c.expect(b':', "a UTC offset of the form +HH:MM")?;
            let minutes = c.digits(2, "a UTC offset of the form +HH:MM")?;
            if hours > 23 || minutes > 59 {
                return Err(Reason::OffsetOutOfRange);
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return Err(Reason::Syntax("a UTC offset ('Z', '+HH:MM' or '-HH:MM')")),
    };
    if c.pos != c.bytes.len() {
        return Err(Reason::Syntax("end of input after the UTC offset"));
    }

    let year = i64::from(year);
    if !(1..=12).contains(&month) {
        return Err(Reason::MonthOutOfRange(month));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(Reason::DayOutOfRange { year, month, day });
    }
    if hour > 23 {
        return Err(Reason::HourOutOfRange(hour));
    }
    if minute > 59 {
        return Err(Reason::MinuteOutOfRange(minute));
    }
    if second > 59 {
        return Err(Reason::SecondOutOfRange(second));
    }

    let seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_seconds;
    Ok(Timestamp {
        seconds,
        nanoseconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        parse_rfc3339(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(s: &str) -> String {
        parse_rfc3339(s).expect_err(s).to_string()
    }

    #[test]
    fn civil_conversion_known_points() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1970, 1, 2), 1);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 5, 1), 19_844);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_844), (2024, 5, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
    }

    #[test]
    fn civil_conversion_round_trips_every_day_over_many_eras() {
        // 0000-01-01 .. 9999-12-31 plus some negative years; checks day-by-day continuity.
        let start = days_from_civil(-800, 1, 1);
        let end = days_from_civil(10_000, 1, 1);
        let (mut y, mut m, mut d) = (-800, 1, 1);
        for days in start..end {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            assert_eq!(days_from_civil(y, m, d), days);
            d += 1;
            if d > days_in_month(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2024));
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2023));
        assert!(!is_leap_year(2100));
        assert!(is_leap_year(0));
        assert!(is_leap_year(-4));
        assert_eq!(ts("2024-02-29T00:00:00Z").seconds, 1_709_164_800);
        assert_eq!(ts("2000-02-29T23:59:59Z").seconds, 951_868_799);
        assert_eq!(
            ts("2024-03-01T00:00:00Z").seconds - ts("2024-02-28T00:00:00Z").seconds,
            2 * SECONDS_PER_DAY
        );
        assert_eq!(
            ts("2023-03-01T00:00:00Z").seconds - ts("2023-02-28T00:00:00Z").seconds,
            SECONDS_PER_DAY
        );
    }

    #[test]
    fn parses_basic_utc() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp::UNIX_EPOCH);
        assert_eq!(
            ts("2024-05-01T12:30:00Z"),
            Timestamp::from_unix(1_714_566_600)
        );
        assert_eq!(ts("2038-01-19T03:14:08Z").seconds, 1 << 31);
        assert_eq!(ts("1969-12-31T23:59:59Z").seconds, -1);
        assert_eq!(ts("9999-12-31T23:59:59Z").seconds, 253_402_300_799);
    }

    #[test]
    fn parses_offsets() {
        let utc = ts("2024-05-01T12:30:00Z");
        assert_eq!(ts("2024-05-01T12:30:00+00:00"), utc);
        assert_eq!(ts("2024-05-01T12:30:00-00:00"), utc);
        assert_eq!(ts("2024-05-01T05:30:00-07:00"), utc);
        assert_eq!(ts("2024-05-01T18:00:00+05:30"), utc);
        // Offsets can move the date across a day, month and year boundary.
        assert_eq!(ts("2024-01-01T01:00:00+02:00"), ts("2023-12-31T23:00:00Z"));
        assert_eq!(ts("2024-02-28T22:00:00-03:00"), ts("2024-02-29T01:00:00Z"));
        assert_eq!(
            ts("2024-05-01T00:00:00+23:59").seconds,
            days_from_civil(2024, 5, 1) * SECONDS_PER_DAY - (23 * 3600 + 59 * 60)
        );
        assert_eq!(ts("2024-05-01T23:59:00-23:59"), ts("2024-05-02T23:58:00Z"));
    }

    #[test]
    fn parses_lowercase_and_space_separator() {
        let utc = ts("2024-05-01T12:30:00Z");
        assert_eq!(ts("2024-05-01t12:30:00z"), utc);
        assert_eq!(ts("2024-05-01 12:30:00+00:00"), utc);
        assert_eq!(ts("2024-05-01 12:30:00Z"), utc);
        // Python's str(datetime) for an IAM credential-report style value with microseconds.
        let with_micros = ts("2024-05-01 12:30:00.123456+00:00");
        assert_eq!(with_micros.seconds, utc.seconds);
        assert_eq!(with_micros.nanoseconds, 123_456_000);
    }

    #[test]
    fn parses_fractional_seconds_of_any_length() {
        let base = ts("2024-05-01T12:30:00Z").seconds;
        let cases = [
            ("2024-05-01T12:30:00.5Z", 500_000_000),
            ("2024-05-01T12:30:00.05Z", 50_000_000),
            ("2024-05-01T12:30:00.123Z", 123_000_000),
            ("2024-05-01T12:30:00.123456Z", 123_456_000),
            ("2024-05-01T12:30:00.123456789Z", 123_456_789),
            ("2024-05-01T12:30:00.1234567899999Z", 123_456_789),
            ("2024-05-01T12:30:00.000000001Z", 1),
            ("2024-05-01T12:30:00.000Z", 0),
        ];
        for (input, nanos) in cases {
            let t = ts(input);
            assert_eq!((t.seconds, t.nanoseconds), (base, nanos), "{input}");
        }
        let t = ts("2024-05-01T12:30:00.25-07:00");
        assert_eq!((t.seconds, t.nanoseconds), (base + 7 * 3600, 250_000_000));
    }

    #[test]
    fn rejects_invalid_dates_with_clear_errors() {
        assert_eq!(
            err("2024-13-01T00:00:00Z"),
            "invalid RFC 3339 timestamp \"2024-13-01T00:00:00Z\": month 13 is out of range 01-12"
        );
        assert_eq!(
            err("2024-02-30T00:00:00Z"),
            "invalid RFC 3339 timestamp \"2024-02-30T00:00:00Z\": \
             day 30 is out of range for 2024-02 (which has 29 days)"
        );
        assert!(err("2023-02-29T00:00:00Z").contains("day 29 is out of range for 2023-02"));
        assert!(err("1900-02-29T00:00:00Z").contains("which has 28 days"));
        assert!(err("2024-00-10T00:00:00Z").contains("month 0"));
        assert!(err("2024-04-31T00:00:00Z").contains("day 31"));
        assert!(err("2024-04-00T00:00:00Z").contains("day 0"));
        assert!(err("2024-05-01T24:00:00Z").contains("hour 24"));
        assert!(err("2024-05-01T12:60:00Z").contains("minute 60"));
        assert!(err("2024-05-01T12:30:60Z").contains("second 60"));
        assert!(err("2024-05-01T12:30:00+24:00").contains("offset is out of range"));
        assert!(err("2024-05-01T12:30:00+05:60").contains("offset is out of range"));
    }

    #[test]
    fn rejects_malformed_syntax() {
        let bad = [
            "",
            "N/A",
            "no_information",
            "2024-05-01",
            "2024-05-01T12:30:00",
            "2024-05-01T12:30Z",
            "2024-5-01T12:30:00Z",
            "24-05-01T12:30:00Z",
            "+2024-05-01T12:30:00Z",
            "2024/05/01T12:30:00Z",
            "2024-05-01X12:30:00Z",
            "2024-05-01T12:30:00.Z",
            "2024-05-01T12:30:00+0000",
            "2024-05-01T12:30:00+00",
            "2024-05-01T12:30:00ZZ",
            "2024-05-01T12:30:00Z ",
            " 2024-05-01T12:30:00Z",
            "2024-05-01T12:30:00 Z",
            "2024-05-01T1a:30:00Z",
            "２０２４-05-01T12:30:00Z",
        ];
        for input in bad {
            let e = parse_rfc3339(input).expect_err(input);
            assert_eq!(e.input(), input);
            assert!(e.to_string().contains("expected"), "{input}: {e}");
        }
        assert!(
            err("2024-05-01T12:30:00")
                .ends_with("expected a UTC offset ('Z', '+HH:MM' or '-HH:MM')")
        );
    }

    #[test]
    fn time_error_is_a_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(parse_rfc3339("bogus").unwrap_err());
        assert!(
            e.to_string()
                .starts_with("invalid RFC 3339 timestamp \"bogus\"")
        );
    }

    #[test]
    fn zero_time() {
        assert_eq!(Timestamp::ZERO_TIME.seconds, -62_135_596_800);
        assert!(ts("0001-01-01T00:00:00Z").is_zero_time());
        assert!(ts("0001-01-01 00:00:00+00:00").is_zero_time());
        assert!(!ts("0001-01-01T00:00:00.000000001Z").is_zero_time());
        assert!(!Timestamp::UNIX_EPOCH.is_zero_time());
        assert_eq!(format_rfc3339(Timestamp::ZERO_TIME), "0001-01-01T00:00:00Z");
        assert!(Timestamp::ZERO_TIME < ts("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn year_zero_and_pre_epoch() {
        assert_eq!(
            format_rfc3339(ts("0000-01-01T00:00:00Z")),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339(ts("0000-02-29T00:00:00Z")),
            "0000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339(ts("1969-07-20T20:17:40Z")),
            "1969-07-20T20:17:40Z"
        );
        // An offset can push year 0000 into year -1, which formats but is not RFC 3339.
        let before = ts("0000-01-01T00:30:00+01:00");
        assert_eq!(format_rfc3339(before), "-0001-12-31T23:30:00Z");
        assert!(parse_rfc3339(&format_rfc3339(before)).is_err());
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(
            format_rfc3339(Timestamp::from_unix(1_714_566_600)),
            "2024-05-01T12:30:00Z"
        );
        assert_eq!(
            format_rfc3339(Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339(Timestamp::from_unix(-1)),
            "1969-12-31T23:59:59Z"
        );
        let frac = |nanoseconds| Timestamp {
            seconds: 0,
            nanoseconds,
        };
        assert_eq!(format_rfc3339(frac(500_000_000)), "1970-01-01T00:00:00.5Z");
        assert_eq!(
            format_rfc3339(frac(123_456_789)),
            "1970-01-01T00:00:00.123456789Z"
        );
        assert_eq!(format_rfc3339(frac(1)), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(format_rfc3339(frac(10_000)), "1970-01-01T00:00:00.00001Z");
        assert_eq!(
            format_rfc3339(Timestamp::from_unix(253_402_300_800)),
            "10000-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(86_400).to_string(),
            "1970-01-02T00:00:00Z"
        );
    }

    #[test]
    fn format_parse_round_trip() {
        for input in [
            "2024-05-01T12:30:00Z",
            "2024-02-29T23:59:59.999999999Z",
            "1999-12-31T23:59:59.1Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1900-03-01T00:00:00.000001Z",
        ] {
            assert_eq!(format_rfc3339(ts(input)), input);
        }
        for seconds in [
            -62_135_596_800,
            -1,
            0,
            1,
            951_782_400,
            1_714_566_600,
            4_102_444_800,
        ] {
            let t = Timestamp::from_unix(seconds);
            assert_eq!(ts(&format_rfc3339(t)), t);
        }
    }

    #[test]
    fn days_until_floors() {
        let created = ts("2024-01-01T00:00:00Z");
        assert_eq!(created.days_until(ts("2024-01-01T00:00:00Z")), 0);
        assert_eq!(created.days_until(ts("2024-01-01T23:59:59Z")), 0);
        assert_eq!(created.days_until(ts("2024-01-01T23:59:59.999999999Z")), 0);
        assert_eq!(created.days_until(ts("2024-01-02T00:00:00Z")), 1);
        assert_eq!(
            created.days_until(ts("2024-03-01T00:00:00Z")),
            60,
            "leap year"
        );
        assert_eq!(created.days_until(ts("2025-01-01T00:00:00Z")), 366);
        assert_eq!(created.days_until(ts("2023-12-31T23:59:59Z")), -1);
        assert_eq!(created.days_until(ts("2023-12-31T00:00:00Z")), -1);
        assert_eq!(created.days_until(ts("2023-12-30T23:59:59Z")), -2);
        let half = ts("2024-01-01T00:00:00.5Z");
        assert_eq!(
            half.days_until(ts("2024-01-02T00:00:00Z")),
            0,
            "23:59:59.5 elapsed"
        );
        assert_eq!(half.days_until(ts("2024-01-02T00:00:00.5Z")), 1);
        assert_eq!(half.days_until(created), -1, "half a second earlier");
    }

    #[test]
    fn days_until_saturates() {
        let min = Timestamp::from_unix(i64::MIN);
        let max = Timestamp {
            seconds: i64::MAX,
            nanoseconds: 999_999_999,
        };
        assert_eq!(min.days_until(max), i64::MAX / SECONDS_PER_DAY * 2 + 1);
        assert_eq!(max.days_until(min), -(i64::MAX / SECONDS_PER_DAY * 2 + 2));
        assert_eq!(max.days_until(max), 0);
    }

    #[test]
    fn age_days_for_access_key_rotation() {
        let now = ts("2024-05-01T12:30:00Z");
        let created = ts("2024-01-31T18:00:00+00:00");
        assert_eq!(created.age_days(now), 90);
        assert_eq!(created.age_days(now), created.days_until(now));
        assert_eq!(
            ts("2024-06-01T00:00:00Z").age_days(now),
            -31,
            "future timestamps"
        );
        assert_eq!(Timestamp::ZERO_TIME.age_days(now), 739_006);
    }

    #[test]
    fn from_unix() {
        assert_eq!(
            Timestamp::from_unix(42),
            Timestamp {
                seconds: 42,
                nanoseconds: 0
            }
        );
    }

    #[test]
    fn ordering_is_chronological() {
        let mut v = [
            ts("2024-05-01T12:30:00.5Z"),
            ts("2024-05-01T12:30:00Z"),
            ts("1969-01-01T00:00:00Z"),
            Timestamp::ZERO_TIME,
        ];
        v.sort();
        assert_eq!(v[0], Timestamp::ZERO_TIME);
        assert_eq!(v[3].nanoseconds, 500_000_000);
    }

    #[test]
    fn timestamp_values_from_the_resource_model() {
        // Shapes from an IAM credential report row and an access key listing.
        let row = json!({
            "user": "alice",
            "user_creation_time": "2023-01-15T09:01:02+00:00",
            "password_last_used": "no_information",
            "password_last_changed": "N/A",
            "password_next_rotation": "not_supported",
            "access_key_1_last_used_date": null,
            "cert_1_last_rotated": "0001-01-01T00:00:00Z",
            "CreateDate": "2024-05-01 12:30:00.123456+00:00",
            "mfa_active": false,
            "epoch": 1714566600,
            "garbage": "yesterday"
        });
        assert_eq!(
            parse_timestamp_value(&row["user_creation_time"]),
            Some(ts("2023-01-15T09:01:02Z"))
        );
        assert_eq!(parse_timestamp_value(&row["password_last_used"]), None);
        assert_eq!(parse_timestamp_value(&row["password_last_changed"]), None);
        assert_eq!(parse_timestamp_value(&row["password_next_rotation"]), None);
        assert_eq!(
            parse_timestamp_value(&row["access_key_1_last_used_date"]),
            None
        );
        assert_eq!(parse_timestamp_value(&row["missing"]), None);
        assert_eq!(
            parse_timestamp_value(&row["cert_1_last_rotated"]),
            Some(Timestamp::ZERO_TIME)
        );
        assert_eq!(
            parse_timestamp_value(&row["CreateDate"]).map(|t| t.nanoseconds),
            Some(123_456_000)
        );
        assert_eq!(parse_timestamp_value(&row["mfa_active"]), None);
        assert_eq!(
            parse_timestamp_value(&row["epoch"]),
            None,
            "numbers are not timestamps"
        );
        assert_eq!(parse_timestamp_value(&row["garbage"]), None);
    }
}
