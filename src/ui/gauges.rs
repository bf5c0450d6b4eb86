//! Gauges: one per runbook metric, value and unit, level in a word and a colour, a
//! sparkline of recent history; stale values dimmed with their age, never shown as live.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Canvas;
use super::theme::Theme;
use super::{block, fmt_secs};
use crate::runbook::{Bad, Metric, Unit};
use crate::state::State;
use crate::state::metrics::{Level, MetricState, Reading};
use crate::text::{fit, width, wrap};

/// A value in its unit, the way people read it. `None` is no data, which is not zero.
pub fn format_value(m: &Metric, v: Option<f64>) -> String {
    let Some(v) = v else { return "no data".into() };
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match m.unit {
        Unit::Percent => format!("{} %", sig(v)),
        Unit::Ratio => format!("{} %", sig(v * 100.0)),
        Unit::Seconds if v.abs() < 1.0 => format!("{:.0} ms", v * 1000.0),
        Unit::Seconds => format!("{:.2} s", v),
        Unit::Milliseconds if v.abs() >= 1000.0 => format!("{:.2} s", v / 1000.0),
        Unit::Milliseconds => format!("{:.0} ms", v),
        Unit::ReqPerSec => format!("{} req/s", sig(v)),
        Unit::PerMin => format!("{} /min", sig(v)),
        Unit::Count => format!("{}", sig(v)),
        Unit::Bytes => bytes(v),
    }
}

/// Enough digits to read, no more: 6.02, 61.4, 1250.
fn sig(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn bytes(v: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = v;
    let mut u = 0;
    while x.abs() >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{} {}", sig(x), units[u])
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn sparkline(history: &std::collections::VecDeque<f64>, w: usize) -> String {
    let n = history.len().min(w);
    if n == 0 {
        return String::new();
    }
    let pts: Vec<f64> = history.iter().skip(history.len() - n).copied().collect();
    let (lo, hi) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    pts.iter()
        .map(|v| {
            if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// A bar of `w` cells with the warn and critical thresholds marked on it.
fn bar(m: &Metric, v: Option<f64>, w: usize, level: Level, theme: &Theme) -> Line<'static> {
    let top = [m.warn, m.critical, v.unwrap_or(0.0)]
        .iter()
        .cloned()
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max)
        * 1.2;
    let pos = |x: f64| {
        if top > 0.0 {
            ((x / top) * w as f64).round().clamp(0.0, w as f64 - 1.0) as usize
        } else {
            0
        }
    };
    let fill = v
        .filter(|x| x.is_finite())
        .map(|x| pos(x.max(0.0)))
        .unwrap_or(0);
    let (wp, cp) = (pos(m.warn), pos(m.critical));
    let mut spans = Vec::new();
    for i in 0..w {
        let (ch, st) = if i == cp {
            ('┃', Style::default().fg(Color::Red))
        } else if i == wp {
            ('┃', Style::default().fg(Color::Yellow))
        } else if i < fill {
            ('█', theme.level_fg(level))
        } else {
            ('·', theme.dim)
        };
        spans.push(Span::styled(ch.to_string(), st));
    }
    Line::from(spans)
}

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    let outer = block(" Gauges ", focused, theme);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let w = inner.width as usize;
    if w < 10 || inner.height == 0 {
        return;
    }
    let n = s.metrics.len();
    let h = inner.height as usize;
    let two_lines = h >= 2 * n + 4;
    let per = if two_lines { 2 } else { 1 };
    let visible = (h.saturating_sub(if h > n * per + 2 { 3 } else { 0 })) / per;
    let top = if s.ui.gauge_cursor + 1 > visible {
        s.ui.gauge_cursor + 1 - visible
    } else {
        0
    };
    let mut lines = Vec::new();
    for i in (top..n).take(visible) {
        let (def, m) = (&s.rb.metrics[i], &s.metrics[i]);
        let level = m.level(def, s.now, s.stale_after);
        let stale = m.is_stale(s.now, s.stale_after);
        let (value, word, word_style) = describe(s, def, m, level, stale, theme);
        let name_w = (w / 3).clamp(8, 22);
        let name = fit(&def.title, name_w).into_owned();
        let head = format!("{name}{} ", " ".repeat(name_w - width(&name)));
        let val = format!("{value:>10} ");
        let word_cell = format!("{word:<8}");
        let spark_w = w.saturating_sub(width(&head) + width(&val) + 9);
        let spark = sparkline(&m.history, spark_w);
        let base = if stale { theme.stale } else { theme.text };
        let mut line = Line::from(vec![
            Span::styled(head, base),
            Span::styled(
                val,
                if stale {
                    theme.stale
                } else {
                    theme.level_fg(level)
                },
            ),
            Span::styled(word_cell, word_style),
            Span::raw(" "),
            Span::styled(
                spark,
                if stale {
                    theme.stale
                } else {
                    theme.level_fg(level)
                },
            ),
        ]);
        if i == s.ui.gauge_cursor && focused {
            line = line.patch_style(theme.selected);
        }
        lines.push(line);
        if two_lines {
            let v = m.last_value.map(|v| v.0);
            lines.push(
                bar(
                    def,
                    v,
                    w.saturating_sub(2),
                    if stale { Level::Unknown } else { level },
                    theme,
                )
                .patch_style(Style::default()),
            );
        }
    }
    // The selected gauge's facts: the query and its thresholds, readable in full.
    let room = h.saturating_sub(lines.len());
    if room >= 3 && n > 0 {
        let i = s.ui.gauge_cursor.min(n - 1);
        let (def, m) = (&s.rb.metrics[i], &s.metrics[i]);
        let dir = if def.bad == Bad::Above { ">" } else { "<" };
        let mut detail = vec![Line::from(Span::styled("─".repeat(w), theme.border))];
        detail.push(Line::from(Span::styled(
            fit(
                &format!(
                    "{}: warn {dir} {}, critical {dir} {}",
                    def.title,
                    format_value(def, Some(def.warn)),
                    format_value(def, Some(def.critical))
                ),
                w,
            )
            .into_owned(),
            theme.title,
        )));
        let mut rest = Vec::new();
        if let Some(Reading::Error(e)) = &m.reading {
            rest.extend(
                wrap(&format!("query failed: {e}"), w)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, Style::default().fg(Color::Red)))),
            );
        }
        rest.extend(
            wrap(&def.query, w)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, theme.dim))),
        );
        detail.extend(rest);
        detail.truncate(room);
        lines.extend(detail);
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn describe(
    s: &State,
    def: &Metric,
    m: &MetricState,
    level: Level,
    stale: bool,
    theme: &Theme,
) -> (String, String, Style) {
    match &m.reading {
        None => ("…".into(), "waiting".into(), theme.dim),
        Some(Reading::Error(_)) => {
            let v = m.last_value.map(|v| v.0);
            (
                if v.is_some() {
                    format_value(def, v)
                } else {
                    "—".into()
                },
                "ERROR".into(),
                Style::default().fg(Color::Red),
            )
        }
        Some(Reading::NoData) => ("no data".into(), "NO DATA".into(), theme.dim),
        Some(Reading::Value { value, .. }) if stale => {
            let age = m.age(s.now).unwrap_or(0);
            (
                format_value(def, Some(*value)),
                format!("{} old", fmt_secs(age)),
                theme.stale,
            )
        }
        Some(Reading::Value { value, .. }) => (
            format_value(def, Some(*value)),
            level.word().into(),
            theme.level_badge(level),
        ),
    }
}
