//! The rollout, as the cluster reports it: each Deployment's replica counts as bars, its
//! ReplicaSets with revision and image, and its pods.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Canvas;
use super::block;
use super::theme::Theme;
use crate::cluster::{DeployView, Link, RolloutStatus, rollout_status};
use crate::format::kube_age;
use crate::runbook::Split;
use crate::state::State;
use crate::text::{fit, width};

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    let (title, stale) = match &s.cluster.link {
        Link::Live => (" Rollout ".to_string(), false),
        Link::Connecting => (" Rollout (connecting…) ".to_string(), true),
        Link::Lost { since, .. } => (
            format!(" Rollout: STALE, API lost since {} ", s.zone.hms(*since)),
            true,
        ),
    };
    let outer = block(title, focused, theme);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let w = inner.width as usize;
    if w < 10 {
        return;
    }
    let k = &s.rb.kubernetes;
    let mut lines: Vec<Line> = Vec::new();
    if let Split::Gateway {
        route,
        stable,
        canary,
    } = k.split()
    {
        match &s.cluster.snap.route {
            Some(r) => {
                let pct = |b: &str| {
                    r.percent(b)
                        .map(|p| format!("{p:.0}%"))
                        .unwrap_or_else(|| "no backendRef".into())
                };
                lines.push(Line::from(Span::styled(
                    fit(&format!("TRAFFIC by HTTPRoute {route}"), w).into_owned(),
                    theme.dim,
                )));
                lines.push(Line::from(Span::styled(
                    fit(
                        &format!(" {stable} {} · {canary} {}", pct(stable), pct(canary)),
                        w,
                    )
                    .into_owned(),
                    theme.text.add_modifier(Modifier::BOLD),
                )));
            }
            None => lines.push(Line::from(Span::styled(
                fit(
                    &format!("HTTPRoute {route}: not seen in namespace {}", k.namespace),
                    w,
                )
                .into_owned(),
                theme.dim,
            ))),
        }
    }
    if s.cluster.updated.is_none() {
        // Nothing known yet: not "missing", just not answered.
        let why = match &s.cluster.link {
            Link::Lost { error, .. } => format!("no answer from the Kubernetes API yet: {error}"),
            _ => "waiting for the Kubernetes API's first answer…".into(),
        };
        for l in crate::text::wrap(&why, w) {
            lines.push(Line::from(Span::styled(l, theme.dim)));
        }
    }
    for name in [&k.stable, &k.canary]
        .into_iter()
        .filter(|_| s.cluster.updated.is_some())
    {
        match s.cluster.deployment(name) {
            Some(d) => deployment(s, d, theme, w, &mut lines),
            None => lines.push(Line::from(Span::styled(
                fit(&format!("{name}: not seen in namespace {}", k.namespace), w).into_owned(),
                theme.dim,
            ))),
        }
    }
    let pods = &s.cluster.snap.pods;
    if !pods.is_empty() {
        let name_w = w.saturating_sub(30).clamp(8, 40);
        lines.push(Line::from(Span::styled(
            fit(
                &format!(
                    "{:<name_w$} {:>5} {:<17} {:>3} {:>6}",
                    "POD", "READY", "STATUS", "RST", "AGE"
                ),
                w,
            )
            .into_owned(),
            theme.dim,
        )));
        for p in pods {
            let st = match p.status.as_str() {
                "Running" if p.ready_containers == p.containers => {
                    Style::default().fg(Color::Green)
                }
                "CrashLoopBackOff" | "Error" => {
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
                }
                "Terminating" => theme.dim,
                _ => Style::default().fg(Color::Yellow),
            };
            let age = p
                .created
                .map(|c| kube_age((s.now - c).num_seconds()))
                .unwrap_or_default();
            let name = fit(&p.name, name_w).into_owned();
            let pad = name_w.saturating_sub(width(&name));
            lines.push(Line::from(vec![
                Span::raw(format!("{name}{} ", " ".repeat(pad))),
                Span::raw(format!(
                    "{:>5} ",
                    format!("{}/{}", p.ready_containers, p.containers)
                )),
                Span::styled(format!("{:<17} ", fit(&p.status, 17)), st),
                Span::styled(
                    format!("{:>3} ", p.restarts),
                    if p.restarts > 0 {
                        Style::default().fg(Color::Yellow)
                    } else {
                        theme.text
                    },
                ),
                Span::styled(format!("{age:>6}"), theme.dim),
            ]));
        }
    }
    let skip = s.ui.rollout_scroll.min(lines.len().saturating_sub(1));
    let mut para = Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>());
    if stale {
        para = para.style(theme.stale);
    }
    f.render_widget(para, inner);
}

fn deployment(s: &State, d: &DeployView, theme: &Theme, w: usize, out: &mut Vec<Line<'static>>) {
    let status = rollout_status(d);
    let (word, st) = match &status {
        RolloutStatus::Complete => ("complete".to_string(), Style::default().fg(Color::Green)),
        RolloutStatus::Waiting(m) => (m.clone(), Style::default().fg(Color::Yellow)),
        RolloutStatus::Failed(m) => (
            m.clone(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let paused = if d.paused { " PAUSED" } else { "" };
    out.push(Line::from(vec![
        Span::styled(fit(&d.name, w / 2).into_owned(), theme.title),
        Span::styled(format!(" rev {}{paused} ", d.revision), theme.dim),
        Span::styled(
            fit(&word, w.saturating_sub(width(&d.name).min(w / 2) + 10)).into_owned(),
            st,
        ),
    ]));
    let bar_w = w.saturating_sub(18).min(30);
    let max = d.desired.max(d.replicas).max(1);
    for (label, n) in [
        ("desired", d.desired),
        ("updated", d.updated),
        ("ready", d.ready),
        ("available", d.available),
    ] {
        let filled = (n as usize * bar_w).div_ceil(max as usize).min(bar_w);
        let color = if n >= d.desired {
            Color::Green
        } else {
            Color::Yellow
        };
        out.push(Line::from(vec![
            Span::styled(format!(" {label:<9} "), theme.dim),
            Span::styled("█".repeat(filled), Style::default().fg(color)),
            Span::styled("·".repeat(bar_w - filled), theme.dim),
            Span::raw(format!(" {n:>3}")),
        ]));
    }
    let mut rss: Vec<_> = s
        .cluster
        .snap
        .replicasets
        .iter()
        .filter(|r| r.owner == d.name)
        .collect();
    rss.sort_by_key(|r| std::cmp::Reverse(r.revision.parse::<i64>().unwrap_or(0)));
    for r in rss
        .iter()
        .filter(|r| r.desired > 0 || r.revision == d.revision)
        .take(3)
    {
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    " rs rev {:<3} {}/{} {}  {}",
                    r.revision, r.ready, r.desired, r.name, r.image
                ),
                w,
            )
            .into_owned(),
            if r.revision == d.revision {
                theme.text
            } else {
                theme.dim
            },
        )));
    }
}
