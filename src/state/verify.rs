//! Verified items: when an item's `verify:` applies, and the verdicts the console reaches
//! on its own data (a gauge, the watched Deployments and pods). Verdicts that need a
//! request of their own (PromQL, a one-off read, an HTTP probe) come back from `probe`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::State;
use crate::cluster::{DeployView, Link, RolloutStatus, rollout_status};
use crate::i18n::{tr, trf};
use crate::journal::Verdict;
use crate::runbook::Verify;
use crate::runbook::verify::{KubeCheck, Track};

/// A verification's verdict, with its evidence: what was seen (pass), what failed, or why
/// it cannot be known.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub evidence: String,
    /// Not yet a verdict to record, though the gate reads it: a failure only because a
    /// rollout is under way and progressing (as Kubernetes says: not past its progress
    /// deadline), or unknown only because this console has had no answer yet since it
    /// started. The item is not marked failed, nor opened again, for it.
    pub not_yet: bool,
}

impl Outcome {
    pub fn pass(e: String) -> Self {
        Outcome {
            verdict: Verdict::Pass,
            evidence: e,
            not_yet: false,
        }
    }
    pub fn fail(e: String) -> Self {
        Outcome {
            verdict: Verdict::Fail,
            evidence: e,
            not_yet: false,
        }
    }
    pub fn unknown(e: String) -> Self {
        Outcome {
            verdict: Verdict::Unknown,
            evidence: e,
            not_yet: false,
        }
    }
}

/// The last verdict on an item, when it was reached, and a probe in flight.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Check {
    pub last: Option<(Outcome, DateTime<Utc>)>,
    /// A probe sent and not answered yet, since when.
    pub asked: Option<DateTime<Utc>>,
    /// Since when a check read from the watches has failed without the failure being
    /// journaled yet (a rollout under way passes through states that are not failures).
    pub failing_since: Option<DateTime<Utc>>,
}

/// A probe's verdict older than this no longer settles a gate.
pub const FRESH_SECS: i64 = 90;
/// How often a probe is repeated while its item applies.
pub const PROBE_EVERY_SECS: i64 = 30;
/// How long a check read from the watches must fail before the item is marked failed:
/// the cluster passes through states that are not failures while a rollout it was asked
/// for is under way (the gate reads the verdict at once regardless).
pub const FAIL_GRACE_SECS: i64 = 10;

/// The Deployment is between two templates (or its new spec is not seen yet), and not past
/// its progress deadline: pods not ready then are progress, not failure. Pods that go
/// unready once the rollout is complete are a failure.
fn rolling_out(d: &DeployView) -> bool {
    !matches!(rollout_status(d), RolloutStatus::Failed(_))
        && (d.generation > d.observed_generation || d.updated < d.desired || d.replicas > d.updated)
}

/// Restart counts of the pods as they were when the stage in force began.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartBase {
    pub taken: bool,
    pub began: Option<DateTime<Utc>>,
    pub counts: HashMap<String, u32>,
}

impl State {
    /// Whether item `i`'s verification applies now: an item gating a stage while that
    /// stage is the next one; a post-rollback check after a rollback; any other check
    /// gating no stage once the last stage is in force.
    pub fn verify_due(&self, i: usize) -> bool {
        let it = &self.checklist.items[i];
        if it.verify.is_none() {
            return false;
        }
        // While the console's own action is under way the cluster is changing because of
        // it: what it verified before deciding stands until the action is answered.
        if self.stages.pending.is_some() {
            return false;
        }
        if it.after_rollback {
            return self.stages.rolled_back.is_some() && self.stages.current.is_none();
        }
        let next = self.stages.current.map_or(0, |c| c + 1);
        match it.gates.as_deref().and_then(|g| self.rb.stage_index(g)) {
            Some(g) => g == next,
            None => self.stages.current == Some(self.rb.stages.len().saturating_sub(1)),
        }
    }

    /// The verdict on item `i` from data the console already has; None for a probe
    /// (PromQL, a one-off read, HTTP), which needs a request of its own.
    pub fn judge(&self, i: usize) -> Option<Outcome> {
        let v = self.checklist.items[i].verify.as_ref()?;
        if let Some(g) = &v.gauge {
            return Some(self.judge_gauge(v, g));
        }
        match v.kube.as_ref()? {
            k if k.watched() => Some(self.judge_kube(v, k)),
            _ => None,
        }
    }

    fn judge_gauge(&self, v: &Verify, id: &str) -> Outcome {
        let Some(gi) = self.rb.metrics.iter().position(|m| m.id == id) else {
            return Outcome::unknown(trf(self.lang, "the runbook has no gauge `{}`", &[&id]));
        };
        let def = &self.rb.metrics[gi];
        let m = &self.metrics[gi];
        let (above, bound) = match (&v.above, &v.below) {
            (Some(b), _) => (true, b.value(Some(def.unit))),
            (None, Some(b)) => (false, b.value(Some(def.unit))),
            (None, None) => {
                return Outcome::unknown(tr(self.lang, "no bound to compare with").into());
            }
        };
        let Ok(bound) = bound else {
            return Outcome::unknown(tr(self.lang, "its bound is not in the gauge's unit").into());
        };
        let fmt = |x: f64| crate::format::format_value(def, Some(x));
        let sym = if above { ">" } else { "<" };
        if m.is_stale(self.now, self.stale_after) || m.last_value.is_none() {
            let since = m
                .last_value
                .map(|(_, at)| {
                    trf(
                        self.lang,
                        ": no fresh value since {}",
                        &[&self.zone.hms(at)],
                    )
                })
                .unwrap_or_else(|| tr(self.lang, ": no value yet").into());
            return Outcome {
                // Prometheus has not answered this console yet at all.
                not_yet: m.last_value.is_none() && m.reading.is_none(),
                ..Outcome::unknown(format!("{}{since}", def.title))
            };
        }
        use super::metrics::Reading;
        let values: Vec<(String, f64)> = match &m.reading {
            Some(Reading::Value { value, .. }) => vec![(String::new(), *value)],
            Some(Reading::Split(parts)) => {
                let want = def.split_by.as_ref().and_then(|by| v.series.get(by));
                let picked: Vec<(String, f64)> = parts
                    .iter()
                    .filter(|p| want.is_none_or(|w| &p.key == w))
                    .map(|p| (format!("{} ", p.key), p.value))
                    .collect();
                if picked.is_empty() {
                    return Outcome::unknown(trf(
                        self.lang,
                        "{}: no series {} in its last answer",
                        &[&def.title, &want.map(String::as_str).unwrap_or("")],
                    ));
                }
                picked
            }
            Some(Reading::NoData) => {
                return Outcome::unknown(trf(
                    self.lang,
                    "{}: the query matched no series",
                    &[&def.title],
                ));
            }
            Some(Reading::Error(e)) => {
                return Outcome::unknown(trf(
                    self.lang,
                    "{}: the query fails: {}",
                    &[&def.title, e],
                ));
            }
            None => return Outcome::unknown(trf(self.lang, "{}: no value yet", &[&def.title])),
        };
        if values.iter().any(|(_, x)| x.is_nan()) {
            // 0/0: a track that serves nothing has no rate to compare.
            return Outcome::unknown(trf(
                self.lang,
                "{}: the query returned NaN (no traffic?)",
                &[&def.title],
            ));
        }
        let ok = |x: f64| if above { x > bound } else { x < bound };
        let said: Vec<String> = values
            .iter()
            .map(|(k, x)| format!("{k}{} {sym} {}", fmt(*x), fmt(bound)))
            .collect();
        let bad: Vec<String> = values
            .iter()
            .filter(|(_, x)| !ok(*x))
            .map(|(k, x)| {
                let not = if above { "≤" } else { "≥" };
                format!("{k}{} {not} {}", fmt(*x), fmt(bound))
            })
            .collect();
        let sep = self.lang.list();
        if bad.is_empty() {
            Outcome::pass(format!("{} {}", def.title, said.join(sep)))
        } else {
            Outcome::fail(format!("{} {}", def.title, bad.join(sep)))
        }
    }

    /// The Deployments a watched check reads, on every target: the one it names, else
    /// those that should serve now (the canary only while a canary stage is in force).
    fn deployments_for(&self, v: &Verify) -> Vec<&str> {
        let canary_serves = self
            .stages
            .current
            .is_some_and(|c| self.rb.stages[c].traffic < 100);
        // A target still waiting its turn at the stage in force has no canary to judge.
        self.rb
            .targets
            .iter()
            .enumerate()
            .flat_map(|(t, k)| {
                let waiting = self.stages.queue.contains(&t);
                match v.deployment {
                    Some(Track::Stable) => vec![k.stable.as_str()],
                    Some(Track::Canary) if waiting => vec![],
                    Some(Track::Canary) => vec![k.canary.as_str()],
                    None if canary_serves && !waiting => vec![k.stable.as_str(), k.canary.as_str()],
                    None => vec![k.stable.as_str()],
                }
            })
            .collect()
    }

    fn judge_kube(&self, v: &Verify, check: &KubeCheck) -> Outcome {
        match &self.cluster.link {
            Link::Live => {}
            Link::Connecting => {
                return Outcome {
                    not_yet: true,
                    ..Outcome::unknown(
                        tr(self.lang, "no answer from the Kubernetes API yet").into(),
                    )
                };
            }
            Link::Lost { since, error } => {
                return Outcome::unknown(trf(
                    self.lang,
                    "the Kubernetes API is unreachable since {}: {}",
                    &[&self.zone.hms(*since), error],
                ));
            }
        }
        let mut seen = Vec::new();
        let mut bad = Vec::new();
        // Failures that are only a rollout still progressing.
        let mut rolling = 0;
        let names = self.deployments_for(v);
        if names.is_empty() {
            // Every canary waits its turn at this stage: nothing proves anything yet.
            return Outcome {
                not_yet: true,
                ..Outcome::fail(
                    tr(
                        self.lang,
                        "no canary serves yet: every target waits its turn",
                    )
                    .into(),
                )
            };
        }
        for name in names {
            let Some(d) = self.cluster.deployment(name) else {
                bad.push(trf(
                    self.lang,
                    "Deployment {} is not in the cluster",
                    &[&name],
                ));
                continue;
            };
            // Nothing asked for is not "all ready": 0/0 proves nothing.
            if d.desired == 0 && matches!(check, KubeCheck::Available | KubeCheck::PodsReady) {
                bad.push(trf(
                    self.lang,
                    "{} has 0 replicas: nothing serves",
                    &[&name],
                ));
                continue;
            }
            match check {
                KubeCheck::Available => match rollout_status(d) {
                    RolloutStatus::Complete if d.available >= d.desired => seen.push(trf(
                        self.lang,
                        "{} {}/{} available",
                        &[&name, &d.available, &d.desired],
                    )),
                    RolloutStatus::Complete => bad.push(trf(
                        self.lang,
                        "{}: {}/{} available",
                        &[&name, &d.available, &d.desired],
                    )),
                    RolloutStatus::Waiting(w) if rolling_out(d) => {
                        rolling += 1;
                        bad.push(trf(self.lang, "{}: rolling out: {}", &[&name, &w]))
                    }
                    RolloutStatus::Waiting(w) => bad.push(format!("{name}: {w}")),
                    RolloutStatus::Failed(w) => bad.push(format!("{name}: {w}")),
                },
                KubeCheck::PodsReady => {
                    let progressing = rolling_out(d);
                    // The current revision's pods, leaving those on their way out.
                    let pods: Vec<_> = self
                        .cluster
                        .pods_of(&d.name, Some(&d.revision))
                        .filter(|p| p.status != "Terminating")
                        .collect();
                    let ready: Vec<_> = pods.iter().filter(|p| p.ready()).collect();
                    let not: Vec<String> = pods
                        .iter()
                        .filter(|p| !p.ready())
                        .map(|p| format!("{} {}", p.name, p.status))
                        .collect();
                    let before = bad.len();
                    if ready.len() as u32 >= d.desired && not.is_empty() {
                        seen.push(trf(
                            self.lang,
                            "{} {}/{} pods ready",
                            &[&name, &ready.len(), &d.desired],
                        ));
                    } else if !not.is_empty() {
                        bad.push(trf(
                            self.lang,
                            "{} {}/{} pods ready; not ready: {}",
                            &[&name, &ready.len(), &d.desired, &not.join(self.lang.list())],
                        ));
                    } else {
                        bad.push(trf(
                            self.lang,
                            "{} {}/{} pods ready",
                            &[&name, &ready.len(), &d.desired],
                        ));
                    }
                    if progressing && bad.len() > before {
                        rolling += 1;
                    }
                }
                KubeCheck::NoRestarts => {
                    let since = self
                        .restart_base
                        .began
                        .map(|t| trf(self.lang, " since {}", &[&self.zone.hms(t)]))
                        .unwrap_or_default();
                    let restarted: Vec<String> = self
                        .cluster
                        .pods_of(&d.name, None)
                        .filter_map(|p| {
                            let base = self.restart_base.counts.get(&p.name).copied().unwrap_or(0);
                            (p.restarts > base).then(|| {
                                trf(
                                    self.lang,
                                    "{} restarted {}×",
                                    &[&p.name, &(p.restarts - base)],
                                )
                            })
                        })
                        .collect();
                    if restarted.is_empty() {
                        let n = self.cluster.pods_of(&d.name, None).count();
                        seen.push(trf(
                            self.lang,
                            "{}: no restarts{} ({} pods)",
                            &[&name, &since, &n],
                        ));
                    } else {
                        bad.push(format!(
                            "{name}{since}{}{}",
                            self.lang.colon(),
                            restarted.join(self.lang.list())
                        ));
                    }
                }
                KubeCheck::Image => {
                    let want = &self.rb.release.version;
                    let tag = crate::runbook::Scenario::tag(&d.image);
                    if tag == want {
                        seen.push(trf(self.lang, "{} runs {}", &[&name, &d.image]));
                    } else {
                        bad.push(trf(
                            self.lang,
                            "{} runs {}, not the release's {}",
                            &[&name, &d.image, want],
                        ));
                    }
                }
                _ => return Outcome::unknown(tr(self.lang, "not a watched check").into()),
            }
        }
        let sep = self.lang.semicolon();
        if bad.is_empty() {
            Outcome::pass(seen.join(sep))
        } else {
            Outcome {
                not_yet: rolling == bad.len(),
                ..Outcome::fail(bad.join(sep))
            }
        }
    }

    /// Take the pods' restart counts as the base when a new stage has begun.
    pub fn rebase_restarts(&mut self) {
        if self.restart_base.taken && self.restart_base.began == self.stages.began {
            return;
        }
        if self.cluster.link != Link::Live {
            return;
        }
        self.restart_base = RestartBase {
            taken: true,
            began: self.stages.began,
            counts: self
                .cluster
                .snap
                .pods
                .iter()
                .map(|p| (p.name.clone(), p.restarts))
                .collect(),
        };
    }
}

/// What the console checks, in words: `gauge page-load below 2s`.
pub fn describe(v: &Verify, lang: crate::runbook::Lang) -> String {
    let bound = match (&v.above, &v.below) {
        (Some(b), _) => trf(lang, " above {}", &[&b.text()]),
        (None, Some(b)) => trf(lang, " below {}", &[&b.text()]),
        _ => String::new(),
    };
    if let Some(g) = &v.gauge {
        let series: Vec<String> = v.series.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let series = if series.is_empty() {
            String::new()
        } else {
            format!(" {{{}}}", series.join(","))
        };
        return trf(lang, "gauge {}{}{}", &[g, &series, &bound]);
    }
    if let Some(q) = &v.promql {
        return format!("PromQL {q}{bound}");
    }
    if let Some(h) = &v.http {
        let mut what = Vec::new();
        match h.status {
            Some(s) => what.push(trf(lang, "status {}", &[&s])),
            None => what.push("2xx".into()),
        }
        if let Some(w) = &h.within {
            what.push(trf(lang, "within {}", &[&w.text()]));
        }
        if let Some(c) = &h.contains {
            what.push(trf(lang, "contains “{}”", &[c]));
        }
        for hd in &h.headers {
            what.push(trf(lang, "header {}", &[hd]));
        }
        if let Some(d) = h.cert_days {
            what.push(trf(lang, "certificate ≥ {} days", &[&d]));
        }
        return format!("GET {} ({})", h.url, what.join(lang.list()));
    }
    let which = match v.deployment {
        Some(Track::Stable) => " (stable)",
        Some(Track::Canary) => " (canary)",
        None => "",
    };
    match &v.kube {
        Some(KubeCheck::Available) => trf(lang, "Deployment available{}", &[&which]),
        Some(KubeCheck::PodsReady) => trf(lang, "all pods ready{}", &[&which]),
        Some(KubeCheck::NoRestarts) => trf(lang, "no restarts since the stage began{}", &[&which]),
        Some(KubeCheck::Image) => trf(lang, "image is the release's version{}", &[&which]),
        Some(KubeCheck::Exists(e)) => trf(lang, "{} {} exists", &[&e.kind.name(), &e.name]),
        Some(KubeCheck::Version(b)) => trf(lang, "Kubernetes at least {}", &[&b.text()]),
        Some(KubeCheck::Nodes(n)) => {
            let mut w = Vec::new();
            if let Some(c) = n.cpu {
                w.push(trf(lang, "{} cores", &[&c]));
            }
            if let Some(m) = &n.memory {
                w.push(m.clone());
            }
            trf(lang, "nodes allocatable ≥ {}", &[&w.join(lang.list())])
        }
        None => String::new(),
    }
}
