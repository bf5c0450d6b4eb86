//! A small in-memory time-series store: what the simulated Prometheus scrapes into and
//! what the PromQL evaluator reads from.
//!
//! It keeps Prometheus' data model (a series is a sorted label set including `__name__`,
//! holding `(milliseconds, value)` samples in time order) and the two scrape behaviours
//! queries depend on: target labels added to every scraped series, and staleness markers
//! written when a series disappears from a scrape.

use std::collections::{BTreeMap, HashMap};

use promql_parser::label::{MatchOp, Matcher};

/// A series' identity. A `BTreeMap` keeps labels sorted by name, as Prometheus does, so
/// equal label sets compare equal and print in the same order everywhere.
pub type Labels = BTreeMap<String, String>;

pub const METRIC_NAME: &str = "__name__";

/// Samples older than this (relative to the newest scrape) are dropped.
pub const RETENTION_MS: i64 = 60 * 60 * 1000;

/// Pruning moves every series' remaining samples, so it runs once per this much scrape
/// time rather than on every scrape; a sample may outlive retention by up to this long
/// (a real Prometheus also deletes whole blocks, never single samples).
const PRUNE_EVERY_MS: i64 = 60 * 1000;

/// Prometheus marks a series stale by appending this particular NaN; queries treat a
/// series whose latest sample is the marker as absent. Any other NaN is an ordinary value.
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_marker() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

#[derive(Debug, Default)]
struct SeriesData {
    samples: Vec<(i64, f64)>,
    /// The number of the last scrape that contained this series.
    last_scrape: u64,
}

#[derive(Debug, Default)]
pub struct Tsdb {
    /// Labels a scrape adds to every series (`job`, `instance`).
    target: Labels,
    /// Keyed by metric name first: nearly every selector names its metric, so a query
    /// need not walk every series. Within a name, series are hashed (a scrape of a
    /// thousand pods looks up each of its series once a second) and sorted only when a
    /// query selects them.
    series: BTreeMap<String, HashMap<Labels, SeriesData>>,
    scrapes: u64,
    last_prune_ms: Option<i64>,
}

impl Tsdb {
    /// A store whose scrapes add no target labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that labels every scraped series the way a scrape of `job`'s target
    /// `instance` would.
    pub fn with_target(job: &str, instance: &str) -> Self {
        Tsdb {
            target: target_labels(job, instance),
            ..Self::default()
        }
    }

    /// Record one scrape taken at `t_ms`: every sample gets the target labels, and every
    /// series that was in the previous scrape but is missing from this one gets a
    /// staleness marker, so it drops out of instant queries at once instead of lingering
    /// for the 5-minute lookback.
    pub fn append_scrape(&mut self, t_ms: i64, samples: impl IntoIterator<Item = (Labels, f64)>) {
        let target = self.target.clone();
        self.append_scrapes(t_ms, [(target, samples)]);
    }

    /// Record one scrape of several targets taken together at `t_ms`, each sample with
    /// its own target's labels (`job`, `instance`): as [`Tsdb::append_scrape`], where a
    /// series of any target missing from this round gets its staleness marker. One pass
    /// over the store per round, however many targets it has.
    pub fn append_scrapes<S>(&mut self, t_ms: i64, targets: impl IntoIterator<Item = (Labels, S)>)
    where
        S: IntoIterator<Item = (Labels, f64)>,
    {
        self.scrapes += 1;
        let scrape = self.scrapes;
        for (target, samples) in targets {
            for (mut labels, v) in samples {
                for (k, tv) in &target {
                    // honor_labels: false — an exposed label that clashes with a target
                    // label is kept as `exported_<name>`.
                    if let Some(exposed) = labels.insert(k.clone(), tv.clone()) {
                        labels.insert(format!("exported_{k}"), exposed);
                    }
                }
                if let Some(data) = self.series_mut(labels) {
                    push_sample(&mut data.samples, t_ms, v);
                    data.last_scrape = scrape;
                }
            }
        }
        for data in self.series.values_mut().flat_map(|m| m.values_mut()) {
            if data.last_scrape + 1 == scrape {
                push_sample(&mut data.samples, t_ms, stale_marker());
            }
        }
        if self
            .last_prune_ms
            .is_none_or(|last| t_ms - last >= PRUNE_EVERY_MS)
        {
            self.prune(t_ms - RETENTION_MS);
            self.last_prune_ms = Some(t_ms);
        }
    }

    /// Append one sample outside any scrape (no target labels, no staleness handling).
    /// `labels` must hold `__name__`. Returns false when the sample is not newer than
    /// the series' latest one, which Prometheus also rejects.
    pub fn append(&mut self, labels: Labels, t_ms: i64, v: f64) -> bool {
        match self.series_mut(labels) {
            Some(data) => push_sample(&mut data.samples, t_ms, v),
            None => false,
        }
    }

    fn series_mut(&mut self, labels: Labels) -> Option<&mut SeriesData> {
        let name = labels.get(METRIC_NAME)?;
        if !self.series.contains_key(name) {
            self.series.insert(name.clone(), HashMap::new());
        }
        let by_labels = self.series.get_mut(name)?;
        Some(by_labels.entry(labels).or_default())
    }

    /// Drop samples older than `min_t_ms`, and series left with none.
    pub fn prune(&mut self, min_t_ms: i64) {
        for by_labels in self.series.values_mut() {
            by_labels.retain(|_, data| {
                let old = data.samples.partition_point(|&(t, _)| t < min_t_ms);
                data.samples.drain(..old);
                !data.samples.is_empty()
            });
        }
        self.series.retain(|_, by_labels| !by_labels.is_empty());
    }

    /// Every series all of whose matchers match, in label order. A label a series lacks
    /// matches as the empty string, as in Prometheus.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<(&Labels, &[(i64, f64)])> {
        let by_name = matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal);
        let candidates: Box<dyn Iterator<Item = (&Labels, &SeriesData)>> = match by_name {
            Some(m) => match self.series.get(&m.value) {
                Some(by_labels) => Box::new(by_labels.iter()),
                None => Box::new(std::iter::empty()),
            },
            None => Box::new(self.series.values().flat_map(|m| m.iter())),
        };
        let mut found: Vec<_> = candidates
            .filter(|(labels, _)| {
                matchers
                    .iter()
                    .all(|m| m.is_match(labels.get(&m.name).map_or("", String::as_str)))
            })
            .map(|(labels, data)| (labels, data.samples.as_slice()))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(b.0));
        found
    }

    pub fn series_count(&self) -> usize {
        self.series.values().map(HashMap::len).sum()
    }

    pub fn sample_count(&self) -> usize {
        self.series
            .values()
            .flat_map(|m| m.values())
            .map(|d| d.samples.len())
            .sum()
    }
}

/// The labels a scrape of `job`'s target `instance` adds to every series.
pub fn target_labels(job: &str, instance: &str) -> Labels {
    [("job", job), ("instance", instance)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Samples stay in time order; an out-of-order or duplicate timestamp is refused.
fn push_sample(samples: &mut Vec<(i64, f64)>, t_ms: i64, v: f64) -> bool {
    if samples.last().is_some_and(|&(last, _)| last >= t_ms) {
        return false;
    }
    samples.push((t_ms, v));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::{self, Expr};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The matchers of a selector, compiled by promql-parser exactly as a query would.
    fn matchers(selector: &str) -> Vec<Matcher> {
        match parser::parse(selector).unwrap() {
            Expr::VectorSelector(vs) => {
                let mut ms = vs.matchers.matchers;
                if let Some(name) = vs.name {
                    ms.push(Matcher::new(MatchOp::Equal, METRIC_NAME, &name));
                }
                ms
            }
            other => panic!("not a selector: {other:?}"),
        }
    }

    fn names(db: &Tsdb, selector: &str) -> Vec<String> {
        db.select(&matchers(selector))
            .into_iter()
            .map(|(l, _)| l.get("pod").cloned().unwrap_or_default())
            .collect()
    }

    fn sample_db() -> Tsdb {
        let mut db = Tsdb::new();
        for (pod, track) in [("a", "stable"), ("b", "canary"), ("c", "")] {
            let mut l = labels(&[("__name__", "up"), ("pod", pod)]);
            if !track.is_empty() {
                l.insert("track".into(), track.into());
            }
            assert!(db.append(l, 1000, 1.0));
        }
        db.append(labels(&[("__name__", "other"), ("pod", "z")]), 1000, 1.0);
        db
    }

    #[test]
    fn matchers_select_like_prometheus() {
        let db = sample_db();
        assert_eq!(names(&db, r#"up{track="canary"}"#), ["b"]);
        // A missing label is the empty string: != matches it, = "" selects it.
        assert_eq!(names(&db, r#"up{track!="canary"}"#), ["a", "c"]);
        assert_eq!(names(&db, r#"up{track=""}"#), ["c"]);
        // Regexes are fully anchored: "canar" does not match "canary".
        assert!(names(&db, r#"up{track=~"canar"}"#).is_empty());
        assert_eq!(names(&db, r#"up{track=~"canar.*|stable"}"#), ["a", "b"]);
        assert_eq!(names(&db, r#"up{track!~"stab.*"}"#), ["b", "c"]);
        // Without a name matcher every metric is searched, in label-set order.
        assert_eq!(names(&db, r#"{pod=~"a|z"}"#), ["z", "a"]);
        assert!(names(&db, r#"missing{pod="a"}"#).is_empty());
    }

    #[test]
    fn out_of_order_samples_are_refused() {
        let mut db = Tsdb::new();
        let l = labels(&[("__name__", "x")]);
        assert!(db.append(l.clone(), 2000, 1.0));
        assert!(!db.append(l.clone(), 2000, 2.0));
        assert!(!db.append(l.clone(), 1000, 2.0));
        assert!(!db.append(labels(&[("no_name", "x")]), 3000, 1.0));
        assert_eq!(db.sample_count(), 1);
    }

    #[test]
    fn scrape_adds_target_labels_and_marks_vanished_series_stale() {
        let mut db = Tsdb::with_target("erp-backend", "sim");
        let a = labels(&[("__name__", "x"), ("pod", "a")]);
        let b = labels(&[("__name__", "x"), ("pod", "b"), ("job", "app")]);
        db.append_scrape(1000, vec![(a.clone(), 1.0), (b.clone(), 1.0)]);
        db.append_scrape(2000, vec![(a.clone(), 2.0)]);
        db.append_scrape(3000, vec![(a.clone(), 3.0)]);

        let got = db.select(&matchers(r#"x{pod="b"}"#));
        assert_eq!(got.len(), 1);
        let (l, samples) = got[0];
        assert_eq!(l.get("job").map(String::as_str), Some("erp-backend"));
        assert_eq!(l.get("exported_job").map(String::as_str), Some("app"));
        assert_eq!(l.get("instance").map(String::as_str), Some("sim"));
        // One marker when it vanished, none after.
        assert_eq!(samples.len(), 2);
        assert!(is_stale_marker(samples[1].1));
        assert_eq!(samples[1].0, 2000);
        // An ordinary NaN is not a marker.
        assert!(!is_stale_marker(f64::NAN));

        let a_samples = db.select(&matchers(r#"x{pod="a"}"#))[0].1;
        assert_eq!(a_samples, &[(1000, 1.0), (2000, 2.0), (3000, 3.0)]);
    }

    #[test]
    fn retention_drops_samples_older_than_an_hour() {
        let mut db = Tsdb::with_target("j", "i");
        let a = labels(&[("__name__", "x"), ("pod", "a")]);
        let gone = labels(&[("__name__", "y")]);
        db.append_scrape(0, vec![(a.clone(), 0.0), (gone.clone(), 1.0)]);
        for s in 1..=(2 * 3600 / 15) {
            db.append_scrape(s * 15_000, vec![(a.clone(), s as f64)]);
        }
        let newest = 2 * 3600 * 1000;
        let samples = db.select(&matchers("x"))[0].1;
        assert_eq!(samples.last().unwrap().0, newest);
        assert!(samples[0].0 >= newest - RETENTION_MS - PRUNE_EVERY_MS);
        // The series that vanished two hours ago is gone entirely.
        assert!(db.select(&matchers("y")).is_empty());
        assert_eq!(db.series_count(), 1);

        db.prune(newest - RETENTION_MS);
        let samples = db.select(&matchers("x"))[0].1;
        assert_eq!(samples[0].0, newest - RETENTION_MS);
    }
}
