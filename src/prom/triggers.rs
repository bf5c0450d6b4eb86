//! The automatic rollback triggers' source: each refresh, every condition of every
//! automatic trigger is judged on Prometheus' own history of its series (a range query
//! over the condition's duration and then some), on a grid of steps aligned to the
//! clock, so every console asks about the same instants and hears the same answer.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::Prom;
use crate::event::Event;
use crate::runbook::{Condition, Metric, Runbook, TriggerKind};
use crate::state::triggers::{Verdict, verdict};

/// Prometheus refuses a range query of more than 11 000 points per series.
const MAX_POINTS: i64 = 10_000;

/// One condition to judge: which trigger and condition it is, its metric and bounds.
#[derive(Debug, Clone)]
pub struct Watch {
    pub trigger: usize,
    pub cond: usize,
    pub metric: Metric,
    pub condition: Condition,
    /// How far back to look: the condition's duration, the countdown and two steps, so
    /// the moment a run reached its duration is seen even once the countdown has begun.
    pub lookback: Duration,
}

/// Every condition of the runbook's automatic triggers.
pub fn watches(rb: &Runbook, step: Duration) -> Vec<Watch> {
    let mut out = Vec::new();
    for (ti, t) in rb.rollback_triggers.iter().enumerate() {
        if t.kind != TriggerKind::Automatic {
            continue;
        }
        for (ci, c) in t.conditions.iter().enumerate() {
            let Some(m) = rb.metrics.iter().find(|m| m.id == c.metric) else {
                continue;
            };
            out.push(Watch {
                trigger: ti,
                cond: ci,
                metric: m.clone(),
                condition: c.clone(),
                lookback: c
                    .for_
                    .0
                    .saturating_add(t.countdown().0)
                    .saturating_add(step * 2),
            });
        }
    }
    out
}

/// The end of the evaluation grid: now, rounded down to a whole step since the epoch.
pub fn grid_end(now: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let step_ms = (step.as_millis() as i64).max(1);
    let ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(step_ms)).unwrap_or(now)
}

fn matches(labels: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Judge one condition from a range answer.
pub fn judge(w: &Watch, series: Vec<super::Points>, end: DateTime<Utc>, step: Duration) -> Verdict {
    let chosen: Vec<super::Points> = series
        .into_iter()
        .filter(|s| matches(&s.labels, &w.metric.pick) && matches(&s.labels, &w.condition.series))
        .collect();
    let want = || {
        let inner: Vec<String> = w
            .condition
            .series
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{{{}}}", inner.join(","))
    };
    match chosen.len() {
        0 => Verdict::Unknown {
            why: if w.condition.series.is_empty() {
                "no data: the query matched no series".into()
            } else {
                format!("no data: no series {}", want())
            },
        },
        1 => verdict(
            &w.condition,
            &chosen[0].points,
            end,
            step.as_millis() as i64,
        ),
        n => Verdict::Unknown {
            why: format!(
                "the query returned {n} series{}: a trigger reads one; name it with `series:`",
                if w.condition.series.is_empty() {
                    String::new()
                } else {
                    format!(" matching {}", want())
                }
            ),
        },
    }
}

fn is_on(on: &[bool], w: &Watch) -> bool {
    on.get(w.trigger).copied().unwrap_or(false)
}

/// Judge the conditions of the armed triggers each round, on the grid of `step`, sending
/// each verdict as it arrives. `armed` says which triggers are armed (by index, as the
/// console's state has it): a trigger armed afresh is judged at once, on the grid's last
/// step, and one that is not armed costs Prometheus nothing.
pub fn spawn(
    prom: Prom,
    watches: Vec<Watch>,
    step: Duration,
    mut rounds: crate::beat::Rounds,
    mut armed: tokio::sync::watch::Receiver<Vec<bool>>,
    tx: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if watches.is_empty() {
            return;
        }
        let mut on = armed.borrow_and_update().clone();
        // With the console's state gone, the last word on what is armed stands.
        let mut listening = true;
        loop {
            let now = tokio::select! {
                r = rounds.next() => match r {
                    Some(now) => now,
                    None => return,
                },
                c = armed.changed(), if listening => {
                    if c.is_err() {
                        listening = false;
                        continue;
                    }
                    let was = std::mem::replace(&mut on, armed.borrow_and_update().clone());
                    if !watches.iter().any(|w| is_on(&on, w) && !is_on(&was, w)) {
                        continue;
                    }
                    Utc::now()
                }
            };
            let end = grid_end(now, step);
            let judged: Vec<Watch> = watches.iter().filter(|w| is_on(&on, w)).cloned().collect();
            let mut answers = futures::stream::iter(judged)
                .map(|w| {
                    let prom = prom.clone();
                    async move {
                        let span = chrono::Duration::from_std(w.lookback)
                            .unwrap_or(chrono::Duration::days(1));
                        // A long duration at a short step would pass Prometheus' limit on
                        // points: widen the step rather than be refused.
                        let step_ms = (step.as_millis() as i64)
                            .max(span.num_milliseconds() / MAX_POINTS)
                            .max(1);
                        let q_step = Duration::from_millis(step_ms as u64);
                        let r = prom.range(&w.metric.query, end - span, end, q_step).await;
                        let v = match r {
                            Ok(series) => judge(&w, series, end, q_step),
                            Err(e) => Verdict::Unknown {
                                why: format!("the query fails: {e}"),
                            },
                        };
                        (w.trigger, w.cond, v)
                    }
                })
                .buffer_unordered(super::CONCURRENCY);
            while let Some((trigger, cond, verdict)) = answers.next().await {
                if tx
                    .send(Event::Trigger {
                        trigger,
                        cond,
                        at: end,
                        verdict,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    })
}
