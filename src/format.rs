//! How the console writes times, durations and measured values in words: shared by the
//! pure core (log lines, blockers, evidence) and the renderer, so it lives below both.
//! The time zone is a value the caller passes, never a global.

use chrono::{DateTime, Local, Utc};

use crate::runbook::{Metric, Unit};

/// The zone clock times are shown in: the operator's, or UTC (`--utc`; tests use it to be
/// deterministic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    #[default]
    Local,
    Utc,
}

impl Zone {
    /// HH:MM:SS in this zone.
    pub fn hms(self, t: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => t.format("%H:%M:%S").to_string(),
            Zone::Local => t.with_timezone(&Local).format("%H:%M:%S").to_string(),
        }
    }

    /// 2026-12-02 20:15:07 +08:00 in this zone: a moment for the record, zone included.
    pub fn date_time(self, t: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            Zone::Local => t
                .with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
        }
    }
}

/// 42s, 3m05s, 1h02m: for ages and countdowns.
pub fn fmt_secs(s: i64) -> String {
    let s = s.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// A pod's age: seconds while it is new (when they matter), then whole minutes, hours
/// and days as kubectl rounds them.
pub fn kube_age(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s}s")
    } else if s < 3 * 3600 {
        format!("{}m", s / 60)
    } else if s < 48 * 3600 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

/// A value in its unit, the way people read it. `None` is no data, which is not zero.
pub fn format_value(m: &Metric, v: Option<f64>) -> String {
    let Some(v) = v else { return "no data".into() };
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // The runbook's decimals where it gives them, else enough digits to read.
    let sig = |x: f64| match m.decimals {
        Some(d) if x.abs() < 1e6 => format!("{x:.*}", d as usize),
        _ => sig(x),
    };
    match m.unit {
        Unit::Percent => format!("{} %", sig(v)),
        Unit::Ratio => format!("{} %", sig(v * 100.0)),
        Unit::Seconds if v.abs() < 1.0 => match m.decimals {
            Some(_) => format!("{} ms", sig(v * 1000.0)),
            None => format!("{:.0} ms", v * 1000.0),
        },
        Unit::Seconds => format!("{} s", sig(v)),
        Unit::Milliseconds if v.abs() >= 1000.0 => format!("{} s", sig(v / 1000.0)),
        Unit::Milliseconds => match m.decimals {
            Some(_) => format!("{} ms", sig(v)),
            None => format!("{:.0} ms", v),
        },
        Unit::ReqPerSec => format!("{} req/s", sig(v)),
        Unit::PerMin => format!("{} /min", sig(v)),
        Unit::Count => sig(v),
        Unit::Bytes => bytes(v, &sig),
    }
}

/// A value and a threshold side by side, with as many more decimals as it takes for them
/// to read differently when they differ: "99.93 %" below "99.95 %", never "99.9 %" below
/// "99.9 %".
pub fn format_pair(m: &Metric, v: Option<f64>, thr: f64) -> (String, String) {
    let (a, b) = (format_value(m, v), format_value(m, Some(thr)));
    let Some(v) = v.filter(|v| v.is_finite() && *v != thr) else {
        return (a, b);
    };
    if a != b {
        return (a, b);
    }
    // The unit and scale the threshold is shown in, with more decimals.
    let (scale, suffix) = match m.unit {
        Unit::Percent => (1.0, " %"),
        Unit::Ratio => (100.0, " %"),
        Unit::Seconds if thr.abs() < 1.0 => (1000.0, " ms"),
        Unit::Seconds => (1.0, " s"),
        Unit::Milliseconds if thr.abs() >= 1000.0 => (0.001, " s"),
        Unit::Milliseconds => (1.0, " ms"),
        Unit::ReqPerSec => (1.0, " req/s"),
        Unit::PerMin => (1.0, " /min"),
        Unit::Count => (1.0, ""),
        Unit::Bytes => (1.0, " B"),
    };
    for d in 1..=9 {
        let (x, y) = (
            format!("{:.d$}{suffix}", v * scale),
            format!("{:.d$}{suffix}", thr * scale),
        );
        if x != y {
            return (x, y);
        }
    }
    (a, b)
}

/// Enough digits to read, no more: 6.02, 61.4, 1250.
fn sig(v: f64) -> String {
    let a = v.abs();
    // A figure too long for the gauge's column would push the unit and the level word off
    // the row: past a million, powers of ten.
    if a >= 1e6 {
        return format!("{v:.2e}");
    }
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn bytes(v: f64, sig: &dyn Fn(f64) -> String) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut u = 0;
    while x.abs() >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{} {}", sig(x), units[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_follow_the_zone_given() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T21:05:09Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Zone::Utc.hms(t), "21:05:09");
        assert_eq!(
            Zone::Local.hms(t),
            t.with_timezone(&Local).format("%H:%M:%S").to_string()
        );
        assert_eq!(fmt_secs(3725), "1h02m");
        assert_eq!(kube_age(7200), "120m");
    }

    #[test]
    fn the_runbook_sets_the_decimals_where_it_gives_them() {
        let yaml = "id: a\ntitle: Availability\nquery: up\nunit: percent\nwarn: 99.95\ncritical: 99\nbad: below\n";
        let mut m: Metric = serde_yaml::from_str(yaml).unwrap();
        // Three significant digits cannot tell 99.93 from the threshold 99.95.
        assert_eq!(format_value(&m, Some(99.93)), "99.9 %");
        m.decimals = Some(2);
        assert_eq!(format_value(&m, Some(99.93)), "99.93 %");
        assert_eq!(format_value(&m, Some(99.95)), "99.95 %");
        m.unit = Unit::Seconds;
        assert_eq!(format_value(&m, Some(0.4123)), "412.30 ms");
        m.unit = Unit::Bytes;
        assert_eq!(format_value(&m, Some(1536.0)), "1.50 KiB");
    }
}
