//! Triggers judged on Prometheus' history: the verdict of a condition from a range
//! answer, as the trigger source computes it. Pure: no server, no clock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use warroom::prom::Points;
use warroom::prom::triggers::{grid_end, judge, watches};
use warroom::runbook::parse_runbook;
use warroom::state::triggers::Verdict;

fn end() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:10:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A series labelled `track`, one point every 2 s up to `end()`, valued by `f(seconds
/// before the end)`; `None` leaves the step out.
fn series(track: &str, span: i64, f: impl Fn(i64) -> Option<f64>) -> Points {
    let e = end().timestamp_millis();
    let mut points = Vec::new();
    for back in (0..=span).rev().step_by(2) {
        if let Some(v) = f(back) {
            points.push((e - back * 1000, v));
        }
    }
    Points {
        labels: BTreeMap::from([("track".to_string(), track.to_string())]),
        points,
    }
}

fn canary_error_watch() -> warroom::prom::triggers::Watch {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    watches(&rb, Duration::from_secs(2))
        .into_iter()
        .find(|w| w.metric.id == "canary-error-rate")
        .unwrap()
}

#[test]
fn a_bad_stable_does_not_trigger_the_canarys_rollback() {
    let w = canary_error_watch();
    let v = judge(
        &w,
        vec![
            series("stable", 120, |_| Some(9.0)),
            series("canary", 120, |_| Some(0.4)),
        ],
        end(),
        Duration::from_secs(2),
    );
    assert_eq!(v, Verdict::Clear { value: 0.4 });
}

#[test]
fn the_canary_series_held_past_its_bound_says_since_when() {
    let w = canary_error_watch();
    // errors since 70 s ago
    let v = judge(
        &w,
        vec![
            series("stable", 120, |_| Some(0.2)),
            series("canary", 120, |b| Some(if b <= 70 { 6.0 } else { 0.5 })),
        ],
        end(),
        Duration::from_secs(2),
    );
    assert_eq!(
        v,
        Verdict::Holds {
            since: end() - chrono::Duration::seconds(70),
            value: 6.0
        }
    );
}

#[test]
fn a_missing_step_breaks_the_run_and_a_missing_latest_step_is_unknown() {
    let w = canary_error_watch();
    let v = judge(
        &w,
        vec![series("canary", 120, |b| (b != 30).then_some(6.0))],
        end(),
        Duration::from_secs(2),
    );
    assert_eq!(
        v,
        Verdict::Holds {
            since: end() - chrono::Duration::seconds(28),
            value: 6.0
        },
        "held only since the gap"
    );
    let v = judge(
        &w,
        vec![series("canary", 120, |b| (b > 4).then_some(6.0))],
        end(),
        Duration::from_secs(2),
    );
    assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
    let v = judge(
        &w,
        vec![series("stable", 120, |_| Some(0.1))],
        end(),
        Duration::from_secs(2),
    );
    assert_eq!(
        v,
        Verdict::Unknown {
            why: "no data: no series {track=\"canary\"}".into()
        }
    );
}

#[test]
fn every_console_asks_about_the_same_instants() {
    let step = Duration::from_secs(5);
    let a = grid_end(end() + chrono::Duration::milliseconds(1200), step);
    let b = grid_end(end() + chrono::Duration::milliseconds(4900), step);
    assert_eq!(a, end());
    assert_eq!(a, b);
}

#[test]
fn the_erp_runbooks_protect_the_canary_on_its_own_series() {
    for (name, text) in [
        ("zh", include_str!("../assets/runbooks/erp-v1.0.0.zh.yaml")),
        ("en", include_str!("../assets/runbooks/erp-v1.0.0.en.yaml")),
    ] {
        let rb = parse_runbook(Path::new(name), text).unwrap();
        let t = rb
            .rollback_triggers
            .iter()
            .find(|t| t.id == "auto-canary")
            .unwrap();
        assert_eq!(t.action, Some(warroom::runbook::TriggerAction::Rollback));
        assert_eq!(t.during, ["canary-10"]);
        for c in &t.conditions {
            assert_eq!(
                c.series.get("track").map(String::as_str),
                Some("canary"),
                "{name}"
            );
            assert_eq!(c.for_.secs(), 300, "{name}: 5分钟内 is read as for: 5m");
        }
        let metrics: Vec<&str> = t.conditions.iter().map(|c| c.metric.as_str()).collect();
        assert_eq!(metrics, ["canary-error-rate", "p95-latency"]);
    }
}
