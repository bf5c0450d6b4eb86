//! Automatic rollback triggers, judged on Prometheus' own history rather than on the
//! console's memory: whether "canary error rate > 5 % for 1m" holds is read off the series
//! over that window, so a restarted console, a second console and one whose Prometheus
//! came back all reach the same verdict about the same moment.

use chrono::{DateTime, Utc};

use crate::runbook::Condition;

/// What the latest evaluation of one condition found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition holds at the latest step and has held at every step since `since`
    /// (the earliest step of the unbroken run, as far back as the query reached).
    Holds { since: DateTime<Utc>, value: f64 },
    /// The latest step's value is within the bound.
    Clear { value: f64 },
    /// No value at the latest step, or the query failed: nothing is known.
    Unknown { why: String },
}

/// One condition of a trigger: the latest verdict, the step it is for, and since when the
/// condition has been unknown (kept across unknown verdicts).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CondState {
    pub verdict: Option<Verdict>,
    pub at: Option<DateTime<Utc>>,
    pub unknown_since: Option<DateTime<Utc>>,
}

/// A trigger that is met: when (from the history: the run's start plus the condition's
/// duration, the same on every console), the evidence in words, and since when no fresh
/// data has confirmed it (it stays met until fresh data shows it clear).
#[derive(Debug, Clone, PartialEq)]
pub struct Met {
    pub at: DateTime<Utc>,
    pub evidence: String,
    pub data_lost: Option<DateTime<Utc>>,
}

/// The lead stopped the automatic rollback for the episode met at or before `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TriggerState {
    pub conds: Vec<CondState>,
    pub met: Option<Met>,
    pub cancelled: Option<Cancelled>,
}

impl TriggerState {
    pub fn new(conditions: usize) -> Self {
        TriggerState {
            conds: vec![CondState::default(); conditions],
            met: None,
            cancelled: None,
        }
    }

    /// The automatic rollback of the current episode was cancelled.
    pub fn cancelled_now(&self) -> bool {
        match (&self.met, &self.cancelled) {
            (Some(m), Some(c)) => c.at >= m.at,
            _ => false,
        }
    }
}

/// Whether a value is past the condition's bound.
pub fn past(c: &Condition, v: f64) -> bool {
    c.above.is_some_and(|a| v > a) || c.below.is_some_and(|b| v < b)
}

/// Judge one condition from a series evaluated at `step` intervals up to `end` (points in
/// milliseconds, oldest first). The latest point must be at `end`: a series that stopped
/// before it is unknown now, not clear. A missing step breaks a run: a condition is only
/// said to have held where every step says so.
pub fn verdict(c: &Condition, points: &[(i64, f64)], end: DateTime<Utc>, step_ms: i64) -> Verdict {
    let end_ms = end.timestamp_millis();
    let step_ms = step_ms.max(1);
    let Some(&(last_t, last_v)) = points.last() else {
        return Verdict::Unknown {
            why: "no data: the series is absent".into(),
        };
    };
    if end_ms - last_t >= step_ms || last_v.is_nan() {
        return Verdict::Unknown {
            why: "no data at the latest evaluation".into(),
        };
    }
    if !past(c, last_v) {
        return Verdict::Clear { value: last_v };
    }
    let mut since = last_t;
    for w in points.windows(2).rev() {
        let (t0, v0) = w[0];
        let (t1, _) = w[1];
        if t1 - t0 > step_ms + step_ms / 2 || v0.is_nan() || !past(c, v0) {
            break;
        }
        since = t0;
    }
    Verdict::Holds {
        since: DateTime::from_timestamp_millis(since).unwrap_or(end),
        value: last_v,
    }
}

/// The driving console's automatic-rollback countdown, as it publishes it on the Lease:
/// what a console that does not drive shows, whatever stage its own journal is at.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteCountdown {
    pub trigger: String,
    pub deadline: DateTime<Utc>,
    pub evidence: String,
}
