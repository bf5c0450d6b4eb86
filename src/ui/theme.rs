//! Colours and styles. Meaning is never carried by colour alone: every level is also a word.

use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::BorderType;

use crate::journal::Level as LogLevel;
use crate::layout::Theme as Kind;
use crate::state::metrics::Level;

pub struct Theme {
    pub high_contrast: bool,
    pub text: Style,
    pub dim: Style,
    pub border: Style,
    pub focus: Style,
    pub focus_border: BorderType,
    pub tab: Style,
    pub tab_active: Style,
    pub selected: Style,
    pub title: Style,
    pub stale: Style,
}

impl Theme {
    pub fn for_layout(kind: Kind) -> Theme {
        let hc = kind == Kind::HighContrast;
        let b = |s: Style| {
            if hc {
                s.add_modifier(Modifier::BOLD)
            } else {
                s
            }
        };
        Theme {
            high_contrast: hc,
            text: b(Style::default()),
            dim: if hc {
                Style::default().fg(Color::Gray)
            } else {
                Style::default().fg(Color::DarkGray)
            },
            border: if hc {
                Style::default().fg(Color::White)
            } else {
                Style::default().fg(Color::DarkGray)
            },
            focus: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            focus_border: if hc {
                BorderType::Double
            } else {
                BorderType::Thick
            },
            tab: b(Style::default().fg(Color::Gray)),
            tab_active: Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            selected: Style::default().add_modifier(Modifier::REVERSED),
            title: Style::default().add_modifier(Modifier::BOLD),
            stale: Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::DIM),
        }
    }

    /// The colour of a level, as text colour.
    pub fn level_fg(&self, l: Level) -> Style {
        let c = match l {
            Level::Ok => Color::Green,
            Level::Warn => Color::Yellow,
            Level::Critical => Color::Red,
            Level::Unknown => Color::DarkGray,
        };
        let s = Style::default().fg(c);
        if self.high_contrast || l >= Level::Warn {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    /// A level as a badge: black on its colour, readable across a room.
    pub fn level_badge(&self, l: Level) -> Style {
        let bg = match l {
            Level::Ok => Color::Green,
            Level::Warn => Color::Yellow,
            Level::Critical => Color::Red,
            Level::Unknown => Color::Gray,
        };
        Style::default()
            .fg(Color::Black)
            .bg(bg)
            .add_modifier(Modifier::BOLD)
    }

    pub fn log(&self, l: LogLevel) -> Style {
        match l {
            LogLevel::Info => self.text,
            LogLevel::Warn => Style::default().fg(Color::Yellow),
            LogLevel::Error => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}
