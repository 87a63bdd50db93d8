//! Timestamps written straight into the record buffer: RFC 3339 (UTC, 6 or 9 fractional
//! digits, the calendar computed once a second per thread) and RFC 3164's `Nov 26 23:41:07`.

use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The last second this thread formatted, and its `YYYY-MM-DDTHH:MM:SS` text: records
    /// mostly share their second, so the calendar arithmetic runs once a second.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch.
fn date_time(secs: u64) -> [u8; 19] {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00";
    put_digits(&mut out[0..4], year.min(9999));
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], rem / 3600);
    put_digits(&mut out[14..16], rem % 3600 / 60);
    put_digits(&mut out[17..19], rem % 60);
    out
}

/// Fills `slot` with the low decimal digits of `value`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        // `value % 10` is below 10.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes `time` as RFC 3339 in UTC with `digits` (6 or 9) fractional digits.
pub(crate) fn write_rfc3339(buf: &mut Vec<u8>, time: SystemTime, digits: u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let prefix = SECOND
        .try_with(|cache| {
            let (cached, text) = cache.get();
            if cached == secs {
                text
            } else {
                let text = date_time(secs);
                cache.set((secs, text));
                text
            }
        })
        .unwrap_or_else(|_| date_time(secs));
    buf.extend_from_slice(&prefix);
    let mut frac = *b".000000000Z";
    if digits >= 9 {
        put_digits(&mut frac[1..10], u64::from(since.subsec_nanos()));
        buf.extend_from_slice(&frac);
    } else {
        put_digits(&mut frac[1..7], u64::from(since.subsec_micros()));
        buf.extend_from_slice(&frac[..7]);
        buf.push(b'Z');
    }
}

/// Writes `time` the RFC 3164 way: `Nov 26 23:41:07` (UTC).
pub(crate) fn write_rfc3164_time(buf: &mut Vec<u8>, time: SystemTime) {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (_, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let index = usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11);
    buf.extend_from_slice(MONTHS[index]);
    buf.push(b' ');
    if day < 10 {
        buf.push(b' ');
        push_num(buf, day, 1);
    } else {
        push_num(buf, day, 2);
    }
    buf.push(b' ');
    push_num(buf, rem / 3600, 2);
    buf.push(b':');
    push_num(buf, rem % 3600 / 60, 2);
    buf.push(b':');
    push_num(buf, rem % 60, 2);
}

/// Pushes `value` as exactly `width` decimal digits (zero-padded, high digits cut).
fn push_num(buf: &mut Vec<u8>, mut value: u64, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// Year, month and day of the civil (proleptic Gregorian) calendar for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Howard Hinnant's algorithm, for non-negative day numbers.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut buf = Vec::new();
        write_rfc3339(&mut buf, at(1_700_000_000, 5), 9);
        assert_eq!(buf, b"2023-11-14T22:13:20.000000005Z");
        buf.clear();
        write_rfc3339(&mut buf, at(951_782_400, 123_456_789), 6); // 2000-02-29
        assert_eq!(buf, b"2000-02-29T00:00:00.123456Z");
        buf.clear();
        write_rfc3164_time(&mut buf, at(1_700_000_000, 0));
        assert_eq!(buf, b"Nov 14 22:13:20");
        buf.clear();
        write_rfc3164_time(&mut buf, at(1_699_000_000, 0));
        assert_eq!(buf, b"Nov  3 08:26:40");
        // Every day for 400 years agrees with humantime.
        for day in (0..146_097u64).step_by(7) {
            let t = at(day * 86_400 + 3_723, 0);
            buf.clear();
            write_rfc3339(&mut buf, t, 9);
            let expected = humantime_like(t);
            assert_eq!(String::from_utf8_lossy(&buf), expected);
        }
    }

    fn humantime_like(t: SystemTime) -> String {
        // The signal's own RFC 3339 form, from andon-core, as the reference.
        andon_core::AndonSignal::green("x")
            .with_timestamp(t)
            .timestamp_rfc3339()
    }
}
