//! The key bar, the help overlay, the confirmation dialog and the note prompt. The key
//! bar and help are generated from the keymap itself.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::Canvas;
use super::theme::Theme;
use crate::action::{Action, NORMAL, bindings};
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
    if watching && matches!(s.ui.mode, Mode::Normal) {
        // The action keys only explain themselves here: say so rather than offer them.
        let tag = " READ-ONLY ";
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
    for b in bindings(&s.ui.mode).iter().filter(|b| {
        b.in_bar
            && !(watching && matches!(b.action, Action::Advance | Action::Rollback | Action::Pause))
            && !(blocked && b.action == Action::Confirm)
            && !(b.action == Action::TakeOver && !matches!(s.driver, Driver::Free { .. }))
            && !(b.action == Action::CancelAuto
                && (watching || crate::update::countdown_running(s).is_none()))
            && !(b.action == Action::Override
                && !matches!(&s.ui.mode, Mode::Confirm(c) if c.blockers.is_empty() && !c.unknown.is_empty() && !c.overriding))
            && !(b.action == Action::Confirm
                && matches!(&s.ui.mode, Mode::Confirm(c) if c.blockers.is_empty() && !c.unknown.is_empty() && !c.overriding))
            && !(matches!(b.action, Action::Down | Action::Up)
                && matches!(&s.ui.mode, Mode::Confirm(c) if c.kinds.is_empty()))
    }) {
        let item_w = width(b.label) + 1 + width(b.short) + 2;
        if used + item_w > w {
            break;
        }
        used += item_w;
        let key_style = if b.short == "ROLLBACK" || b.action == Action::TakeOver {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        };
        spans.push(Span::styled(b.label.to_string(), key_style));
        spans.push(Span::styled(format!(" {}  ", b.short), theme.text));
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

pub fn help(theme: &Theme, f: &mut Canvas) {
    // Every line counts at 80x24: the closing hint rides in the frame's title.
    let mut lines = Vec::new();
    for b in NORMAL {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>8}  ", b.label),
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(b.help),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "In a confirmation: y or Enter confirms, n or Esc cancels.",
        theme.dim,
    )));
    let area = centered(f.area(), 72, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .title(" Help · Any key closes this help "),
        ),
        area,
    );
}

pub fn confirm(c: &Confirm, theme: &Theme, f: &mut Canvas) {
    let full = f.area();
    let w = full.width.saturating_sub(4).min(90);
    let inner_w = w.saturating_sub(2) as usize;
    let blocked = !c.blockers.is_empty();
    let mut lines = Vec::new();
    for l in wrap(&c.title, inner_w) {
        lines.push(Line::from(Span::styled(
            l,
            theme.title.add_modifier(Modifier::BOLD),
        )));
    }
    for p in &c.plan {
        for l in wrap(p, inner_w) {
            lines.push(Line::from(Span::raw(l)));
        }
    }
    if c.replanned {
        lines.push(Line::from(Span::styled(
            "CHANGED since it was first shown: this is the plan as things stand now. Read it again.",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )));
    }
    if !c.kinds.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "Kind of rollback (↑/↓):",
            theme.title.add_modifier(Modifier::BOLD),
        )));
        for (i, (id, text)) in c.kinds.iter().enumerate() {
            let chosen = i == c.kind;
            let mark = if chosen { "▶ " } else { "  " };
            for l in wrap(&format!("{mark}{id}: {text}"), inner_w) {
                lines.push(Line::from(Span::styled(
                    l,
                    if chosen {
                        Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
                    } else {
                        theme.text
                    },
                )));
            }
        }
    }
    if !c.unknown.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "UNKNOWN — no fresh data, so this cannot be judged:",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )));
        for u in &c.unknown {
            for l in wrap(&format!("• {u}"), inner_w) {
                lines.push(Line::from(Span::styled(l, Style::default().fg(Color::Yellow))));
            }
        }
    }
    if blocked {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "BLOCKED — this cannot be done until:",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
        for b in &c.blockers {
            for l in wrap(&format!("• {b}"), inner_w) {
                lines.push(Line::from(Span::styled(l, Style::default().fg(Color::Red))));
            }
        }
    }
    if let Some(r) = &c.reason {
        lines.push(Line::default());
        let prompt = if c.overriding {
            "Why advance with health unknown? "
        } else {
            "Reason: "
        };
        for l in wrap(&format!("{prompt}{r}▏"), inner_w) {
            lines.push(Line::from(Span::styled(
                l,
                Style::default().add_modifier(Modifier::BOLD),
            )));
        }
    }
    let needs_override = !blocked && !c.unknown.is_empty() && !c.overriding;
    lines.push(Line::default());
    lines.push(Line::from(if needs_override {
        vec![
            Span::styled(
                " o ",
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(" override, with a reason    "),
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(" cancel"),
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
            Span::raw(" confirm    "),
            Span::styled(" Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(" cancel"),
        ]
    } else if blocked {
        vec![
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(" close"),
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
            Span::raw(" confirm    "),
            Span::styled(" n/Esc ", Style::default().fg(Color::Black).bg(Color::Cyan)),
            Span::raw(" cancel"),
        ]
    }));
    let area = centered(full, w, lines.len() as u16 + 2);
    let border = if blocked || matches!(c.proposal, crate::state::Proposal::Rollback { .. }) {
        Color::Red
    } else {
        Color::Yellow
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(Style::default().fg(border))
                .title(" Confirm "),
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
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(tail).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Note for the comms log (Enter logs it, Esc discards) "),
        ),
        area,
    );
}
