//! Hardening: the console holds up against inputs that are odd on purpose or by accident.

use std::path::Path;
use std::time::Duration;

use warroom::event::Event;
use warroom::prom::{self, Gauge, Prom, Settings};

/// A refresh far beyond what `check` allows, with a full sparkline's worth of history,
/// once overflowed when the poller computed how far back to load: the poller must keep
/// running and report the unreachable server as a reading.
#[tokio::test]
async fn a_huge_refresh_does_not_overflow_the_poller() {
    let rb = warroom::runbook::load(Path::new("assets/runbooks/demo.yaml")).unwrap();
    let refresh = Duration::from_secs(u64::MAX / 4);
    let gauges = vec![Gauge {
        metric: rb.metrics[0].clone(),
        points: warroom::state::metrics::HISTORY,
    }];
    let prom = Prom::new(&Settings::new("http://127.0.0.1:1", refresh)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = prom::spawn_poller(prom, gauges, refresh, tx);
    match rx.recv().await {
        Some(Event::Metric { index: 0, .. }) => {}
        other => panic!("expected the first reading, got {other:?}; the poller ended: {:?}", poller.is_finished()),
    }
    poller.abort();
    let end = poller.await.unwrap_err();
    assert!(end.is_cancelled(), "the poller did not survive: {end}");
}
