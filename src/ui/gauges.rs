//! Gauges: one per runbook metric, value and unit, level in a word and a colour, a
//! sparkline of recent history; stale values dimmed with their age, never shown as live.

use crate::i18n::{tr, trf};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::Canvas;
use super::block;
use super::theme::Theme;
use crate::format::{fmt_secs, format_value};
use crate::runbook::{Bad, Metric};
use crate::state::State;
use crate::state::metrics::{Level, MetricState, Reading, level_of, window_points};
use crate::text::{fit, width, wrap};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `points` values of `history` in at most `w` cells, on a scale that spans the
/// thresholds. With more points than cells, each cell shows the worst point it covers,
/// so a spike never vanishes.
pub fn sparkline(
    m: &Metric,
    history: &std::collections::VecDeque<f64>,
    points: usize,
    w: usize,
) -> String {
    let n = history.len().min(points.max(1));
    if n == 0 || w == 0 {
        return String::new();
    }
    let recent: Vec<f64> = history.iter().skip(history.len() - n).copied().collect();
    let pts: Vec<f64> = if n <= w {
        recent
    } else {
        (0..w)
            .map(|i| {
                let (a, b) = (i * n / w, ((i + 1) * n / w).max(i * n / w + 1));
                recent[a..b]
                    .iter()
                    .fold(f64::NAN, |acc, v| crate::state::metrics::worse(m, acc, *v))
            })
            .collect()
    };
    // The scale always spans the thresholds: a wobble in the last digit stays flat,
    // and the height says how close the value runs to warn and critical.
    let (lo, hi) = pts
        .iter()
        .chain(&[m.warn, m.critical])
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    pts.iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
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

/// Width, in cells, of the status column: `CRITICAL`, `NO DATA`, `1m31s old` (无数据, 1m31s前).
const WORD_W: usize = 9;

pub fn draw(s: &State, theme: &Theme, focused: bool, area: Rect, f: &mut Canvas) {
    let outer = block(format!(" {} ", tr(s.lang, "Gauges")), focused, theme);
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
    let top = (s.ui.gauge_cursor + 1).saturating_sub(visible);
    let mut lines = Vec::new();
    for i in (top..n).take(visible) {
        let (def, m) = (&s.rb.metrics[i], &s.metrics[i]);
        let level = s.gauge_level(i);
        let stale = m.is_stale(s.now, s.stale_after);
        let (word, word_style) = describe(s, m, level, stale, theme);
        let name_w = (w / 3).clamp(8, 22);
        // The runbook's short title where the whole one does not fit.
        let title = match &def.short {
            Some(short) if width(&def.title) > name_w => short,
            _ => &def.title,
        };
        let name = fit(title, name_w).into_owned();
        let head = format!("{name}{} ", " ".repeat(name_w - width(&name)));
        let base = if stale { theme.stale } else { theme.text };
        let value_room = w.saturating_sub(width(&head) + WORD_W + 2);
        let mut spans = vec![Span::styled(head, base)];
        spans.extend(value_spans(
            def,
            m,
            value_room,
            stale,
            (s.not_serving(def), s.lang),
            theme,
        ));
        spans.push(Span::raw(" "));
        let used: usize = spans.iter().map(|sp| width(&sp.content)).sum();
        // Padded by cells, not characters: a Chinese word is twice as wide as it is long.
        let pad = " ".repeat(WORD_W.saturating_sub(width(&word)));
        spans.push(Span::styled(format!("{word}{pad}"), word_style));
        spans.push(Span::raw(" "));
        let spark_w = w.saturating_sub(used + WORD_W + 1);
        let points = window_points(&s.rb, def);
        spans.push(Span::styled(
            sparkline(def, &m.history, points, spark_w),
            if stale {
                theme.stale
            } else {
                theme.level_fg(level)
            },
        ));
        let mut line = Line::from(spans);
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
    // The selected gauge's facts: thresholds on a bar, its parts, age, why it failed and
    // the query, readable in full.
    let room = h.saturating_sub(lines.len());
    if room >= 3 && n > 0 {
        let i = s.ui.gauge_cursor.min(n - 1);
        let (def, m) = (&s.rb.metrics[i], &s.metrics[i]);
        let level = s.gauge_level(i);
        let stale = m.is_stale(s.now, s.stale_after);
        let dir = if def.bad == Bad::Above { ">" } else { "<" };
        let mut detail = vec![Line::from(Span::styled("─".repeat(w), theme.border))];
        detail.push(Line::from(Span::styled(
            fit(
                &trf(
                    s.lang,
                    "{}: warn {} {}, critical {} {}",
                    &[
                        &def.title,
                        &dir,
                        &format_value(def, Some(def.warn)),
                        &dir,
                        &format_value(def, Some(def.critical)),
                    ],
                ),
                w,
            )
            .into_owned(),
            theme.title,
        )));
        let mut rest = Vec::new();
        if let Some(Reading::Error(e)) = &m.reading {
            rest.extend(
                wrap(&trf(s.lang, "query failed: {}", &[e]), w)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, Style::default().fg(Color::Red)))),
            );
        }
        if !two_lines && room >= 6 {
            rest.push(bar(
                def,
                m.last_value.map(|v| v.0),
                w,
                if stale { Level::Unknown } else { level },
                theme,
            ));
        }
        if let Some((_, at)) = m.last_value
            && room >= 7
        {
            let mut spans = Vec::new();
            if !m.last_parts.is_empty() {
                for (k, p) in m.last_parts.iter().enumerate() {
                    if k > 0 {
                        spans.push(Span::styled(" · ", theme.dim));
                    }
                    let l = if stale {
                        Level::Unknown
                    } else {
                        level_of(def, p.value)
                    };
                    spans.push(Span::styled(
                        format!(
                            "{} {} {}",
                            p.key,
                            format_value(def, Some(p.value)),
                            l.word()
                        ),
                        if stale {
                            theme.stale
                        } else {
                            theme.level_fg(l)
                        },
                    ));
                }
                spans.push(Span::styled(" · ", theme.dim));
            }
            // While fresh the sample time changes with every answer; saying "fresh" keeps
            // the screen still over a slow link. Once stale, the time and age matter.
            let age = (s.now - at).num_seconds().max(0);
            spans.push(if stale {
                Span::styled(
                    trf(
                        s.lang,
                        "sampled {} ({} ago)",
                        &[&s.zone.hms(at), &fmt_secs(age)],
                    ),
                    theme.stale,
                )
            } else {
                Span::styled(
                    trf(
                        s.lang,
                        "fresh: sampled within {}",
                        &[&fmt_secs(s.stale_after)],
                    ),
                    theme.dim,
                )
            });
            rest.push(Line::from(spans));
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
    f.lines(&lines, inner, None);
}

/// The value cell: one value right-aligned, or a split gauge's parts side by side,
/// `stable 0.40 % │ canary 5.90 %`, each coloured by its own level; when they do not fit,
/// the worst part alone.
fn value_spans(
    def: &Metric,
    m: &MetricState,
    room: usize,
    stale: bool,
    (idle, lang): (Option<&str>, crate::runbook::Lang),
    theme: &Theme,
) -> Vec<Span<'static>> {
    let style_for = |l: Level| {
        if stale {
            theme.stale
        } else {
            theme.level_fg(l)
        }
    };
    let level = if stale {
        Level::Unknown
    } else {
        m.answer_level_skipping(def, idle)
    };
    let single = |text: String, st: Style| {
        let cell = format!("{}{text}", " ".repeat(10usize.saturating_sub(width(&text))));
        vec![Span::styled(cell, st)]
    };
    match &m.reading {
        None => single("…".into(), theme.dim),
        Some(Reading::NoData) => single(tr(lang, "no data").into(), theme.dim),
        Some(Reading::Value { value, .. }) => {
            single(format_value(def, Some(*value)), style_for(level))
        }
        Some(Reading::Error(_)) | Some(Reading::Split(_)) if !m.last_parts.is_empty() => {
            // After a failure the parts are the last known, not current: no level colours.
            let failed = matches!(m.reading, Some(Reading::Error(_)));
            let mut parts: Vec<(String, Level)> = m
                .last_parts
                .iter()
                .map(|p| {
                    if Some(p.key.as_str()) == idle {
                        // Rolled back: this track serves nothing, its figures are history.
                        return (trf(lang, "{} idle", &[&p.key]), Level::Unknown);
                    }
                    (
                        format!("{} {}", p.key, format_value(def, Some(p.value))),
                        if failed {
                            Level::Unknown
                        } else {
                            level_of(def, p.value)
                        },
                    )
                })
                .collect();
            // A part the runbook names that the answer lacks is shown as missing, in its
            // place: a canary with no traffic has no error rate, not a good one.
            for (i, key) in def.order.iter().enumerate() {
                if !m.last_parts.iter().any(|p| &p.key == key) {
                    let at = i.min(parts.len());
                    let what = if Some(key.as_str()) == idle {
                        tr(lang, "idle")
                    } else {
                        tr(lang, "no data")
                    };
                    parts.insert(at, (format!("{key} {what}"), Level::Unknown));
                }
            }
            let full: usize =
                parts.iter().map(|(t, _)| width(t)).sum::<usize>() + 3 * (parts.len() - 1);
            if full <= room {
                let mut out = Vec::new();
                for (k, (t, l)) in parts.into_iter().enumerate() {
                    if k > 0 {
                        out.push(Span::styled(" │ ", theme.dim));
                    }
                    out.push(Span::styled(t, style_for(l)));
                }
                // keep the word column aligned with single gauges
                if full < 10 {
                    out.insert(0, Span::raw(" ".repeat(10 - full)));
                }
                out
            } else {
                // Too narrow for every part: the one that most needs the lead's eye (a
                // part that is unknown ranks above one that is fine), and how many more
                // there are, so a hidden part never reads as absent.
                let rank = |l: Level| match l {
                    Level::Ok => 0,
                    Level::Unknown => 1,
                    Level::Warn => 2,
                    Level::Critical => 3,
                };
                let more = format!(" +{}", parts.len() - 1);
                let (t, l) = parts
                    .into_iter()
                    .max_by_key(|(_, l)| rank(*l))
                    .unwrap_or((String::new(), Level::Unknown));
                let t = fit(&t, room.max(10).saturating_sub(width(&more)).max(1));
                single(format!("{t}{more}"), style_for(l))
            }
        }
        Some(Reading::Error(_)) => {
            let v = m.last_value.map(|v| v.0);
            single(
                if v.is_some() {
                    format_value(def, v)
                } else {
                    "—".into()
                },
                style_for(Level::Unknown),
            )
        }
        Some(Reading::Split(_)) => single(tr(lang, "no data").into(), theme.dim),
    }
}

fn describe(
    s: &State,
    m: &MetricState,
    level: Level,
    stale: bool,
    theme: &Theme,
) -> (String, Style) {
    match &m.reading {
        None => (tr(s.lang, "waiting").into(), theme.dim),
        // A failure with a value shown from before: say both, the failure and its age.
        Some(Reading::Error(_)) if stale => (
            trf(s.lang, "ERR {}", &[&fmt_secs(m.age(s.now).unwrap_or(0))]),
            Style::default().fg(Color::Red),
        ),
        Some(Reading::Error(_)) => (tr(s.lang, "ERROR").into(), Style::default().fg(Color::Red)),
        Some(Reading::NoData) => (tr(s.lang, "NO DATA").into(), theme.dim),
        Some(Reading::Value { .. } | Reading::Split(_)) if stale => {
            let age = m.age(s.now).unwrap_or(0);
            (trf(s.lang, "{} old", &[&fmt_secs(age)]), theme.stale)
        }
        Some(Reading::Value { .. } | Reading::Split(_)) => {
            (level.word().into(), theme.level_badge(level))
        }
    }
}
