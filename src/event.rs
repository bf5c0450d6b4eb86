//! Events: everything that reaches the console from outside, as data.

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::KeyEvent;

use crate::cluster::Snapshot;
use crate::state::Driver;
use crate::state::metrics::Reading;
use crate::state::triggers::Verdict;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    Resize,
    /// The clock: sent once a second.
    Tick(DateTime<Utc>),
    /// The cluster's current objects for the release's Deployments.
    Cluster(Snapshot),
    /// The Kubernetes API stopped answering (watch errors).
    ClusterLost {
        at: DateTime<Utc>,
        error: String,
    },
    /// A gauge's query answered (or failed) at `at`.
    Metric {
        index: usize,
        at: DateTime<Utc>,
        reading: Reading,
    },
    /// A trigger condition judged on Prometheus' history, for the step at `at`.
    Trigger {
        trigger: usize,
        cond: usize,
        at: DateTime<Utc>,
        verdict: Verdict,
    },
    /// Past values for a gauge's sparkline, oldest first, fetched at start-up.
    Backfill {
        index: usize,
        points: Vec<f64>,
    },
    /// The Lease was claimed or renewed: it is ours until `until` unless renewed again.
    LeaseHeld {
        until: DateTime<Utc>,
    },
    /// The driver's automatic-rollback countdown, read off the Lease (None: none runs).
    DriverCountdown(Option<crate::state::triggers::RemoteCountdown>),
    /// The release's Lease: held, refused to us, or lost.
    Lease(Driver),
    /// The process was told to end (SIGHUP when the SSH session or tmux goes away,
    /// SIGTERM, SIGINT, SIGQUIT): close as `q` would, without asking.
    Signal(&'static str),
    /// What the followed journal holds now (a following console).
    Follow(Followed),
    /// A following console took the followed journal for itself (it drives on): every
    /// record it holds, or why it could not.
    Adopted(Result<Vec<crate::journal::Record>, String>),
    /// The journal's mirror in the cluster cannot be written (and why), or can again.
    Mirror(Result<(), String>),
    /// The latest Event about each pod.
    PodEvents(std::collections::BTreeMap<String, crate::cluster::PodEvent>),
    /// The last lines of a pod's log, or why they could not be read.
    PodLog {
        pod: String,
        log: Result<String, String>,
    },
    /// A probe's verdict on item `item`'s verification (`verify:`), reached at `at`.
    Probed {
        item: usize,
        at: chrono::DateTime<chrono::Utc>,
        outcome: crate::state::verify::Outcome,
    },
    /// What became of the notification journaled as `seq` on one channel.
    Notified {
        seq: u64,
        channel: String,
        ok: bool,
        message: String,
        attempts: u32,
    },
    /// The result of the effect journaled with sequence number `seq`.
    Outcome {
        seq: u64,
        ok: bool,
        message: String,
    },
}

/// A look at the followed journal.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// Records appended since the last look (none when it only answered again).
    More(Vec<crate::journal::Record>),
    /// The journal was cut back or replaced: every record it now holds.
    Reset(Vec<crate::journal::Record>),
    /// The journal cannot be read, and why.
    Lost(String),
}
