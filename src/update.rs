//! The pure heart of the console: `update(state, event) -> effects`. No I/O happens here;
//! stage rules, gates and checklist rules live here and are tested without a terminal,
//! a cluster or a runtime.

use crate::action::{Action, action_for};
use crate::effect::{Audit, Effect, KubeOp};
use crate::event::Event;
use crate::journal::{Entry, Level as LogLevel, Mark};
use crate::layout::Pane;
use crate::runbook::{ItemKind, Split};
use crate::state::cluster::Link;
use crate::state::metrics::{Level, Reading};
use crate::state::{Confirm, Driver, Mode, Proposal, Row, State, TriggerState};
use crate::text::clean;

/// Who the console itself is in the journal and the log.
pub const CONSOLE: &str = "console";

pub fn update(s: &mut State, ev: Event) -> Vec<Effect> {
    let mut fx = Vec::new();
    match ev {
        Event::Key(k) => {
            s.ui.flash = None;
            s.ui.dirty = true;
            if let Mode::Note(buf) = &mut s.ui.mode {
                match action_for(&Mode::Note(String::new()), &k) {
                    Some(a) => act(s, a, &mut fx),
                    None => {
                        use ratatui::crossterm::event::KeyCode;
                        match k.code {
                            KeyCode::Char(c) => buf.push(c),
                            KeyCode::Backspace => {
                                buf.pop();
                            }
                            _ => {}
                        }
                    }
                }
            } else if let Some(a) = action_for(&s.ui.mode, &k) {
                act(s, a, &mut fx);
            }
        }
        Event::Paste(text) => {
            if let Mode::Note(buf) = &mut s.ui.mode {
                buf.push_str(&text.replace(['\r', '\n'], " "));
                s.ui.dirty = true;
            }
        }
        Event::Resize => s.ui.dirty = true,
        Event::Tick(now) => {
            let before = s.stage_name();
            // The diagnostic log fills on its own; while it is shown, look each second.
            if s.ui.console_log || clock_shows_change(s, s.now, now) {
                s.ui.dirty = true;
            }
            s.now = now;
            announce_staleness(s, &mut fx);
            evaluate_triggers(s, &mut fx);
            compare_with_cluster(s, &mut fx);
            if let Some(i) = s.stages.current
                && s.stages.pending.is_none()
                && !s.stages.paused
                && s.held() == s.rb.stages[i].hold.secs() as i64
                && before != s.stage_name()
            {
                let st = &s.rb.stages[i];
                let text = if i + 1 < s.rb.stages.len() {
                    format!("{} held for {}: ready to advance", st.title, st.hold)
                } else {
                    format!("{} held for {}: release complete", st.title, st.hold)
                };
                say(s, LogLevel::Info, text, &mut fx);
            }
        }
        Event::Cluster(snap) => {
            if let Link::Lost { since, .. } = &s.cluster.link {
                let text = format!(
                    "Kubernetes API reachable again (lost since {})",
                    crate::ui::hms(*since)
                );
                say(s, LogLevel::Info, text, &mut fx);
            }
            s.cluster.link = Link::Live;
            s.cluster.updated = Some(s.now);
            if s.cluster.snap != snap {
                s.cluster.snap = snap;
                s.ui.dirty = true;
            }
            compare_with_cluster(s, &mut fx);
        }
        Event::ClusterLost { at, error } => {
            let error = clean(&error).into_owned();
            if !matches!(s.cluster.link, Link::Lost { .. }) {
                s.cluster.link = Link::Lost {
                    since: at,
                    error: error.clone(),
                };
                let text = if s.cluster.updated.is_some() {
                    format!(
                        "Kubernetes API unreachable: {error}. The rollout pane keeps its last data, marked stale; the console retries with backoff."
                    )
                } else {
                    format!(
                        "Kubernetes API unreachable: {error}. Nothing is known of the cluster yet; the console retries with backoff."
                    )
                };
                say(s, LogLevel::Error, text, &mut fx);
            }
            s.ui.dirty = true;
        }
        Event::Metric { index, at, reading } => metric(s, index, at, reading, &mut fx),
        Event::Backfill { index, points } => {
            if let Some(m) = s.metrics.get_mut(index) {
                for p in points.into_iter().filter(|p| p.is_finite()) {
                    m.push_history(p);
                }
                s.ui.dirty = true;
            }
        }
        Event::Lease(d) => {
            if s.driver != d {
                let (level, text) = match &d {
                    Driver::Driving { lease } => (
                        LogLevel::Info,
                        format!("this console drives the release: it holds the Lease {lease}"),
                    ),
                    Driver::ReadOnly { why, .. } => (
                        LogLevel::Warn,
                        format!("read-only: {why}. Action keys do nothing here."),
                    ),
                    Driver::Claiming => (
                        LogLevel::Info,
                        "claiming the release's Lease from the cluster".to_string(),
                    ),
                };
                s.driver = d;
                s.ui.dirty = true;
                say(s, level, text, &mut fx);
            }
        }
        Event::Outcome { seq, ok, message } => {
            let message = clean(&message).into_owned();
            emit(
                s,
                CONSOLE,
                Entry::Outcome {
                    of: seq,
                    ok,
                    message,
                },
                &mut fx,
            );
        }
    }
    fx
}

/// Whether moving the clock from `before` to `now` changes anything on screen: the header
/// clock and older pods' ages move by the minute; hold countdowns, new pods' ages and
/// stale gauges' ages by the second.
fn clock_shows_change(
    s: &State,
    before: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    if before.timestamp() / 60 != now.timestamp() / 60 {
        return true;
    }
    let counting_down = s
        .stages
        .current
        .is_some_and(|i| s.held() <= s.rb.stages[i].hold.secs() as i64 + 1);
    let young_pod = s
        .cluster
        .snap
        .pods
        .iter()
        .any(|p| p.created.is_some_and(|c| (now - c).num_seconds() <= 121));
    let stale_soon = s
        .metrics
        .iter()
        .any(|m| m.age(now).is_some_and(|a| a >= s.stale_after));
    counting_down || young_pod || stale_soon || s.stages.pending.is_some()
}

/// The console itself says something in the log (and the journal).
fn say(s: &mut State, level: LogLevel, text: String, fx: &mut Vec<Effect>) {
    emit(s, CONSOLE, Entry::System { level, text }, fx);
}

/// Record `entry`, apply it to the state, and have the driver journal it.
fn emit(s: &mut State, who: &str, entry: Entry, fx: &mut Vec<Effect>) -> u64 {
    let rec = s.record(who, entry);
    s.apply(&rec);
    let seq = rec.seq;
    fx.push(Effect::Journal(rec));
    seq
}

fn act(s: &mut State, a: Action, fx: &mut Vec<Effect>) {
    match (&s.ui.mode, a) {
        (Mode::Help, Action::Quit) => {
            s.ui.mode = Mode::Normal;
            quit(s, fx);
        }
        (Mode::Help, _) => s.ui.mode = Mode::Normal,
        (Mode::Note(text), Action::Confirm) => {
            let text = clean(text.trim()).into_owned();
            s.ui.mode = Mode::Normal;
            if !text.is_empty() {
                let who = s.operator.clone();
                emit(s, &who, Entry::Note { text }, fx);
            }
        }
        (Mode::Note(_), Action::Cancel) => s.ui.mode = Mode::Normal,
        (Mode::Note(_), Action::Quit) => s.ui.mode = Mode::Normal,
        (Mode::Confirm(c), Action::Confirm) => {
            // The Lease may have been lost since the confirmation opened.
            if c.proposal != Proposal::Quit
                && let Some(why) = s.driver.refusal()
                && let Mode::Confirm(c) = &mut s.ui.mode
                && !c.blockers.contains(&why)
            {
                c.blockers.insert(0, why);
            }
            let Mode::Confirm(c) = &s.ui.mode else {
                return;
            };
            if c.blockers.is_empty() {
                let c = c.clone();
                s.ui.mode = Mode::Normal;
                confirmed(s, c, fx);
            } else {
                s.ui.flash = Some("blocked: see the confirmation for why".into());
            }
        }
        (Mode::Confirm(_), Action::Cancel) => {
            s.ui.mode = Mode::Normal;
            s.ui.flash = Some("cancelled: nothing was done".into());
        }
        (Mode::Confirm(_), Action::Quit) => s.ui.mode = Mode::Normal,
        (Mode::Confirm(_) | Mode::Note(_), _) => {}
        (Mode::Normal, a) => normal(s, a, fx),
    }
}

fn normal(s: &mut State, a: Action, fx: &mut Vec<Effect>) {
    match a {
        Action::FocusNext | Action::FocusPrev => {
            let all = Pane::FOCUSABLE;
            let i = all.iter().position(|p| *p == s.ui.focus).unwrap_or(0);
            let n = all.len();
            let j = if a == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            s.ui.focus = all[j];
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
            let step: isize = match a {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -10,
                _ => 10,
            };
            move_cursor(s, step);
        }
        Action::Collapse | Action::Expand => {
            if s.ui.focus == Pane::Checklist {
                let rows = s.checklist.rows();
                let phase = match rows.get(s.checklist.cursor) {
                    Some(Row::Phase(p)) | Some(Row::Group(p, _)) => Some(*p),
                    Some(Row::Item(i)) => Some(s.checklist.items[*i].phase),
                    None => None,
                };
                if let Some(p) = phase {
                    s.checklist.collapsed[p] = a == Action::Collapse;
                    // keep the cursor on the phase row when its items disappear
                    let rows = s.checklist.rows();
                    if let Some(pos) = rows.iter().position(|r| *r == Row::Phase(p))
                        && a == Action::Collapse
                    {
                        s.checklist.cursor = pos;
                    }
                    s.checklist.cursor = s.checklist.cursor.min(rows.len().saturating_sub(1));
                }
            }
        }
        Action::Toggle | Action::Skip | Action::Fail => mark_selected(s, a, fx),
        Action::Note => s.ui.mode = Mode::Note(String::new()),
        Action::Advance | Action::Rollback | Action::Pause if s.driver.refusal().is_some() => {
            let why = s.driver.refusal().unwrap_or_default();
            s.ui.flash = Some(format!("{why}: nothing was done"));
        }
        Action::Advance => propose(s, plan_advance(s)),
        Action::Rollback => propose(s, plan_rollback(s)),
        Action::Pause => propose(s, plan_pause(s)),
        Action::Help => s.ui.mode = Mode::Help,
        Action::ConsoleLog => s.ui.console_log = !s.ui.console_log,
        Action::Quit => quit(s, fx),
        Action::Confirm | Action::Cancel => {}
    }
}

fn propose(s: &mut State, c: Result<Confirm, String>) {
    match c {
        Ok(c) => s.ui.mode = Mode::Confirm(c),
        Err(why) => s.ui.flash = Some(why),
    }
}

fn quit(s: &mut State, fx: &mut Vec<Effect>) {
    if s.in_progress() {
        s.ui.mode = Mode::Confirm(Confirm {
            title: format!("Quit while {} is in progress?", s.stage_name()),
            plan: vec![
                "The cluster stays exactly as it is; nothing is rolled back.".into(),
                "Start the console again with the same journal to carry on.".into(),
            ],
            blockers: vec![],
            proposal: Proposal::Quit,
        });
    } else {
        close(s, fx);
    }
}

/// The session ends: the journal says so, then the console quits.
fn close(s: &mut State, fx: &mut Vec<Effect>) {
    let who = s.operator.clone();
    let text = format!("closed the console at {}", s.stage_name());
    emit(
        s,
        &who,
        Entry::System {
            level: LogLevel::Info,
            text,
        },
        fx,
    );
    s.ui.quit = true;
    fx.push(Effect::Quit);
}

fn move_cursor(s: &mut State, step: isize) {
    let clamp = |v: usize, step: isize, max: usize| -> usize {
        (v as isize + step).clamp(0, max.saturating_sub(1) as isize) as usize
    };
    match s.ui.focus {
        Pane::Checklist => {
            let n = s.checklist.rows().len();
            s.checklist.cursor = clamp(s.checklist.cursor, step, n);
        }
        // The log scrolls back from the newest entry: up goes further back.
        Pane::Comms => s.ui.comms_scroll = clamp(s.ui.comms_scroll, -step, s.comms.len()),
        Pane::Rollout => {
            let n = s.cluster.snap.pods.len() + s.cluster.snap.replicasets.len() + 8;
            s.ui.rollout_scroll = clamp(s.ui.rollout_scroll, step, n);
        }
        Pane::Gauges => s.ui.gauge_cursor = clamp(s.ui.gauge_cursor, step, s.metrics.len()),
        _ => {}
    }
}

fn mark_selected(s: &mut State, a: Action, fx: &mut Vec<Effect>) {
    if s.ui.focus != Pane::Checklist {
        s.ui.flash = Some("select an item in the checklist first (Tab to the checklist)".into());
        return;
    }
    let i = match s.checklist.selected() {
        Some(Row::Item(i)) => i,
        Some(Row::Phase(p)) if a == Action::Toggle => {
            s.checklist.collapsed[p] = !s.checklist.collapsed[p];
            return;
        }
        _ => return,
    };
    let item = &s.checklist.items[i];
    if !item.kind.tickable() {
        s.ui.flash = Some(format!(
            "“{}” is for reading, not ticking",
            crate::text::fit(&item.text, 40)
        ));
        return;
    }
    let cur = s.checklist.marks[i].mark;
    let mark = match a {
        Action::Toggle => {
            if cur == Mark::Done {
                Mark::Todo
            } else {
                Mark::Done
            }
        }
        Action::Skip => {
            if item.kind == ItemKind::Signoff {
                s.ui.flash = Some("a sign-off cannot be skipped".into());
                return;
            }
            if cur == Mark::Skipped {
                Mark::Todo
            } else {
                Mark::Skipped
            }
        }
        _ => {
            if cur == Mark::Failed {
                Mark::Todo
            } else {
                Mark::Failed
            }
        }
    };
    let id = item.id.clone();
    let who = s.operator.clone();
    emit(s, &who, Entry::Mark { item: id, mark }, fx);
}

fn confirmed(s: &mut State, c: Confirm, fx: &mut Vec<Effect>) {
    let who = s.operator.clone();
    let plan = c.title.clone();
    let release = format!("{} {}", s.rb.release.name, s.rb.release.version);
    match c.proposal {
        Proposal::Advance { to, op } => {
            let stage = &s.rb.stages[to];
            let audit = Audit {
                reason: "WarroomAdvance".into(),
                message: format!(
                    "{who} advanced {release} to {} ({}%): {plan}",
                    stage.title, stage.traffic
                ),
            };
            let to = stage.id.clone();
            let seq = emit(s, &who, Entry::Advance { to, plan }, fx);
            fx.push(Effect::Kube { seq, op, audit });
        }
        Proposal::Rollback { op } => {
            let mut reason = format!("manual rollback by {who}");
            for (t, def) in s.triggers.iter().zip(&s.rb.rollback_triggers) {
                if let Some((_, e)) = &t.met {
                    reason.push_str(&format!("; trigger met: {} ({e})", def.text));
                }
            }
            let critical = critical_now(s);
            if !critical.is_empty() {
                reason.push_str(&format!("; CRITICAL: {}", critical.join(", ")));
            }
            let audit = Audit {
                reason: "WarroomRollback".into(),
                message: format!("{release}: {reason}: {plan}"),
            };
            let seq = emit(s, &who, Entry::Rollback { reason, plan }, fx);
            fx.push(Effect::Kube { seq, op, audit });
        }
        Proposal::Pause { paused, op } => {
            let audit = Audit {
                reason: if paused {
                    "WarroomPause"
                } else {
                    "WarroomResume"
                }
                .into(),
                message: format!(
                    "{who} {} the rollout of {release}: {plan}",
                    if paused { "paused" } else { "resumed" }
                ),
            };
            let seq = emit(s, &who, Entry::Pause { paused, plan }, fx);
            fx.push(Effect::Kube { seq, op, audit });
        }
        Proposal::Quit => close(s, fx),
    }
}

/// The gauges at CRITICAL now, with their values: the evidence a rollback records.
fn critical_now(s: &State) -> Vec<String> {
    s.metrics
        .iter()
        .zip(&s.rb.metrics)
        .filter(|(m, def)| m.level(def, s.now, s.stale_after) == Level::Critical)
        .map(|(m, def)| {
            format!(
                "{} {}",
                def.title,
                crate::ui::gauges::format_value(def, m.last_value.map(|v| v.0))
            )
        })
        .collect()
}

fn replicas_total(s: &State) -> u32 {
    match s.rb.kubernetes.split() {
        Split::Replicas(n) => n,
        Split::Gateway { .. } => 0,
    }
}

/// Gateway API: the HTTPRoute's weights for `traffic` percent to the canary, and the
/// canary scaled up first when it has fewer pods than its share needs.
fn plan_weights(
    s: &State,
    route: &str,
    stable: &str,
    canary: &str,
    traffic: u32,
) -> (String, Vec<String>, KubeOp) {
    let k = &s.rb.kubernetes;
    let weights = vec![
        (stable.to_string(), 100 - traffic),
        (canary.to_string(), traffic),
    ];
    let title = if traffic >= 100 {
        format!(
            "Send all traffic to the canary: HTTPRoute {route} weights {stable}=0, {canary}=100"
        )
    } else {
        format!(
            "Shift traffic to {traffic}%: HTTPRoute {route} weights {stable}={}, {canary}={traffic}",
            100 - traffic
        )
    };
    let mut plan = Vec::new();
    // As many canary pods as its share of the stable's pods, so each pod's load stays.
    let stable_pods = s
        .cluster
        .deployment(&k.stable)
        .map(|d| d.desired)
        .unwrap_or(0);
    let need = ((stable_pods as u64 * traffic as u64).div_ceil(100) as u32).max(1);
    let canary_view = s.cluster.deployment(&k.canary);
    let have = canary_view.map(|d| d.desired).unwrap_or(0);
    let canary_replicas = (traffic > 0 && have < need).then_some(need);
    if let Some(n) = canary_replicas {
        let ready = canary_view.map(|d| d.ready).unwrap_or(0);
        plan.push(format!(
            "First scale {} from {have} to {n} pods for its share; until they are ready its {ready} ready pods take it.",
            k.canary
        ));
    }
    if let Some(r) = &s.cluster.snap.route {
        plan.push(format!("Now: {}", r.describe()));
    }
    plan.push(
        "The gateway takes the new weights when it next reconciles the route; no Deployment's template changes."
            .into(),
    );
    let op = KubeOp::Weights {
        route: route.to_string(),
        weights,
        canary: k.canary.clone(),
        canary_replicas,
        deployments: vec![k.canary.clone(), k.stable.clone()],
    };
    (title, plan, op)
}

fn gateway_blockers(s: &State, route: &str, traffic: u32) -> Vec<String> {
    let k = &s.rb.kubernetes;
    let mut b = Vec::new();
    if s.cluster.snap.route.is_none() {
        b.push(format!(
            "HTTPRoute {route} has not been seen in the cluster"
        ));
    }
    if traffic > 0
        && s.cluster
            .deployment(&k.canary)
            .is_some_and(|d| d.ready == 0)
    {
        b.push(format!(
            "{} has no ready pods: {traffic}% of requests would fail; scale it up and wait for ready pods",
            k.canary
        ));
    }
    b
}

/// The replica split for a stage: (canary, stable, a note when rounding was needed).
pub fn split(total: u32, traffic: u32) -> (u32, u32, Option<String>) {
    let exact = total as f64 * traffic as f64 / 100.0;
    let canary = (exact.round() as u32).clamp(1, total);
    let note = (exact.fract() != 0.0 || canary as f64 != exact).then(|| {
        format!("{traffic}% of {total} replicas is {exact:.1}; rounded to {canary} canary, so the canary takes {:.0}% of pods", 100.0 * canary as f64 / total as f64)
    });
    (canary, total - canary, note)
}

fn common_blockers(s: &State) -> Vec<String> {
    let mut b = Vec::new();
    if let Some(why) = s.driver.refusal() {
        b.push(why);
    }
    if let Some(p) = &s.stages.pending {
        b.push(format!(
            "the last action (#{}) has no answer from the API yet",
            p.seq
        ));
    }
    b
}

pub fn plan_advance(s: &State) -> Result<Confirm, String> {
    let rb = &s.rb;
    let k = &rb.kubernetes;
    let next = s.stages.current.map(|i| i + 1).unwrap_or(0);
    let Some(stage) = rb.stages.get(next) else {
        return Err("already at the last stage: nothing to advance to".into());
    };
    let who = &s.operator;
    let mut blockers = common_blockers(s);
    for i in s.checklist.blockers(rb, next).iter().take(6) {
        blockers.push(format!("not done: {}", s.checklist.items[*i].text));
    }
    let n = s.checklist.blockers(rb, next).len();
    if n > 6 {
        blockers.push(format!("… and {} more required items", n - 6));
    }
    if s.stages.paused {
        blockers.push("the rollout is paused: press p to resume first".into());
    }
    if let Some(i) = s.stages.current {
        let hold = rb.stages[i].hold.secs() as i64;
        let left = hold - s.held();
        if left > 0 {
            blockers.push(format!(
                "{} holds for {}: {} left",
                rb.stages[i].title,
                rb.stages[i].hold,
                crate::ui::fmt_secs(left)
            ));
        }
    }
    let canary = s.cluster.deployment(&k.canary);
    if canary.is_none() {
        blockers.push(format!(
            "Deployment {} has not been seen in the cluster",
            k.canary
        ));
    }
    if s.cluster.deployment(&k.stable).is_none() {
        blockers.push(format!(
            "Deployment {} has not been seen in the cluster",
            k.stable
        ));
    }
    for t in s.triggers.iter().zip(&rb.rollback_triggers) {
        if let (
            TriggerState {
                met: Some((_, e)), ..
            },
            def,
        ) = t
        {
            blockers.push(format!("rollback trigger met: {} ({e})", def.text));
        }
    }
    for (m, def) in s.metrics.iter().zip(&rb.metrics) {
        if m.level(def, s.now, s.stale_after) == Level::Critical {
            blockers.push(format!(
                "{} is CRITICAL at {}",
                def.title,
                crate::ui::gauges::format_value(def, m.last_value.map(|v| v.0))
            ));
        }
    }
    let cause = format!("{who}: advance to {} ({}%)", stage.id, stage.traffic);
    let (title, mut plan, op) = if let Split::Gateway {
        route,
        stable,
        canary: cb,
    } = k.split()
    {
        let (title, plan, op) = plan_weights(s, route, stable, cb, stage.traffic);
        blockers.extend(gateway_blockers(s, route, stage.traffic));
        (title, plan, op)
    } else if stage.traffic >= 100 {
        let total = replicas_total(s);
        let image = canary
            .map(|d| d.image.clone())
            .unwrap_or_else(|| "?".into());
        (
            format!(
                "Promote to 100%: roll {} to {image}, scale it to {total} and {} to 0",
                k.stable, k.canary
            ),
            vec![
                format!(
                    "{}'s pod template becomes {}'s (image {image}): a rolling update, new revision",
                    k.stable, k.canary
                ),
                format!("kubernetes.io/change-cause: \"{cause}\""),
            ],
            KubeOp::Promote {
                stable: k.stable.clone(),
                canary: k.canary.clone(),
                replicas: total,
                cause,
            },
        )
    } else {
        let total = replicas_total(s);
        let (c, st, note) = split(total, stage.traffic);
        (
            format!(
                "Shift traffic to {}%: scale {} to {c} and {} to {st}",
                stage.traffic, k.canary, k.stable
            ),
            note.into_iter().collect(),
            KubeOp::Scale {
                targets: vec![(k.canary.clone(), c), (k.stable.clone(), st)],
            },
        )
    };
    plan.insert(0, format!("Stage: {} (hold {})", stage.title, stage.hold));
    if let Some(at) = s.stages.rolled_back {
        plan.insert(
            1,
            format!(
                "The release was rolled back at {}: this starts the canary again.",
                crate::ui::hms(at)
            ),
        );
    }
    if !rb.metrics.is_empty()
        && s.metrics
            .iter()
            .zip(&rb.metrics)
            .all(|(m, def)| m.level(def, s.now, s.stale_after) == Level::Unknown)
    {
        plan.push("Warning: no gauge has fresh data, so the release's health is unknown.".into());
    }
    Ok(Confirm {
        title,
        plan,
        blockers,
        proposal: Proposal::Advance { to: next, op },
    })
}

pub fn plan_rollback(s: &State) -> Result<Confirm, String> {
    let k = &s.rb.kubernetes;
    let mut blockers = common_blockers(s);
    if let Split::Gateway {
        route,
        stable,
        canary,
    } = k.split()
    {
        let weight = s.cluster.snap.route.as_ref().and_then(|r| r.weight(canary));
        if s.stages.current.is_none() && s.stages.pending.is_none() && weight == Some(0) {
            return Err(format!(
                "nothing to roll back: HTTPRoute {route} sends nothing to {canary}"
            ));
        }
        let (_, mut plan, op) = plan_weights(s, route, stable, canary, 0);
        plan.insert(
            0,
            format!(
                "All traffic returns to {stable} at once; {canary}'s pods stay up for inspection."
            ),
        );
        return Ok(Confirm {
            title: format!(
                "Roll back: HTTPRoute {route} sends all traffic to {stable} ({stable}=100, {canary}=0)"
            ),
            plan,
            blockers,
            proposal: Proposal::Rollback { op },
        });
    }
    if s.stages.promoted {
        let prev = previous_revision(s, &k.stable);
        let target = match &prev {
            Some((rev, image)) => format!("revision {rev} ({image})"),
            None => "its previous revision".into(),
        };
        if prev.is_none() {
            blockers.push(format!(
                "no earlier revision of {} is visible in the cluster",
                k.stable
            ));
        }
        if s.cluster.deployment(&k.stable).is_some_and(|d| d.paused) {
            blockers.push(format!("{} is paused and kubectl rollout undo refuses a paused Deployment: press p to resume first", k.stable));
        }
        return Ok(Confirm {
            title: format!(
                "Roll back {} to {target}, as kubectl rollout undo does",
                k.stable
            ),
            plan: vec![
                "All traffic stays on one Deployment; its pods roll back to the previous template."
                    .into(),
                "The Deployment ends exactly as kubectl rollout undo leaves it (its change-cause is the restored revision's); an Event on it records who and why."
                    .into(),
            ],
            blockers,
            proposal: Proposal::Rollback {
                op: KubeOp::Undo {
                    deployment: k.stable.clone(),
                },
            },
        });
    }
    let canary_up = s
        .cluster
        .deployment(&k.canary)
        .is_some_and(|d| d.desired > 0);
    if s.stages.current.is_none() && s.stages.pending.is_none() && !canary_up {
        return Err(format!(
            "nothing to roll back: {} has no replicas",
            k.canary
        ));
    }
    let total = replicas_total(s);
    Ok(Confirm {
        title: format!(
            "Roll back: scale {} to 0 and {} to {total}",
            k.canary, k.stable
        ),
        plan: vec!["All traffic returns to the stable version.".into()],
        blockers,
        proposal: Proposal::Rollback {
            op: KubeOp::Scale {
                targets: vec![(k.stable.clone(), total), (k.canary.clone(), 0)],
            },
        },
    })
}

/// The revision `kubectl rollout undo` would go back to, and its image, as the cluster
/// shows them now: the second-highest revision among the Deployment's ReplicaSets.
pub fn previous_revision(s: &State, deploy: &str) -> Option<(i64, String)> {
    let mut revs: Vec<(i64, String)> = s
        .cluster
        .snap
        .replicasets
        .iter()
        .filter(|r| r.owner == deploy)
        .filter_map(|r| r.revision.parse().ok().map(|n| (n, r.image.clone())))
        .collect();
    revs.sort();
    revs.iter().rev().nth(1).cloned()
}

pub fn plan_pause(s: &State) -> Result<Confirm, String> {
    let k = &s.rb.kubernetes;
    let paused = !s.stages.paused;
    let verb = if paused { "Pause" } else { "Resume" };
    let title = format!(
        "{verb} the rollout: set spec.paused={paused} on {} and {}",
        k.stable, k.canary
    );
    let plan = vec![if paused {
        "Rolling updates stop where they are; the stage's hold clock stops.".into()
    } else {
        "Rolling updates continue; the stage's hold clock runs again.".into()
    }];
    Ok(Confirm {
        title,
        plan,
        blockers: common_blockers(s),
        proposal: Proposal::Pause {
            paused,
            op: KubeOp::Pause {
                deployments: vec![k.stable.clone(), k.canary.clone()],
                paused,
            },
        },
    })
}

fn metric(
    s: &mut State,
    index: usize,
    at: chrono::DateTime<chrono::Utc>,
    reading: Reading,
    fx: &mut Vec<Effect>,
) {
    let Some(m) = s.metrics.get_mut(index) else {
        return;
    };
    let reading = match reading {
        Reading::Error(e) => Reading::Error(clean(&e).into_owned()),
        r => r,
    };
    let changed = m.record(&s.rb.metrics[index], reading, at, s.now, s.stale_after);
    if changed {
        s.ui.dirty = true;
    }
    announce(s, index, fx);
    evaluate_triggers(s, fx);
}

/// How long the cluster may disagree with the stage before the console says so: an
/// action's answer and the watch's news of it arrive in either order.
const MISMATCH_GRACE: i64 = 5;

/// Say when the cluster stops matching the stage the journal says (after a grace period),
/// and when it matches again.
fn compare_with_cluster(s: &mut State, fx: &mut Vec<Effect>) {
    match (s.cluster_disagreement(), &mut s.mismatch) {
        (None, None) => {}
        (None, Some(m)) => {
            let announced = m.announced;
            s.mismatch = None;
            s.ui.dirty = true;
            if announced {
                say(
                    s,
                    LogLevel::Info,
                    "the cluster matches the stage again".into(),
                    fx,
                );
            }
        }
        (Some(what), None) => {
            s.mismatch = Some(crate::state::Mismatch {
                since: s.now,
                what,
                announced: false,
            });
        }
        (Some(what), Some(m)) => {
            m.what = what;
            if !m.announced && (s.now - m.since).num_seconds() >= MISMATCH_GRACE {
                m.announced = true;
                let text = format!(
                    "the cluster does not match this console's stage: {}. The rollout pane shows the cluster as it is; check who changed it before acting.",
                    m.what
                );
                s.ui.dirty = true;
                say(s, LogLevel::Warn, text, fx);
            }
        }
    }
}

/// The runbook's automatic rollback triggers against the gauges now: a condition holds
/// while its gauge's fresh value is past its bound; a trigger is met when one of its
/// conditions has held for its whole duration. Meeting one is announced once, blocks
/// advancing and asks for a rollback; the console does not roll back by itself.
fn evaluate_triggers(s: &mut State, fx: &mut Vec<Effect>) {
    let rb = s.rb.clone();
    for (ti, t) in rb.rollback_triggers.iter().enumerate() {
        if t.kind != crate::runbook::TriggerKind::Automatic {
            continue;
        }
        let mut evidence = None;
        for (ci, c) in t.conditions.iter().enumerate() {
            let Some(mi) = rb.metrics.iter().position(|m| m.id == c.metric) else {
                continue;
            };
            let m = &s.metrics[mi];
            let fresh = matches!(m.reading, Some(Reading::Value { .. } | Reading::Split(_)))
                && !m.is_stale(s.now, s.stale_after);
            let value = m.last_value.map(|v| v.0).filter(|_| fresh);
            let holds = value
                .is_some_and(|v| c.above.is_some_and(|a| v > a) || c.below.is_some_and(|b| v < b));
            let since = &mut s.triggers[ti].holding_since[ci];
            if !holds {
                *since = None;
                continue;
            }
            let started = *since.get_or_insert(s.now);
            if (s.now - started).num_seconds() >= c.for_.secs() as i64 && evidence.is_none() {
                let def = &rb.metrics[mi];
                let (dir, bound) = match (c.above, c.below) {
                    (Some(a), _) => (">", a),
                    (None, Some(b)) => ("<", b),
                    _ => continue,
                };
                let (v, b) = crate::ui::gauges::format_pair(def, value, bound);
                evidence = Some(format!("{} {v} {dir} {b} for {}", def.title, c.for_));
            }
        }
        let was = s.triggers[ti].met.is_some();
        match evidence {
            Some(e) if !was => {
                s.triggers[ti].met = Some((s.now, e.clone()));
                s.ui.dirty = true;
                let text = format!(
                    "ROLLBACK TRIGGER MET: {} ({e}). Press R to roll back.",
                    t.text
                );
                say(s, LogLevel::Error, text, fx);
            }
            None if was => {
                s.triggers[ti].met = None;
                s.ui.dirty = true;
                let text = format!("rollback trigger no longer holds: {}", t.text);
                say(s, LogLevel::Warn, text, fx);
            }
            _ => {}
        }
    }
}

/// Log a gauge's level when it changes in a way the room should hear about: a threshold
/// crossed, a recovery from one, a query failing, data going missing or stale. A gauge's
/// first answer is logged only when it is bad: at start-up every gauge arrives at once.
fn announce(s: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let m = &s.metrics[index];
    let level = m.level(&s.rb.metrics[index], s.now, s.stale_after);
    match m.announced {
        Some(before) if before == level => {}
        Some(_) => announce_change(s, index, level, false, fx),
        None if level >= Level::Warn || matches!(m.reading, Some(Reading::Error(_))) => {
            announce_change(s, index, level, true, fx)
        }
        // No data yet: the baseline is the first real value.
        None if level == Level::Unknown => {}
        None => s.metrics[index].announced = Some(level),
    }
}

fn announce_change(s: &mut State, index: usize, level: Level, first: bool, fx: &mut Vec<Effect>) {
    let def = &s.rb.metrics[index];
    let m = &s.metrics[index];
    let text = match (level, &m.reading) {
        (Level::Critical | Level::Warn, _) => {
            let (thr, word) = if level == Level::Critical {
                (def.critical, "critical")
            } else {
                (def.warn, "warn")
            };
            let (value, thr) = crate::ui::gauges::format_pair(def, m.last_value.map(|v| v.0), thr);
            let dir = if def.bad == crate::runbook::Bad::Above {
                "above"
            } else {
                "below"
            };
            Some((
                if level == Level::Critical {
                    LogLevel::Error
                } else {
                    LogLevel::Warn
                },
                format!(
                    "{} is {} at {value}: {dir} its {word} threshold {thr}",
                    def.title,
                    level.word(),
                ),
            ))
        }
        (Level::Ok, _) if !first => Some((
            LogLevel::Info,
            format!(
                "{} is back to OK at {}",
                def.title,
                crate::ui::gauges::format_pair(def, m.last_value.map(|v| v.0), def.warn).0
            ),
        )),
        (Level::Unknown, Some(Reading::Error(e))) => {
            Some((LogLevel::Warn, format!("{}: query failed: {e}", def.title)))
        }
        (Level::Unknown, Some(Reading::NoData)) => Some((
            LogLevel::Warn,
            format!("{}: no data (the query matched no series)", def.title),
        )),
        (Level::Unknown, Some(Reading::Value { .. })) => Some((
            LogLevel::Warn,
            format!(
                "{}: no fresh value for {}s; showing the last one as stale",
                def.title,
                m.age(s.now).unwrap_or(0)
            ),
        )),
        _ => None,
    };
    s.metrics[index].announced = Some(level);
    // One Prometheus outage fails every gauge at once with the same words: say it once.
    if let (Some(Reading::Error(e)), Some(last)) = (&s.metrics[index].reading, s.comms.last())
        && last.text.ends_with(&format!("query failed: {e}"))
        && (s.now - last.at).num_seconds().abs() < 5
    {
        return;
    }
    if let Some((level, text)) = text {
        say(s, level, text, fx);
    }
}

fn announce_staleness(s: &mut State, fx: &mut Vec<Effect>) {
    for i in 0..s.metrics.len() {
        if s.metrics[i].announced.is_some() {
            announce(s, i, fx);
        }
    }
}
