//! The checklist: phases with progress, items with state, who and when; the selected
//! item's full text below, wrapped, however long and in whatever script.

use crate::i18n::{tr, trf};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use super::Canvas;
use super::block;
use super::theme::Theme;
use crate::journal::Mark;
use crate::runbook::ItemKind;
use crate::state::{Row, State};
use crate::text::{fit, width, wrap};

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    let c = &s.checklist;
    let progress = c.progress();
    let (done, total) = progress.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let outer = block(
        format!(" {} {done}/{total} ", tr(s.lang, "Checklist")),
        focused,
        theme,
    );
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    if inner.height == 0 || inner.width < 4 {
        return;
    }
    let detail_h = if inner.height >= 12 {
        4
    } else if inner.height >= 7 {
        2
    } else {
        0
    };
    let [list, detail] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_h)]).areas(inner);
    let rows = c.rows();
    let h = list.height as usize;
    // Keep the cursor in view, a little below the top when possible.
    let top = (c.cursor + 1).saturating_sub(h);
    let w = list.width as usize;
    let mut lines = Vec::with_capacity(h);
    for (ri, row) in rows.iter().enumerate().skip(top).take(h) {
        let selected = ri == c.cursor;
        let mut line = match row {
            Row::Phase(p) => {
                let (d, t) = progress[*p];
                let arrow = if c.collapsed[*p] { "▸" } else { "▾" };
                // Phases with nothing to tick (contacts) show no count.
                let prog = if t > 0 {
                    format!(" {d}/{t}")
                } else {
                    String::new()
                };
                let complete = t > 0 && d == t;
                let title = fit(
                    &s.rb.phases[*p].title,
                    w.saturating_sub(2 + width(&prog) + 1),
                )
                .into_owned();
                let pad = w.saturating_sub(2 + width(&title) + width(&prog));
                let st = if complete {
                    Style::default()
                        .fg(Color::Green)
                        .add_modifier(Modifier::BOLD)
                } else {
                    theme.title
                };
                Line::from(vec![
                    Span::styled(format!("{arrow} "), st),
                    Span::styled(title, st),
                    Span::raw(" ".repeat(pad)),
                    Span::styled(prog, if complete { st } else { theme.dim }),
                ])
            }
            Row::Group(_, g) => Line::from(Span::styled(
                format!("  {}", fit(g, w.saturating_sub(2))),
                theme.dim,
            )),
            Row::Item(i) => item_line(s, theme, *i, w),
            Row::Live(k) => live_line(s, theme, *k, w),
        };
        if selected {
            line = line.patch_style(if focused {
                theme.selected
            } else {
                Style::default().add_modifier(Modifier::UNDERLINED)
            });
        }
        lines.push(line);
    }
    f.lines(&lines, list, None);
    if detail_h > 0 {
        draw_detail(s, rows.get(c.cursor), theme, detail, f);
    }
}

fn item_line(s: &State, theme: &Theme, i: usize, w: usize) -> Line<'static> {
    let it = &s.checklist.items[i];
    let m = &s.checklist.marks[i];
    let indent = "  ".repeat(it.depth + 1);
    let (sym, st) = match (it.kind, m.mark) {
        (ItemKind::Contact, _) => ("☎", theme.dim),
        (ItemKind::Info, _) => ("·", theme.dim),
        (_, Mark::Done) => ("✔", Style::default().fg(Color::Green)),
        (_, Mark::Skipped) => ("–", Style::default().fg(Color::Yellow)),
        (_, Mark::Failed) => (
            "✘",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        (ItemKind::Signoff, Mark::Todo) => ("✍", theme.text),
        // A check the console cannot make now: unknown, not open-and-fine.
        (_, Mark::Todo)
            if it.verify.is_some()
                && s.verify_due(i)
                && s.checklist.checks[i]
                    .last
                    .as_ref()
                    .is_some_and(|(o, _)| o.verdict == crate::journal::Verdict::Unknown) =>
        {
            (
                "?",
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )
        }
        (_, Mark::Todo) => ("☐", theme.text),
    };
    let text = match (&it.kind, &it.role, it.fill) {
        (_, _, Some(fill)) => format!("{}: {}", it.text, filled(s, fill)),
        (ItemKind::Contact | ItemKind::Signoff, Some(r), _) => format!("{r}: {}", it.text),
        _ => it.text.clone(),
    };
    // A sign-off shows who signed; anything else who ticked it.
    let stamp = match (&m.signer, &m.by, m.at) {
        (Some(name), _, Some(at)) | (None, Some(name), Some(at)) => {
            format!(" {} {}", fit(name, 10), s.zone.hms(at))
        }
        _ => String::new(),
    };
    let req = if it.required && m.mark != Mark::Done {
        "*"
    } else {
        " "
    };
    let fixed = width(&indent) + 2 + 1 + width(&stamp);
    let body = fit(&text, w.saturating_sub(fixed)).into_owned();
    let pad = w.saturating_sub(fixed + width(&body));
    let text_style = match m.mark {
        Mark::Done | Mark::Skipped => theme.dim,
        _ => theme.text,
    };
    Line::from(vec![
        Span::raw(indent),
        Span::styled(format!("{sym} "), st),
        Span::styled(req.to_string(), Style::default().fg(Color::Yellow)),
        Span::styled(body, text_style),
        Span::raw(" ".repeat(pad)),
        Span::styled(stamp, theme.dim),
    ])
}

/// Step `k` of the rollback the console performs: ticked once the cluster shows it done.
fn live_line(s: &State, theme: &Theme, k: usize, w: usize) -> Line<'static> {
    let Some(l) = &s.checklist.live else {
        return Line::default();
    };
    let Some(step) = l.steps.get(k) else {
        return Line::default();
    };
    let (sym, st) = if step.done {
        ("✔", Style::default().fg(Color::Green))
    } else {
        (
            "◌",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )
    };
    let stamp = match (step.done, l.done_at.get(k).copied().flatten()) {
        (true, Some(at)) => format!(" {}", s.zone.hms(at)),
        (true, None) => String::new(),
        (false, _) => " waiting".to_string(),
    };
    let indent = "  ";
    let text = format!("{}. {}", k + 1, step.text);
    let fixed = width(indent) + 2 + 1 + width(&stamp);
    let body = fit(&text, w.saturating_sub(fixed)).into_owned();
    let pad = w.saturating_sub(fixed + width(&body));
    Line::from(vec![
        Span::raw(indent),
        Span::styled(format!("{sym} "), st),
        Span::raw(" "),
        Span::styled(body, if step.done { theme.dim } else { theme.text }),
        Span::raw(" ".repeat(pad)),
        Span::styled(stamp, theme.dim),
    ])
}

/// What the console writes into a filled item.
fn filled(s: &State, fill: crate::runbook::Fill) -> String {
    match fill {
        crate::runbook::Fill::DeploymentTime => match s.stages.first_stage {
            Some(at) => s.zone.date_time(at),
            None => tr(s.lang, "— (set when the first stage starts)").into(),
        },
    }
}

fn draw_detail(s: &State, selected: Option<&Row>, theme: &Theme, area: Rect, f: &mut Canvas) {
    let c = &s.checklist;
    let w = area.width as usize;
    let mut lines = Vec::new();
    match selected {
        Some(Row::Item(i)) => {
            let it = &c.items[*i];
            let m = &c.marks[*i];
            for l in wrap(&it.text, w) {
                lines.push(Line::from(Span::styled(l, theme.title)));
            }
            let mark = match m.mark {
                crate::journal::Mark::Todo => tr(s.lang, "todo"),
                crate::journal::Mark::Done => tr(s.lang, "done"),
                crate::journal::Mark::Skipped => tr(s.lang, "skipped"),
                crate::journal::Mark::Failed => tr(s.lang, "failed"),
            };
            let mut facts = vec![mark.to_string()];
            match (&m.signer, &m.by, m.at) {
                (Some(name), Some(by), Some(at)) => facts.push(trf(
                    s.lang,
                    "signed by {}, entered by {} at {}",
                    &[name, by, &s.zone.hms(at)],
                )),
                (None, Some(by), Some(at)) => {
                    facts.push(trf(s.lang, "by {} at {}", &[by, &s.zone.hms(at)]))
                }
                _ => {}
            }
            if let Some(r) = &it.role {
                facts.push(trf(s.lang, "role {}", &[r]));
            }
            if let Some(g) = &it.gates {
                facts.push(if it.required {
                    trf(s.lang, "gates {} (required)", &[g])
                } else {
                    trf(s.lang, "gates {}", &[g])
                });
            }
            facts.push(format!("id {}", it.id));
            if let Some(v) = &it.verify {
                // What the console checks, and what it saw: this console's own latest
                // verdict, else the journal's.
                let ch = &c.checks[*i];
                let (head, st, evidence) = match (&ch.last, &m.evidence) {
                    (Some((o, at)), _) => {
                        use crate::journal::Verdict as V;
                        let (h, st) = match o.verdict {
                            V::Pass => ("✔", Style::default().fg(Color::Green)),
                            V::Fail => ("✘", Style::default().fg(Color::Red)),
                            V::Unknown => ("?", Style::default().fg(Color::Yellow)),
                        };
                        (h, st, format!("{} ({})", o.evidence, s.zone.hms(*at)))
                    }
                    (None, Some(e)) => ("·", theme.dim, e.clone()),
                    (None, None) => ("·", theme.dim, tr(s.lang, "not verified yet").into()),
                };
                let asked = if ch.asked.is_some() {
                    tr(s.lang, " · checking…")
                } else {
                    ""
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{head} "), st),
                    Span::styled(
                        fit(&format!("{evidence}{asked}"), w.saturating_sub(2)).into_owned(),
                        theme.text,
                    ),
                ]));
                facts.insert(
                    0,
                    trf(
                        s.lang,
                        "verified by the console: {} (v: again)",
                        &[&crate::state::verify::describe(v, s.lang)],
                    ),
                );
            }
            lines.push(Line::from(Span::styled(
                fit(&facts.join(" · "), w).into_owned(),
                theme.dim,
            )));
        }
        Some(Row::Phase(p)) => {
            let ph = &s.rb.phases[*p];
            lines.push(Line::from(Span::styled(
                fit(&ph.title, w).into_owned(),
                theme.title,
            )));
            let gate = ph
                .gates
                .as_deref()
                .map(|g| format!(" · {}", trf(s.lang, "gates {}", &[&g])))
                .unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!("←/→ {}{gate}", tr(s.lang, "collapse/expand")),
                theme.dim,
            )));
        }
        Some(Row::Group(_, g)) => lines.push(Line::from(Span::styled(
            fit(g, w).into_owned(),
            theme.title,
        ))),
        Some(Row::Live(k)) => {
            if let Some(step) = c.live.as_ref().and_then(|l| l.steps.get(*k)) {
                for l in wrap(&format!("{}. {}", k + 1, step.text), w) {
                    lines.push(Line::from(Span::styled(l, theme.title)));
                }
                lines.push(Line::from(Span::styled(
                    fit(
                        &trf(
                            s.lang,
                            "the console's rollback, in place of the runbook's steps · the cluster shows: {}",
                            &[&step.seen],
                        ),
                        w,
                    )
                    .into_owned(),
                    theme.dim,
                )));
            }
        }
        None => {}
    }
    let b = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border);
    let inner = b.inner(area);
    f.render_widget(b, area);
    // When the text is longer than the space, keep its start and the facts line.
    let keep = inner.height as usize;
    let tail = match selected {
        Some(Row::Item(i)) if c.items[*i].verify.is_some() => 2,
        _ => 1,
    };
    if lines.len() > keep {
        let at = lines.len() - tail.min(lines.len());
        let facts = lines.split_off(at);
        lines.truncate(keep.saturating_sub(facts.len()));
        lines.extend(facts);
        lines.truncate(keep);
    }
    f.lines(&lines, inner, None);
}
