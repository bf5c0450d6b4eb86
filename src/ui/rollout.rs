//! The rollout, as the cluster reports it: each Deployment's replica counts as bars, its
//! ReplicaSets with revision and image, and its pods.

use crate::i18n::{tr, trf};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::Canvas;
use super::block;
use super::theme::Theme;
use crate::cluster::{DeployView, Link, RolloutStatus, rollout_status};
use crate::format::kube_age;
use crate::runbook::Split;
use crate::state::State;
use crate::text::{fit, fit_middle, width};

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    let replay = s.follow.as_ref().is_some_and(|f| f.replay.is_some());
    let (title, stale) = match &s.cluster.link {
        _ if replay => (" Rollout (not in a replay) ".to_string(), true),
        Link::Live => (format!(" {} ", tr(s.lang, "Rollout")), false),
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
    let targets = &s.rb.targets;
    let many = targets.len() > 1;
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line: Option<usize> = None;
    if s.cluster.updated.is_none() {
        // Nothing known yet: not "missing", just not answered.
        let why = match &s.cluster.link {
            _ if replay => tr(s.lang, "the journal holds decisions and gauges, not the cluster's objects: the log says what each action did").into(),
            Link::Lost { error, .. } => {
                trf(s.lang, "no answer from the Kubernetes API yet: {}", &[error])
            }
            _ => tr(s.lang, "waiting for the Kubernetes API's first answer…").into(),
        };
        for l in crate::text::wrap(&why, w) {
            lines.push(Line::from(Span::styled(l, theme.dim)));
        }
    }
    // Pods are listed target by target: each target's canary's, then its stable's.
    let rows = crate::canary::pods_in_order(targets, &s.cluster);
    let mut counts = vec![0usize; 2 * targets.len() + 1];
    for (g, _) in &rows {
        counts[*g] += 1;
    }
    let selected = (focused
        && matches!(
            s.ui.mode,
            crate::state::Mode::Normal | crate::state::Mode::PodLog { .. }
        ))
    .then(|| s.ui.pod_cursor.min(rows.len().saturating_sub(1)));
    let mut pods = Pods {
        // READY, STATUS, RST and AGE take 35 cells with their spaces: the name gets the rest.
        name_w: w.saturating_sub(35).clamp(8, 40),
        header: !rows.is_empty(),
        shown_group: None,
        last_message: None,
        last_event: None,
    };
    let bold = theme.text.add_modifier(Modifier::BOLD);
    // With several targets, each Deployment is one line: their names share a column.
    let dep_w = targets
        .iter()
        .flat_map(|k| [width(&k.stable), width(&k.canary)])
        .max()
        .unwrap_or(0)
        .min(w / 2);
    let tag_w = targets
        .iter()
        .flat_map(|k| [&k.stable, &k.canary])
        .filter_map(|n| s.cluster.deployment(n))
        .map(|d| width(image_version(&d.image)))
        .max()
        .unwrap_or(0)
        .min(w / 4);
    // Only the rows the pane shows are laid out: the lines up to the selected pod's and a
    // pane's height past where the view starts; a thousand pods cost what forty do.
    let h = inner.height as usize;
    let full = |lines: &[Line], selected_line: Option<usize>| match (selected, selected_line) {
        (Some(_), Some(l)) => lines.len() > l.max(h.saturating_sub(1)),
        (Some(_), None) => false,
        (None, _) => lines.len() >= s.ui.rollout_scroll + h,
    };
    let mut rows = rows.into_iter().enumerate().peekable();
    for (t, k) in targets.iter().enumerate() {
        // One scale for both Deployments' bars, so their lengths compare.
        let scale = [&k.stable, &k.canary]
            .iter()
            .filter_map(|n| s.cluster.deployment(n))
            .map(|d| d.desired.max(d.replicas))
            .max()
            .unwrap_or(1)
            .max(1);
        match (traffic(s, k), many) {
            (Some(Ok((by, (sp, cp)))), false) => {
                let split = format!("{} {sp} · {} {cp}", k.stable, k.canary);
                lines.push(Line::from(Span::styled(
                    fit(&trf(s.lang, "TRAFFIC by {}", &[&by]), w).into_owned(),
                    theme.dim,
                )));
                lines.push(Line::from(Span::styled(
                    fit(&format!(" {split}"), w).into_owned(),
                    bold,
                )));
            }
            (Some(Err(missing)), false) => lines.push(Line::from(Span::styled(
                fit(&missing, w).into_owned(),
                theme.dim,
            ))),
            (None, false) => {}
            // Several targets: each is a heading with its split, then a line per
            // Deployment; the pods follow, after every target's summary.
            (seen, true) => {
                let rest = match seen {
                    _ if s.stages.is_out(t) => "  ROLLED BACK alone: stays on stable".into(),
                    Some(Ok((by, (sp, cp)))) => format!("  canary {cp} · stable {sp}  by {by}"),
                    Some(Err(missing)) => format!("  {missing}"),
                    None => String::new(),
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("▌{}", k.name()),
                        theme.title.add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(
                        fit(&rest, w.saturating_sub(width(k.name()) + 1)).into_owned(),
                        bold,
                    ),
                ]));
            }
        }
        for name in [&k.stable, &k.canary]
            .into_iter()
            .filter(|_| s.cluster.updated.is_some())
        {
            match s.cluster.deployment(name) {
                Some(d) if many => {
                    deployment_line(s, d, (scale, dep_w, tag_w), theme, w, &mut lines)
                }
                Some(d) => deployment(s, d, scale, theme, w, &mut lines),
                None => lines.push(Line::from(Span::styled(
                    fit(&format!("{name}: not seen in namespace {}", k.namespace), w).into_owned(),
                    theme.dim,
                ))),
            }
        }
        if many {
            continue;
        }
        while let Some((n, (g, p))) = rows.next_if(|(_, (g, _))| *g < 2 * t + 2) {
            if full(&lines, selected_line) {
                break;
            }
            let owner = if g % 2 == 0 { &k.canary } else { &k.stable };
            let at = pods.row(s, theme, w, (g, counts[g], owner), p, &mut lines);
            if selected == Some(n) {
                selected_line = Some(at);
            }
        }
    }
    for (n, (g, p)) in rows {
        if full(&lines, selected_line) {
            break;
        }
        let owner = match targets.get(g / 2) {
            Some(k) if g % 2 == 0 => k.canary.as_str(),
            Some(k) => k.stable.as_str(),
            None => tr(s.lang, "other"),
        };
        let at = pods.row(s, theme, w, (g, counts[g], owner), p, &mut lines);
        if selected == Some(n) {
            selected_line = Some(at);
        }
    }
    if let Some(at) = selected_line {
        lines[at] = std::mem::take(&mut lines[at]).patch_style(theme.selected);
    }
    // With a pod selected, the pane keeps it in view; else it scrolls as asked.
    let skip = match selected_line {
        Some(l) => (l + 1).saturating_sub(inner.height as usize),
        None => s.ui.rollout_scroll.min(lines.len().saturating_sub(1)),
    };
    f.lines(
        &lines[skip.min(lines.len())..],
        inner,
        stale.then_some(theme.stale),
    );
}

/// The traffic split of one target as the cluster shows it, by ready pods behind one
/// Service or by its route's weights: (what splits it, (stable's share, canary's)), or
/// what is missing.
#[allow(clippy::type_complexity)]
fn traffic(
    s: &State,
    k: &crate::runbook::KubeTarget,
) -> Option<Result<(String, (String, String)), String>> {
    match k.split() {
        Split::Replicas(_) => {
            // By replicas, traffic follows the ready pods behind the shared Service.
            let ready = |n: &str| s.cluster.deployment(n).map(|d| d.ready);
            let (a, b) = (ready(&k.stable)?, ready(&k.canary)?);
            let total = (a + b).max(1) as f64;
            let pct = |n: u32| format!("{:.0}%", 100.0 * n as f64 / total);
            Some(Ok((tr(s.lang, "ready pods").into(), (pct(a), pct(b)))))
        }
        Split::Route {
            kind,
            route,
            stable,
            canary,
        } => match s.cluster.route(kind, route) {
            Some(r) => {
                let pct = |b: &str| {
                    r.percent(b)
                        .map(|p| format!("{p:.0}%"))
                        .unwrap_or_else(|| trf(s.lang, "no {}", &[&kind.backend()]))
                };
                Some(Ok((
                    format!("{} {route}", kind.kind()),
                    (pct(stable), pct(canary)),
                )))
            }
            None if s.cluster.updated.is_some() => Some(Err(format!(
                "{} {route}: not seen in namespace {}",
                kind.kind(),
                k.namespace
            ))),
            None => None,
        },
    }
}

/// The pod table as it is written: its header once, a heading per Deployment's group, and
/// the kubelet's and the Events' words under a row without repeating them.
struct Pods<'a> {
    name_w: usize,
    header: bool,
    shown_group: Option<usize>,
    last_message: Option<&'a str>,
    last_event: Option<(&'a str, &'a str)>,
}

impl<'a> Pods<'a> {
    /// Write one pod's row (after its group's heading when it opens one); returns the
    /// index of the row's line. `group`: (its group, how many pods it has, its
    /// Deployment's name).
    fn row(
        &mut self,
        s: &'a State,
        theme: &Theme,
        w: usize,
        group: (usize, usize, &str),
        p: &'a crate::cluster::PodView,
        lines: &mut Vec<Line<'static>>,
    ) -> usize {
        let name_w = self.name_w;
        let (g, count, owner) = group;
        if std::mem::take(&mut self.header) {
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
        }
        if self.shown_group != Some(g) {
            lines.push(Line::from(Span::styled(
                fit(&trf(s.lang, "{} pods ({})", &[&owner, &count]), w).into_owned(),
                theme.title,
            )));
            self.shown_group = Some(g);
        }
        let st = match p.status.as_str() {
            "Running" if p.ready() => Style::default().fg(Color::Green),
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
        // A row names the pod by what follows its Deployment's name.
        let short = p
            .name
            .strip_prefix(&format!("{owner}-"))
            .map_or(p.name.clone(), |rest| format!(" {rest}"));
        let name = fit_middle(&short, name_w).into_owned();
        let pad = name_w.saturating_sub(width(&name));
        let at = lines.len();
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
        // Why it waits, in the kubelet's words: under the first pod that says it (the
        // next ones with the same words are not repeated).
        if let Some(m) = p.message.as_deref()
            && self.last_message != Some(m)
        {
            lines.push(Line::from(Span::styled(
                fit(&format!("  ↳ {m}"), w).into_owned(),
                st,
            )));
        }
        self.last_message = p.message.as_deref();
        // The latest warning the cluster's Events hold about it (a failed pull, a
        // failing probe, a pod that cannot be scheduled), when it adds to the above.
        let event = s.cluster.pod_events.get(&p.name);
        if let Some(e) = event
            && e.kind == "Warning"
            && p.message.as_deref() != Some(e.message.as_str())
            && self.last_event != Some((e.reason.as_str(), e.message.as_str()))
        {
            lines.push(Line::from(Span::styled(
                fit(&format!("  ↳ {}: {}", e.reason, e.message), w).into_owned(),
                Style::default().fg(Color::Yellow),
            )));
        }
        self.last_event = event.map(|e| (e.reason.as_str(), e.message.as_str()));
        at
    }
}

/// A Deployment on one line, for a release of several targets: its version, its pods
/// ready of those wanted as a bar, its rollout's status; an older ReplicaSet that still
/// has pods follows on a line of its own.
fn deployment_line(
    s: &State,
    d: &DeployView,
    (scale, name_w, tag_w): (u32, usize, usize),
    theme: &Theme,
    w: usize,
    out: &mut Vec<Line<'static>>,
) {
    let (word, st) = match rollout_status(d) {
        RolloutStatus::Complete => (
            tr(s.lang, "complete").to_string(),
            Style::default().fg(Color::Green),
        ),
        RolloutStatus::Waiting(m) => (m, Style::default().fg(Color::Yellow)),
        RolloutStatus::Failed(m) => (
            m,
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let bar_w = 10;
    let max = scale.max(d.desired).max(d.replicas).max(1);
    let filled = (d.ready as usize * bar_w).div_ceil(max as usize).min(bar_w);
    let color = if d.ready >= d.desired {
        Color::Green
    } else {
        Color::Yellow
    };
    let name = fit_middle(&d.name, name_w).into_owned();
    let pad = " ".repeat(name_w.saturating_sub(width(&name)));
    let tag = fit(image_version(&d.image), tag_w).into_owned();
    let tag_pad = " ".repeat(tag_w.saturating_sub(width(&tag)));
    let head = format!(" {name}{pad} {tag}{tag_pad} ");
    let counts = format!(" {:>3}/{:<3} ", d.ready, d.desired);
    let paused = if d.paused { "PAUSED " } else { "" };
    let used = width(&head) + bar_w + width(&counts) + paused.len();
    out.push(Line::from(vec![
        Span::styled(head, theme.title),
        Span::styled("█".repeat(filled), Style::default().fg(color)),
        Span::styled("·".repeat(bar_w - filled), theme.dim),
        Span::raw(counts),
        Span::styled(paused.to_string(), st),
        Span::styled(fit(&word, w.saturating_sub(used)).into_owned(), st),
    ]));
    for r in s
        .cluster
        .snap
        .replicasets
        .iter()
        .filter(|r| r.owner == d.name && r.revision != d.revision && r.desired > 0)
    {
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    "   rs rev {} {}  {}/{}  {}",
                    r.revision,
                    image_version(&r.image),
                    r.ready,
                    r.desired,
                    r.name
                ),
                w,
            )
            .into_owned(),
            theme.dim,
        )));
    }
}

fn deployment(
    s: &State,
    d: &DeployView,
    scale: u32,
    theme: &Theme,
    w: usize,
    out: &mut Vec<Line<'static>>,
) {
    let status = rollout_status(d);
    let (word, st) = match &status {
        RolloutStatus::Complete => (
            tr(s.lang, "complete").to_string(),
            Style::default().fg(Color::Green),
        ),
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
    let max = scale.max(d.desired).max(d.replicas).max(1);
    for (label, n) in [
        (tr(s.lang, "desired"), d.desired),
        (tr(s.lang, "updated"), d.updated),
        (tr(s.lang, "ready"), d.ready),
        (tr(s.lang, "available"), d.available),
    ] {
        let filled = (n as usize * bar_w).div_ceil(max as usize).min(bar_w);
        let color = if n >= d.desired {
            Color::Green
        } else {
            Color::Yellow
        };
        out.push(Line::from(vec![
            Span::styled(
                format!(
                    " {label}{} ",
                    " ".repeat(9usize.saturating_sub(width(label)))
                ),
                theme.dim,
            ),
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
        // The version first, whole: it is what the lead reads; the name and the
        // registry may be cut.
        let tag = image_version(&r.image);
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    " rs rev {:<3} {tag}  {}/{}  {}  {}",
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

/// What an image reference says of the version: its tag, its digest (shortened), or
/// `latest` when it names neither. A registry's port is not a tag.
fn image_version(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if let Some((_, digest)) = last.split_once('@') {
        return digest.get(..19).unwrap_or(digest);
    }
    last.rsplit_once(':').map_or("latest", |(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_of_an_image() {
        use super::image_version as v;
        assert_eq!(v("registry.local/erp-backend:v1.0.0"), "v1.0.0");
        assert_eq!(v("registry.local:5000/erp-backend"), "latest");
        assert_eq!(v("erp@sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        assert_eq!(v("nginx"), "latest");
    }
}
