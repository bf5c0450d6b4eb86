//! The console's state. It changes only through `apply` (journal records) and the pure
//! `update` function; sources and rendering never write to it.

/// The cluster as the console sees it (kept at `state::cluster` for its users).
pub use crate::cluster;
pub mod metrics;
pub mod triggers;
pub mod verify;

use crate::i18n::{tr, trf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::effect::KubeOp;
use crate::journal::{Entry, Level as LogLevel, Mark, Record};
use crate::layout::Pane;
use crate::runbook::{FlatItem, Runbook};
use crate::text::clean;
use cluster::Cluster;
use metrics::MetricState;
pub use triggers::TriggerState;

#[derive(Debug, Clone, PartialEq)]
pub struct ItemMark {
    pub mark: Mark,
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// Who signed off (a sign-off item), as typed by `by`.
    pub signer: Option<String>,
    /// What the console saw when it verified the item (`verify:`).
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Phase(usize),
    Group(usize, String),
    Item(usize),
    /// Step `k` of the rollback the console performs, shown in place of the runbook's
    /// rollback procedure while it runs.
    Live(usize),
}

/// The rollback the console performs, step by step, where the runbook's rollback
/// procedure is (`procedure: rollback`).
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub phase: usize,
    pub group: Option<String>,
    pub steps: Vec<crate::canary::LiveStep>,
    /// When the cluster first showed each step done (None: not yet, or already done
    /// when this console began to follow the rollback).
    pub done_at: Vec<Option<DateTime<Utc>>>,
}

#[derive(Debug, Clone)]
pub struct Checklist {
    pub items: Arc<Vec<FlatItem>>,
    pub marks: Vec<ItemMark>,
    pub collapsed: Vec<bool>,
    /// Index into `rows()`.
    pub cursor: usize,
    /// Each item's last verification (`verify:`), as this console reached it.
    pub checks: Vec<verify::Check>,
    /// The rollback under way or done, shown live in the rollback procedure's place.
    pub live: Option<Live>,
}

impl Checklist {
    pub fn new(rb: &Runbook) -> Self {
        let items = rb.flat_items();
        let marks = items
            .iter()
            .map(|it| ItemMark {
                mark: if it.done { Mark::Done } else { Mark::Todo },
                by: None,
                at: None,
                signer: None,
                evidence: None,
            })
            .collect();
        let mut c = Checklist {
            checks: vec![verify::Check::default(); items.len()],
            items: Arc::new(items),
            marks,
            collapsed: vec![true; rb.phases.len()],
            cursor: 0,
            live: None,
        };
        c.settle_parents();
        // Open the first phase with work left, so the room sees where we are.
        if let Some(p) = c.progress().iter().position(|(d, t)| d < t) {
            c.collapsed[p] = false;
        } else if !c.collapsed.is_empty() {
            c.collapsed[0] = false;
        }
        c
    }

    pub fn rows(&self) -> Vec<Row> {
        let mut out = Vec::new();
        let mut last: Option<(usize, Option<&String>)> = None;
        let live = self
            .live
            .as_ref()
            .filter(|l| !l.steps.is_empty())
            .map(|l| (l.phase, l.group.as_ref(), l.steps.len()));
        for phase in 0..self.collapsed.len() {
            out.push(Row::Phase(phase));
            if self.collapsed[phase] {
                continue;
            }
            for (i, it) in self
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.phase == phase)
            {
                let new_group = last != Some((phase, it.group.as_ref()));
                if new_group && let Some(g) = &it.group {
                    out.push(Row::Group(phase, g.clone()));
                }
                last = Some((phase, it.group.as_ref()));
                match live {
                    // The console's own steps stand in for the procedure's items.
                    Some((p, g, n)) if p == phase && g == it.group.as_ref() => {
                        if new_group {
                            out.extend((0..n).map(Row::Live));
                        }
                    }
                    _ => out.push(Row::Item(i)),
                }
            }
        }
        out
    }

    /// (done, total) over the phase's tickable items.
    pub fn phase_progress(&self, phase: usize) -> (usize, usize) {
        self.progress()[phase]
    }

    /// (done, total) for every phase, in one pass. Done is what satisfies the gates: a
    /// skipped item counts only when it is not required.
    pub fn progress(&self) -> Vec<(usize, usize)> {
        let mut out = vec![(0, 0); self.collapsed.len()];
        let live = self.live.as_ref().filter(|l| !l.steps.is_empty());
        if let Some(l) = live {
            // The console's steps count in place of the procedure they stand for.
            out[l.phase].1 += l.steps.len();
            out[l.phase].0 += l.steps.iter().filter(|s| s.done).count();
        }
        for (i, it) in self.items.iter().enumerate() {
            if live.is_some_and(|l| l.phase == it.phase && l.group == it.group) {
                continue;
            }
            if it.kind.tickable() {
                out[it.phase].1 += 1;
                if self.settled(i) {
                    out[it.phase].0 += 1;
                }
            }
        }
        out
    }

    /// The item is done, or skipped and not required: nothing more is asked of it.
    pub fn settled(&self, i: usize) -> bool {
        match self.marks[i].mark {
            Mark::Done => true,
            Mark::Skipped => !self.items[i].required,
            Mark::Todo | Mark::Failed => false,
        }
    }

    /// The items nested under item `i` (children, grandchildren…): those after it that
    /// sit deeper, up to the next item at its depth or above.
    pub fn children(&self, i: usize) -> std::ops::Range<usize> {
        let it = &self.items[i];
        let end = self.items[i + 1..]
            .iter()
            .position(|c| c.phase != it.phase || c.depth <= it.depth)
            .map_or(self.items.len(), |n| i + 1 + n);
        i + 1..end
    }

    /// The required checks still open after the last stage: those that gate no stage.
    pub fn open_post_checks(&self) -> usize {
        (0..self.items.len())
            .filter(|&i| {
                let it = &self.items[i];
                it.kind.tickable()
                    && it.required
                    && it.gates.is_none()
                    && !it.after_rollback
                    && !self.settled(i)
            })
            .count()
    }

    /// What a computed item waits for: the other required checks gating its stage that
    /// are not settled.
    pub fn computed_open(&self, i: usize) -> Vec<usize> {
        let gates = &self.items[i].gates;
        (0..self.items.len())
            .filter(|&j| {
                let it = &self.items[j];
                j != i
                    && it.kind == crate::runbook::ItemKind::Check
                    && it.computed.is_none()
                    && it.required
                    && it.gates == *gates
                    && !self.settled(j)
            })
            .collect()
    }

    /// A parent's mark follows its children's: done when every tickable child is settled,
    /// failed when one failed, else to do. Deepest first, so a grandparent sees its
    /// children's own derived marks.
    pub fn settle_parents(&mut self) {
        for i in (0..self.items.len()).rev() {
            let kids: Vec<usize> = self
                .children(i)
                .filter(|&c| self.items[c].depth == self.items[i].depth + 1)
                .filter(|&c| self.items[c].kind.tickable())
                .collect();
            if kids.is_empty() || !self.items[i].kind.tickable() {
                continue;
            }
            let mark = if kids.iter().all(|&c| self.settled(c)) {
                Mark::Done
            } else if kids.iter().any(|&c| self.marks[c].mark == Mark::Failed) {
                Mark::Failed
            } else {
                Mark::Todo
            };
            // Who settled it last, and when: the latest of its children's marks.
            let last = kids
                .iter()
                .map(|&c| &self.marks[c])
                .filter(|m| m.at.is_some())
                .max_by_key(|m| m.at)
                .cloned();
            self.marks[i] = ItemMark {
                mark,
                by: last.as_ref().and_then(|m| m.by.clone()),
                at: last.and_then(|m| m.at),
                signer: None,
                evidence: None,
            };
        }
        // A computed check follows the checks it sums up: done, by the console, when
        // they all are (as of the last of them), to do otherwise.
        for i in 0..self.items.len() {
            if self.items[i].computed.is_none() {
                continue;
            }
            let open = self.computed_open(i);
            if open.is_empty() {
                if self.marks[i].mark != Mark::Done {
                    let gates = &self.items[i].gates;
                    let at = (0..self.items.len())
                        .filter(|&j| j != i && self.items[j].gates == *gates)
                        .filter_map(|j| self.marks[j].at)
                        .max();
                    self.marks[i] = ItemMark {
                        mark: Mark::Done,
                        by: Some(CONSOLE.into()),
                        at,
                        signer: None,
                        evidence: None,
                    };
                }
            } else if self.marks[i].mark != Mark::Todo {
                self.marks[i] = ItemMark {
                    mark: Mark::Todo,
                    by: None,
                    at: None,
                    signer: None,
                    evidence: None,
                };
            }
        }
    }

    pub fn selected(&self) -> Option<Row> {
        self.rows().get(self.cursor).cloned()
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    /// Required items, gating a stage at or before `stage`, that are not done.
    pub fn blockers(&self, rb: &Runbook, stage: usize) -> Vec<usize> {
        self.items
            .iter()
            .enumerate()
            .filter(|(i, it)| {
                it.required
                    && it.kind.tickable()
                    && self.marks[*i].mark != Mark::Done
                    && it
                        .gates
                        .as_deref()
                        .and_then(|g| rb.stage_index(g))
                        .is_some_and(|g| g <= stage)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Where the release stands, as decided by people (the cluster may lag or disagree; the
/// rollout pane shows the cluster's own view).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stages {
    /// Index of the stage in force (None: before the first stage, or after a rollback).
    pub current: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    /// When the stage in force began (pauses do not move it): a trigger counts only what
    /// held since then, so a new attempt is not rolled back for the last one's errors.
    pub began: Option<DateTime<Utc>>,
    /// When the first console started on this journal: the release clock.
    pub release_started: Option<DateTime<Utc>>,
    /// When the first stage started (its action confirmed): the deployment time.
    pub first_stage: Option<DateTime<Utc>>,
    /// When the release was complete: the last stage held, and every required
    /// post-deployment check done.
    pub complete: Option<DateTime<Utc>>,
    pub paused: bool,
    /// Hold time already served before a pause.
    pub held_before_pause: i64,
    pub rolled_back: Option<DateTime<Utc>>,
    /// The stable Deployment now runs the new version (the 100% stage happened).
    pub promoted: bool,
    /// The last rollback asked was an undo of the promoted stable Deployment (not the
    /// canary stage's return of traffic).
    pub rollback_undo: bool,
    /// The targets that had not yet moved at the stage in force when the last rollback
    /// was asked: each is rolled back as its earlier stage left it.
    pub rollback_queued: Vec<usize>,
    /// An intent sent and not yet answered.
    pub pending: Option<Pending>,
    /// The targets (indices into the runbook's) the stage in force has still to move,
    /// one after another, in its `order`.
    pub queue: Vec<usize>,
    /// Why the stage stopped moving its targets (a step the API refused): it stays
    /// partly applied until a rollback.
    pub stopped: Option<String>,
    /// The targets a trigger rolled back alone, with when: out of this attempt, on their
    /// stable version, while the others go on.
    pub out: Vec<(usize, DateTime<Utc>)>,
}

impl Stages {
    /// Target `t` was rolled back alone in this attempt.
    pub fn is_out(&self, t: usize) -> bool {
        self.out.iter().any(|&(o, _)| o == t)
    }

    /// The targets rolled back alone in this attempt.
    pub fn out_targets(&self) -> Vec<usize> {
        self.out.iter().map(|&(t, _)| t).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub since: DateTime<Utc>,
    pub what: String,
    pub announced: bool,
}

/// Who the console itself is in the journal and the log.
pub const CONSOLE: &str = "console";

/// The longest note: a paragraph for the room, not a log file; a longer one is cut at
/// input, where the lead sees it happen.
pub const MAX_NOTE: usize = 2000;

/// The longest signer's name: a person's name and perhaps a title, not a note.
pub const MAX_SIGNER: usize = 80;

/// The longest typed reason: a sentence, not a document.
pub const MAX_REASON: usize = 300;

/// How long before its Lease's end a console stops acting: a write must reach the API
/// server while the Lease is still surely ours.
pub const LEASE_MARGIN_SECS: i64 = 5;

/// Who drives the release. Only the console holding the release's Lease changes the
/// cluster; every other console watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// Asking the cluster for the release's Lease; no action until it answers.
    Claiming,
    /// This console holds the Lease (named here) and renews it; `fence` is the token it
    /// marked the release's objects with, which every write it sends must match.
    Driving { lease: String, fence: String },
    /// Watching only; `why` says so in words (another holder, --read-only, a lost Lease).
    ReadOnly { why: String, holder: Option<String> },
    /// Nobody drives (the driver quit, or died and its Lease ran out) and this console
    /// may take over when the lead asks.
    Free { why: String },
}

impl Driver {
    /// Why an action cannot be taken, or None when this console drives.
    pub fn refusal(&self, lang: crate::runbook::Lang) -> Option<String> {
        match self {
            Driver::Driving { .. } => None,
            Driver::Claiming => Some(
                tr(lang, "still claiming the release's Lease from the cluster; actions wait until it is held").into(),
            ),
            Driver::ReadOnly { why, .. } => Some(trf(lang, "read-only: {}", &[why])),
            Driver::Free { why } => Some(trf(lang, "read-only: {}; press T to take over", &[why])),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub seq: u64,
    pub entry: Entry,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommsEntry {
    pub at: DateTime<Utc>,
    pub who: String,
    pub level: LogLevel,
    pub text: String,
}

/// What the operator is being asked to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub plan: Vec<String>,
    /// Why it cannot be done now; when not empty, confirming does nothing.
    pub blockers: Vec<String>,
    /// What is not known for lack of fresh data, with since when. It blocks exactly as a
    /// blocker does, except that the lead may override it with a typed reason.
    pub unknown: Vec<String>,
    pub proposal: Proposal,
    /// The reason being typed, when the confirmation asks for one (a rollback, an
    /// override of unknowns, a cancelled automatic rollback).
    pub reason: Option<String>,
    /// The lead chose to override the unknowns (and is typing why).
    pub overriding: bool,
    /// For a rollback: the kinds to choose from (the runbook's triggers: id, words) and
    /// the chosen one.
    pub kinds: Vec<(String, String)>,
    pub kind: usize,
    /// `y` found that the plan or its blockers had changed since the dialog was shown: it
    /// shows the new ones instead of acting.
    pub replanned: bool,
}

impl Confirm {
    pub fn new(
        title: String,
        plan: Vec<String>,
        blockers: Vec<String>,
        proposal: Proposal,
    ) -> Self {
        Confirm {
            title,
            plan,
            blockers,
            unknown: Vec::new(),
            proposal,
            reason: None,
            overriding: false,
            kinds: Vec::new(),
            kind: 0,
            replanned: false,
        }
    }

    /// What the lead decides on: everything but the typing state. A re-plan that differs
    /// here must be read again before it is confirmed.
    pub fn same_decision(&self, other: &Confirm) -> bool {
        self.title == other.title
            && self.plan == other.plan
            && self.blockers == other.blockers
            && self.unknown == other.unknown
            && self.proposal == other.proposal
            && self.kinds == other.kinds
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    Advance {
        to: usize,
        op: KubeOp,
    },
    Rollback {
        op: KubeOp,
    },
    Pause {
        paused: bool,
        op: KubeOp,
    },
    /// Stop the automatic rollback that the trigger (index) is counting down to.
    CancelCountdown {
        trigger: usize,
    },
    /// Claim the free Lease and drive the release.
    TakeOver,
    /// Tick the open items of a group or phase (`scope`), listed in the plan.
    TickGroup {
        scope: String,
        items: Vec<usize>,
    },
    Quit,
}

// One Mode per console, replaced whole: boxing the large confirmation would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Note(String),
    /// The emergency plan at one of its situations (a group of the emergency phase), with
    /// the contacts.
    Emergency {
        group: usize,
    },
    /// The name of whoever signs off the sign-off item (index), being typed.
    Signer {
        item: usize,
        name: String,
    },
    Confirm(Confirm),
    Help,
    /// The last lines of a pod's log: None while they are fetched, then the text or why
    /// it could not be read.
    PodLog {
        pod: String,
        log: Option<Result<String, String>>,
    },
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub focus: Pane,
    pub mode: Mode,
    /// Scroll offset from the newest comms entry (0 = follow).
    pub comms_scroll: usize,
    pub rollout_scroll: usize,
    /// The pod selected in the rollout pane (in its order), whose log `o` shows.
    pub pod_cursor: usize,
    pub gauge_cursor: usize,
    /// Set by `update` whenever something visible changed.
    pub dirty: bool,
    pub quit: bool,
    /// The comms pane shows the console's own diagnostic log (tui-logger) instead.
    pub console_log: bool,
    /// A message shown in the key bar until the next key.
    pub flash: Option<String>,
}

#[derive(Clone)]
pub struct State {
    pub rb: Arc<Runbook>,
    pub operator: String,
    /// Whether this console may change the cluster.
    pub driver: Driver,
    /// The runbook's automatic rollback triggers, as the gauges say now.
    pub triggers: Vec<TriggerState>,
    /// Since when the cluster has disagreed with the stage the journal says, what the
    /// difference is, and whether it has been announced.
    pub mismatch: Option<Mismatch>,
    pub now: DateTime<Utc>,
    pub checklist: Checklist,
    pub stages: Stages,
    pub metrics: Vec<MetricState>,
    pub cluster: Cluster,
    pub comms: Vec<CommsEntry>,
    pub ui: Ui,
    /// Sequence number of the last record applied.
    pub seq: u64,
    /// Seconds after which a metric value is stale.
    pub stale_after: i64,
    /// Journal problems found at start-up, reported in the log.
    pub startup_notes: Vec<String>,
    /// An action journaled before a restart whose answer never was: compared with the
    /// cluster once it is seen, and the verdict journaled, so it is settled once.
    pub unreconciled: Option<Pending>,
    /// The driving console's countdown, when this console does not drive.
    pub remote_countdown: Option<triggers::RemoteCountdown>,
    /// The zone clock times are written in.
    pub zone: crate::format::Zone,
    /// When the event being handled arrived, as the driver read the wall clock: journal
    /// records carry it, so an intent and its answer show how long the API took. None in
    /// pure tests, where records carry `now`.
    pub wall: Option<DateTime<Utc>>,
    /// The cluster is the built-in simulator of `warroom demo`, which ends with this
    /// process: nothing "stays as it is" when the console quits.
    pub simulated: bool,
    /// The language the console writes in: the runbook's, unless `--lang` says.
    pub lang: crate::runbook::Lang,
    /// Until when this console's Lease is surely its own: its last successful renewal
    /// plus the Lease's duration.
    pub lease_until: Option<DateTime<Utc>>,
    /// When this console last sent an automatic rollback (a failed one is retried, not
    /// hammered).
    pub last_auto: Option<DateTime<Utc>>,
    /// Why a countdown that ran out has not become a rollback, as last said in the log
    /// (said again only when the reason changes).
    pub auto_held: Option<String>,
    /// This console follows the driving console's journal: its checklist, stage, notes
    /// and log are the driver's, and it decides nothing itself.
    pub follow: Option<Follow>,
    /// The team was told that monitoring is lost, and it has not come back since.
    pub monitoring_lost: bool,
    /// The flight recorder's last record: when, and the gauges as they were.
    pub recorded: Option<(DateTime<Utc>, Vec<crate::journal::Seen>)>,
    /// The pods' restart counts when the stage in force began (`kube: no_restarts`).
    pub restart_base: verify::RestartBase,
    /// The items of the log's last line of passes reached together.
    pub verified_fold: Option<Vec<String>>,
}

/// What a following console follows, and how its copy stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Follow {
    /// Where the driver's records come from, in words (the journal's path, or the
    /// mirror's ConfigMaps).
    pub source: String,
    /// The records come from the mirror in the cluster, not a journal on this host.
    pub from_cluster: bool,
    /// Every record followed so far: what a take-over carries on from.
    pub records: Vec<Record>,
    /// Who started the last session in the followed journal: the console followed.
    pub leader: Option<String>,
    /// When the followed console closed its session (its last record says so).
    pub closed: Option<DateTime<Utc>>,
    /// When the stream was last read whole.
    pub read: Option<DateTime<Utc>>,
    /// Since when the stream cannot be read, and why.
    pub lost: Option<(DateTime<Utc>, String)>,
    /// The journal is being played again (`warroom replay`), not followed live.
    pub replay: Option<Replay>,
}

/// A journal played again: its records wait here and are shown as the journal's clock
/// reaches them; the screen's clock is the journal's.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub queue: std::collections::VecDeque<Record>,
    /// The journal's time the screen shows.
    pub clock: DateTime<Utc>,
    /// The journal's last record: the clock stops there, the journal says nothing after.
    pub end: DateTime<Utc>,
    /// Journal seconds per real second.
    pub speed: f64,
    pub paused: bool,
    /// The real time of the last clock tick: how far the journal's clock moves.
    pub real: Option<DateTime<Utc>>,
}

impl Follow {
    pub fn new(source: String, from_cluster: bool) -> Follow {
        Follow {
            source,
            from_cluster,
            records: Vec::new(),
            leader: None,
            closed: None,
            read: None,
            lost: None,
            replay: None,
        }
    }

    /// Following the driver's mirror in the cluster (see `kube::mirror`).
    pub fn mirror(rb: &Runbook) -> Follow {
        let source = format!(
            "the driver's mirror in the cluster (namespace {})",
            rb.namespace()
        );
        Follow::new(source, true)
    }

    /// Take note of records read from the stream (whose last word may be a close).
    pub fn saw(&mut self, records: &[Record], at: DateTime<Utc>) {
        for r in records {
            match &r.entry {
                Entry::Session { .. } => {
                    self.leader = Some(r.who.clone());
                    self.closed = None;
                }
                e if closes(e) => self.closed = Some(r.at),
                _ => {}
            }
        }
        self.records.extend_from_slice(records);
        self.read = Some(at);
        self.lost = None;
    }
}

/// How the lines that end a session begin, in each language the console writes: closed
/// by the lead, ended by a signal, or a crash.
pub const SESSION_ENDS: &[&str] = &[
    "closed the console",
    "the console ended on",
    "the console crashed",
    "控制台已关闭",
    "控制台已结束",
];

/// A record that ends a session: closed by the lead, ended by a signal, or a crash.
pub fn closes(e: &Entry) -> bool {
    matches!(e, Entry::System { text, .. }
        if SESSION_ENDS.iter().any(|p| text.starts_with(p)))
}

impl State {
    pub fn new(rb: Arc<Runbook>, operator: &str, now: DateTime<Utc>) -> Self {
        let lang = rb.lang();
        let refresh = rb
            .prometheus
            .as_ref()
            .map(|p| p.refresh.secs())
            .unwrap_or(5)
            .max(1) as i64;
        let triggers = rb
            .rollback_triggers
            .iter()
            .map(|t| TriggerState::new(t.conditions.len()))
            .collect();
        State {
            checklist: Checklist::new(&rb),
            metrics: vec![MetricState::default(); rb.metrics.len()],
            rb,
            operator: clean(operator).into_owned(),
            driver: Driver::Claiming,
            triggers,
            mismatch: None,
            now,
            stages: Stages::default(),
            cluster: Cluster::default(),
            comms: Vec::new(),
            ui: Ui {
                focus: Pane::Checklist,
                mode: Mode::Normal,
                comms_scroll: 0,
                rollout_scroll: 0,
                pod_cursor: 0,
                gauge_cursor: 0,
                dirty: true,
                quit: false,
                console_log: false,
                flash: None,
            },
            seq: 0,
            stale_after: 3 * refresh,
            startup_notes: Vec::new(),
            last_auto: None,
            auto_held: None,
            lease_until: None,
            unreconciled: None,
            remote_countdown: None,
            zone: crate::format::Zone::default(),
            simulated: false,
            lang,
            wall: None,
            follow: None,
            monitoring_lost: false,
            recorded: None,
            restart_base: verify::RestartBase::default(),
            verified_fold: None,
        }
    }

    /// Why this console may not change the cluster now, or None when it may: it must
    /// drive, and its Lease must not have run out (less a margin for clocks and the
    /// request in flight), whether or not a renewal is still on its way.
    pub fn refusal(&self) -> Option<String> {
        if let Some(why) = self.driver.refusal(self.lang) {
            return Some(why);
        }
        let until = self.lease_until?;
        let margin = chrono::Duration::seconds(LEASE_MARGIN_SECS);
        (self.now >= until - margin).then(|| {
            trf(
                self.lang,
                "this console's Lease ran out at {} and has not been renewed (is the API reachable?): another console may drive now",
                &[&self.zone.hms(until)],
            )
        })
    }

    /// The part of a split gauge that belongs to a track serving nothing now: after a
    /// rollback, the canary's (as each target's `canary_series` names it) once the cluster
    /// shows every canary with that label takes no traffic. Its last figures are history,
    /// not health.
    pub fn not_serving(&self, def: &crate::runbook::Metric) -> Option<&str> {
        let by = def.split_by.as_ref()?;
        // A target rolled back alone serves nothing from its canary.
        if let Some(t) = def.target.as_deref()
            && self
                .stages
                .out
                .iter()
                .any(|&(o, _)| self.rb.targets[o].name() == t)
        {
            let k = self.rb.targets.iter().find(|k| k.name() == t)?;
            let v = k.canary_series.get(by)?;
            return crate::canary::canary_idle(k, &self.cluster).then_some(v.as_str());
        }
        self.stages.rolled_back?;
        let mut value = None;
        let own =
            |k: &&crate::runbook::KubeTarget| def.target.as_deref().is_none_or(|t| t == k.name());
        for k in self.rb.targets.iter().filter(own) {
            if let Some(v) = k.canary_series.get(by) {
                if !crate::canary::canary_idle(k, &self.cluster) || value.is_some_and(|w| w != v) {
                    return None;
                }
                value = Some(v);
            }
        }
        value.map(String::as_str)
    }

    /// A gauge's level as HEALTH and the gates read it: fresh data only, without a
    /// track that serves nothing.
    pub fn gauge_level(&self, i: usize) -> metrics::Level {
        let def = &self.rb.metrics[i];
        self.metrics[i].level_skipping(def, self.now, self.stale_after, self.not_serving(def))
    }

    /// Every gauge as the screen shows it now: the flight recorder's entry.
    pub fn seen(&self) -> Vec<crate::journal::Seen> {
        self.rb
            .metrics
            .iter()
            .zip(&self.metrics)
            .enumerate()
            .map(|(i, (def, m))| crate::journal::Seen {
                gauge: def.id.clone(),
                value: m.last_value.map(|(v, _)| v).filter(|v| v.is_finite()),
                at: m.last_value.map(|(_, at)| at),
                parts: m
                    .last_parts
                    .iter()
                    .filter(|p| p.value.is_finite())
                    .map(|p| crate::journal::SeenPart {
                        part: p.key.clone(),
                        value: p.value,
                        at: p.at,
                    })
                    .collect(),
                level: self.gauge_level(i).word().to_string(),
            })
            .collect()
    }

    /// Make a record of something that happens now, by `who`.
    pub fn record(&self, who: &str, entry: Entry) -> Record {
        Record {
            seq: self.seq + 1,
            // The moment the event arrived when the driver read it (to the millisecond),
            // else the clock's last tick.
            at: self.wall.map_or(self.now, |w| w.max(self.now)),
            who: who.to_string(),
            entry,
        }
    }

    /// Apply one journal record. Live and replayed records go through here alike, so a
    /// restart rebuilds exactly what was on screen.
    pub fn apply(&mut self, rec: &Record) {
        self.seq = self.seq.max(rec.seq);
        self.ui.dirty = true;
        let who = rec.who.clone();
        let log = |s: &mut State, level: LogLevel, text: String| {
            s.comms.push(CommsEntry {
                at: rec.at,
                who: who.clone(),
                level,
                text,
            });
        };
        match &rec.entry {
            Entry::Session {
                runbook,
                release,
                version,
            } => {
                self.stages.release_started.get_or_insert(rec.at);
                log(
                    self,
                    LogLevel::Info,
                    trf(
                        self.lang,
                        "console started on {} {} ({})",
                        &[release, version, runbook],
                    ),
                );
            }
            Entry::Mark { item, mark, signer } => {
                let Some(i) = self.checklist.index_of(item) else {
                    log(
                        self,
                        LogLevel::Warn,
                        trf(
                            self.lang,
                            "journal names item `{}`, which this runbook does not have",
                            &[item],
                        ),
                    );
                    return;
                };
                let signer = signer.as_deref().map(|n| clean(n).into_owned());
                self.checklist.marks[i] = ItemMark {
                    mark: *mark,
                    by: Some(rec.who.clone()),
                    at: Some(rec.at),
                    signer: signer.clone(),
                    evidence: None,
                };
                let it = &self.checklist.items[i];
                if let (Mark::Done, Some(name)) = (mark, &signer) {
                    // The signer and the role they sign for; the entry's `who` typed it.
                    let role = it.role.as_deref().unwrap_or(tr(self.lang, "sign-off"));
                    let text = trf(
                        self.lang,
                        "✍ {} signed off as {} ({})",
                        &[name, &role, &it.text],
                    );
                    log(self, LogLevel::Info, text);
                    return;
                }
                let sym = match mark {
                    Mark::Done if it.kind == crate::runbook::ItemKind::Signoff => {
                        tr(self.lang, "signed off")
                    }
                    Mark::Done => "✔",
                    Mark::Todo => tr(self.lang, "☐ unticked"),
                    Mark::Skipped => tr(self.lang, "skipped"),
                    Mark::Failed => tr(self.lang, "✘ FAILED"),
                };
                let text = format!("{sym} {}", it.text);
                let level = if *mark == Mark::Failed {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                };
                log(self, level, text);
                let parents: Vec<usize> = (0..i)
                    .filter(|&p| self.checklist.children(p).contains(&i))
                    .collect();
                let before: Vec<Mark> = parents
                    .iter()
                    .map(|&p| self.checklist.marks[p].mark)
                    .collect();
                self.checklist.settle_parents();
                for (&p, was) in parents.iter().zip(before) {
                    let now = self.checklist.marks[p].mark;
                    if now != was && now == Mark::Done {
                        let text = trf(
                            self.lang,
                            "✔ {} (all its sub-items are done)",
                            &[&self.checklist.items[p].text],
                        );
                        log(self, LogLevel::Info, text);
                    }
                }
            }
            Entry::Ticks { scope, items } => {
                let mut done = 0;
                for id in items {
                    let Some(i) = self.checklist.index_of(id) else {
                        continue;
                    };
                    self.checklist.marks[i] = ItemMark {
                        mark: Mark::Done,
                        by: Some(rec.who.clone()),
                        at: Some(rec.at),
                        signer: None,
                        evidence: None,
                    };
                    done += 1;
                }
                self.checklist.settle_parents();
                // One line for the lot: the log stays readable; the journal names each.
                log(
                    self,
                    LogLevel::Info,
                    if done == 1 {
                        trf(self.lang, "✔ 1 item of {} in one confirmation", &[scope])
                    } else {
                        trf(
                            self.lang,
                            "✔ {} items of {} in one confirmation",
                            &[&done, scope],
                        )
                    },
                );
            }
            Entry::Complete {} => {
                self.stages.complete.get_or_insert(rec.at);
                log(
                    self,
                    LogLevel::Info,
                    tr(
                        self.lang,
                        "RELEASE COMPLETE: every stage held, every required post-deployment check done",
                    )
                    .into(),
                );
            }
            Entry::Note { text } => {
                // A note longer than the console takes at input (an older journal, or one
                // written by hand) is shown cut: the screen is redrawn often, the journal
                // keeps it whole.
                let max = MAX_NOTE;
                let shown = match text.char_indices().nth(max) {
                    Some((cut, _)) => trf(
                        self.lang,
                        "“{}…” ({} more characters in the journal)",
                        &[&&text[..cut], &text[cut..].chars().count()],
                    ),
                    None => format!("“{text}”"),
                };
                log(self, LogLevel::Info, shown)
            }
            Entry::Advance { plan, .. }
            | Entry::Rollback { plan, .. }
            | Entry::Pause { plan, .. }
            | Entry::Step { plan, .. } => {
                if matches!(rec.entry, Entry::Rollback { target: None, .. }) {
                    self.stages.rollback_undo = self.stages.promoted;
                    self.stages.rollback_queued = self.stages.queue.clone();
                }
                self.stages.pending = Some(Pending {
                    seq: rec.seq,
                    entry: rec.entry.clone(),
                    at: rec.at,
                });
                let verb = match &rec.entry {
                    Entry::Rollback { reason, .. } => trf(self.lang, "ROLLBACK ({}): ", &[reason]),
                    Entry::Advance {
                        overridden,
                        override_reason: Some(why),
                        ..
                    } => trf(
                        self.lang,
                        "OVERRIDE of unknown health ({}), because “{}”: ",
                        &[&overridden.join(self.lang.semicolon()), why],
                    ),
                    _ => String::new(),
                };
                let text = trf(self.lang, "{}{} — sent", &[&verb, plan]);
                log(self, LogLevel::Info, text);
            }
            Entry::Outcome { of, ok, message } => {
                let pending = self.stages.pending.take_if(|p| p.seq == *of);
                if *ok && let Some(p) = &pending {
                    self.stage_done(&p.entry, rec.at);
                }
                if let Some(Pending {
                    entry:
                        Entry::Step {
                            target: Some(t), ..
                        },
                    ..
                }) = &pending
                    && !*ok
                {
                    self.stages.stopped =
                        Some(trf(self.lang, "{}'s step failed: {}", &[t, message]));
                }
                let level = if *ok { LogLevel::Info } else { LogLevel::Error };
                let head = if *ok {
                    tr(self.lang, "done")
                } else {
                    tr(self.lang, "FAILED")
                };
                // How long the API took, from the intent's record to the answer's.
                let took = pending
                    .as_ref()
                    .map(|p| (rec.at - p.at).num_milliseconds())
                    .filter(|ms| *ms > 0)
                    .map(|ms| {
                        trf(
                            self.lang,
                            " (answered in {} s)",
                            &[&format!("{:.1}", ms as f64 / 1000.0)],
                        )
                    })
                    .unwrap_or_default();
                let text = format!("{head}{}{message}{took}", self.lang.colon());
                log(self, level, text);
            }
            Entry::Cancel { trigger, reason } => {
                if let Some(i) = self
                    .rb
                    .rollback_triggers
                    .iter()
                    .position(|t| &t.id == trigger)
                {
                    self.triggers[i].cancelled = Some(triggers::Cancelled {
                        at: rec.at,
                        by: rec.who.clone(),
                        reason: reason.clone(),
                    });
                }
                log(
                    self,
                    LogLevel::Warn,
                    trf(
                        self.lang,
                        "cancelled the automatic rollback ({}): “{}”",
                        &[trigger, reason],
                    ),
                );
            }
            Entry::System { level, text } => log(self, *level, text.clone()),
            Entry::Notice {
                event, channels, ..
            } => log(
                self,
                LogLevel::Info,
                trf(self.lang, "told {} of {}", &[&channels.join(", "), event]),
            ),
            // A message delivered is not news; one that could not be is.
            Entry::Delivered { ok: true, .. } => {}
            Entry::Delivered {
                of,
                channel,
                message,
                attempts,
                ..
            } => log(
                self,
                LogLevel::Warn,
                trf(
                    self.lang,
                    "notice #{} NOT delivered to {} after {} attempts: {}",
                    &[of, channel, attempts, message],
                ),
            ),
            Entry::Verified {
                item,
                verdict,
                evidence,
            } => {
                let Some(i) = self.checklist.index_of(item) else {
                    log(
                        self,
                        LogLevel::Warn,
                        trf(
                            self.lang,
                            "journal names item `{}`, which this runbook does not have",
                            &[item],
                        ),
                    );
                    return;
                };
                use crate::journal::Verdict;
                let evidence = clean(evidence).into_owned();
                let (mark, level, head) = match verdict {
                    Verdict::Pass => (Mark::Done, LogLevel::Info, tr(self.lang, "✔ verified")),
                    Verdict::Fail => (
                        Mark::Failed,
                        LogLevel::Warn,
                        tr(self.lang, "✘ verification FAILED"),
                    ),
                    Verdict::Unknown => (
                        Mark::Todo,
                        LogLevel::Warn,
                        tr(self.lang, "? no longer verified"),
                    ),
                };
                self.checklist.marks[i] = ItemMark {
                    mark,
                    by: Some(rec.who.clone()),
                    at: Some(rec.at),
                    signer: None,
                    evidence: Some(evidence.clone()),
                };
                let colon = self.lang.colon();
                let text = format!(
                    "{head}{colon}{}{colon}{evidence}",
                    self.checklist.items[i].text
                );
                // Passes reached in the same second (a console starting on a healthy
                // cluster) are one line in the log; the journal, the item and the report
                // keep each.
                let folds = *verdict == Verdict::Pass
                    && self.comms.last().is_some_and(|c| {
                        c.at.timestamp() == rec.at.timestamp()
                            && c.who == rec.who
                            && c.text.starts_with(tr(self.lang, "✔ verified"))
                    });
                if folds {
                    let names = self.verified_fold.get_or_insert_with(Vec::new);
                    names.push(self.checklist.items[i].text.clone());
                    let n = names.len();
                    let list = names.join(self.lang.semicolon());
                    if let Some(c) = self.comms.last_mut() {
                        c.text = trf(self.lang, "✔ verified {} checks: {}", &[&n, &list]);
                    }
                } else {
                    self.verified_fold = (*verdict == Verdict::Pass)
                        .then(|| vec![self.checklist.items[i].text.clone()]);
                    log(self, level, text);
                }
                self.checklist.settle_parents();
            }
            // Not said in the log: it is the record of what the gauges said.
            Entry::Gauges { gauges } => self.recorded = Some((rec.at, gauges.clone())),
        }
    }

    pub fn stage_done(&mut self, entry: &Entry, at: DateTime<Utc>) {
        let s = &mut self.stages;
        match entry {
            Entry::Advance { to, .. } => {
                let idx = self.rb.stage_index(to);
                s.first_stage.get_or_insert(at);
                s.current = idx;
                s.since = Some(at);
                // A stage in order has moved its first target: the others follow, and its
                // hold starts when the last has moved.
                s.stopped = None;
                let out = s.out_targets();
                s.queue = idx
                    .map(|i| {
                        self.rb
                            .stage_order(i)
                            .into_iter()
                            .filter(|t| !out.contains(t))
                            .skip(1)
                            .collect()
                    })
                    .unwrap_or_default();
                if !s.queue.is_empty() {
                    s.since = None;
                }
                s.began = Some(at);
                s.held_before_pause = 0;
                s.paused = false;
                s.rolled_back = None;
                if idx.is_some_and(|i| self.rb.stages[i].traffic >= 100) {
                    s.promoted = true;
                }
            }
            Entry::Step {
                target: Some(name), ..
            } => {
                s.queue.retain(|&t| self.rb.targets[t].name() != name);
                if s.queue.is_empty() && s.since.is_none() && !s.paused {
                    s.since = Some(at);
                }
            }
            Entry::Rollback {
                target: Some(name), ..
            } => {
                if let Some(t) = self.rb.targets.iter().position(|k| k.name() == name)
                    && !s.is_out(t)
                {
                    s.out.push((t, at));
                    s.queue.retain(|&q| q != t);
                    if s.queue.is_empty() && s.since.is_none() && !s.paused && s.current.is_some() {
                        s.since = Some(at);
                    }
                }
            }
            Entry::Rollback { .. } => {
                s.queue.clear();
                s.stopped = None;
                s.out.clear();
                s.current = None;
                s.since = None;
                s.began = None;
                s.paused = false;
                s.rolled_back = Some(at);
                s.promoted = false;
                self.fresh_attempt(at);
            }
            Entry::Pause { paused, .. } => {
                if *paused && !s.paused {
                    s.held_before_pause += s.since.map(|t| (at - t).num_seconds()).unwrap_or(0);
                    s.since = None;
                } else if !*paused && s.paused && s.queue.is_empty() {
                    s.since = Some(at);
                }
                s.paused = *paused;
            }
            _ => {}
        }
    }

    /// After a rollback the next attempt starts its stage checks fresh: what was ticked
    /// while the rolled-back attempt ran (the items gating the stages after the first)
    /// says nothing about the next one. The old ticks stay in the journal and the log.
    fn fresh_attempt(&mut self, at: DateTime<Utc>) {
        let mut cleared = 0;
        for (i, it) in self.checklist.items.iter().enumerate() {
            let later_stage = it
                .gates
                .as_deref()
                .and_then(|g| self.rb.stage_index(g))
                .is_some_and(|g| g >= 1);
            let m = &mut self.checklist.marks[i];
            if later_stage && it.kind.tickable() && m.mark != Mark::Todo && m.by.is_some() {
                *m = ItemMark {
                    mark: Mark::Todo,
                    by: None,
                    at: None,
                    signer: None,
                    evidence: None,
                };
                cleared += 1;
            }
        }
        if cleared > 0 {
            self.comms.push(CommsEntry {
                at,
                who: CONSOLE.into(),
                level: LogLevel::Info,
                text: trf(
                    self.lang,
                    "a new attempt starts its stage checks fresh: {} checks of the rolled-back attempt were cleared (they stay above, as the earlier attempt)",
                    &[&cleared],
                ),
            });
        }
    }

    /// Put back everything the journal decides (ticks, stage, notes, the log, cancelled
    /// countdowns) as the journal's records say, keeping what the sources said (gauges,
    /// cluster, Lease) and the screen's own state: after a record could not be written,
    /// the screen must not show a decision that is not on disk.
    pub fn rebuild(&mut self, records: &[Record]) {
        let mut fresh = State::new(self.rb.clone(), &self.operator, self.now);
        for r in records {
            fresh.apply(r);
        }
        self.checklist.marks = fresh.checklist.marks;
        self.stages = fresh.stages;
        self.comms = fresh.comms;
        self.seq = fresh.seq;
        self.recorded = fresh.recorded;
        for (t, f) in self.triggers.iter_mut().zip(fresh.triggers) {
            t.cancelled = f.cancelled;
        }
        self.ui.mode = Mode::Normal;
        self.ui.dirty = true;
    }

    /// Seconds the current stage has been held (pauses excluded).
    pub fn held(&self) -> i64 {
        self.stages.held_before_pause
            + self
                .stages
                .since
                .map(|t| (self.now - t).num_seconds().max(0))
                .unwrap_or(0)
    }

    /// A stage is in progress: the release is under way and not finished or rolled back.
    pub fn in_progress(&self) -> bool {
        self.stages.pending.is_some()
            || match self.stages.current {
                Some(i) => {
                    i + 1 < self.rb.stages.len()
                        || self.held() < self.rb.stages[i].hold.secs() as i64
                }
                None => false,
            }
    }

    /// How the cluster differs from what the stage in force implies, in words: someone
    /// changed it by hand, another console drives it, or this journal is behind. None when
    /// they agree, or while an action is in flight or the cluster has not been seen.
    pub fn cluster_disagreement(&self) -> Option<String> {
        if self.stages.pending.is_some() || self.cluster.updated.is_none() {
            return None;
        }
        let stage = self
            .stages
            .current
            .filter(|_| self.stages.rolled_back.is_none());
        let name = stage
            .map(|i| self.rb.stages[i].title.clone())
            .unwrap_or_else(|| self.stage_name());
        let each: Vec<String> = (0..self.rb.targets.len())
            .filter_map(|t| {
                let (traffic, promoted) = self.expected(t);
                let name = match stage {
                    Some(i) if self.stages.queue.contains(&t) => i
                        .checked_sub(1)
                        .map(|p| self.rb.stages[p].title.clone())
                        .unwrap_or_else(|| {
                            crate::i18n::tr(self.lang, "before the first stage").into()
                        }),
                    _ => name.clone(),
                };
                crate::canary::drift(
                    &self.rb.targets[t],
                    &self.cluster,
                    traffic,
                    promoted,
                    &name,
                    self.lang,
                )
            })
            .collect();
        (!each.is_empty()).then(|| each.join(self.lang.semicolon()))
    }

    /// What target `t` should look like now: (the traffic of the stage that moved it
    /// last, whether that promoted it). A target still waiting its turn at the stage in
    /// force is as the stage before left it.
    pub fn expected(&self, t: usize) -> (u32, bool) {
        let stage = self
            .stages
            .current
            .filter(|_| self.stages.rolled_back.is_none());
        match stage {
            _ if self.stages.is_out(t) => (0, false),
            Some(i) if self.stages.queue.contains(&t) => {
                let traffic = i.checked_sub(1).map_or(0, |p| self.rb.stages[p].traffic);
                (traffic, traffic >= 100)
            }
            Some(i) => (self.rb.stages[i].traffic, self.stages.promoted),
            None => (0, self.stages.promoted),
        }
    }

    pub fn stage_name(&self) -> String {
        let lang = self.lang;
        if let Some(p) = &self.stages.pending {
            return match &p.entry {
                Entry::Advance { to, .. } => {
                    trf(lang, "→ {} (waiting for the API)", &[&self.stage_title(to)])
                }
                Entry::Rollback { .. } => tr(lang, "rolling back (waiting for the API)").into(),
                Entry::Pause { paused: true, .. } => {
                    tr(lang, "pausing (waiting for the API)").into()
                }
                Entry::Step { .. } => trf(
                    lang,
                    "{} · retiring the canary (waiting for the API)",
                    &[&self
                        .stages
                        .current
                        .map(|i| self.rb.stages[i].title.clone())
                        .unwrap_or_default()],
                ),
                _ => tr(lang, "resuming (waiting for the API)").into(),
            };
        }
        if self.stages.rolled_back.is_some() {
            return tr(lang, "ROLLED BACK").into();
        }
        match self.stages.current {
            None => tr(lang, "preparation").into(),
            Some(i) => {
                let st = &self.rb.stages[i];
                if i + 1 == self.rb.stages.len() && self.stages.complete.is_some() {
                    trf(lang, "{} complete", &[&st.title])
                } else if i + 1 == self.rb.stages.len() && self.held() >= st.hold.secs() as i64 {
                    trf(lang, "{} held · post-deployment checks", &[&st.title])
                } else if self.stages.paused {
                    trf(lang, "{} PAUSED", &[&st.title])
                } else {
                    st.title.clone()
                }
            }
        }
    }

    fn stage_title(&self, id: &str) -> String {
        self.rb
            .stage_index(id)
            .map(|i| self.rb.stages[i].title.clone())
            .unwrap_or_else(|| id.to_string())
    }
}
