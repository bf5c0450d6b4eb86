//! The header: release, stage, the clock against the plan, health in a word, and how
//! fresh the data is.

use crate::i18n::{tr, trf};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Canvas;
use super::theme::Theme;
use crate::cluster::{Link, RolloutStatus, rollout_status};
use crate::format::fmt_secs;
use crate::state::metrics::{Level, Reading};
use crate::state::{Driver, State};

/// Overall health: the worst fresh gauge, and the rollout's own failures. A gauge with
/// no fresh data makes it UNKNOWN unless something is CRITICAL: unknown is never OK.
pub fn health(s: &State) -> Level {
    let mut worst = None::<Level>;
    let mut unknown = false;
    for (m, def) in s.metrics.iter().zip(&s.rb.metrics) {
        let l = m.level_skipping(def, s.now, s.stale_after, s.not_serving(def));
        if l != Level::Unknown {
            worst = Some(worst.map_or(l, |w| w.max(l)));
        } else {
            unknown = true;
            // Its last values were CRITICAL: losing the data does not clear the alarm
            // (DATA says since when nothing is fresh).
            if m.last_known_level(def, s.not_serving(def)) == Level::Critical {
                worst = Some(Level::Critical);
            }
        }
    }
    // A gauge without fresh data could be hiding anything short of what is already
    // CRITICAL: the verdict is UNKNOWN, not the best of the rest.
    if unknown && worst != Some(Level::Critical) {
        worst = Some(Level::Unknown);
    }
    for name in s.rb.targets.iter().flat_map(|k| [&k.stable, &k.canary]) {
        if let Some(d) = s.cluster.deployment(name)
            && matches!(rollout_status(d), RolloutStatus::Failed(_))
        {
            worst = Some(Level::Critical);
        }
    }
    if s.cluster
        .snap
        .pods
        .iter()
        .any(|p| p.status == "CrashLoopBackOff")
    {
        worst = Some(worst.map_or(Level::Warn, |w| w.max(Level::Warn)));
    }
    worst.unwrap_or(Level::Unknown)
}

/// In a release of several targets, the first (in the runbook's order) whose rollout
/// failed or whose pods crash-loop, else one rolled back alone, else one whose gauge is
/// CRITICAL, else the first behind the stage in force (the cluster
/// not yet as the stage means, or its rollout under way): (failing, what to say). None
/// for a release of one target, whose Deployments the rest of the screen names.
pub fn target_trouble(s: &State) -> Option<(bool, String)> {
    let targets = &s.rb.targets;
    if targets.len() < 2 || s.cluster.updated.is_none() {
        return None;
    }
    // Most frames no pod crash-loops: then no Deployment's pods need looking at.
    let looping = s
        .cluster
        .snap
        .pods
        .iter()
        .any(|p| p.status == "CrashLoopBackOff");
    let failing = targets.iter().find_map(|k| {
        [&k.stable, &k.canary].into_iter().find_map(|n| {
            let d = s.cluster.deployment(n)?;
            if let RolloutStatus::Failed(_) = rollout_status(d) {
                return Some(format!("{} {}: rollout failed", k.name(), track(k, n)));
            }
            (looping
                && s.cluster
                    .pods_of(n, None)
                    .any(|p| p.status == "CrashLoopBackOff"))
            .then(|| format!("{} {}: pods crash-looping", k.name(), track(k, n)))
        })
    });
    if let Some(f) = failing {
        return Some((true, f));
    }
    // Then one rolled back alone: the release goes on without it.
    if let Some(&(t, at)) = s.stages.out.first() {
        return Some((
            true,
            format!(
                "{} rolled back alone at {}",
                targets[t].name(),
                s.zone.hms(at)
            ),
        ));
    }
    // A gauge of one target at CRITICAL names it.
    if let Some(def) = (0..s.rb.metrics.len())
        .filter(|&i| s.gauge_level(i) == Level::Critical)
        .map(|i| &s.rb.metrics[i])
        .find(|def| def.target.is_some())
    {
        let title = def.short.as_deref().unwrap_or(&def.title);
        let t = def.target.as_deref().unwrap_or_default();
        return Some((true, format!("{t}: {title} CRITICAL")));
    }
    let stage = s.stages.current.filter(|_| s.stages.rolled_back.is_none());
    let traffic = stage.map(|i| s.rb.stages[i].traffic).unwrap_or(0);
    let name = stage.map(|i| s.rb.stages[i].title.as_str()).unwrap_or("");
    targets.iter().find_map(|k| {
        let behind = crate::canary::drift(k, &s.cluster, traffic, s.stages.promoted, name, s.lang)
            .is_some()
            || [&k.stable, &k.canary].into_iter().any(|n| {
                s.cluster
                    .deployment(n)
                    .is_some_and(|d| matches!(rollout_status(d), RolloutStatus::Waiting(_)))
            });
        behind.then(|| (false, format!("{} behind", k.name())))
    })
}

/// `stable` or `canary`: which of the target's Deployments `name` is.
fn track<'a>(k: &crate::runbook::KubeTarget, name: &str) -> &'a str {
    if name == k.canary { "canary" } else { "stable" }
}

/// Live, or how stale: the cluster link first, then the gauges.
pub fn freshness(s: &State) -> (String, bool) {
    if s.follow.as_ref().is_some_and(|f| f.replay.is_some()) {
        return ("REPLAY (flight recorder)".into(), false);
    }
    match &s.cluster.link {
        Link::Lost { since, .. } => {
            return (
                trf(s.lang, "DISCONNECTED since {}", &[&s.zone.hms(*since)]),
                false,
            );
        }
        Link::Connecting => return (tr(s.lang, "connecting…").into(), false),
        Link::Live => {}
    }
    let stale: Vec<i64> = s
        .metrics
        .iter()
        .filter(|m| m.is_stale(s.now, s.stale_after))
        .filter_map(|m| m.age(s.now))
        .collect();
    let never = s
        .metrics
        .iter()
        .filter(|m| m.last_value.is_none() && m.fetched.is_none())
        .count();
    // A gauge whose query fails and that never had a value has no age to show, but it is
    // not live either.
    let failing = s
        .metrics
        .iter()
        .filter(|m| m.last_value.is_none() && matches!(m.reading, Some(Reading::Error(_))))
        .count();
    if let Some(oldest) = stale.iter().max() {
        (
            trf(
                s.lang,
                "STALE: {} gauges, oldest {}",
                &[&stale.len(), &fmt_secs(*oldest)],
            ),
            false,
        )
    } else if failing > 0 {
        (trf(s.lang, "{} gauges failing", &[&failing]), false)
    } else if never > 0 && !s.metrics.is_empty() {
        (trf(s.lang, "waiting for {} gauges", &[&never]), false)
    } else {
        (tr(s.lang, "LIVE").into(), true)
    }
}

pub fn draw(s: &State, theme: &Theme, area: Rect, f: &mut Canvas) {
    let rb = &s.rb;
    let lvl = health(s);
    let elapsed = s
        .stages
        .release_started
        .map(|t| (s.now - t).num_seconds())
        .unwrap_or(0);
    let planned = rb.release.planned_duration.secs() as i64;
    let over = elapsed > planned;
    let mut stage = vec![
        Span::styled(format!(" {} ", tr(s.lang, "STAGE")), theme.dim),
        Span::styled(s.stage_name(), theme.title.add_modifier(Modifier::BOLD)),
    ];
    // Of several targets, the one failing (or else behind) is named, before the hold:
    // at 80 columns it is what must not be cut.
    if let Some((failing, what)) = target_trouble(s) {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            format!("◆ {what}"),
            if failing {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            },
        ));
    }
    let failing = s.triggers.iter().any(|t| t.met.is_some());
    if let Some(i) = s.stages.current
        && s.stages.pending.is_none()
        && s.stages.rolled_back.is_none()
        && !failing
    {
        let hold = rb.stages[i].hold.secs() as i64;
        // The tick says "ready to move on": not while the release is unhealthy or a
        // trigger's condition is running.
        // Nor while the cluster is not as the stage means (≠ CLUSTER says so beside it).
        let sound = lvl != Level::Critical
            && lvl != Level::Unknown
            && trigger_progress(s).is_none()
            && s.mismatch.is_none();
        let queued = s.stages.queue.len();
        let text = if queued > 0 {
            let all = s.rb.stage_order(i).len();
            format!(
                "  {}",
                trf(s.lang, "{} of {} targets moved", &[&(all - queued), &all])
            )
        } else if s.held() >= hold && sound {
            format!("  {}", trf(s.lang, "held {} ✔", &[&fmt_secs(hold)]))
        } else if s.held() >= hold {
            // HEALTH, just below, says why.
            format!(
                "  {}",
                trf(s.lang, "held {}, not ready", &[&fmt_secs(hold)])
            )
        } else {
            format!(
                "  {}",
                trf(
                    s.lang,
                    "hold {}/{}",
                    &[&fmt_secs(s.held()), &fmt_secs(hold)]
                )
            )
        };
        stage.push(Span::styled(text, theme.dim));
    }
    if s.mismatch.as_ref().is_some_and(|m| m.announced) {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            tr(s.lang, " ≠ CLUSTER "),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let alarm = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    // The countdown this console runs, or the driver's as the Lease says: big, on every
    // console, so the room sees it coming.
    let driving = matches!(s.driver, Driver::Driving { .. });
    let countdown = match crate::update::countdown_running(s) {
        Some((i, deadline)) => Some((
            deadline,
            s.rb.rollback_triggers[i].id.as_str(),
            if driving {
                tr(s.lang, "c cancels")
            } else {
                tr(s.lang, "the driving console acts")
            },
        )),
        None => s.remote_countdown.as_ref().filter(|_| !driving).map(|c| {
            (
                c.deadline,
                c.trigger.as_str(),
                tr(s.lang, "the driving console acts"),
            )
        }),
    };
    if let Some((deadline, trigger, who)) = countdown {
        let left = (deadline - s.now).num_seconds().max(0);
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            if left > 0 {
                trf(s.lang, " AUTO ROLLBACK IN {} ", &[&fmt_secs(left)])
            } else {
                tr(s.lang, " AUTO ROLLBACK NOW ").to_string()
            },
            alarm.add_modifier(Modifier::SLOW_BLINK),
        ));
        stage.push(Span::styled(format!(" {trigger} · {who}"), theme.text));
    } else if s.stages.rolled_back.is_none() && s.triggers.iter().any(|t| t.met.is_some()) {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(tr(s.lang, " ROLLBACK TRIGGER MET "), alarm));
        // Whose health it watches, when it says.
        if let Some(t) = s
            .triggers
            .iter()
            .zip(&s.rb.rollback_triggers)
            .find(|(t, _)| t.met.is_some())
            .and_then(|(_, def)| def.target.as_deref())
        {
            stage.push(Span::styled(
                format!(" {t}"),
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ));
        }
        if let Some(at) = s
            .triggers
            .iter()
            .filter_map(|t| t.met.as_ref()?.data_lost)
            .min()
        {
            stage.push(Span::styled(
                format!(" data lost since {}", s.zone.hms(at)),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        }
    } else if let Some(p) = trigger_progress(s) {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            p,
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    if let Driver::Free { .. } = &s.driver {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            tr(s.lang, " NOBODY DRIVES "),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        stage.push(Span::styled(tr(s.lang, " T takes over"), theme.text));
    }
    if let Some(r) = s.follow.as_ref().and_then(|f| f.replay.as_ref()) {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            " REPLAY ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
        ));
        // Short: at 80 columns the stage and this share one line.
        let state = if r.queue.is_empty() {
            "END".to_string()
        } else if r.paused {
            "PAUSED".to_string()
        } else {
            format!("×{}", r.speed)
        };
        stage.push(Span::styled(
            format!(" {} · {state}", s.zone.hms(r.clock)),
            theme.text,
        ));
    } else if let Some(f) = &s.follow {
        // Whom this console mirrors, and whether its copy is still live: a copy that
        // stopped is said so, with its age, never shown as the release now.
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            tr(s.lang, " FOLLOWING "),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ));
        let holder = match &s.driver {
            Driver::ReadOnly {
                holder: Some(h), ..
            } => Some(h.as_str()),
            _ => None,
        };
        let leader = match (&f.leader, holder, f.read) {
            (Some(l), _, _) => l.as_str(),
            (None, Some(h), _) => h,
            (None, None, Some(_)) => tr(s.lang, "nobody yet"),
            (None, None, None) => tr(s.lang, "the driver"),
        };
        stage.push(Span::styled(format!(" {leader}"), theme.text));
        if let Some((since, _)) = &f.lost {
            stage.push(Span::raw(" "));
            stage.push(Span::styled(
                format!(
                    " {} LOST {} ",
                    if f.from_cluster { "MIRROR" } else { "JOURNAL" },
                    fmt_secs((s.now - *since).num_seconds().max(0))
                ),
                alarm,
            ));
        } else if f.read.is_none() {
            stage.push(Span::styled(
                tr(s.lang, " · waiting for its records"),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        } else if let Some(at) = f.closed {
            stage.push(Span::styled(
                trf(s.lang, " · closed at {}", &[&s.zone.hms(at)]),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        } else {
            stage.push(Span::styled(tr(s.lang, " · live"), theme.dim));
        }
    } else if let Driver::ReadOnly { holder, .. } = &s.driver {
        stage.push(Span::raw("  "));
        stage.push(Span::styled(
            tr(s.lang, " READ-ONLY "),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        if let Some(h) = holder {
            stage.push(Span::styled(trf(s.lang, " driven by {}", &[h]), theme.text));
        }
    }
    let rolled_back = s.stages.rolled_back.is_some();
    let line1 = Line::from(
        [
            vec![Span::styled(
                format!(
                    " {} {} ",
                    crate::text::clean(&rb.release.name),
                    rb.release.version
                ),
                if rolled_back {
                    Style::default()
                        .fg(Color::White)
                        .bg(Color::Red)
                        .add_modifier(Modifier::BOLD)
                } else {
                    theme.title
                },
            )],
            stage,
        ]
        .concat(),
    );
    let (fresh, live) = freshness(s);
    let line2 = Line::from(vec![
        Span::styled(format!(" {} ", tr(s.lang, "ELAPSED")), theme.dim),
        Span::styled(
            format!("{} / {}", clock(elapsed), clock(planned)),
            if over {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else {
                theme.text
            },
        ),
        Span::styled(format!("  {} ", tr(s.lang, "HEALTH")), theme.dim),
        Span::styled(format!(" {} ", lvl.word()), theme.level_badge(lvl)),
        Span::styled(format!("  {} ", tr(s.lang, "DATA")), theme.dim),
        Span::styled(
            fresh,
            if live {
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            },
        ),
        Span::styled(format!("  {}", s.operator), theme.dim),
        // The release's overview, last: the first thing to go when the line is narrow.
        Span::styled(
            format!(
                "  · {} · {} {}",
                crate::text::clean(&rb.release.date),
                tr(s.lang, "owner"),
                crate::text::clean(&rb.release.owner)
            ),
            theme.dim,
        ),
    ]);
    let block = if area.height >= 3 {
        Block::default()
            .borders(Borders::BOTTOM)
            .border_style(theme.border)
    } else {
        Block::default()
    };
    f.render_widget(Paragraph::new(vec![line1, line2]).block(block), area);
}

/// 0h05: hours and minutes, unmistakable for minutes and seconds, the way a meeting reads a clock (and a minute's resolution keeps the screen
/// still when nothing happens).
fn clock(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}h{:02}", s / 3600, (s % 3600) / 60)
}

/// The armed condition nearest its duration, in words: "canary error 5.9 % > 5 % for
/// 0m40s of 1m". None when no condition holds.
pub fn trigger_progress(s: &State) -> Option<String> {
    let mut best: Option<(f64, String)> = None;
    for (t, def) in s.triggers.iter().zip(&s.rb.rollback_triggers) {
        for (c, cond) in t.conds.iter().zip(&def.conditions) {
            let (Some(v), Some(at)) = (&c.verdict, c.at) else {
                continue;
            };
            let crate::state::triggers::Verdict::Holds { value, since } = v else {
                continue;
            };
            let held = (at - crate::update::counted_since(s, *since))
                .num_seconds()
                .max(0);
            if s.stages
                .current
                .is_none_or(|i| !def.armed_at(&s.rb.stages[i].id))
            {
                continue;
            }
            let Some(m) = s.rb.metrics.iter().find(|m| m.id == cond.metric) else {
                continue;
            };
            let want = cond.for_.secs().max(1) as f64;
            let share = held as f64 / want;
            let (dir, bound) = cond.bound();
            let (vv, bb) = crate::format::format_pair(m, Some(*value), bound);
            let part: Vec<&str> = cond.series.values().map(String::as_str).collect();
            let name = if part.is_empty() {
                m.title.clone()
            } else {
                format!("{} {}", part.join(" "), m.title)
            };
            let text = trf(
                s.lang,
                "▲ {} {} {} {} for {} of {}",
                &[
                    &name,
                    &vv,
                    &dir,
                    &bb,
                    &fmt_secs(held.min(cond.for_.secs() as i64)),
                    &cond.for_,
                ],
            );
            if best.as_ref().is_none_or(|(b, _)| share > *b) {
                best = Some((share, text));
            }
        }
    }
    best.map(|(_, t)| t)
}
