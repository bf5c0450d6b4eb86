//! Layout files arrange the panes; the solver turns one into rectangles for a terminal size.

use std::path::Path;

use ratatui::layout::{Constraint, Direction, Layout as RLayout, Rect};
use serde::Deserialize;

use crate::runbook::{Problem, Problems, locate::locate, parse_yaml};

pub const BUILTIN: &[(&str, &str)] = &[
    ("war-room", include_str!("../../layouts/war-room.yaml")),
    ("compact", include_str!("../../layouts/compact.yaml")),
    ("projector", include_str!("../../layouts/projector.yaml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pane {
    Header,
    Checklist,
    Gauges,
    Rollout,
    Comms,
    Keybar,
}

impl Pane {
    pub fn title(self) -> &'static str {
        match self {
            Pane::Header => "Header",
            Pane::Checklist => "Checklist",
            Pane::Gauges => "Gauges",
            Pane::Rollout => "Rollout",
            Pane::Comms => "Comms log",
            Pane::Keybar => "Keys",
        }
    }
    /// Panes that take focus (Tab cycles through them in this order).
    pub const FOCUSABLE: [Pane; 4] = [Pane::Checklist, Pane::Gauges, Pane::Rollout, Pane::Comms];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    Default,
    HighContrast,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub min_width: u16,
    pub min_height: u16,
    #[serde(default = "default_theme")]
    pub theme: Theme,
    pub root: Node,
}

fn default_theme() -> Theme {
    Theme::Default
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[serde(default)]
    pub pane: Option<Pane>,
    /// `rows` stacks children top to bottom, `columns` side by side.
    #[serde(default)]
    pub split: Option<Split>,
    /// One of these panes at a time, the focused one, with a tab bar.
    #[serde(default)]
    pub tabs: Option<Vec<Pane>>,
    #[serde(default)]
    pub children: Vec<Node>,
    #[serde(default)]
    pub size: Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    Rows,
    Columns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Size {
    Cells(u16),
    Percent(u16),
    #[default]
    Fill,
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u16),
            S(String),
        }
        let bad = |s: &str| {
            serde::de::Error::custom(format!(
                "size `{s}` is not understood: write a number of cells (3), a percentage (40%) or fill"
            ))
        };
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size::Cells(n)),
            Raw::S(s) if s == "fill" => Ok(Size::Fill),
            Raw::S(s) => match s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                Some(p) if p <= 100 => Ok(Size::Percent(p)),
                _ => Err(bad(&s)),
            },
        }
    }
}

impl Size {
    fn constraint(self) -> Constraint {
        match self {
            Size::Cells(n) => Constraint::Length(n),
            Size::Percent(p) => Constraint::Percentage(p),
            Size::Fill => Constraint::Fill(1),
        }
    }
}

pub fn parse(file: &Path, src: &str) -> Result<Layout, Problems> {
    let l: Layout = parse_yaml(file, src)?;
    let mut found = Vec::new();
    check_node(&l.root, &mut vec!["root".into()], &mut found);
    if found.is_empty() {
        Ok(l)
    } else {
        Err(Problems(
            found
                .into_iter()
                .map(|(p, message)| {
                    let (line, column) = locate(src, &p);
                    Problem {
                        file: file.to_path_buf(),
                        line,
                        column,
                        message,
                    }
                })
                .collect(),
        ))
    }
}

use crate::runbook::locate::Seg;

fn check_node(n: &Node, path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, String)>) {
    let kinds = n.pane.is_some() as u8 + n.split.is_some() as u8 + n.tabs.is_some() as u8;
    if kinds != 1 {
        out.push((
            path.clone(),
            "a node needs exactly one of `pane:`, `split:` or `tabs:`".into(),
        ));
    }
    if n.split.is_some() && n.children.is_empty() {
        out.push((path.clone(), "a split needs `children:`".into()));
    }
    if n.split.is_none() && !n.children.is_empty() {
        out.push((
            path.clone(),
            "only a split has `children:`; add `split: rows` or `split: columns`".into(),
        ));
    }
    if let Some(t) = &n.tabs
        && t.is_empty()
    {
        out.push((path.clone(), "`tabs:` needs at least one pane".into()));
    }
    for (i, c) in n.children.iter().enumerate() {
        path.push("children".into());
        path.push(i.into());
        check_node(c, path, out);
        path.pop();
        path.pop();
    }
}

/// A built-in layout by name, or a layout file by path.
pub fn load(name_or_path: &str) -> Result<Layout, Problems> {
    if let Some((name, src)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(Path::new(&format!("layouts/{name}.yaml")), src);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(Problems(vec![Problem {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "no such layout: use one of {} or the path of a layout file",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }]));
    }
    let src = crate::runbook::read(path)?;
    parse(path, &src)
}

pub fn builtin(name: &str) -> Layout {
    load(name).expect("built-in layouts are valid (tested)")
}

/// Where each pane goes on screen. `tabs` is set when a tab node chose one of its panes.
#[derive(Debug, Clone, PartialEq)]
pub struct Solved {
    pub panes: Vec<(Pane, Rect)>,
    pub tab_bars: Vec<(Rect, Vec<Pane>, Pane)>,
    pub theme: Theme,
    pub layout: String,
}

impl Solved {
    pub fn rect(&self, p: Pane) -> Option<Rect> {
        self.panes.iter().find(|(q, _)| *q == p).map(|(_, r)| *r)
    }
    pub fn visible_focusable(&self) -> Vec<Pane> {
        Pane::FOCUSABLE
            .into_iter()
            .filter(|p| {
                self.panes.iter().any(|(q, _)| q == p)
                    || self.tab_bars.iter().any(|(_, ps, _)| ps.contains(p))
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fit {
    Fits(Solved),
    TooSmall { need_w: u16, need_h: u16 },
}

/// Solve `preferred` for `area`, falling back to `compact` when it does not fit, and to
/// "too small" below compact's own minimum.
pub fn fit(preferred: &Layout, compact: &Layout, area: Rect, focus: Pane) -> Fit {
    for l in [preferred, compact] {
        if area.width >= l.min_width && area.height >= l.min_height {
            return Fit::Fits(solve(l, area, focus));
        }
    }
    Fit::TooSmall {
        need_w: compact.min_width,
        need_h: compact.min_height,
    }
}

pub fn solve(l: &Layout, area: Rect, focus: Pane) -> Solved {
    let mut s = Solved {
        panes: Vec::new(),
        tab_bars: Vec::new(),
        theme: l.theme,
        layout: l.name.clone(),
    };
    place(&l.root, area, focus, &mut s);
    s
}

fn place(n: &Node, area: Rect, focus: Pane, out: &mut Solved) {
    if let Some(p) = n.pane {
        out.panes.push((p, area));
    } else if let Some(tabs) = &n.tabs {
        let active = if tabs.contains(&focus) {
            focus
        } else {
            tabs[0]
        };
        let [bar, body] =
            RLayout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
        out.tab_bars.push((bar, tabs.clone(), active));
        out.panes.push((active, body));
    } else if let Some(split) = n.split {
        let dir = match split {
            Split::Rows => Direction::Vertical,
            Split::Columns => Direction::Horizontal,
        };
        let rects = RLayout::default()
            .direction(dir)
            .constraints(n.children.iter().map(|c| c.size.constraint()))
            .split(area);
        for (c, r) in n.children.iter().zip(rects.iter()) {
            place(c, *r, focus, out);
        }
    }
}
