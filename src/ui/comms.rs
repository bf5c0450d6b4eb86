//! The comms log, drawn from the journal-backed state: every entry shows when it happened
//! (the journal's time), not when it was drawn or replayed.

use crate::i18n::tr;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Canvas;
use super::block;
use super::theme::Theme;
use crate::state::State;
use crate::text::{width, wrap_hanging};

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    if s.ui.console_log {
        // The console's own diagnostics (API retries, query failures in full): tui-logger
        // stamps them as they are logged; they are not part of the journal.
        let w = tui_logger::TuiLoggerWidget::default()
            .block(block(
                " Console log (L: back to the comms log) ",
                focused,
                theme,
            ))
            .output_target(false)
            .output_file(false)
            .output_line(false)
            .output_timestamp(Some("%H:%M:%S".into()))
            .style_error(theme.log(crate::journal::Level::Error))
            .style_warn(theme.log(crate::journal::Level::Warn));
        f.render_widget(w, area);
        return;
    }
    let title = if s.ui.comms_scroll > 0 {
        format!(" Comms log (scrolled back {}) ", s.ui.comms_scroll)
    } else {
        format!(" {} ", tr(s.lang, "Comms log"))
    };
    let outer = block(title, focused, theme);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let w = inner.width as usize;
    let h = inner.height as usize;
    if w < 12 || h == 0 {
        return;
    }
    // Build from the newest entry backwards until the pane is full.
    let end = s.comms.len().saturating_sub(s.ui.comms_scroll);
    let mut lines: Vec<Line> = Vec::new();
    for e in s.comms[..end].iter().rev() {
        let head = format!("{} {} ", s.zone.hms(e.at), e.who);
        let indent = 9;
        let mut parts = wrap_hanging(
            &e.text,
            w.saturating_sub(width(&head)).max(4),
            w.saturating_sub(indent).max(4),
        );
        let rest = parts.split_off(1);
        let st = theme.log(e.level);
        let mut block_lines = vec![Line::from(vec![
            Span::styled(head, theme.dim),
            Span::styled(parts.remove(0), st),
        ])];
        for r in rest {
            block_lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(r, st),
            ]));
        }
        for l in block_lines.into_iter().rev() {
            lines.push(l);
        }
        if lines.len() >= h {
            break;
        }
    }
    lines.truncate(h);
    lines.reverse();
    f.lines(&lines, inner, None);
}
