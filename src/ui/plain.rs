//! Monochrome and plain terminals. Drawn as usual, then, in one pass over the frame:
//! `NO_COLOR` (or `--no-color`) takes the colours away and keeps their meaning in
//! modifiers (a coloured background becomes reversed video, a red or yellow word bold);
//! `--ascii` replaces the box, block and mark glyphs with ASCII for a console that has
//! none (a Linux VT), one cell for one cell.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// How plain the terminal is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plain {
    pub no_color: bool,
    pub ascii: bool,
}

impl Plain {
    /// `NO_COLOR` set and not empty (no-color.org) asks for no colour, as the flag does.
    pub fn from_env(no_color: bool, ascii: bool) -> Plain {
        let env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Plain {
            no_color: no_color || env,
            ascii,
        }
    }
}

pub fn apply(p: Plain, buf: &mut Buffer) {
    if !p.no_color && !p.ascii {
        return;
    }
    for cell in buf.content.iter_mut() {
        if p.no_color {
            let bg = cell.bg;
            let fg = cell.fg;
            if !matches!(bg, Color::Reset) {
                cell.modifier.insert(Modifier::REVERSED);
            }
            if matches!(
                fg,
                Color::Red | Color::LightRed | Color::Yellow | Color::LightYellow
            ) {
                cell.modifier.insert(Modifier::BOLD);
            }
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
            cell.underline_color = Color::Reset;
        }
        if p.ascii
            && let Some(a) = ascii(cell.symbol())
        {
            cell.set_symbol(a);
        }
    }
}

/// The ASCII stand-in of a one-cell glyph, or None to keep it.
fn ascii(s: &str) -> Option<&'static str> {
    Some(match s {
        "─" | "━" | "═" | "┄" | "┈" => "-",
        "│" | "┃" | "║" | "┆" | "┊" => "|",
        "┌" | "┐" | "└" | "┘" | "┏" | "┓" | "┗" | "┛" | "╔" | "╗" | "╚" | "╝" | "├" | "┤" | "┬"
        | "┴" | "┼" | "┣" | "┫" | "╠" | "╣" | "╭" | "╮" | "╯" | "╰" => "+",
        "█" | "▇" | "▆" => "#",
        "▅" | "▄" => "=",
        "▃" | "▂" => "-",
        "▁" => "_",
        "▏" | "▎" | "▍" | "▌" | "▋" | "▊" | "▉" => "|",
        "·" | "•" => ".",
        "…" => "~",
        "✔" => "v",
        "✘" => "x",
        "☐" => "o",
        "◌" => "o",
        "✍" => "s",
        "☎" => "t",
        "▸" | "▶" | "→" => ">",
        "◂" | "←" => "<",
        "▾" | "↓" => "v",
        "↑" => "^",
        "≠" => "!",
        "≥" => ">",
        "≤" => "<",
        "×" => "x",
        "“" | "”" => "\"",
        "‘" | "’" => "'",
        "—" | "–" => "-",
        "⚠" => "!",
        _ => return None,
    })
}
