//! Gauge state: the last reading with its sample time, recent history, and its level.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::runbook::{Bad, Metric};

/// How many points a sparkline keeps.
pub const HISTORY: usize = 120;

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

#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// The query answered with a value sampled at `at`.
    Value { value: f64, at: DateTime<Utc> },
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
    pub last_value: Option<(f64, DateTime<Utc>)>,
    pub history: VecDeque<f64>,
    /// The level last announced in the log, so a crossing is logged once.
    pub announced: Option<Level>,
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

    /// The level to show: only a fresh value has one; everything else is Unknown.
    pub fn level(&self, m: &Metric, now: DateTime<Utc>, stale_after: i64) -> Level {
        match &self.reading {
            Some(Reading::Value { value, .. }) if !self.is_stale(now, stale_after) => {
                level_of(m, *value)
            }
            _ => Level::Unknown,
        }
    }

    pub fn push_history(&mut self, v: f64) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(v);
    }
}
