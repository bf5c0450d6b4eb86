//! The key bar, the help overlay, the confirmation dialog and the note prompt. The key
//! bar and help are generated from the keymap itself.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::Canvas;
use super::theme::Theme;
use crate::action::{Action, NORMAL, bindings};
use crate::i18n::{tr, trf};
use crate::state::{Confirm, Driver, Mode, State};
use crate::text::{fit, width, wrap};

pub fn keybar(s: &State, theme: &Theme, area: Rect, f: &mut Canvas) {
    let w = area.width as usize;
    let mut spans = Vec::new();
    let mut used = 0;
    if let Some(msg) = &s.ui.flash {
        let m = fit(msg, w).into_owned();
        used += width(&m) + 2;
        spans.push(Span::styled(
            m,
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw("  "));
    }
    let watching = matches!(s.driver, Driver::ReadOnly { .. } | Driver::Free { .. });
    let blocked = matches!(&s.ui.mode, Mode::Confirm(c) if !c.blockers.is_empty());
    let following = s.follow.is_some();
    if watching && matches!(s.ui.mode, Mode::Normal) {
        // The action keys only explain themselves here: say so rather than offer them.
        let tag = if s.follow.as_ref().is_some_and(|f| f.replay.is_some()) {
            " REPLAY "
        } else if following {
            " FOLLOWING "
        } else {
            " READ-ONLY "
        };
        used += width(tag) + 2;
        spans.push(Span::styled(
            tag,
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw("  "));
    }
    let counting_down = crate::update::countdown_running(s).is_some();
    let replaying =
        matches!(s.ui.mode, Mode::Normal) && s.follow.as_ref().is_some_and(|f| f.replay.is_some());
    let table = if replaying {
        crate::action::REPLAY
    } else {
        &[]
    };
    let shown: Vec<&crate::action::Binding> = table.iter().chain(bindings(&s.ui.mode)).filter(|b| {
        b.in_bar
            && !(watching && matches!(b.action, Action::Advance | Action::Rollback | Action::Pause))
            // A follower decides nothing: no ticks, no notes of its own.
            && !(following && matches!(b.action, Action::Toggle | Action::Note))
            && !(blocked && b.action == Action::Confirm)
            && (b.action != Action::TakeOver || matches!(s.driver, Driver::Free { .. }))
            && !(b.action == Action::CancelAuto
                && (watching || !counting_down))
            && (b.action != Action::Override
                || matches!(&s.ui.mode, Mode::Confirm(c) if c.blockers.is_empty() && !c.unknown.is_empty() && !c.overriding))
            && !(b.action == Action::Confirm
                && matches!(&s.ui.mode, Mode::Confirm(c) if c.blockers.is_empty() && !c.unknown.is_empty() && !c.overriding))
            && !(matches!(b.action, Action::Down | Action::Up)
                && matches!(&s.ui.mode, Mode::Confirm(c) if c.kinds.is_empty()))
    }).collect();
    // When the bar is narrow, the least important keys go first: never the ones that stop
    // a bad release or leave, nor help.
    let rank = |a: Action| match a {
        Action::Rollback
        | Action::CancelAuto
        | Action::TakeOver
        | Action::Confirm
        | Action::Cancel => 0,
        Action::Quit | Action::Help | Action::Override | Action::ReplayPause => 1,
        Action::Advance | Action::Pause | Action::Emergency | Action::Toggle => 2,
        _ => 3,
    };
    let short = |b: &crate::action::Binding| tr(s.lang, b.short);
    let item_w = |b: &crate::action::Binding| width(b.label) + 1 + width(short(b)) + 2;
    let mut keep = vec![false; shown.len()];
    let mut order: Vec<usize> = (0..shown.len()).collect();
    order.sort_by_key(|i| rank(shown[*i].action));
    for i in order {
        if used + item_w(shown[i]) <= w {
            used += item_w(shown[i]);
            keep[i] = true;
        }
    }
    for (b, _) in shown.iter().zip(&keep).filter(|(_, k)| **k) {
        let key_style = if b.short == "ROLLBACK" || b.action == Action::TakeOver {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        };
        spans.push(Span::styled(b.label.to_string(), key_style));
        spans.push(Span::styled(format!(" {}  ", short(b)), theme.text));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

pub fn help(replaying: bool, lang: crate::runbook::Lang, theme: &Theme, f: &mut Canvas) {
    // Every line counts at 80x24: the closing hint rides in the frame's title.
    let mut lines = Vec::new();
    let replay: &[crate::action::Binding] = if replaying {
        crate::action::REPLAY
    } else {
        &[]
    };
    let key = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    // Short neighbours share a line (↑/k move up · ↓/j move down), so every key fits
    // at 80x24.
    const HALF: usize = 24;
    let all: Vec<&crate::action::Binding> = replay.iter().chain(NORMAL).collect();
    let mut i = 0;
    while i < all.len() {
        let b = all[i];
        let (help, next) = (tr(lang, b.help), all.get(i + 1).map(|n| tr(lang, n.help)));
        let mut spans = vec![
            Span::styled(format!("{:>8}  ", b.label), key),
            Span::raw(help),
        ];
        if let (Some(n), Some(next)) = (all.get(i + 1), next)
            && width(help) <= HALF
            && width(next) <= HALF
        {
            // Padded by the columns it takes (a Chinese character takes two).
            spans[1] = Span::raw(format!("{help}{}", " ".repeat(HALF - width(help))));
            spans.push(Span::styled(format!("{:>8}  ", n.label), key));
            spans.push(Span::raw(next));
            i += 1;
        }
        lines.push(Line::from(spans));
        i += 1;
    }
    // Wrapped: in Chinese it is wider than the dialog.
    for l in wrap(
        tr(
            lang,
            "In a confirmation: y or Enter confirms, n or Esc cancels, o overrides unknown health (asks why).",
        ),
        70,
    ) {
        lines.push(Line::from(Span::styled(l, theme.dim)));
    }
    let area = centered(f.area(), 72, lines.len() as u16 + 2);
    clear_under(area, f);
    f.render_widget(
        Paragraph::new(lines).block(dialog().title(tr(lang, " Help · Any key closes this help "))),
        area,
    );
}

pub fn confirm(c: &Confirm, lang: crate::runbook::Lang, theme: &Theme, f: &mut Canvas) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(90);
    let inner_w = w.saturating_sub(2) as usize;
    let blocked = !c.blockers.is_empty();
    let para = |text: &str, style: Style, indent: usize| -> Vec<Line<'static>> {
        // Continuation lines keep the first line's indent, so a wrapped item reads as one.
        let pad = " ".repeat(indent);
        wrap(text, inner_w.saturating_sub(indent).max(8))
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let l = if i == 0 { l } else { format!("{pad}{l}") };
                Line::from(Span::styled(l, style))
            })
            .collect()
    };
    let bold = |c: Color| Style::default().fg(c).add_modifier(Modifier::BOLD);

    let mut head = para(&c.title, theme.title.add_modifier(Modifier::BOLD), 0);
    if c.replanned {
        head.extend(para(
            tr(lang, "CHANGED since it was first shown: this is the plan as things stand now. Read it again."),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            0,
        ));
    }
    // Sections in the order they matter when the screen is short: what blocks, which kind
    // of rollback, what is unknown, then the plan's details.
    let mut sections: Vec<Vec<Line<'static>>> = Vec::new();
    if blocked {
        let mut l = vec![
            Line::default(),
            Line::from(Span::styled(
                tr(lang, "BLOCKED — this cannot be done until:"),
                bold(Color::Red),
            )),
        ];
        for b in &c.blockers {
            l.extend(para(&format!("• {b}"), Style::default().fg(Color::Red), 2));
        }
        sections.push(l);
    }
    if !c.kinds.is_empty() {
        let mut l = vec![
            Line::default(),
            Line::from(Span::styled(
                tr(lang, "Kind of rollback (↑/↓):"),
                theme.title.add_modifier(Modifier::BOLD),
            )),
        ];
        for (i, (id, text)) in c.kinds.iter().enumerate() {
            let chosen = i == c.kind;
            let mark = if chosen { "▶ " } else { "  " };
            l.extend(para(
                &format!("{mark}{id}: {text}"),
                if chosen {
                    Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
                } else {
                    theme.text
                },
                2,
            ));
        }
        sections.push(l);
    }
    if !c.unknown.is_empty() {
        let mut l = vec![
            Line::default(),
            Line::from(Span::styled(
                tr(lang, "UNKNOWN — no fresh data, so this cannot be judged:"),
                bold(Color::Yellow),
            )),
        ];
        for u in &c.unknown {
            l.extend(para(
                &format!("• {u}"),
                Style::default().fg(Color::Yellow),
                2,
            ));
        }
        sections.push(l);
    }
    let mut plan = Vec::new();
    if !c.plan.is_empty() && (blocked || !c.unknown.is_empty() || !c.kinds.is_empty()) {
        plan.push(Line::default());
    }
    for p in &c.plan {
        plan.extend(para(p, Style::default(), 0));
    }
    sections.push(plan);

    let mut tail = Vec::new();
    if let Some(r) = &c.reason {
        tail.push(Line::default());
        let prompt = if c.overriding {
            tr(lang, "Why advance with health unknown? ")
        } else {
            tr(lang, "Reason: ")
        };
        // The end of a long reason: that is where the typing happens.
        let room = inner_w.saturating_sub(width(prompt) + 1);
        let mut shown = String::new();
        for ch in r.chars().rev() {
            if width(&shown) + unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0) > room {
                shown.insert(0, '…');
                break;
            }
            shown.insert(0, ch);
        }
        tail.push(Line::from(Span::styled(
            format!("{prompt}{shown}▏"),
            Style::default().add_modifier(Modifier::BOLD),
        )));
    }
    let needs_override = !blocked && !c.unknown.is_empty() && !c.overriding;
    tail.push(Line::default());
    tail.push(Line::from(if needs_override {
        vec![
            Span::styled(
                " o ",
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" {}    ", tr(lang, "override, with a reason"))),
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(format!(" {}", tr(lang, "cancel"))),
        ]
    } else if c.reason.is_some() && !blocked {
        vec![
            Span::styled(
                " Enter ",
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" {}    ", tr(lang, "confirm"))),
            Span::styled(" Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(format!(" {}", tr(lang, "cancel"))),
        ]
    } else if blocked {
        vec![
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(format!(" {}", tr(lang, "close"))),
        ]
    } else {
        vec![
            Span::styled(
                " y/Enter ",
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" {}    ", tr(lang, "confirm"))),
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(format!(" {}", tr(lang, "cancel"))),
        ]
    }));

    // What does not fit is cut, saying how much: the title, the reason and the keys
    // always show.
    let room = (full.height as usize).saturating_sub(2);
    let mut budget = room.saturating_sub(head.len() + tail.len());
    let mut body = Vec::new();
    for sec in sections {
        if sec.len() <= budget {
            budget -= sec.len();
            body.extend(sec);
        } else if budget > 0 {
            let keep = budget - 1;
            let cut = sec.len() - keep;
            body.extend(sec.into_iter().take(keep));
            body.push(Line::from(Span::styled(
                tr(lang, "… {} more lines (a larger terminal shows them)")
                    .replace("{}", &cut.to_string()),
                theme.dim,
            )));
            budget = 0;
        }
    }
    let mut lines = head;
    lines.extend(body);
    lines.extend(tail);
    let area = centered(full, w, lines.len() as u16 + 2);
    let border = if blocked || matches!(c.proposal, crate::state::Proposal::Rollback { .. }) {
        Color::Red
    } else {
        Color::Yellow
    };
    clear_under(area, f);
    f.render_widget(
        Paragraph::new(lines).block(
            dialog()
                .border_style(Style::default().fg(border))
                .title(format!(" {} ", tr(lang, "Confirm"))),
        ),
        area,
    );
}

/// Clear the dialog's area, and the half of any wide character (CJK) that the dialog's
/// left edge would cut: the terminal would draw the whole character over the border.
fn clear_under(area: Rect, f: &mut Canvas) {
    f.render_widget(Clear, area);
    if area.x == 0 {
        return;
    }
    let buf = f.buffer_mut();
    for y in area.y..area.y.saturating_add(area.height) {
        let cell = &mut buf[(area.x - 1, y)];
        if width(cell.symbol()) > 1 {
            cell.set_symbol(" ");
        }
    }
}

/// The emergency plan at one situation, and who to call: what the room needs when a
/// rollback starts or a trigger fires, without opening a collapsed phase.
pub fn emergency(s: &State, group: usize, theme: &Theme, f: &mut Canvas) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(100);
    let inner = w.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let phase = s.rb.phases.iter().find(|p| p.emergency);
    let mut title = format!(" {} ", tr(s.lang, "EMERGENCY"));
    match phase {
        Some(p) => {
            let n = p.groups.len().max(1);
            let g = &p.groups[group.min(n - 1)];
            title = format!(
                " {} · {} ({}/{n}) ",
                crate::text::clean(&p.title),
                crate::text::clean(g.title.as_deref().unwrap_or("")),
                group.min(n - 1) + 1
            );
            for it in &g.items {
                let i = s.checklist.index_of(&it.id);
                let done =
                    i.is_some_and(|i| s.checklist.marks[i].mark == crate::journal::Mark::Done);
                let text = format!("{} {}", if done { "✔" } else { "☐" }, it.text);
                for l in wrap(&crate::text::clean(&text), inner) {
                    lines.push(Line::from(Span::styled(l, theme.text)));
                }
            }
            let others: Vec<String> = p
                .groups
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != group.min(n - 1))
                .filter_map(|(_, g)| g.title.clone())
                .collect();
            if !others.is_empty() {
                lines.push(Line::from(Span::styled(
                    fit(&trf(s.lang, "←/→ also: {}", &[&others.join(" · ")]), inner).into_owned(),
                    theme.dim,
                )));
            }
        }
        None => lines.push(Line::from(Span::styled(
            tr(
                s.lang,
                "this runbook has no emergency plan (a phase with emergency: true)",
            ),
            theme.dim,
        ))),
    }
    lines.push(Line::from(""));
    if s.rb.contacts.is_empty() {
        lines.push(Line::from(Span::styled(
            tr(s.lang, "no contacts in this runbook (a contacts: section)"),
            theme.dim,
        )));
    }
    for c in &s.rb.contacts {
        let or_fill = |v: &str| {
            if v.trim().is_empty() {
                tr(s.lang, "(to fill)").to_string()
            } else {
                crate::text::clean(v).into_owned()
            }
        };
        let mut text = format!(
            "☎ {}: {} · {}",
            crate::text::clean(&c.role),
            or_fill(&c.name),
            or_fill(&c.phone)
        );
        if let Some(n) = &c.note {
            text.push_str(&format!(" · {}", crate::text::clean(n)));
        }
        let style = if c.name.trim().is_empty() || c.phone.trim().is_empty() {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        };
        lines.push(Line::from(Span::styled(
            fit(&text, inner).into_owned(),
            style,
        )));
    }
    let h = (lines.len() as u16 + 2).min(full.height);
    let area = centered(full, w, h);
    clear_under(area, f);
    f.render_widget(
        Paragraph::new(lines).block(
            dialog()
                .border_style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD))
                .title(fit(&title, inner).into_owned())
                .title_bottom(if phase.is_some_and(|p| p.groups.len() > 1) {
                    tr(s.lang, " ←/→ situation · Esc closes ")
                } else {
                    tr(s.lang, " Esc closes ")
                }),
        ),
        area,
    );
}

/// The name of whoever signs off as `role`, being typed.
pub fn signer(s: &State, role: &str, name: &str, _theme: &Theme, f: &mut Canvas) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(70);
    let area = centered(full, w, 3);
    clear_under(area, f);
    let title = trf(
        s.lang,
        " Who signs off as {}? (Enter signs, Esc cancels) ",
        &[&crate::text::clean(role)],
    );
    f.render_widget(
        Paragraph::new(format!("{name}▏")).block(
            Block::default()
                .borders(Borders::ALL)
                .title(fit(&title, w.saturating_sub(2) as usize).into_owned()),
        ),
        area,
    );
}

pub fn note(text: &str, _theme: &Theme, f: &mut Canvas) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(90);
    let inner_w = w.saturating_sub(2) as usize;
    let shown = format!("{text}▏");
    // Show the end of a long note: that is where the typing happens.
    let tail: String = {
        let mut out = String::new();
        for c in shown.chars().rev() {
            if width(&out) + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) > inner_w {
                break;
            }
            out.insert(0, c);
        }
        out
    };
    let area = centered(full, w, 3);
    clear_under(area, f);
    f.render_widget(
        Paragraph::new(tail).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Note for the comms log (Enter logs it, Esc discards) "),
        ),
        area,
    );
}

/// The last lines of a pod's log, newest at the bottom, as wide as the screen allows.
pub fn pod_log(
    s: &State,
    pod: &str,
    log: Option<&Result<String, String>>,
    theme: &Theme,
    f: &mut Canvas,
) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(140);
    let h = full.height.saturating_sub(4);
    let inner_w = w.saturating_sub(2) as usize;
    let inner_h = h.saturating_sub(2) as usize;
    let lines: Vec<Line> = match log {
        None => vec![Line::from(Span::styled(
            tr(s.lang, "reading the log…"),
            theme.dim,
        ))],
        Some(Err(e)) => wrap(
            &trf(s.lang, "the log cannot be read: {}", &[e]),
            inner_w.max(8),
        )
        .into_iter()
        .map(|l| Line::from(Span::styled(l, Style::default().fg(Color::Yellow))))
        .collect(),
        Some(Ok(text)) if text.trim().is_empty() => {
            vec![Line::from(Span::styled(
                tr(s.lang, "(the log is empty)"),
                theme.dim,
            ))]
        }
        Some(Ok(text)) => {
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(inner_h);
            all[from..]
                .iter()
                .map(|l| {
                    let st = if l.contains("ERROR") || l.contains("FATAL") || l.contains("panic") {
                        Style::default().fg(Color::Red)
                    } else {
                        theme.text
                    };
                    Line::from(Span::styled(fit(l, inner_w).into_owned(), st))
                })
                .collect()
        }
    };
    let area = centered(full, w, h);
    clear_under(area, f);
    f.render_widget(
        Paragraph::new(lines).block(dialog().title(trf(
            s.lang,
            " Log of {} · Esc closes ",
            &[&fit(pod, inner_w.saturating_sub(20))],
        ))),
        area,
    );
}

/// A dialog's frame: double, so it stands out from the panes under it.
fn dialog<'a>() -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
}
