//! Durations on the command line and in messages: [`parse_duration`] ("30m", "90s", "1h30m",
//! "500ms"; a number needs its unit, but for 0; never longer than [`MAX_DURATION`]) and [`humanize`], its inverse
//! for messages. Pure.

use std::time::Duration;

/// "30m", "90s", "1h5m".
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, 0) => format!("{}ms", d.as_millis()),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Parse "30m", "90s", "1h", "500ms" or "1h30m". A bare number other than 0 is refused with a
/// hint: `--timeout 30` would be 30 seconds to some and 30 minutes to others.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return match n {
            0 => Ok(Duration::ZERO),
            n => Err(format!(
                "'{t}' has no unit: a duration needs one, e.g. {n}s or {n}m (units: ms, s, m, h)"
            )),
        };
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let mut unit = ch.to_string();
        if ch == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration '{s}' (examples: 30m, 90s, 1h)"))?;
        num.clear();
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration '{s}': unknown unit '{unit}' (use ms, s, m, h)"
                ))
            }
        };
        // try_: a huge number is an error, not a panic; checked_: so is a huge sum.
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| too_long(s))?;
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration '{s}': number without unit (use ms, s, m, h)"
        ));
    }
    if total > MAX_DURATION {
        return Err(too_long(s));
    }
    Ok(total)
}

/// The longest duration accepted: the longest a manual approval can wait (CodePipeline's
/// `timeoutInMinutes` is at most 86,400 minutes, 60 days; the default is 7 days), and small
/// enough that `now + duration` can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(60 * 24 * 3600);

fn too_long(s: &str) -> String {
    format!("invalid duration '{s}': longer than 60 days (the longest a CodePipeline approval can wait)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        let bare = parse_duration("45").unwrap_err();
        assert!(bare.contains("45s or 45m"), "{bare}");
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
        // Huge values are errors, never a panic in Duration or in `now + timeout`.
        for huge in [
            "99999999999999999999999h",
            "18446744073709551615",
            "18446744073709551615s",
            "61d",
            "1441h",
        ] {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        assert!(parse_duration(&format!("1{}s", "0".repeat(400))).is_err());
        assert_eq!(parse_duration("1440h").unwrap(), MAX_DURATION);
        assert_eq!(
            MAX_DURATION,
            crate::approval::APPROVAL_TIMEOUT_MAX,
            "an approval's longest wait fits in --timeout"
        );
        assert_eq!(humanize(Duration::from_secs(1800)), "30m");
    }
}
