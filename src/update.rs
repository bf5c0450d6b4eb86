//! The pure heart of the console: `update(state, event) -> effects`. No I/O happens here;
//! stage rules, gates and checklist rules live here and are tested without a terminal,
//! a cluster or a runtime.

use crate::action::{Action, action_for};
use crate::canary;
use crate::cluster::Link;
use crate::effect::{Audit, Effect, KubeOp};
use crate::event::{Event, Followed};
use crate::i18n::{tr, trf};
use crate::journal::{Entry, Level as LogLevel, Mark};
use crate::layout::Pane;
use crate::runbook::{ItemKind, NotifyEvent, TriggerAction, TriggerKind};
use crate::state::metrics::{Level, Reading};
use crate::state::triggers::{Met, Verdict};
use crate::state::{Confirm, Driver, Mode, Proposal, Row, State};
use crate::text::clean;

pub use crate::state::{CONSOLE, MAX_NOTE, MAX_REASON, MAX_SIGNER};

pub fn update(s: &mut State, ev: Event) -> Vec<Effect> {
    let mut fx = Vec::new();
    match ev {
        Event::Key(k) => {
            s.ui.flash = None;
            s.ui.dirty = true;
            let typing = matches!(&s.ui.mode, Mode::Confirm(c) if c.reason.is_some())
                && action_for(&s.ui.mode, &k).is_none();
            if typing
                && let Mode::Confirm(c) = &mut s.ui.mode
                && let Some(buf) = &mut c.reason
            {
                use ratatui::crossterm::event::{KeyCode, KeyModifiers};
                match k.code {
                    KeyCode::Char(ch)
                        if !k
                            .modifiers
                            .intersects(KeyModifiers::ALT | KeyModifiers::CONTROL)
                            && buf.chars().count() < MAX_REASON =>
                    {
                        buf.push(ch)
                    }
                    KeyCode::Backspace => {
                        buf.pop();
                    }
                    _ => {}
                }
            } else if let Mode::Signer { name, .. } = &mut s.ui.mode {
                match action_for(
                    &Mode::Signer {
                        item: 0,
                        name: String::new(),
                    },
                    &k,
                ) {
                    Some(a) => act(s, a, &mut fx),
                    None => {
                        use ratatui::crossterm::event::KeyCode;
                        match k.code {
                            KeyCode::Char(c) if name.chars().count() < MAX_SIGNER => name.push(c),
                            KeyCode::Backspace => {
                                name.pop();
                            }
                            _ => {}
                        }
                    }
                }
            } else if let Mode::Note(buf) = &mut s.ui.mode {
                match action_for(&Mode::Note(String::new()), &k) {
                    Some(a) => act(s, a, &mut fx),
                    None => {
                        use ratatui::crossterm::event::KeyCode;
                        match k.code {
                            KeyCode::Char(c) if buf.chars().count() < MAX_NOTE => buf.push(c),
                            KeyCode::Char(_) => {
                                s.ui.flash = Some(trf(
                                    s.lang,
                                    "a note holds at most {} characters: Enter logs it",
                                    &[&MAX_NOTE],
                                ))
                            }
                            KeyCode::Backspace => {
                                buf.pop();
                            }
                            _ => {}
                        }
                    }
                }
            } else if let Some(a) = replaying(s)
                .then(|| crate::action::replay_action(&k))
                .flatten()
            {
                replay_key(s, a, &mut fx);
            } else if let Some(a) = action_for(&s.ui.mode, &k) {
                act(s, a, &mut fx);
            } else if matches!(s.ui.mode, Mode::Emergency { .. } | Mode::PodLog { .. }) {
                // The plan never stands between the lead and an action: any other key
                // closes it and does what it does on the console (c to cancel a
                // countdown, R to roll back).
                s.ui.mode = Mode::Normal;
                if let Some(a) = action_for(&s.ui.mode, &k) {
                    act(s, a, &mut fx);
                }
            }
        }
        Event::Paste(text) => {
            let text = text.replace(['\r', '\n'], " ");
            match &mut s.ui.mode {
                Mode::Note(buf) => {
                    let room = MAX_NOTE.saturating_sub(buf.chars().count());
                    let n = text.chars().count();
                    buf.extend(text.chars().take(room));
                    if n > room {
                        s.ui.flash = Some(trf(
                            s.lang,
                            "the paste was cut to fit a note's {} characters ({} left out)",
                            &[&MAX_NOTE, &(n - room)],
                        ));
                    }
                }
                Mode::Signer { name, .. } => {
                    let room = MAX_SIGNER.saturating_sub(name.chars().count());
                    name.extend(text.chars().take(room));
                }
                Mode::Confirm(c) => {
                    if let Some(buf) = &mut c.reason {
                        let room = MAX_REASON.saturating_sub(buf.chars().count());
                        buf.extend(text.chars().take(room));
                    }
                }
                _ => {}
            }
            s.ui.dirty = true;
        }
        Event::Resize => s.ui.dirty = true,
        Event::Tick(now) => {
            // A replay's clock is the journal's.
            let now = replay_clock(s, now, &mut fx).unwrap_or(now);
            let before = s.stage_name();
            // The diagnostic log fills on its own; while it is shown, look each second.
            if s.ui.console_log || clock_shows_change(s, s.now, now) {
                s.ui.dirty = true;
            }
            s.now = now;
            announce_staleness(s, &mut fx);
            match (monitoring_lost(s), s.monitoring_lost) {
                (Some(what), false) => {
                    s.monitoring_lost = true;
                    notify(s, NotifyEvent::MonitoringLost, &what, &mut fx);
                }
                (None, true) => s.monitoring_lost = false,
                _ => {}
            }
            evaluate_triggers(s, &mut fx);
            countdowns(s, &mut fx);
            compare_with_cluster(s, &mut fx);
            // What held up the stage's next target (an answer, the Lease, the link) may
            // have cleared with the cluster quiet.
            continue_stage(s, &mut fx);
            verifications(s, &mut fx);
            follow_rollback(s, &mut fx);
            let in_stage = s.stages.current.is_some() || s.stages.pending.is_some();
            if in_stage
                && s.follow.is_none()
                && !s.rb.metrics.is_empty()
                && s.recorded
                    .as_ref()
                    .is_none_or(|(at, _)| (now - *at).num_seconds() >= RECORD_EVERY_SECS)
            {
                record_gauges(s, &mut fx);
            }
            if let Some(i) = s.stages.current
                && s.stages.pending.is_none()
                && !s.stages.paused
                && s.held() == s.rb.stages[i].hold.secs() as i64
                && before != s.stage_name()
            {
                let st = &s.rb.stages[i];
                let last = i + 1 == s.rb.stages.len();
                let open = s.checklist.open_post_checks();
                if !last {
                    let text = trf(
                        s.lang,
                        "{} held for {}: ready to advance",
                        &[&st.title, &st.hold],
                    );
                    say(s, LogLevel::Info, text.clone(), &mut fx);
                    notify(s, NotifyEvent::StageCompleted, &text, &mut fx);
                } else if open > 0 {
                    let text = trf(
                        s.lang,
                        "{} held for {}: the release is complete once its {} remaining required checks (those that gate no stage: the full rollout's and the post-deployment checks) are done",
                        &[&st.title, &st.hold, &open],
                    );
                    say(s, LogLevel::Info, text, &mut fx);
                }
            }
        }
        Event::Cluster(snap) => {
            if let Link::Lost { since, .. } = &s.cluster.link {
                let text = trf(
                    s.lang,
                    "Kubernetes API reachable again (lost since {})",
                    &[&s.zone.hms(*since)],
                );
                say(s, LogLevel::Info, text, &mut fx);
            }
            s.cluster.link = Link::Live;
            s.cluster.updated = Some(s.now);
            if s.cluster.snap != snap {
                s.cluster.snap = snap;
                s.ui.dirty = true;
            }
            reconcile(s, &mut fx);
            retire_canary(s, &mut fx);
            continue_stage(s, &mut fx);
            compare_with_cluster(s, &mut fx);
            s.rebase_restarts();
            rejudge(s, |v| v.kube.as_ref().is_some_and(|k| k.watched()), &mut fx);
            follow_rollback(s, &mut fx);
        }
        Event::ClusterLost { at, error } => {
            let error = clean(&error).into_owned();
            if !matches!(s.cluster.link, Link::Lost { .. }) {
                s.cluster.link = Link::Lost {
                    since: at,
                    error: error.clone(),
                };
                let text = if s.cluster.updated.is_some() {
                    trf(
                        s.lang,
                        "Kubernetes API unreachable: {}. The rollout pane keeps its last data, marked stale; the console retries with backoff.",
                        &[&error],
                    )
                } else {
                    trf(
                        s.lang,
                        "Kubernetes API unreachable: {}. Nothing is known of the cluster yet; the console retries with backoff.",
                        &[&error],
                    )
                };
                say(s, LogLevel::Error, text, &mut fx);
            }
            s.ui.dirty = true;
        }
        Event::Metric { index, at, reading } => metric(s, index, at, reading, &mut fx),
        Event::PodEvents(events) => {
            if s.cluster.pod_events != events {
                s.cluster.pod_events = events;
                s.ui.dirty = true;
            }
        }
        Event::PodLog { pod, log } => {
            if let Mode::PodLog { pod: shown, log: l } = &mut s.ui.mode
                && *shown == pod
            {
                // Each line made safe to show (a log may hold escape sequences).
                *l = Some(
                    log.map(|t| {
                        t.lines()
                            .map(|line| clean(line).into_owned())
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .map_err(|e| clean(&e).into_owned()),
                );
                s.ui.dirty = true;
            }
        }
        Event::Probed { item, at, outcome } => {
            if item < s.checklist.checks.len() {
                s.checklist.checks[item].asked = None;
                let outcome = crate::state::verify::Outcome {
                    evidence: clean(&outcome.evidence).into_owned(),
                    ..outcome
                };
                if s.verify_due(item) && s.follow.is_none() {
                    settle_check(s, item, outcome, at, &mut fx);
                } else {
                    s.checklist.checks[item].last = Some((outcome, at));
                    s.ui.dirty = true;
                }
                refresh_dialog(s);
            }
        }
        Event::Trigger {
            trigger,
            cond,
            at,
            verdict,
        } => {
            if let Some(c) = s
                .triggers
                .get_mut(trigger)
                .and_then(|t| t.conds.get_mut(cond))
            {
                let verdict = match verdict {
                    Verdict::Unknown { why } => Verdict::Unknown {
                        why: clean(&why).into_owned(),
                    },
                    v => v,
                };
                if matches!(verdict, Verdict::Unknown { .. }) {
                    c.unknown_since.get_or_insert(at);
                } else {
                    c.unknown_since = None;
                }
                if c.verdict.as_ref() != Some(&verdict) || matches!(verdict, Verdict::Holds { .. })
                {
                    s.ui.dirty = true;
                }
                c.verdict = Some(verdict);
                c.at = Some(at);
                evaluate_triggers(s, &mut fx);
                countdowns(s, &mut fx);
            }
        }
        Event::Backfill { index, points } => {
            if let Some(m) = s.metrics.get_mut(index) {
                for p in points.into_iter().filter(|p| p.is_finite()) {
                    m.push_history(p);
                }
                s.ui.dirty = true;
            }
        }
        Event::DriverCountdown(c) => {
            if s.remote_countdown != c {
                if let Some(c) = &c {
                    let text = trf(
                        s.lang,
                        "the driving console counts down to an automatic rollback at {} ({}: {})",
                        &[&s.zone.hms(c.deadline), &c.trigger, &c.evidence],
                    );
                    say(s, LogLevel::Error, text, &mut fx);
                }
                s.remote_countdown = c;
                s.ui.dirty = true;
            }
        }
        Event::LeaseHeld { until } => {
            // Each renewal extends the term; answers arriving out of order never shorten it.
            s.lease_until = Some(s.lease_until.map_or(until, |u| u.max(until)));
        }
        Event::Lease(d) => {
            if s.driver != d {
                let (level, text) = match &d {
                    Driver::Driving { lease, .. } => (
                        LogLevel::Info,
                        // Named, not "this console": followers read the same line.
                        trf(
                            s.lang,
                            "{}'s console drives the release: it holds the Lease {}",
                            &[&s.operator, &lease],
                        ),
                    ),
                    Driver::ReadOnly { why, .. } => (
                        LogLevel::Warn,
                        trf(
                            s.lang,
                            "read-only: {}. Action keys do nothing here.",
                            &[&why],
                        ),
                    ),
                    Driver::Claiming => (
                        LogLevel::Info,
                        tr(s.lang, "claiming the release's Lease from the cluster").to_string(),
                    ),
                    Driver::Free { why } => (
                        LogLevel::Warn,
                        trf(s.lang, "{}: press T to take over driving it", &[&why]),
                    ),
                };
                let now_driving = matches!(d, Driver::Driving { .. });
                let other_drives = matches!(
                    &d,
                    Driver::ReadOnly {
                        holder: Some(_),
                        ..
                    }
                );
                s.driver = d;
                s.ui.dirty = true;
                say(s, level, text.clone(), &mut fx);
                if now_driving {
                    notify(s, NotifyEvent::DriverChanged, &text, &mut fx);
                }
                // Another console drives: show its release, from its mirror in the
                // cluster, rather than this console's own journal, which now stands still.
                if other_drives && s.follow.is_none() {
                    s.follow = Some(crate::state::Follow::mirror(&s.rb));
                    fx.push(Effect::FollowMirror);
                }
            }
        }
        Event::Signal(name) => {
            // Nobody is at the keys to answer a question: close now, saying why.
            let who = s.operator.clone();
            let text = trf(
                s.lang,
                "the console ended on {} at {} (the terminal or session went away); {}",
                &[
                    &name,
                    &s.stage_name(),
                    &if s.simulated {
                        tr(s.lang, "the simulated cluster ends with it")
                    } else {
                        tr(s.lang, "the cluster stays as it is")
                    },
                ],
            );
            emit(
                s,
                &who,
                Entry::System {
                    level: LogLevel::Warn,
                    text,
                },
                &mut fx,
            );
            s.ui.mode = Mode::Normal;
            s.ui.quit = true;
            fx.push(Effect::Quit);
        }
        Event::Follow(f) => followed(s, f),
        Event::Mirror(Err(why)) => {
            let text = trf(
                s.lang,
                "the journal cannot be mirrored into the cluster ({}): consoles on other hosts do not see this release's decisions until it can; the console keeps trying",
                &[&clean(&why)],
            );
            say(s, LogLevel::Warn, text, &mut fx);
        }
        Event::Mirror(Ok(())) => {
            let text = tr(
                s.lang,
                "the journal is mirrored into the cluster again: consoles on other hosts are up to date",
            )
            .to_string();
            say(s, LogLevel::Info, text, &mut fx);
        }
        Event::Notified {
            seq,
            channel,
            ok,
            message,
            attempts,
        } => {
            let message = clean(&message).into_owned();
            emit(
                s,
                CONSOLE,
                Entry::Delivered {
                    of: seq,
                    channel,
                    ok,
                    message,
                    attempts,
                },
                &mut fx,
            );
        }
        Event::Adopted(Ok(records)) => {
            // The journal is this console's now: what it holds is the story so far, and
            // this console carries it on once the Lease is its own.
            s.rebuild(&records);
            s.follow = None;
            let who = s.operator.clone();
            let text = trf(
                s.lang,
                "{} takes over driving the release, on the journal it followed",
                &[&who],
            );
            emit(
                s,
                &who,
                Entry::System {
                    level: LogLevel::Warn,
                    text,
                },
                &mut fx,
            );
            fx.push(Effect::TakeLease);
        }
        Event::Adopted(Err(why)) => {
            s.ui.flash = Some(trf(s.lang, "cannot take over: {}", &[&clean(&why)]));
            s.ui.dirty = true;
        }
        Event::Outcome { seq, ok, message } => {
            let message = clean(&message).into_owned();
            let started = s
                .stages
                .pending
                .as_ref()
                .filter(|p| p.seq == seq && ok)
                .and_then(|p| match &p.entry {
                    Entry::Advance { to, .. } => Some(to.clone()),
                    _ => None,
                });
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
            follow_rollback(s, &mut fx);
            // The cluster may have shown this step done before its answer came.
            continue_stage(s, &mut fx);
            if let Some(stage) = started {
                tick_what_the_stage_did(s, &stage, &mut fx);
                if let Some(i) = s.rb.stage_index(&stage) {
                    let st = &s.rb.stages[i];
                    let detail = trf(
                        s.lang,
                        "{} ({}% of traffic to the new version), driven by {}",
                        &[&st.title, &st.traffic, &s.operator],
                    );
                    notify(s, NotifyEvent::StageStarted, &detail, &mut fx);
                }
            }
        }
    }
    complete(s, &mut fx);
    fx
}

/// The release is complete when its last stage has held and every required check that
/// gates no stage (the post-deployment checks) is done: said once, journaled, told.
fn complete(s: &mut State, fx: &mut Vec<Effect>) {
    if s.follow.is_some() || s.stages.complete.is_some() || s.stages.pending.is_some() {
        return;
    }
    let Some(i) = s.stages.current else { return };
    if i + 1 != s.rb.stages.len()
        || s.stages.rolled_back.is_some()
        || s.held() < s.rb.stages[i].hold.secs() as i64
        || s.checklist.open_post_checks() > 0
    {
        return;
    }
    emit(s, CONSOLE, Entry::Complete {}, fx);
    let st = &s.rb.stages[i];
    let text = trf(
        s.lang,
        "{} held for {}, every required post-deployment check done",
        &[&st.title, &st.hold],
    );
    notify(s, NotifyEvent::ReleaseComplete, &text, fx);
}

/// Whether this console plays a journal again, with its keys free for it.
fn replaying(s: &State) -> bool {
    matches!(s.ui.mode, Mode::Normal) && s.follow.as_ref().is_some_and(|f| f.replay.is_some())
}

/// Move a replay's clock by the real time since the last tick (times its speed), show
/// the records it reached, and say what time the screen now shows.
fn replay_clock(
    s: &mut State,
    real: chrono::DateTime<chrono::Utc>,
    fx: &mut Vec<Effect>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let r = s.follow.as_mut()?.replay.as_mut()?;
    if !r.paused
        && let Some(last) = r.real
    {
        let ms = (real - last).num_milliseconds().max(0) as f64 * r.speed;
        r.clock = (r.clock + chrono::Duration::milliseconds(ms as i64)).min(r.end);
    }
    r.real = Some(real);
    let clock = r.clock;
    while let Some(rec) = s
        .follow
        .as_mut()
        .and_then(|f| f.replay.as_mut())
        .and_then(|r| r.queue.front().filter(|rec| rec.at <= clock).cloned())
    {
        if let Some(r) = s.follow.as_mut().and_then(|f| f.replay.as_mut()) {
            r.queue.pop_front();
        }
        replay_record(s, rec, fx);
    }
    Some(clock)
}

/// Show one record of a replay: the flight recorder's gauges as the gauges, the rest as
/// the driver's console applied it.
fn replay_record(s: &mut State, rec: crate::journal::Record, fx: &mut Vec<Effect>) {
    if let Entry::Gauges { gauges } = &rec.entry {
        for g in gauges {
            let Some(index) = s.rb.metrics.iter().position(|m| m.id == g.gauge) else {
                continue;
            };
            let reading = if !g.parts.is_empty() {
                Reading::Split(
                    g.parts
                        .iter()
                        .map(|p| crate::state::metrics::Part {
                            key: p.part.clone(),
                            value: p.value,
                            at: p.at,
                        })
                        .collect(),
                )
            } else if let (Some(value), Some(at)) = (g.value, g.at) {
                Reading::Value { value, at }
            } else {
                Reading::NoData
            };
            metric(s, index, rec.at, reading, fx);
        }
    }
    if let Some(f) = &mut s.follow {
        f.saw(std::slice::from_ref(&rec), rec.at);
    }
    s.apply(&rec);
}

/// A replay's own keys.
fn replay_key(s: &mut State, a: Action, fx: &mut Vec<Effect>) {
    let Some(r) = s.follow.as_mut().and_then(|f| f.replay.as_mut()) else {
        return;
    };
    match a {
        Action::ReplayPause => r.paused = !r.paused,
        Action::ReplayFaster => r.speed = (r.speed * 2.0).min(3600.0),
        Action::ReplaySlower => r.speed = (r.speed / 2.0).max(0.25),
        Action::ReplayStep => {
            r.paused = true;
            if let Some(rec) = r.queue.pop_front() {
                r.clock = r.clock.max(rec.at);
                let clock = r.clock;
                replay_record(s, rec, fx);
                s.now = clock;
            }
        }
        _ => {}
    }
}

/// What the followed journal now holds becomes this console's picture of the release:
/// applied as the driver applied it, so both show the same.
fn followed(s: &mut State, f: Followed) {
    let Some(follow) = &mut s.follow else {
        return;
    };
    let now = s.wall.unwrap_or(s.now);
    // The first records of a follower are its whole picture, whatever it showed before.
    let f = match f {
        Followed::More(records) if follow.read.is_none() => Followed::Reset(records),
        f => f,
    };
    match f {
        Followed::More(records) => {
            let back = follow.lost.is_some();
            follow.saw(&records, now);
            for r in &records {
                s.apply(r);
            }
            // The driver rolls back: this screen shows the emergency plan too.
            if records
                .iter()
                .any(|r| matches!(r.entry, Entry::Rollback { .. }))
            {
                open_emergency(s, crate::runbook::Situation::Rollback);
            }
            if back || !records.is_empty() {
                s.ui.dirty = true;
            }
        }
        Followed::Reset(records) => {
            follow.leader = None;
            follow.records.clear();
            follow.saw(&records, now);
            s.rebuild(&records);
        }
        Followed::Lost(why) => {
            let why = clean(&why).into_owned();
            match &mut follow.lost {
                Some((_, w)) => *w = why,
                None => follow.lost = Some((now, why)),
            }
            s.ui.dirty = true;
        }
    }
}

/// The items the console performed by starting stage `id` (`ticked_by:`), ticked by
/// the console once the API has confirmed the action.
fn tick_what_the_stage_did(s: &mut State, id: &str, fx: &mut Vec<Effect>) {
    let items: Vec<String> = s
        .checklist
        .items
        .iter()
        .enumerate()
        .filter(|(i, it)| {
            it.ticked_by.as_deref() == Some(id) && s.checklist.marks[*i].mark != Mark::Done
        })
        .map(|(_, it)| it.id.clone())
        .collect();
    for item in items {
        emit(
            s,
            CONSOLE,
            Entry::Mark {
                item,
                mark: Mark::Done,
                signer: None,
            },
            fx,
        );
    }
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
    counting_down
        || young_pod
        || stale_soon
        || s.stages.pending.is_some()
        || s.remote_countdown.is_some()
}

/// The verifications that apply now: those the console settles from its own data are
/// judged on every tick; a probe is sent again once its last answer is
/// `PROBE_EVERY_SECS` old. A following console verifies nothing: it shows the driver's.
fn verifications(s: &mut State, fx: &mut Vec<Effect>) {
    if s.follow.is_some() {
        return;
    }
    s.rebase_restarts();
    for i in 0..s.checklist.items.len() {
        if s.verify_due(i) {
            verify_item(s, i, false, fx);
        }
    }
    refresh_dialog(s);
}

/// Judge item `i` now, or send its probe (`force`: even if its last answer is recent).
fn verify_item(s: &mut State, i: usize, force: bool, fx: &mut Vec<Effect>) {
    use crate::state::verify::PROBE_EVERY_SECS;
    match s.judge(i) {
        Some(o) => {
            let now = s.now;
            settle_check(s, i, o, now, fx)
        }
        None => {
            let c = &s.checklist.checks[i];
            // A probe gets its own deadline; one unanswered for long is sent again.
            let in_flight = c
                .asked
                .is_some_and(|t| (s.now - t).num_seconds() < 2 * PROBE_EVERY_SECS);
            let recent = c
                .last
                .as_ref()
                .is_some_and(|(_, at)| (s.now - *at).num_seconds() < PROBE_EVERY_SECS);
            if in_flight || (recent && !force) {
                return;
            }
            let Some(v) = s.checklist.items[i].verify.clone() else {
                return;
            };
            s.checklist.checks[i].asked = Some(s.now);
            s.ui.dirty = true;
            fx.push(Effect::Probe { item: i, verify: v });
        }
    }
}

/// Probe again, now, every verification that applies (before a gate is decided).
fn force_probes(s: &mut State, fx: &mut Vec<Effect>) {
    if s.follow.is_some() {
        return;
    }
    for i in 0..s.checklist.items.len() {
        if s.verify_due(i) && s.judge(i).is_none() {
            verify_item(s, i, true, fx);
        }
    }
}

/// `v`, or a tick key on a verified item: verify it (or every check that applies) now.
fn verify_now(s: &mut State, only: Option<usize>, fx: &mut Vec<Effect>) {
    if s.follow.is_some() {
        s.ui.flash = Some(following_refusal(s));
        return;
    }
    let due: Vec<usize> = match only {
        Some(i) => vec![i],
        None => (0..s.checklist.items.len())
            .filter(|&i| s.verify_due(i))
            .collect(),
    };
    if due.is_empty() {
        s.ui.flash = Some(
            tr(s.lang, "no verification applies now: each runs while the stage it gates is the next one (post-deployment checks at the last stage, post-rollback checks after a rollback)")
                .into(),
        );
        return;
    }
    s.rebase_restarts();
    for &i in &due {
        verify_item(s, i, true, fx);
    }
    s.ui.flash = Some(match only {
        Some(i) if !s.verify_due(i) => trf(
            s.lang,
            "verifying “{}” now, though it does not apply yet: its verdict ticks nothing until it does",
            &[&crate::text::fit(&s.checklist.items[i].text, 40)],
        ),
        Some(i) => trf(
            s.lang,
            "verifying “{}”: the console ticks it when the check passes",
            &[&crate::text::fit(&s.checklist.items[i].text, 40)],
        ),
        None if due.len() == 1 => tr(s.lang, "verifying the one check that applies now").into(),
        None => trf(
            s.lang,
            "verifying the {} checks that apply now",
            &[&due.len()],
        ),
    });
}

/// Keep the verdict, and journal it when it changes the item's mark: pass ticks it, fail
/// fails it, unknown opens it again (a check that cannot be made is not a pass).
fn settle_check(
    s: &mut State,
    i: usize,
    o: crate::state::verify::Outcome,
    at: chrono::DateTime<chrono::Utc>,
    fx: &mut Vec<Effect>,
) {
    use crate::journal::Verdict as V;
    let c = &mut s.checklist.checks[i];
    if c.last.as_ref().map(|(l, _)| l) != Some(&o) {
        s.ui.dirty = true;
    }
    c.last = Some((o.clone(), at));
    let want = match o.verdict {
        V::Pass => Mark::Done,
        V::Fail => Mark::Failed,
        V::Unknown => Mark::Todo,
    };
    let watched = s.checklist.items[i]
        .verify
        .as_ref()
        .and_then(|v| v.kube.as_ref())
        .is_some_and(|k| k.watched());
    let c = &mut s.checklist.checks[i];
    if o.verdict == V::Unknown && (o.not_yet || s.checklist.marks[i].mark == Mark::Failed) {
        // Nothing heard yet since this console started, or a failure that can no longer
        // be checked: what the journal holds stands (only a pass clears a failure).
        return;
    }
    if o.verdict != V::Fail {
        c.failing_since = None;
    } else if o.not_yet {
        // A rollout still progressing is not a failure yet (past its deadline it is);
        // an item verified before is open again while it lasts.
        c.failing_since = None;
        if s.checklist.marks[i].mark == Mark::Done {
            let item = s.checklist.items[i].id.clone();
            emit(
                s,
                CONSOLE,
                Entry::Verified {
                    item,
                    verdict: V::Unknown,
                    evidence: o.evidence,
                },
                fx,
            );
        }
        return;
    } else if watched && s.checklist.marks[i].mark != Mark::Failed {
        let since = *c.failing_since.get_or_insert(at);
        if (at - since).num_seconds() < crate::state::verify::FAIL_GRACE_SECS {
            return;
        }
    }
    if s.checklist.marks[i].mark != want {
        let item = s.checklist.items[i].id.clone();
        emit(
            s,
            CONSOLE,
            Entry::Verified {
                item,
                verdict: o.verdict,
                evidence: o.evidence,
            },
            fx,
        );
    }
}

/// An advance dialog follows the verifications' answers while it is read (not while a
/// reason is typed: what was read is what is overridden).
fn refresh_dialog(s: &mut State) {
    let Mode::Confirm(c) = &s.ui.mode else {
        return;
    };
    if !matches!(c.proposal, Proposal::Advance { .. }) || c.reason.is_some() {
        return;
    }
    if let Ok(mut fresh) = plan_advance(s)
        && !fresh.same_decision(c)
    {
        fresh.replanned = c.replanned;
        s.ui.mode = Mode::Confirm(fresh);
        s.ui.dirty = true;
    }
}

/// The rollback under way or done, shown in the runbook's rollback procedure's place:
/// each step ticked once the cluster shows it done, said once in the log; when every
/// step is, the post-rollback checks apply (their phase opens).
fn follow_rollback(s: &mut State, fx: &mut Vec<Effect>) {
    let rolling = (s.stages.rolled_back.is_some() && s.stages.current.is_none())
        || matches!(
            s.stages.pending.as_ref().map(|p| &p.entry),
            Some(Entry::Rollback { target: None, .. })
        );
    let procedure = s.rb.rollback_procedure();
    let (Some((phase, group)), true) = (procedure, rolling) else {
        if s.checklist.live.take().is_some() {
            s.ui.dirty = true;
        }
        return;
    };
    let steps = canary::rollback_steps_all(
        &s.rb.targets,
        &s.cluster,
        |t| s.stages.rollback_undo && !s.stages.rollback_queued.contains(&t),
        &s.rb.release.version,
        s.lang,
    );
    let live_link = s.cluster.link == Link::Live;
    let now = s.now;
    if s.checklist.live.is_none() && s.cluster.updated.is_none() {
        // Found on a restart before the cluster is seen: its steps are not known yet,
        // and what the first look shows done is not news either.
        return;
    }
    let Some(live) = &mut s.checklist.live else {
        // Begun now (or found on a restart): what is already done is not news.
        s.checklist.collapsed[phase] = false;
        s.checklist.live = Some(crate::state::Live {
            phase,
            group,
            done_at: vec![None; steps.len()],
            steps,
        });
        s.ui.dirty = true;
        return;
    };
    if live.steps != steps {
        s.ui.dirty = true;
    }
    let mut news = Vec::new();
    if live.done_at.len() != steps.len() {
        live.done_at = vec![None; steps.len()];
    }
    for (k, st) in steps.iter().enumerate() {
        let was = live.steps.get(k).is_some_and(|p| p.done);
        if st.done && !was && live_link && live.done_at[k].is_none() {
            live.done_at[k] = Some(now);
            news.push(trf(
                s.lang,
                "✔ rollback step {}/{} confirmed by the cluster: {} ({})",
                &[&(k + 1), &steps.len(), &st.text, &st.seen],
            ));
        }
    }
    let all_before = live.steps.iter().all(|p| p.done);
    let all_now = steps.iter().all(|p| p.done);
    live.steps = steps;
    for text in news {
        say(s, LogLevel::Info, text, fx);
    }
    if all_now && !all_before && live_link && s.stages.pending.is_none() {
        s.checklist.collapsed[phase] = false;
        let text = if s.checklist.items.iter().any(|i| i.after_rollback) {
            tr(
                s.lang,
                "the rollback is done in the cluster: every step confirmed; the post-rollback checks apply now",
            )
        } else {
            tr(
                s.lang,
                "the rollback is done in the cluster: every step confirmed",
            )
        };
        say(s, LogLevel::Info, text.into(), fx);
    }
}

/// The console itself says something in the log (and the journal).
fn say(s: &mut State, level: LogLevel, text: String, fx: &mut Vec<Effect>) {
    emit(s, CONSOLE, Entry::System { level, text }, fx);
}

/// Record `entry`, apply it to the state, and have the driver journal it. A following
/// console records nothing: its log is the driver's, word for word. A decision is
/// preceded by the gauges as the room saw them, when they changed since the last record.
fn emit(s: &mut State, who: &str, entry: Entry, fx: &mut Vec<Effect>) -> u64 {
    if s.follow.is_some() {
        return 0;
    }
    let decision = matches!(
        entry,
        Entry::Mark { .. }
            | Entry::Ticks { .. }
            | Entry::Advance { .. }
            | Entry::Rollback { .. }
            | Entry::Pause { .. }
            | Entry::Cancel { .. }
    );
    if decision && !s.rb.metrics.is_empty() {
        record_gauges(s, fx);
    }
    let rec = s.record(who, entry);
    s.apply(&rec);
    let seq = rec.seq;
    fx.push(Effect::Journal(rec));
    seq
}

/// How many situations the runbook's emergency plan has.
fn emergency_groups(s: &State) -> usize {
    s.rb.phases
        .iter()
        .find(|p| p.emergency)
        .map_or(0, |p| p.groups.len())
}

/// Put the emergency plan and the contacts in front of the room, at the situation the
/// runbook opens on `why`; never over a dialog or a note being typed.
fn open_emergency(s: &mut State, why: crate::runbook::Situation) {
    if !matches!(s.ui.mode, Mode::Normal) {
        return;
    }
    let group =
        s.rb.phases
            .iter()
            .find(|p| p.emergency)
            .and_then(|p| p.groups.iter().position(|g| g.opens_on.contains(&why)))
            .unwrap_or(0);
    s.ui.mode = Mode::Emergency { group };
    s.ui.dirty = true;
}

/// Tell the channels that hear of `event` what happened: the notice is journaled first,
/// then handed to the senders. A following console tells nobody: its driver does.
fn notify(s: &mut State, event: NotifyEvent, detail: &str, fx: &mut Vec<Effect>) {
    if s.follow.is_some() {
        return;
    }
    let channels = crate::notify::channels_for(&s.rb, event);
    if channels.is_empty() {
        return;
    }
    let text = crate::notify::compose(&s.rb, event, detail);
    let seq = emit(
        s,
        CONSOLE,
        Entry::Notice {
            event: event.name().into(),
            channels: channels.clone(),
            text: text.clone(),
        },
        fx,
    );
    fx.push(Effect::Notify {
        seq,
        channels,
        event,
        text,
    });
}

/// What the room can no longer see, in words: gauges that had data and have none fresh,
/// and the cluster when its API is lost. None while everything that was seen still is.
fn monitoring_lost(s: &State) -> Option<String> {
    let mut parts = Vec::new();
    let gone: Vec<&str> = (0..s.metrics.len())
        .filter(|&i| s.metrics[i].last_value.is_some() && s.gauge_level(i) == Level::Unknown)
        .map(|i| s.rb.metrics[i].title.as_str())
        .collect();
    if !gone.is_empty() {
        parts.push(trf(
            s.lang,
            "no fresh data for {} of {} gauges ({})",
            &[&gone.len(), &s.metrics.len(), &gone.join(s.lang.list())],
        ));
    }
    if let Link::Lost { since, error } = &s.cluster.link {
        parts.push(trf(
            s.lang,
            "the Kubernetes API is unreachable since {}: {}",
            &[&s.zone.hms(*since), error],
        ));
    }
    (!parts.is_empty()).then(|| parts.join(s.lang.semicolon()))
}

/// How often the flight recorder writes the gauges while a stage is in force, when they
/// changed: the journal then holds the curve the room watched (about 120 small records
/// an hour), not only the moments of decision.
pub const RECORD_EVERY_SECS: i64 = 30;

/// The gauges as the room sees them, journaled unless the last record says the same.
fn record_gauges(s: &mut State, fx: &mut Vec<Effect>) {
    let gauges = s.seen();
    if s.recorded.as_ref().is_some_and(|(_, g)| *g == gauges) {
        return;
    }
    let rec = s.record(CONSOLE, Entry::Gauges { gauges });
    s.apply(&rec);
    fx.push(Effect::Journal(rec));
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
        (Mode::Signer { item, name }, Action::Confirm) => {
            let name = clean(name.trim()).into_owned();
            let item = *item;
            if name.is_empty() {
                s.ui.flash =
                    Some(tr(s.lang, "type the name of whoever signs off, then Enter").into());
                return;
            }
            s.ui.mode = Mode::Normal;
            let id = s.checklist.items[item].id.clone();
            let who = s.operator.clone();
            let role = s.checklist.items[item]
                .role
                .as_deref()
                .unwrap_or(tr(s.lang, "sign-off"));
            let detail = trf(
                s.lang,
                "{} signed off as {} (entered by {})",
                &[&name, &role, &who],
            );
            emit(
                s,
                &who,
                Entry::Mark {
                    item: id,
                    mark: Mark::Done,
                    signer: Some(name),
                },
                fx,
            );
            notify(s, NotifyEvent::Signoff, &detail, fx);
        }
        (Mode::Signer { .. }, Action::Cancel | Action::Quit) => {
            s.ui.mode = Mode::Normal;
            s.ui.flash = Some(tr(s.lang, "not signed off: nothing was recorded").into());
        }
        (Mode::Signer { .. }, _) => {}
        (Mode::Note(_), Action::Cancel) => s.ui.mode = Mode::Normal,
        (Mode::Note(_), Action::Quit) => s.ui.mode = Mode::Normal,
        (Mode::Confirm(_), Action::Confirm) => commit(s, fx),
        (Mode::Confirm(c), Action::Override) => {
            if c.blockers.is_empty() && !c.unknown.is_empty() && !c.overriding {
                let mut c = c.clone();
                c.overriding = true;
                c.reason = Some(String::new());
                s.ui.mode = Mode::Confirm(c);
            }
        }
        (Mode::Confirm(c), Action::Up | Action::Down) if !c.kinds.is_empty() => {
            let mut c = c.clone();
            let n = c.kinds.len();
            c.kind = if a == Action::Up {
                (c.kind + n - 1) % n
            } else {
                (c.kind + 1) % n
            };
            s.ui.mode = Mode::Confirm(c);
        }
        (Mode::Confirm(_), Action::Cancel) => {
            s.ui.mode = Mode::Normal;
            s.ui.flash = Some(tr(s.lang, "cancelled: nothing was done").into());
        }
        (Mode::Confirm(_), Action::Quit) => s.ui.mode = Mode::Normal,
        (Mode::Confirm(_) | Mode::Note(_), _) => {}
        (Mode::Emergency { group }, Action::Down) => {
            let n = emergency_groups(s).max(1);
            s.ui.mode = Mode::Emergency {
                group: (group + 1) % n,
            };
        }
        (Mode::Emergency { .. }, Action::Cancel | Action::Quit) => s.ui.mode = Mode::Normal,
        (Mode::Emergency { .. }, _) => {}
        (Mode::PodLog { .. }, _) => s.ui.mode = Mode::Normal,
        (Mode::Normal, a) => normal(s, a, fx),
    }
}

/// The plan for a proposal as things stand now: the same functions that opened the
/// dialog, so what is confirmed is decided at the moment it commits, not when it opened.
fn replan(s: &State, c: &Confirm) -> Option<Result<Confirm, String>> {
    match &c.proposal {
        Proposal::Advance { .. } => Some(plan_advance(s)),
        Proposal::Rollback { .. } => Some(plan_rollback(s)),
        Proposal::Pause { .. } => Some(plan_pause(s)),
        Proposal::CancelCountdown { .. } => Some(plan_cancel(s)),
        Proposal::TakeOver => Some(plan_take_over(s)),
        Proposal::TickGroup { .. } => Some(plan_tick_group(s)),
        Proposal::Quit => None,
    }
}

/// `y` (or Enter): plan again; act only if nothing changed, nothing blocks, and what is
/// unknown was overridden with a reason.
fn commit(s: &mut State, fx: &mut Vec<Effect>) {
    let Mode::Confirm(shown) = &s.ui.mode else {
        return;
    };
    let shown = shown.clone();
    let mut c = match replan(s, &shown) {
        None => shown.clone(),
        Some(Err(why)) => {
            s.ui.mode = Mode::Normal;
            s.ui.flash = Some(trf(s.lang, "{}: nothing was done", &[&why]));
            return;
        }
        Some(Ok(mut fresh)) => {
            fresh.reason = shown.reason.clone().or(fresh.reason);
            fresh.overriding = shown.overriding && !fresh.unknown.is_empty();
            if let Some((id, _)) = shown.kinds.get(shown.kind) {
                fresh.kind = fresh.kinds.iter().position(|(k, _)| k == id).unwrap_or(0);
            }
            if !fresh.same_decision(&shown) {
                fresh.replanned = true;
                s.ui.mode = Mode::Confirm(fresh);
                s.ui.flash = Some(
                    tr(
                        s.lang,
                        "the situation changed since this was shown: read it again; nothing was done",
                    )
                    .into(),
                );
                return;
            }
            fresh.replanned = shown.replanned;
            fresh
        }
    };
    if !c.blockers.is_empty() {
        s.ui.flash = Some(tr(s.lang, "blocked: see the confirmation for why").into());
        return;
    }
    let reason = c.reason.as_deref().map(str::trim).unwrap_or_default();
    if !c.unknown.is_empty() && !c.overriding {
        s.ui.flash = Some(
            tr(
                s.lang,
                "health is unknown: press o to override with a reason, or wait for fresh data",
            )
            .into(),
        );
        return;
    }
    if c.reason.is_some() && reason.is_empty() {
        s.ui.flash = Some(
            tr(
                s.lang,
                "type a reason first: it goes to the journal, the log and the cluster's Events",
            )
            .into(),
        );
        return;
    }
    c.reason = c.reason.map(|r| clean(r.trim()).into_owned());
    s.ui.mode = Mode::Normal;
    confirmed(s, c, fx);
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
                    Some(Row::Live(_)) => s.checklist.live.as_ref().map(|l| l.phase),
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
        Action::Toggle
        | Action::TickGroup
        | Action::Verify
        | Action::Skip
        | Action::Fail
        | Action::Note
        | Action::Advance
        | Action::Rollback
        | Action::Pause
        | Action::CancelAuto
            if s.follow.is_some() =>
        {
            s.ui.flash = Some(following_refusal(s));
        }
        Action::Toggle
            if matches!(s.checklist.selected(), Some(Row::Group(..)))
                && s.ui.focus == Pane::Checklist =>
        {
            propose(s, plan_tick_group(s))
        }
        Action::TickGroup => propose(s, plan_tick_group(s)),
        Action::Toggle | Action::Skip | Action::Fail => mark_selected(s, a, fx),
        Action::Note => s.ui.mode = Mode::Note(String::new()),
        Action::Advance | Action::Rollback | Action::Pause | Action::CancelAuto
            if s.refusal().is_some() =>
        {
            let why = s.refusal().unwrap_or_default();
            s.ui.flash = Some(trf(s.lang, "{}: nothing was done", &[&why]));
        }
        Action::Advance => {
            // The gate's verifications run again before it is decided; the dialog follows
            // their answers.
            force_probes(s, fx);
            propose(s, plan_advance(s))
        }
        Action::Verify => {
            let sel = match s.checklist.selected() {
                Some(Row::Item(i))
                    if s.ui.focus == Pane::Checklist && s.checklist.items[i].verify.is_some() =>
                {
                    Some(i)
                }
                _ => None,
            };
            verify_now(s, sel, fx)
        }
        Action::Rollback => propose(s, plan_rollback(s)),
        Action::Pause => propose(s, plan_pause(s)),
        Action::CancelAuto => propose(s, plan_cancel(s)),
        Action::TakeOver => propose(s, plan_take_over(s)),
        Action::Help => s.ui.mode = Mode::Help,
        Action::Emergency => s.ui.mode = Mode::Emergency { group: 0 },
        Action::PodLog => {
            let pods = canary::pods_in_order(&s.rb.targets, &s.cluster);
            match pods.get(s.ui.pod_cursor.min(pods.len().saturating_sub(1))) {
                Some((_, p)) if s.ui.focus == Pane::Rollout => {
                    let pod = p.name.clone();
                    s.ui.mode = Mode::PodLog {
                        pod: pod.clone(),
                        log: None,
                    };
                    fx.push(Effect::PodLog { pod });
                }
                _ => {
                    s.ui.flash = Some(
                        tr(
                            s.lang,
                            "select a pod in the rollout pane first (Tab to it, ↑/↓ to pick one)",
                        )
                        .into(),
                    )
                }
            }
        }
        Action::ConsoleLog => s.ui.console_log = !s.ui.console_log,
        Action::Quit => quit(s, fx),
        Action::Confirm | Action::Cancel | Action::Override => {}
        Action::ReplayPause | Action::ReplayStep | Action::ReplayFaster | Action::ReplaySlower => {
            replay_key(s, a, fx)
        }
    }
}

fn propose(s: &mut State, c: Result<Confirm, String>) {
    match c {
        Ok(c) => s.ui.mode = Mode::Confirm(c),
        Err(why) => s.ui.flash = Some(why),
    }
}

/// How the log says a console drives the release (the report lists these lines).
pub const DRIVES: &str = "drives the release";

/// Whether a log line says who drives (a console took the Lease, or took over).
pub fn drives(text: &str) -> bool {
    // In either language the console writes its log in.
    [
        DRIVES,
        "takes over driving the release",
        "主导本次发布",
        "接管本次发布",
    ]
    .into_iter()
    .any(|w| text.contains(w))
}

/// Why a following console does not act, and who does.
pub fn following_refusal(s: &State) -> String {
    let holder = match &s.driver {
        Driver::ReadOnly {
            holder: Some(h), ..
        } => Some(h.clone()),
        _ => None,
    };
    let leader = s
        .follow
        .as_ref()
        .and_then(|f| f.leader.clone())
        .or(holder)
        .unwrap_or_else(|| tr(s.lang, "the driving console").into());
    match &s.driver {
        Driver::Free { .. } => trf(
            s.lang,
            "read-only: this console follows {}'s journal and nobody drives now: press T to take over; nothing was done",
            &[&leader],
        ),
        _ => trf(
            s.lang,
            "read-only: this console follows {}'s journal: decisions are taken at the driving console; nothing was done",
            &[&leader],
        ),
    }
}

fn quit(s: &mut State, fx: &mut Vec<Effect>) {
    // A follower leaves nothing behind and changes nothing by leaving.
    if s.follow.is_some() {
        s.ui.quit = true;
        fx.push(Effect::Quit);
        return;
    }
    if s.in_progress() {
        s.ui.mode = Mode::Confirm(Confirm::new(
            trf(s.lang, "Quit while {} is in progress?", &[&s.stage_name()]),
            if s.simulated {
                vec![
                    tr(s.lang, "This is the demo: the simulated cluster ends with the console, and only the journal is kept.").into(),
                    tr(s.lang, "Run `warroom demo` again for a fresh cluster.").into(),
                ]
            } else {
                vec![
                    tr(
                        s.lang,
                        "The cluster stays exactly as it is; nothing is rolled back.",
                    )
                    .into(),
                    tr(
                        s.lang,
                        "Start the console again with the same journal to carry on.",
                    )
                    .into(),
                ]
            },
            vec![],
            Proposal::Quit,
        ));
    } else {
        close(s, fx);
    }
}

/// The session ends: the journal says so, then the console quits.
fn close(s: &mut State, fx: &mut Vec<Effect>) {
    let who = s.operator.clone();
    let text = trf(s.lang, "closed the console at {}", &[&s.stage_name()]);
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
        // With pods to show, the cursor picks one (its log is a key away); else the pane
        // scrolls.
        Pane::Rollout if !s.cluster.snap.pods.is_empty() => {
            s.ui.pod_cursor = clamp(s.ui.pod_cursor, step, s.cluster.snap.pods.len());
        }
        Pane::Rollout => {
            let n = s.cluster.snap.replicasets.len() + 8;
            s.ui.rollout_scroll = clamp(s.ui.rollout_scroll, step, n);
        }
        Pane::Gauges => s.ui.gauge_cursor = clamp(s.ui.gauge_cursor, step, s.metrics.len()),
        _ => {}
    }
}

fn mark_selected(s: &mut State, a: Action, fx: &mut Vec<Effect>) {
    if s.ui.focus != Pane::Checklist {
        s.ui.flash = Some(
            tr(
                s.lang,
                "select an item in the checklist first (Tab to the checklist)",
            )
            .into(),
        );
        return;
    }
    let i = match s.checklist.selected() {
        Some(Row::Item(i)) => i,
        Some(Row::Live(_)) => {
            s.ui.flash = Some(
                tr(s.lang, "the console performs this step of the rollback: it is ticked when the cluster shows it done")
                    .into(),
            );
            return;
        }
        Some(Row::Phase(p)) if a == Action::Toggle => {
            s.checklist.collapsed[p] = !s.checklist.collapsed[p];
            return;
        }
        _ => return,
    };
    let item = &s.checklist.items[i];
    if !item.kind.tickable() {
        s.ui.flash = Some(trf(
            s.lang,
            "“{}” is for reading, not ticking",
            &[&crate::text::fit(&item.text, 40)],
        ));
        return;
    }
    let kids: Vec<usize> = s
        .checklist
        .children(i)
        .filter(|&c| s.checklist.items[c].kind.tickable())
        .collect();
    if !kids.is_empty() {
        let open = kids.iter().filter(|&&c| !s.checklist.settled(c)).count();
        s.ui.flash = Some(trf(
            s.lang,
            "“{}” follows its sub-items ({} still open): tick those",
            &[&crate::text::fit(&item.text, 40), &open],
        ));
        return;
    }
    if item.verify.is_some() {
        verify_now(s, Some(i), fx);
        return;
    }
    if item.computed.is_some() {
        let open = s.checklist.computed_open(i);
        s.ui.flash = Some(trf(
            s.lang,
            "“{}” is the console's to settle: it is done when every other required check gating {} is ({} open)",
            &[
                &crate::text::fit(&item.text, 30),
                &item.gates.as_deref().unwrap_or(tr(s.lang, "its stage")),
                &open.len(),
            ],
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
                s.ui.flash = Some(tr(s.lang, "a sign-off cannot be skipped").into());
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
    if item.kind == ItemKind::Signoff && mark == Mark::Done {
        // A sign-off is a person's: ask whose, the role being the item's.
        s.ui.mode = Mode::Signer {
            item: i,
            name: String::new(),
        };
        return;
    }
    let id = item.id.clone();
    let who = s.operator.clone();
    emit(
        s,
        &who,
        Entry::Mark {
            item: id,
            mark,
            signer: None,
        },
        fx,
    );
}

fn confirmed(s: &mut State, c: Confirm, fx: &mut Vec<Effect>) {
    let who = s.operator.clone();
    let plan = c.title.clone();
    let release = format!("{} {}", s.rb.release.name, s.rb.release.version);
    match c.proposal {
        Proposal::Advance { to, op } => {
            let stage = &s.rb.stages[to];
            let mut message = format!(
                "{who} advanced {release} to {} ({}%): {plan}",
                stage.title, stage.traffic
            );
            let (overridden, override_reason) = if c.overriding {
                let why = c.reason.clone().unwrap_or_default();
                message.push_str(&format!(
                    "; OVERRIDE of unknown health ({}): {why}",
                    c.unknown.join("; ")
                ));
                (c.unknown.clone(), Some(why))
            } else {
                (Vec::new(), None)
            };
            let audit = Audit {
                reason: "WarroomAdvance".into(),
                message,
            };
            let to = stage.id.clone();
            let overrode = override_reason.as_ref().map(|why| {
                trf(
                    s.lang,
                    "{} advanced to {} over unknown health ({}): {}",
                    &[
                        &who,
                        &stage.title,
                        &overridden.join(s.lang.semicolon()),
                        &why,
                    ],
                )
            });
            let seq = emit(
                s,
                &who,
                Entry::Advance {
                    to,
                    plan,
                    overridden,
                    override_reason,
                },
                fx,
            );
            fx.push(Effect::Kube { seq, op, audit });
            if let Some(detail) = overrode {
                notify(s, NotifyEvent::Override, &detail, fx);
            }
        }
        Proposal::Rollback { op } => {
            let (kind, words) = c
                .kinds
                .get(c.kind)
                .cloned()
                .unwrap_or_else(|| ("manual".into(), tr(s.lang, "manual rollback").into()));
            let typed = c.reason.clone().unwrap_or_default();
            let reason = format!("{words} — {who}: “{typed}”{}", evidence(s));
            rollback(s, &who, (kind, None), reason, plan, op, fx);
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
        Proposal::CancelCountdown { trigger } => {
            let id = s.rb.rollback_triggers[trigger].id.clone();
            let reason = c.reason.clone().unwrap_or_default();
            let what = &s.rb.rollback_triggers[trigger].text;
            let detail = trf(
                s.lang,
                "{} stopped the automatic rollback ({}): {}",
                &[&who, &what, &reason],
            );
            emit(
                s,
                &who,
                Entry::Cancel {
                    trigger: id,
                    reason,
                },
                fx,
            );
            notify(s, NotifyEvent::CountdownCancelled, &detail, fx);
        }
        Proposal::TakeOver if s.follow.is_some() => {
            // The journal first, taken with its lock, holding the driver's story, so this
            // console's decisions carry it on (and a driver still running here keeps it).
            let records = s
                .follow
                .as_ref()
                .map(|f| f.records.clone())
                .unwrap_or_default();
            fx.push(Effect::Adopt { records });
        }
        Proposal::TakeOver => {
            let text = trf(s.lang, "{} takes over driving the release", &[&who]);
            emit(
                s,
                &who,
                Entry::System {
                    level: LogLevel::Warn,
                    text,
                },
                fx,
            );
            fx.push(Effect::TakeLease);
        }
        Proposal::TickGroup { scope, items } => {
            let items = items
                .iter()
                .map(|&i| s.checklist.items[i].id.clone())
                .collect();
            emit(s, &who, Entry::Ticks { scope, items }, fx);
        }
        Proposal::Quit => close(s, fx),
    }
}

/// Tick what is open in the group under the cursor (or its phase, on a phase row or an
/// item outside any group) in one confirmation that lists each item. Sign-offs are left
/// out (each names its signer), as are parents (they follow their children).
pub fn plan_tick_group(s: &State) -> Result<Confirm, String> {
    if s.ui.focus != Pane::Checklist {
        return Err(tr(
            s.lang,
            "select a group in the checklist first (Tab to the checklist)",
        )
        .into());
    }
    let c = &s.checklist;
    let (phase, group) = match c.selected() {
        Some(Row::Group(p, g)) => (p, Some(g)),
        Some(Row::Phase(p)) => (p, None),
        Some(Row::Item(i)) => (c.items[i].phase, c.items[i].group.clone()),
        Some(Row::Live(_)) => {
            return Err(
                tr(s.lang, "the console performs the rollback: its steps are ticked as the cluster shows them done")
                    .into(),
            );
        }
        None => return Err(tr(s.lang, "nothing selected").into()),
    };
    // The procedure the console is performing is not ticked by hand.
    let live = c.live.as_ref().map(|l| (l.phase, l.group.clone()));
    if let (Some((lp, lg)), Some(g)) = (&live, &group)
        && *lp == phase
        && lg.as_ref() == Some(g)
    {
        return Err(
            tr(s.lang, "the console performs the rollback: its steps are ticked as the cluster shows them done")
                .into(),
        );
    }
    let scope = match &group {
        Some(g) => format!("{} › {g}", s.rb.phases[phase].title),
        None => s.rb.phases[phase].title.clone(),
    };
    let items: Vec<usize> = (0..c.items.len())
        .filter(|&i| {
            let it = &c.items[i];
            it.phase == phase
                && (group.is_none() || it.group == group)
                && live
                    .as_ref()
                    .is_none_or(|(lp, lg)| !(*lp == it.phase && *lg == it.group))
                && it.kind.tickable()
                && it.kind != ItemKind::Signoff
                && it.computed.is_none()
                && it.verify.is_none()
                && c.children(i).next().is_none()
                && c.marks[i].mark != Mark::Done
        })
        .collect();
    if items.is_empty() {
        return Err(trf(s.lang, "nothing open to tick in {}", &[&scope]));
    }
    let mut plan: Vec<String> = items
        .iter()
        .map(|&i| format!("✔ {}", c.items[i].text))
        .collect();
    let signoffs = (0..c.items.len())
        .filter(|&i| {
            c.items[i].phase == phase
                && (group.is_none() || c.items[i].group == group)
                && c.items[i].kind == ItemKind::Signoff
                && c.marks[i].mark != Mark::Done
        })
        .count();
    if signoffs > 0 {
        plan.push(trf(
            s.lang,
            "({} sign-offs left out: each asks whose it is; tick them one by one)",
            &[&signoffs],
        ));
    }
    let computed = (0..c.items.len())
        .filter(|&i| {
            c.items[i].phase == phase
                && (group.is_none() || c.items[i].group == group)
                && c.items[i].computed.is_some()
        })
        .count();
    if computed > 0 {
        plan.push(trf(
            s.lang,
            "({} left to the console: it settles them from the other checks)",
            &[&computed],
        ));
    }
    let verified = (0..c.items.len())
        .filter(|&i| {
            c.items[i].phase == phase
                && (group.is_none() || c.items[i].group == group)
                && c.items[i].verify.is_some()
                && c.marks[i].mark != Mark::Done
        })
        .count();
    if verified > 0 {
        plan.push(trf(
            s.lang,
            "({} left to the console: it verifies them and ticks them with the evidence)",
            &[&verified],
        ));
    }
    Ok(Confirm::new(
        if items.len() == 1 {
            trf(s.lang, "Tick 1 item of {}?", &[&scope])
        } else {
            trf(s.lang, "Tick {} items of {}?", &[&items.len(), &scope])
        },
        plan,
        Vec::new(),
        Proposal::TickGroup { scope, items },
    ))
}

/// Take over a release nobody drives: only offered while the Lease is free.
pub fn plan_take_over(s: &State) -> Result<Confirm, String> {
    let Driver::Free { why } = &s.driver else {
        return Err(match s.refusal() {
            Some(r) => trf(s.lang, "nothing to take over: {}", &[&r]),
            None => tr(s.lang, "this console already drives the release").into(),
        });
    };
    let mut plan = vec![format!("{why}.")];
    if let Some(f) = &s.follow {
        plan.push(trf(
            s.lang,
            "This console first takes the journal it follows ({}) for its own, as the driving console held it; that fails while a console on this host still has it open.",
            &[&f.source],
        ));
    }
    plan.extend([
            tr(s.lang, "This console claims the release's Lease. If another console claims it first, this one stays read-only and says who drives.")
                .into(),
            trf(
                s.lang,
                "The journal here says the release is at {}; the rollout pane shows the cluster as it is. Check both before acting.",
                &[&s.stage_name()],
            ),
    ]);
    Ok(Confirm::new(
        tr(s.lang, "Take over driving this release?").into(),
        plan,
        Vec::new(),
        Proposal::TakeOver,
    ))
}

/// What the met triggers and CRITICAL gauges say now: the evidence a rollback records.
fn evidence(s: &State) -> String {
    let mut out = String::new();
    for (t, def) in s.triggers.iter().zip(&s.rb.rollback_triggers) {
        if let Some(m) = &t.met {
            out.push_str(&format!("; trigger met: {} ({})", def.text, m.evidence));
        }
    }
    let critical = critical_now(s);
    if !critical.is_empty() {
        out.push_str(&format!("; CRITICAL: {}", critical.join(", ")));
    }
    out
}

/// Journal the rollback's intent, then send it: the same path for `R` and for a trigger.
/// `(kind, target)`: the trigger's id (or manual, emergency), and the one target a
/// trigger rolls back alone (none: every target).
fn rollback(
    s: &mut State,
    who: &str,
    (kind, target): (String, Option<String>),
    reason: String,
    plan: String,
    op: KubeOp,
    fx: &mut Vec<Effect>,
) {
    let release = format!("{} {}", s.rb.release.name, s.rb.release.version);
    let audit = Audit {
        reason: "WarroomRollback".into(),
        message: format!("{release}: {kind}: {reason}: {plan}"),
    };
    let detail = trf(s.lang, "{}, by {}: {} ({})", &[&kind, &who, &reason, &plan]);
    let seq = emit(
        s,
        who,
        Entry::Rollback {
            reason,
            plan,
            trigger: Some(kind),
            target,
        },
        fx,
    );
    fx.push(Effect::Kube { seq, op, audit });
    notify(s, NotifyEvent::Rollback, &detail, fx);
    open_emergency(s, crate::runbook::Situation::Rollback);
    follow_rollback(s, fx);
}

/// An action sent before a restart whose answer never reached the journal: once the
/// cluster is seen, say whether the cluster shows it done, and journal that as its
/// outcome, so the question is settled once and not raised at every start.
fn reconcile(s: &mut State, fx: &mut Vec<Effect>) {
    let Some(p) = s.unreconciled.take() else {
        return;
    };
    let mut done = s.clone();
    done.stages.pending = None;
    done.stage_done(&p.entry, p.at);
    let paused_as_asked = match &p.entry {
        Entry::Pause { paused, .. } => {
            s.rb.targets
                .iter()
                .flat_map(|k| [&k.stable, &k.canary])
                .all(|n| s.cluster.deployment(n).is_some_and(|d| d.paused == *paused))
        }
        _ => true,
    };
    let ok = done.cluster_disagreement().is_none() && paused_as_asked;
    let message = if ok {
        trf(
            s.lang,
            "reconciled after a restart: the cluster shows action #{} done",
            &[&p.seq],
        )
    } else {
        trf(
            s.lang,
            "reconciled after a restart: the cluster does not show action #{} done; the stage stays as it was",
            &[&p.seq],
        )
    };
    if ok {
        s.stages.pending = Some(p.clone());
    }
    emit(
        s,
        CONSOLE,
        Entry::Outcome {
            of: p.seq,
            ok,
            message,
        },
        fx,
    );
}

/// After promotion the canary kept its pods so that capacity never dropped; once the
/// stable Deployment's rollout of the new version is complete, the driving console scales
/// the canary to zero (journaled first, like every change).
fn retire_canary(s: &mut State, fx: &mut Vec<Effect>) {
    if !s.stages.promoted
        || s.stages.rolled_back.is_some()
        || s.stages.pending.is_some()
        || s.refusal().is_some()
    {
        return;
    }
    let Some((plan, op)) = canary::retire_all(&s.rb.targets, &s.cluster, s.lang) else {
        return;
    };
    let audit = Audit {
        reason: "WarroomRetireCanary".into(),
        message: format!("{} {}: {plan}", s.rb.release.name, s.rb.release.version),
    };
    let seq = emit(s, CONSOLE, Entry::Step { plan, target: None }, fx);
    fx.push(Effect::Kube { seq, op, audit });
}

/// A stage that moves its targets one after another: once the cluster shows the ones
/// moved so far done, the driving console moves the next (journaled first, as its own
/// step of the confirmed stage). Not while anything else is in flight, paused or refused.
fn continue_stage(s: &mut State, fx: &mut Vec<Effect>) {
    let (Some(i), Some(&next)) = (s.stages.current, s.stages.queue.first()) else {
        return;
    };
    if s.stages.rolled_back.is_some()
        || s.stages.pending.is_some()
        || s.stages.paused
        || s.stages.stopped.is_some()
        || s.refusal().is_some()
        || s.cluster.link != Link::Live
    {
        return;
    }
    let order: Vec<usize> =
        s.rb.stage_order(i)
            .into_iter()
            .filter(|&t| !s.stages.is_out(t))
            .collect();
    let at = order.iter().position(|&t| t == next).unwrap_or(0);
    let traffic = s.rb.stages[i].traffic;
    let moved = &order[..at];
    if !moved
        .iter()
        .all(|&t| canary::step_done(&s.rb.targets[t], &s.cluster, traffic, traffic >= 100))
    {
        return;
    }
    let k = &s.rb.targets[next];
    let stage = &s.rb.stages[i];
    let cause = format!("{}: advance to {} ({}%)", s.operator, stage.id, traffic);
    let step = canary::stage(k, &s.cluster, traffic, cause, s.lang);
    let before = moved
        .last()
        .map(|&t| s.rb.targets[t].name().to_string())
        .unwrap_or_default();
    let plan = trf(
        s.lang,
        "{}: {} ({}'s is done in the cluster)",
        &[&k.name(), &step.title, &before],
    );
    let audit = Audit {
        reason: "WarroomAdvance".into(),
        message: format!("{} {}: {plan}", s.rb.release.name, s.rb.release.version),
    };
    let target = Some(k.name().to_string());
    let seq = emit(s, CONSOLE, Entry::Step { plan, target }, fx);
    fx.push(Effect::Kube {
        seq,
        op: step.op,
        audit,
    });
}

/// The gauges at CRITICAL now, with their values: the evidence a rollback records.
fn critical_now(s: &State) -> Vec<String> {
    s.metrics
        .iter()
        .zip(&s.rb.metrics)
        .filter(|(m, def)| {
            m.level_skipping(def, s.now, s.stale_after, s.not_serving(def)) == Level::Critical
        })
        .map(|(m, def)| {
            format!(
                "{} {}",
                def.title,
                crate::format::format_value(def, m.last_value.map(|v| v.0))
            )
        })
        .collect()
}

/// Why this console cannot act now: it may not (the Lease), or its last action has no
/// answer yet.
fn common_blockers(s: &State) -> Vec<String> {
    s.refusal().into_iter().chain(unanswered(s)).collect()
}

fn unanswered(s: &State) -> Option<String> {
    s.stages.pending.as_ref().map(|p| {
        trf(
            s.lang,
            "the last action (#{}) has no answer from the API yet",
            &[&p.seq],
        )
    })
}

/// Everything that stands between the release and stage `next`: what blocks it, and what
/// is unknown (blocking too, unless overridden with a reason). The one place that decides
/// the gates: the dialog shows them and the commit re-checks them through it.
pub fn gates(s: &State, next: usize) -> (Vec<String>, Vec<String>) {
    let rb = &s.rb;
    let mut blockers = common_blockers(s);
    // The checks the console verifies for this gate are decided on their fresh verdicts
    // below, not on their marks.
    let verified_here = |i: usize| {
        let it = &s.checklist.items[i];
        it.verify.is_some()
            && s.verify_due(i)
            && it.gates.as_deref().and_then(|g| rb.stage_index(g)) == Some(next)
    };
    // A verified check of a gate already passed was decided there (verified, or its
    // unknown overridden with a reason, journaled): it does not hold up the next one.
    let decided = |i: usize| {
        let it = &s.checklist.items[i];
        it.verify.is_some()
            && it
                .gates
                .as_deref()
                .and_then(|g| rb.stage_index(g))
                .is_some_and(|g| g < next)
    };
    // A parent follows its children: they are listed, not it; so does a computed check
    // whose open checks are verified here (each says below what it lacks).
    let open: Vec<usize> = s
        .checklist
        .blockers(rb, next)
        .into_iter()
        .filter(|&i| !verified_here(i) && !decided(i))
        .filter(|&i| {
            !s.checklist
                .children(i)
                .any(|c| s.checklist.items[c].kind.tickable())
        })
        .filter(|&i| {
            // An open check is "covered" when it is verified here, or a parent whose open
            // children all are.
            let here = |c: usize| verified_here(c) || decided(c);
            let covered = |j: usize| {
                here(j)
                    || s.checklist
                        .children(j)
                        .filter(|&c| s.checklist.items[c].kind.tickable())
                        .filter(|&c| !s.checklist.settled(c))
                        .all(here)
                        && s.checklist.children(j).next().is_some()
            };
            s.checklist.items[i].computed.is_none()
                || !s.checklist.computed_open(i).iter().all(|&j| covered(j))
        })
        .collect();
    let mut vunknown = Vec::new();
    // Checks that cannot be made for the same reason (a variable unset, Prometheus down)
    // are one line.
    let mut vfold: Vec<(String, Vec<String>)> = Vec::new();
    for i in
        (0..s.checklist.items.len()).filter(|&i| verified_here(i) && s.checklist.items[i].required)
    {
        use crate::journal::Verdict as V;
        use crate::state::verify::FRESH_SECS;
        let text = &s.checklist.items[i].text;
        let c = &s.checklist.checks[i];
        // What the console judges from its own data is judged now; a probe's answer is
        // taken while it is fresh.
        let judged = s.judge(i).map(|o| (o, s.now));
        match judged.as_ref().or(c.last.as_ref()) {
            Some((o, at)) => {
                let age = (s.now - *at).num_seconds();
                match o.verdict {
                    V::Fail => blockers.push(trf(
                        s.lang,
                        "verification failed: {}: {}",
                        &[text, &o.evidence],
                    )),
                    V::Pass if age <= FRESH_SECS => {}
                    V::Pass if c.asked.is_some() => vunknown.push(trf(
                        s.lang,
                        "{}: last verified at {} ({}), not since: checking again now",
                        &[text, &s.zone.hms(*at), &crate::format::fmt_secs(age)],
                    )),
                    V::Pass => vunknown.push(trf(
                        s.lang,
                        "{}: last verified at {} ({}), not since",
                        &[text, &s.zone.hms(*at), &crate::format::fmt_secs(age)],
                    )),
                    // Failed when last known: losing the data does not loosen the gate.
                    V::Unknown if s.checklist.marks[i].mark == Mark::Failed => {
                        let m = &s.checklist.marks[i];
                        blockers.push(trf(
                            s.lang,
                            "verification failed: {}: {}{}, and it cannot be checked now: {}",
                            &[
                                text,
                                &m.evidence.as_deref().unwrap_or(tr(s.lang, "failed")),
                                &m.at
                                    .map(|t| trf(s.lang, " (at {})", &[&s.zone.hms(t)]))
                                    .unwrap_or_default(),
                                &o.evidence,
                            ],
                        ))
                    }
                    V::Unknown => match vfold.iter_mut().find(|(why, _)| *why == o.evidence) {
                        Some((_, names)) => names.push(text.clone()),
                        None => vfold.push((o.evidence.clone(), vec![text.clone()])),
                    },
                }
            }
            None if c.asked.is_some() => vunknown.push(trf(
                s.lang,
                "{}: not verified yet: the check is under way",
                &[text],
            )),
            None => vunknown.push(trf(s.lang, "{}: not verified yet", &[text])),
        }
    }
    for i in open.iter().take(6) {
        blockers.push(trf(s.lang, "not done: {}", &[&s.checklist.items[*i].text]));
    }
    if open.len() > 6 {
        blockers.push(trf(
            s.lang,
            "… and {} more required items",
            &[&(open.len() - 6)],
        ));
    }
    if s.stages.paused {
        blockers.push(tr(s.lang, "the rollout is paused: press p to resume first").into());
    }
    if let Some(why) = &s.stages.stopped {
        blockers.push(trf(
            s.lang,
            "the stage stopped before it moved every target ({}): roll back (R)",
            &[why],
        ));
    } else if !s.stages.queue.is_empty() {
        let names: Vec<&str> = s
            .stages
            .queue
            .iter()
            .map(|&t| rb.targets[t].name())
            .collect();
        blockers.push(trf(
            s.lang,
            "{} still to move at this stage, one after another; its hold starts when the last has",
            &[&names.join(s.lang.list())],
        ));
    }
    if let Some(i) = s.stages.current.filter(|_| s.stages.queue.is_empty()) {
        let hold = rb.stages[i].hold.secs() as i64;
        let left = hold - s.held();
        if left > 0 {
            blockers.push(trf(
                s.lang,
                "{} holds for {}: {} left",
                &[
                    &rb.stages[i].title,
                    &rb.stages[i].hold,
                    &crate::format::fmt_secs(left),
                ],
            ));
        }
    }
    for name in rb.targets.iter().flat_map(|k| [&k.canary, &k.stable]) {
        if s.cluster.deployment(name).is_none() {
            blockers.push(trf(
                s.lang,
                "Deployment {} has not been seen in the cluster",
                &[name],
            ));
        }
    }
    for (t, def) in s.triggers.iter().zip(&rb.rollback_triggers) {
        if let Some(m) = &t.met {
            let lost = m
                .data_lost
                .map(|at| trf(s.lang, ", data lost since {}", &[&s.zone.hms(at)]))
                .unwrap_or_default();
            blockers.push(trf(
                s.lang,
                "rollback trigger met: {} ({}{})",
                &[&def.text, &m.evidence, &lost],
            ));
        }
    }
    let mut unknown = Vec::new();
    // Gauges failing for the same reason (a Prometheus outage fails them all) are one line.
    let mut failing: Vec<(String, Vec<String>, Option<chrono::DateTime<chrono::Utc>>)> = Vec::new();
    for (m, def) in s.metrics.iter().zip(&rb.metrics) {
        match m.level_skipping(def, s.now, s.stale_after, s.not_serving(def)) {
            Level::Critical => blockers.push(trf(
                s.lang,
                "{}{} is CRITICAL at {}",
                &[
                    &def.target
                        .as_ref()
                        .map(|t| format!("{t}: "))
                        .unwrap_or_default(),
                    &def.title,
                    &crate::format::format_value(def, m.last_value.map(|v| v.0)),
                ],
            )),
            Level::Unknown => match &m.reading {
                Some(Reading::Error(e)) => {
                    let since = m.last_value.map(|v| v.1);
                    match failing.iter_mut().find(|(r, _, _)| r == e) {
                        Some((_, names, at)) => {
                            names.push(def.title.clone());
                            *at = match (*at, since) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        None => failing.push((e.clone(), vec![def.title.clone()], since)),
                    }
                }
                _ => unknown.push(gauge_unknown(m, def, s.zone, s.lang)),
            },
            _ => {}
        }
    }
    for (why, names) in vfold {
        vunknown.push(if names.len() == 1 {
            trf(s.lang, "{}: cannot be verified: {}", &[&names[0], &why])
        } else {
            trf(
                s.lang,
                "{} checks ({}): cannot be verified: {}",
                &[&names.len(), &names.join(s.lang.list()), &why],
            )
        });
    }
    unknown.extend(vunknown);
    for (reason, names, since) in failing {
        let since = since
            .map(|at| trf(s.lang, ", no fresh value since {}", &[&s.zone.hms(at)]))
            .unwrap_or_default();
        unknown.push(if names.len() == 1 {
            trf(
                s.lang,
                "{}: the query fails{}: {}",
                &[&names[0], &since, &reason],
            )
        } else {
            trf(
                s.lang,
                "{} gauges ({}): the query fails{}: {}",
                &[&names.len(), &names.join(s.lang.list()), &since, &reason],
            )
        });
    }
    for (t, def) in s.triggers.iter().zip(&rb.rollback_triggers) {
        if !armed(s, def) || t.met.is_some() {
            continue;
        }
        for (c, cond) in t.conds.iter().zip(&def.conditions) {
            let since = c
                .unknown_since
                .map(|at| trf(s.lang, " since {}", &[&s.zone.hms(at)]))
                .unwrap_or_default();
            let why = match (fresh_verdict(s, c), &c.verdict) {
                (Some(Verdict::Unknown { why }), _) => why.clone(),
                (Some(_), _) => continue,
                (None, None) => tr(s.lang, "not evaluated yet").to_string(),
                (None, Some(_)) => tr(s.lang, "no fresh evaluation").to_string(),
            };
            unknown.push(trf(
                s.lang,
                "trigger {}: whether {} holds is unknown{}: {}",
                &[&def.id, &condition_text(s, cond, None), &since, &why],
            ));
        }
    }
    (blockers, unknown)
}

/// A gauge without fresh data, in words: what is missing and since when.
fn gauge_unknown(
    m: &crate::state::metrics::MetricState,
    def: &crate::runbook::Metric,
    zone: crate::format::Zone,
    lang: crate::runbook::Lang,
) -> String {
    let last = m.last_value.map(|(v, at)| {
        trf(
            lang,
            "no fresh value since {} (last {})",
            &[&zone.hms(at), &crate::format::format_value(def, Some(v))],
        )
    });
    let what = match (&m.reading, last) {
        (Some(Reading::Error(e)), Some(l)) => trf(lang, "{}; the query fails: {}", &[&l, e]),
        (Some(Reading::Error(e)), None) => trf(lang, "the query fails: {}", &[e]),
        (Some(Reading::NoData), _) => tr(lang, "no data: the query matched no series").into(),
        (_, Some(l)) => l,
        (_, None) => tr(lang, "no answer from Prometheus yet").into(),
    };
    format!("{}{}{what}", def.title, lang.colon())
}

pub fn plan_advance(s: &State) -> Result<Confirm, String> {
    let rb = &s.rb;
    let next = s.stages.current.map(|i| i + 1).unwrap_or(0);
    let Some(stage) = rb.stages.get(next) else {
        return Err(tr(s.lang, "already at the last stage: nothing to advance to").into());
    };
    let who = &s.operator;
    let (mut blockers, unknown) = gates(s, next);
    let cause = format!("{who}: advance to {} ({}%)", stage.id, stage.traffic);
    let canary::Step {
        title,
        mut plan,
        op,
        blockers: in_the_way,
    } = canary::stage_all(
        &rb.targets,
        (&rb.stage_order(next), &s.stages.out_targets()),
        &s.cluster,
        stage.traffic,
        &cause,
        s.lang,
    );
    for &(t, at) in &s.stages.out {
        plan.push(trf(
            s.lang,
            "{} stays on its stable version: rolled back alone at {}",
            &[&rb.targets[t].name(), &s.zone.hms(at)],
        ));
    }
    blockers.extend(in_the_way);
    plan.insert(
        0,
        trf(s.lang, "Stage: {} (hold {})", &[&stage.title, &stage.hold]),
    );
    if let Some(at) = s.stages.rolled_back {
        plan.insert(
            1,
            trf(
                s.lang,
                "The release was rolled back at {}: this starts the canary again.",
                &[&s.zone.hms(at)],
            ),
        );
    }
    let mut c = Confirm::new(title, plan, blockers, Proposal::Advance { to: next, op });
    c.unknown = unknown;
    Ok(c)
}

pub fn plan_rollback(s: &State) -> Result<Confirm, String> {
    let blockers = common_blockers(s);
    // A rollback leaves no Deployment paused: a paused one would hold the old pods (or
    // refuse the undo) while the screen says the release is back on stable.
    let paused: Vec<String> = canary::objects(&s.rb.targets)
        .0
        .into_iter()
        .filter(|n| s.stages.paused || s.cluster.deployment(n).is_some_and(|d| d.paused))
        .collect();
    let started = s.stages.current.is_some() || s.stages.pending.is_some();
    let canary::Step {
        title,
        mut plan,
        op,
        blockers: in_the_way,
    } = canary::rollback_all(
        &s.rb.targets,
        &s.cluster,
        |t| {
            // A target still waiting its turn is as the stage before left it.
            let waiting = s.stages.queue.contains(&t);
            let (traffic, promoted) = s.expected(t);
            (promoted, started && (!waiting || traffic > 0))
        },
        s.lang,
    )?;
    pause_note(s.lang, &mut plan, &paused);
    Ok(rollback_confirm(
        s,
        title,
        plan,
        [blockers, in_the_way].concat(),
        resume_first(&paused, op),
    ))
}

/// Roll back the target `name` alone, the others going on: what a trigger that protects
/// it does.
pub fn plan_rollback_of(s: &State, name: &str) -> Result<Confirm, String> {
    let t =
        s.rb.targets
            .iter()
            .position(|k| k.name() == name)
            .ok_or_else(|| trf(s.lang, "no target is called {}", &[&name]))?;
    let k = &s.rb.targets[t];
    let (_, promoted) = s.expected(t);
    let started = s.stages.current.is_some() || s.stages.pending.is_some();
    let paused: Vec<String> = [&k.stable, &k.canary]
        .into_iter()
        .filter(|n| s.cluster.deployment(n).is_some_and(|d| d.paused))
        .cloned()
        .collect();
    let canary::Step {
        title,
        mut plan,
        op,
        blockers,
    } = canary::rollback(k, &s.cluster, promoted, started, s.lang)?;
    plan.push(trf(
        s.lang,
        "Only {} goes back; the other targets stay at the stage in force and go on without it.",
        &[&name],
    ));
    pause_note(s.lang, &mut plan, &paused);
    Ok(rollback_confirm(
        s,
        format!("{name}: {title}"),
        plan,
        [common_blockers(s), blockers].concat(),
        resume_first(&paused, op),
    ))
}

/// Resume the paused Deployments before `op`, so the rollback completes.
fn resume_first(paused: &[String], op: KubeOp) -> KubeOp {
    if paused.is_empty() {
        return op;
    }
    KubeOp::Steps(vec![
        KubeOp::Pause {
            deployments: paused.to_vec(),
            paused: false,
        },
        op,
    ])
}

fn pause_note(lang: crate::runbook::Lang, plan: &mut Vec<String>, paused: &[String]) {
    if !paused.is_empty() {
        plan.push(if paused.len() == 1 {
            trf(
                lang,
                "{} is paused: the rollback resumes it first, so it completes and nothing stays paused.",
                &[&paused[0]],
            )
        } else {
            trf(
                lang,
                "{} are paused: the rollback resumes them first, so it completes and nothing stays paused.",
                &[&paused.join(tr(lang, " and "))],
            )
        });
    }
}

/// A rollback asks which kind it is (the runbook's triggers) and why. The kind offered
/// first is a met trigger's, else the first the lead chooses by hand.
fn rollback_confirm(
    s: &State,
    title: String,
    plan: Vec<String>,
    blockers: Vec<String>,
    op: KubeOp,
) -> Confirm {
    let mut c = Confirm::new(title, plan, blockers, Proposal::Rollback { op });
    // The automatic kinds on offer are those armed now; manual and emergency always are.
    c.kinds = s
        .rb
        .rollback_triggers
        .iter()
        .filter(|t| t.kind != TriggerKind::Automatic || armed(s, t) || s.stages.current.is_none())
        .map(|t| (t.id.clone(), t.text.clone()))
        .collect();
    if c.kinds.is_empty() {
        c.kinds
            .push(("manual".into(), tr(s.lang, "Manual rollback").into()));
    }
    let id_of = |i: usize| s.rb.rollback_triggers[i].id.clone();
    let met = s.triggers.iter().position(|t| t.met.is_some()).map(id_of);
    let by_hand =
        s.rb.rollback_triggers
            .iter()
            .position(|t| t.kind != TriggerKind::Automatic)
            .map(id_of);
    c.kind = met
        .or(by_hand)
        .and_then(|id| c.kinds.iter().position(|(k, _)| *k == id))
        .unwrap_or(0);
    c.reason = Some(String::new());
    c
}

/// Stop the automatic rollback counting down now, with a typed reason.
pub fn plan_cancel(s: &State) -> Result<Confirm, String> {
    let Some((i, deadline)) = countdown_running(s) else {
        return Err(tr(s.lang, "no automatic rollback is counting down").into());
    };
    let t = &s.rb.rollback_triggers[i];
    let met = s.triggers[i]
        .met
        .as_ref()
        .map(|m| m.evidence.clone())
        .unwrap_or_default();
    let mut c = Confirm::new(
        trf(
            s.lang,
            "Cancel the automatic rollback due at {}?",
            &[&s.zone.hms(deadline)],
        ),
        vec![
            trf(s.lang, "Trigger: {} ({})", &[&t.text, &met]),
            tr(s.lang, "The canary keeps serving. The trigger stays met and keeps blocking advancing; R still rolls back. Your reason goes to the journal and the log.")
                .into(),
        ],
        common_blockers(s),
        Proposal::CancelCountdown { trigger: i },
    );
    c.reason = Some(String::new());
    Ok(c)
}

pub fn plan_pause(s: &State) -> Result<Confirm, String> {
    let (deployments, _) = canary::objects(&s.rb.targets);
    let paused = !s.stages.paused;
    let on = deployments.join(tr(s.lang, " and "));
    let title = if paused {
        trf(
            s.lang,
            "Pause the rollout: set spec.paused=true on {}",
            &[&on],
        )
    } else {
        trf(
            s.lang,
            "Resume the rollout: set spec.paused=false on {}",
            &[&on],
        )
    };
    let plan = vec![if paused {
        tr(
            s.lang,
            "Rolling updates stop where they are; the stage's hold clock stops.",
        )
        .into()
    } else {
        tr(
            s.lang,
            "Rolling updates continue; the stage's hold clock runs again.",
        )
        .into()
    }];
    Ok(Confirm::new(
        title,
        plan,
        common_blockers(s),
        Proposal::Pause {
            paused,
            op: KubeOp::Pause {
                deployments,
                paused,
            },
        },
    ))
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
    let def = &s.rb.metrics[index];
    let points = crate::state::metrics::window_points(&s.rb, def);
    let changed = m.record(def, reading, at, (s.now, s.stale_after), points);
    if changed {
        s.ui.dirty = true;
    }
    announce(s, index, fx);
    let id = s.rb.metrics[index].id.clone();
    rejudge(s, |v| v.gauge.as_deref() == Some(id.as_str()), fx);
}

/// Judge again, at once, the verifications that apply and read data that just changed
/// (a gauge's answer, the cluster's news): the item follows its evidence, not the clock.
fn rejudge(s: &mut State, reads: impl Fn(&crate::runbook::Verify) -> bool, fx: &mut Vec<Effect>) {
    if s.follow.is_some() {
        return;
    }
    for i in 0..s.checklist.items.len() {
        if s.checklist.items[i].verify.as_ref().is_some_and(&reads)
            && s.verify_due(i)
            && let Some(o) = s.judge(i)
        {
            let now = s.now;
            settle_check(s, i, o, now, fx);
        }
    }
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
                let text = tr(s.lang, "the cluster matches the stage again").into();
                say(s, LogLevel::Info, text, fx);
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
                let text = trf(
                    s.lang,
                    "the cluster does not match this console's stage: {}. The rollout pane shows the cluster as it is; check who changed it before acting.",
                    &[&m.what],
                );
                s.ui.dirty = true;
                say(s, LogLevel::Warn, text, fx);
            }
        }
    }
}

/// Which of the runbook's triggers watch what runs now, by index: only their conditions
/// are worth asking Prometheus about.
pub fn armed_triggers(s: &State) -> Vec<bool> {
    s.rb.rollback_triggers.iter().map(|t| armed(s, t)).collect()
}

/// Whether a trigger watches what runs now: a stage is in force (not rolled back, no
/// rollback on its way) and the trigger is armed at it.
fn armed(s: &State, t: &crate::runbook::Trigger) -> bool {
    if t.kind != TriggerKind::Automatic || s.stages.rolled_back.is_some() {
        return false;
    }
    // A target rolled back alone is no longer this attempt's: its triggers rest.
    if let Some(name) = &t.target
        && s.stages
            .out
            .iter()
            .any(|&(o, _)| s.rb.targets[o].name() == name)
    {
        return false;
    }
    if let Some(p) = &s.stages.pending
        && matches!(p.entry, Entry::Rollback { .. })
    {
        return false;
    }
    s.stages
        .current
        .is_some_and(|i| t.armed_at(&s.rb.stages[i].id))
}

/// A condition's verdict if it is fresh: one older than the gauges' staleness limit says
/// nothing about now.
fn fresh_verdict<'a>(s: &State, c: &'a crate::state::triggers::CondState) -> Option<&'a Verdict> {
    let at = c.at?;
    ((s.now - at).num_seconds() <= s.stale_after).then_some(c.verdict.as_ref()?)
}

/// The automatic triggers against Prometheus' history: a trigger is met when one of its
/// conditions has held at every step of its duration; it stays met, marked "data lost",
/// until fresh data shows every condition clear. Only an armed trigger is met.
fn evaluate_triggers(s: &mut State, fx: &mut Vec<Effect>) {
    let rb = s.rb.clone();
    for (ti, t) in rb.rollback_triggers.iter().enumerate() {
        if t.kind != TriggerKind::Automatic {
            continue;
        }
        if !armed(s, t) {
            if s.triggers[ti].met.take().is_some() {
                s.ui.dirty = true;
            }
            continue;
        }
        let mut first: Option<(chrono::DateTime<chrono::Utc>, String)> = None;
        let mut holds = false;
        let mut all_clear = true;
        let mut lost: Option<chrono::DateTime<chrono::Utc>> = None;
        for (c, cond) in s.triggers[ti].conds.iter().zip(&t.conditions) {
            match (fresh_verdict(s, c), c.at) {
                (Some(Verdict::Holds { since, value }), Some(at)) => {
                    all_clear = false;
                    holds = true;
                    let since = counted_since(s, *since);
                    let met_at = since + chrono::Duration::seconds(cond.for_.secs() as i64);
                    if met_at <= at && first.as_ref().is_none_or(|(f, _)| met_at < *f) {
                        first = Some((met_at, condition_text(s, cond, Some(*value))));
                    }
                }
                (Some(Verdict::Clear { .. }), _) => {}
                _ => {
                    all_clear = false;
                    let since = c.unknown_since.or(c.at).unwrap_or(s.now);
                    lost = Some(lost.map_or(since, |l| l.min(since)));
                }
            }
        }
        let state = &mut s.triggers[ti];
        match (&mut state.met, first) {
            (None, Some((at, evidence))) => {
                state.met = Some(Met {
                    at,
                    evidence: evidence.clone(),
                    data_lost: None,
                });
                s.ui.dirty = true;
                let then = match t.action {
                    Some(TriggerAction::Rollback) => {
                        let deadline = at + chrono::Duration::seconds(t.countdown().secs() as i64);
                        if deadline <= s.now {
                            // Met while no console watched (a restart, an outage): the
                            // countdown is already over.
                            trf(
                                s.lang,
                                "Its countdown ended at {}: the driving console rolls back now.",
                                &[&s.zone.hms(deadline)],
                            )
                        } else {
                            trf(
                                s.lang,
                                "The console rolls back at {} unless the lead cancels (c).",
                                &[&s.zone.hms(deadline)],
                            )
                        }
                    }
                    _ => tr(s.lang, "Press R to roll back.").into(),
                };
                let text = trf(
                    s.lang,
                    "ROLLBACK TRIGGER MET: {} ({}). {}",
                    &[&t.text, &evidence, &then],
                );
                say(s, LogLevel::Error, text, fx);
                let detail = format!("{} ({evidence})", t.text);
                notify(s, NotifyEvent::TriggerMet, &detail, fx);
                open_emergency(s, crate::runbook::Situation::Trigger);
                if t.action == Some(TriggerAction::Rollback) {
                    let deadline = at + chrono::Duration::seconds(t.countdown().secs() as i64);
                    let detail = trf(
                        s.lang,
                        "{}: the driving console rolls back at {} unless the lead cancels",
                        &[&t.text, &s.zone.hms(deadline)],
                    );
                    notify(s, NotifyEvent::CountdownStarted, &detail, fx);
                }
            }
            (Some(m), _) if all_clear => {
                let _ = m;
                state.met = None;
                s.ui.dirty = true;
                let text = trf(
                    s.lang,
                    "rollback trigger no longer holds (fresh data shows it clear): {}",
                    &[&t.text],
                );
                say(s, LogLevel::Warn, text, fx);
            }
            (Some(m), _) if holds => {
                if m.data_lost.take().is_some() {
                    s.ui.dirty = true;
                }
            }
            (Some(m), _) => {
                if m.data_lost.is_none() {
                    let since = lost.unwrap_or(s.now);
                    m.data_lost = Some(since);
                    s.ui.dirty = true;
                    let text = trf(
                        s.lang,
                        "rollback trigger still counts as met, but its data is lost since {}: {}",
                        &[&s.zone.hms(since), &t.text],
                    );
                    say(s, LogLevel::Warn, text, fx);
                }
            }
            (None, None) => {}
        }
    }
}

/// Where a run of a condition starts counting: not before the stage in force began.
pub fn counted_since(
    s: &State,
    since: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    s.stages.began.map_or(since, |b| since.max(b))
}

/// A condition in words, with the value that holds when there is one: "Error rate by
/// track canary 6.00 % > 5.00 % for 1m", or without it "… canary > 5.00 % for 1m".
fn condition_text(s: &State, c: &crate::runbook::Condition, value: Option<f64>) -> String {
    let Some(def) = s.rb.metrics.iter().find(|m| m.id == c.metric) else {
        return c.metric.clone();
    };
    let (dir, bound) = c.bound();
    let part: String = c.series.values().map(|v| format!(" {v}")).collect();
    let (v, b) = crate::format::format_pair(def, value, bound);
    let title = format!("{}{part}", def.title);
    match value {
        Some(_) => trf(
            s.lang,
            "{} {} {} {} for {}",
            &[&title, &v, &dir, &b, &c.for_],
        ),
        None => trf(s.lang, "{} {} {} for {}", &[&title, &dir, &b, &c.for_]),
    }
}

/// The automatic rollback counting down now: the trigger and when it acts. A cancelled
/// episode, a trigger that only announces, and a disarmed one have none.
pub fn countdown_running(s: &State) -> Option<(usize, chrono::DateTime<chrono::Utc>)> {
    s.rb.rollback_triggers
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            t.action == Some(TriggerAction::Rollback)
                && armed(s, t)
                && s.triggers[*i].met.is_some()
                && !s.triggers[*i].cancelled_now()
        })
        .filter_map(|(i, t)| {
            let m = s.triggers[i].met.as_ref()?;
            Some((
                i,
                m.at + chrono::Duration::seconds(t.countdown().secs() as i64),
            ))
        })
        .min_by_key(|(_, d)| *d)
}

/// How long a failed automatic rollback waits before it is sent again.
const AUTO_RETRY_SECS: i64 = 10;

/// When a countdown runs out, the driving console rolls back exactly as `R` would, with
/// the trigger's words and numbers as the reason. Every console shows the countdown;
/// only the driver acts.
fn countdowns(s: &mut State, fx: &mut Vec<Effect>) {
    let Some((i, deadline)) = countdown_running(s) else {
        s.auto_held = None;
        return;
    };
    s.ui.dirty = true;
    // A rollback on its way (this one, most likely) is waited for in silence.
    if s.now < deadline
        || s.stages
            .pending
            .as_ref()
            .is_some_and(|p| matches!(p.entry, Entry::Rollback { .. }))
    {
        return;
    }
    // Ran out, but this console cannot act now: say so (never a silent wait), and act as
    // soon as it can.
    let held = s.refusal().or_else(|| unanswered(s));
    if let Some(why) = held {
        let text = trf(
            s.lang,
            "The countdown of {} ran out, but this console cannot roll back now: {}. It rolls back as soon as it can; R rolls back by hand.",
            &[&s.rb.rollback_triggers[i].id, &why],
        );
        held_back(s, why, text, fx);
        return;
    }
    if s.last_auto
        .is_some_and(|t| (s.now - t).num_seconds() < AUTO_RETRY_SECS)
    {
        return;
    }
    let t = &s.rb.rollback_triggers[i];
    // A trigger that protects one target rolls back that target alone.
    let alone = (t.rolls_back == crate::runbook::RollsBack::Target)
        .then(|| t.target.clone())
        .flatten();
    let planned = match &alone {
        Some(name) => plan_rollback_of(s, name),
        None => plan_rollback(s),
    };
    let why = match &planned {
        Err(e) => Some(e.clone()),
        Ok(c) if !c.blockers.is_empty() => Some(c.blockers.join(s.lang.semicolon())),
        Ok(_) => None,
    };
    if let Some(why) = why {
        let text = trf(
            s.lang,
            "The countdown of {} ran out, but the rollback cannot be sent: {}.",
            &[&s.rb.rollback_triggers[i].id, &why],
        );
        held_back(s, why, text, fx);
        return;
    }
    let Ok(c) = planned else {
        return;
    };
    let t = &s.rb.rollback_triggers[i];
    let evidence = s.triggers[i]
        .met
        .as_ref()
        .map(|m| m.evidence.clone())
        .unwrap_or_default();
    let reason = trf(
        s.lang,
        "{} ({}); the {} countdown ran out with no cancel",
        &[&t.text, &evidence, &t.countdown()],
    );
    let Proposal::Rollback { op } = c.proposal else {
        return;
    };
    s.last_auto = Some(s.now);
    s.auto_held = None;
    let kind = t.id.clone();
    rollback(s, CONSOLE, (kind, alone), reason, c.title, op, fx);
}

/// Why a countdown that ran out is not a rollback yet: said once per reason.
fn held_back(s: &mut State, why: String, text: String, fx: &mut Vec<Effect>) {
    if s.auto_held.as_deref() != Some(why.as_str()) {
        say(s, LogLevel::Warn, text, fx);
        s.auto_held = Some(why);
    }
}

/// Log a gauge's level when it changes in a way the room should hear about: a threshold
/// crossed, a recovery from one, a query failing, data going missing or stale. A gauge's
/// first answer is logged only when it is bad: at start-up every gauge arrives at once.
fn announce(s: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let m = &s.metrics[index];
    let level = s.gauge_level(index);
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
                (def.critical, tr(s.lang, "critical"))
            } else {
                (def.warn, tr(s.lang, "warn"))
            };
            let (value, thr) = crate::format::format_pair(def, m.last_value.map(|v| v.0), thr);
            let dir = if def.bad == crate::runbook::Bad::Above {
                tr(s.lang, "above")
            } else {
                tr(s.lang, "below")
            };
            Some((
                if level == Level::Critical {
                    LogLevel::Error
                } else {
                    LogLevel::Warn
                },
                trf(
                    s.lang,
                    "{} is {} at {}: {} its {} threshold {}",
                    &[&def.title, &level.word(), &value, &dir, &word, &thr],
                ),
            ))
        }
        (Level::Ok, _) if !first => {
            // With a track that serves nothing left out, the figure that is OK is the
            // worst of the others, not the idle track's last one.
            let idle = s.not_serving(def);
            let value = match (&m.reading, idle) {
                (Some(Reading::Split(parts)), Some(k)) => parts
                    .iter()
                    .filter(|p| p.key != k)
                    .map(|p| p.value)
                    .reduce(|a, b| crate::state::metrics::worse(def, a, b)),
                _ => m.last_value.map(|v| v.0),
            };
            let aside = idle
                .map(|k| trf(s.lang, " ({} idle)", &[&k]))
                .unwrap_or_default();
            Some((
                LogLevel::Info,
                trf(
                    s.lang,
                    "{} is back to OK at {}{}",
                    &[
                        &def.title,
                        &crate::format::format_pair(def, value, def.warn).0,
                        &aside,
                    ],
                ),
            ))
        }
        (Level::Unknown, Some(Reading::Error(e))) => Some((
            LogLevel::Warn,
            format!(
                "{}{}{}",
                def.title,
                s.lang.colon(),
                trf(s.lang, "query failed: {}", &[e])
            ),
        )),
        (Level::Unknown, Some(Reading::NoData)) => Some((
            LogLevel::Warn,
            trf(
                s.lang,
                "{}: no data (the query matched no series)",
                &[&def.title],
            ),
        )),
        (Level::Unknown, Some(Reading::Value { .. })) => Some((
            LogLevel::Warn,
            trf(
                s.lang,
                "{}: no fresh value for {}s; showing the last one as stale",
                &[&def.title, &m.age(s.now).unwrap_or(0)],
            ),
        )),
        _ => None,
    };
    s.metrics[index].announced = Some(level);
    // One Prometheus outage fails every gauge at once with the same words: say it once.
    if let (Some(Reading::Error(e)), Some(last)) = (&s.metrics[index].reading, s.comms.last())
        && last.text.ends_with(&trf(s.lang, "query failed: {}", &[e]))
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
