//! Gauge state: the last reading with its sample time, recent history, and its level.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::runbook::{Bad, DEFAULT_WINDOW, Metric, Runbook};

/// At most this many points of history per gauge; a sparkline's window is cut to fit.
pub const HISTORY: usize = 720;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No data, an error, or data too old to trust.
    Unknown,
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Unknown => "UNKNOWN",
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Critical => "CRITICAL",
        }
    }
}

/// One of several series shown side by side (`split_by`), named by its label value.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub key: String,
    pub value: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// The query answered with a value sampled at `at`.
    Value { value: f64, at: DateTime<Utc> },
    /// Several series, in the order to show them; never empty (that is `NoData`).
    Split(Vec<Part>),
    /// The query answered with no series: no data is not zero.
    NoData,
    /// The query failed; the message says why in plain words.
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricState {
    pub reading: Option<Reading>,
    /// When the last answer (of any kind) arrived.
    pub fetched: Option<DateTime<Utc>>,
    /// When the last value was sampled; kept across errors so staleness keeps counting.
    /// For a split gauge: its worst part's value and the oldest part's time.
    pub last_value: Option<(f64, DateTime<Utc>)>,
    /// The last split values, kept across errors like `last_value`.
    pub last_parts: Vec<Part>,
    /// One point per answer, oldest first; for a split gauge the worst part's value.
    pub history: VecDeque<f64>,
    /// The level last announced in the log, so a crossing is logged once.
    pub announced: Option<Level>,
}

/// The worse of two values for this metric (NaN is never worse than a number).
pub fn worse(m: &Metric, a: f64, b: f64) -> f64 {
    if a.is_nan() {
        return b;
    }
    if b.is_nan() {
        return a;
    }
    match m.bad {
        Bad::Above => a.max(b),
        Bad::Below => a.min(b),
    }
}

/// How many recent points a gauge's sparkline spans: its window over the refresh interval.
pub fn window_points(rb: &Runbook, m: &Metric) -> usize {
    let p = rb.prometheus.as_ref();
    let refresh = p
        .map(|p| p.refresh.0.as_secs_f64())
        .unwrap_or(5.0)
        .max(0.001);
    let window = m
        .window
        .or_else(|| p.and_then(|p| p.window))
        .unwrap_or(DEFAULT_WINDOW)
        .0
        .as_secs_f64();
    ((window / refresh).ceil() as usize).clamp(1, HISTORY)
}

pub fn level_of(m: &Metric, v: f64) -> Level {
    if v.is_nan() {
        return Level::Unknown;
    }
    let (warn, crit) = match m.bad {
        Bad::Above => (v > m.warn, v > m.critical),
        Bad::Below => (v < m.warn, v < m.critical),
    };
    if crit {
        Level::Critical
    } else if warn {
        Level::Warn
    } else {
        Level::Ok
    }
}

impl MetricState {
    /// Seconds since the value was sampled, if there is one.
    pub fn age(&self, now: DateTime<Utc>) -> Option<i64> {
        self.last_value
            .map(|(_, at)| (now - at).num_seconds().max(0))
    }

    pub fn is_stale(&self, now: DateTime<Utc>, stale_after: i64) -> bool {
        match self.age(now) {
            Some(a) => a > stale_after,
            None => false,
        }
    }

    /// The level to show: only a fresh value has one; everything else is Unknown. A
    /// split gauge is as bad as its worst part.
    pub fn level(&self, m: &Metric, now: DateTime<Utc>, stale_after: i64) -> Level {
        if self.is_stale(now, stale_after) {
            return Level::Unknown;
        }
        self.answer_level(m)
    }

    /// The level to show, leaving out the part named `skip` (a track that serves nothing).
    pub fn level_skipping(
        &self,
        m: &Metric,
        now: DateTime<Utc>,
        stale_after: i64,
        skip: Option<&str>,
    ) -> Level {
        if self.is_stale(now, stale_after) {
            return Level::Unknown;
        }
        self.answer_level_skipping(m, skip)
    }

    /// The level of the last values the gauge had, however old and whatever failed
    /// since: what losing the data must not clear.
    pub fn last_known_level(&self, m: &Metric, skip: Option<&str>) -> Level {
        if !self.last_parts.is_empty() {
            return self
                .last_parts
                .iter()
                .filter(|p| Some(p.key.as_str()) != skip)
                .map(|p| level_of(m, p.value))
                .max()
                .unwrap_or(Level::Unknown);
        }
        self.last_value
            .map_or(Level::Unknown, |(v, _)| level_of(m, v))
    }

    /// The level the last answer says, however old it is.
    pub fn answer_level(&self, m: &Metric) -> Level {
        self.answer_level_skipping(m, None)
    }

    pub fn answer_level_skipping(&self, m: &Metric, skip: Option<&str>) -> Level {
        match &self.reading {
            Some(Reading::Value { value, .. }) => level_of(m, *value),
            Some(Reading::Split(parts)) => parts
                .iter()
                .filter(|p| Some(p.key.as_str()) != skip)
                .map(|p| level_of(m, p.value))
                .max()
                .unwrap_or(Level::Unknown),
            _ => Level::Unknown,
        }
    }

    /// Take one answer fetched at `fetched`; whether anything on screen changes. `points`
    /// is how many of the latest values the sparkline spans ([`window_points`]).
    pub fn record(
        &mut self,
        m: &Metric,
        reading: Reading,
        fetched: DateTime<Utc>,
        (now, stale_after): (DateTime<Utc>, i64),
        points: usize,
    ) -> bool {
        // Only a different value, kind of answer, or sparkline changes what is on screen;
        // the sample time alone is not shown while the value is fresh.
        let mut changed = match (&self.reading, &reading) {
            (Some(Reading::Value { .. }), Reading::Value { .. })
            | (Some(Reading::NoData), Reading::NoData) => false,
            (Some(Reading::Split(a)), Reading::Split(b)) => {
                a.len() != b.len()
                    || a.iter()
                        .zip(b)
                        .any(|(x, y)| x.key != y.key || x.value.to_bits() != y.value.to_bits())
            }
            (Some(Reading::Error(a)), Reading::Error(b)) => a != b,
            _ => true,
        };
        let sample = match &reading {
            Reading::Value { value, at } => Some((*value, *at)),
            Reading::Split(parts) => {
                let worst = parts.iter().fold(f64::NAN, |w, p| worse(m, w, p.value));
                let oldest = parts.iter().map(|p| p.at).min();
                self.last_parts = parts.clone();
                oldest.map(|at| (worst, at))
            }
            _ => None,
        };
        if let Some((value, at)) = sample {
            if value.is_finite() {
                // The sparkline moves unless its whole span already holds this value:
                // then the value that scrolls out equals the one that comes in.
                let span = points.clamp(1, HISTORY);
                changed |= self.history.len() < span
                    || self
                        .history
                        .iter()
                        .rev()
                        .take(span)
                        .any(|v| v.to_bits() != value.to_bits());
                self.push_history(value);
            }
            changed |= self.last_value.map(|v| v.0.to_bits()) != Some(value.to_bits());
            changed |= self.is_stale(now, stale_after);
            self.last_value = Some((value, at));
        }
        self.reading = Some(reading);
        self.fetched = Some(fetched);
        changed
    }

    pub fn push_history(&mut self, v: f64) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(v);
    }
}
