//! Actions and the keymap. The key bar and the help overlay are generated from `NORMAL`,
//! so what they say and what the keys do cannot drift apart.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::state::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Collapse,
    Expand,
    Toggle,
    Skip,
    Fail,
    Note,
    Advance,
    Rollback,
    Pause,
    Help,
    ConsoleLog,
    Quit,
    Confirm,
    Cancel,
    /// In a confirmation blocked only by unknowns: advance anyway, with a typed reason.
    Override,
    /// Stop the automatic rollback counting down (asks for a reason).
    CancelAuto,
    /// Drive a release nobody drives (asks first).
    TakeOver,
    /// Tick every open item of the group (or phase) under the cursor (asks first).
    TickGroup,
    /// Show the emergency plan and the contacts.
    Emergency,
    /// Run the verifications that apply now (or the selected item's) again.
    Verify,
    /// The last lines of the log of the pod selected in the rollout pane.
    PodLog,
    /// A replay: stop or go on.
    ReplayPause,
    /// A replay: show the next record, and stop there.
    ReplayStep,
    ReplayFaster,
    ReplaySlower,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// How the key is written in the key bar and help.
    pub label: &'static str,
    /// One or two words for the key bar.
    pub short: &'static str,
    pub help: &'static str,
    pub action: Action,
    /// Shown in the key bar (the rest only in help).
    pub in_bar: bool,
}

const fn b(
    keys: &'static [KeyCode],
    label: &'static str,
    short: &'static str,
    help: &'static str,
    action: Action,
    in_bar: bool,
) -> Binding {
    Binding {
        keys,
        label,
        short,
        help,
        action,
        in_bar,
    }
}

use KeyCode::*;

pub const NORMAL: &[Binding] = &[
    b(
        &[Tab],
        "Tab",
        "pane",
        "focus the next pane",
        Action::FocusNext,
        true,
    ),
    b(
        &[BackTab],
        "S-Tab",
        "back",
        "focus the previous pane",
        Action::FocusPrev,
        false,
    ),
    b(&[Up, Char('k')], "↑/k", "up", "move up", Action::Up, false),
    b(
        &[Down, Char('j')],
        "↓/j",
        "down",
        "move down",
        Action::Down,
        true,
    ),
    b(
        &[PageUp],
        "PgUp",
        "page up",
        "move a page up",
        Action::PageUp,
        false,
    ),
    b(
        &[PageDown],
        "PgDn",
        "page down",
        "move a page down",
        Action::PageDown,
        false,
    ),
    b(
        &[Left, Char('h')],
        "←/h",
        "collapse",
        "collapse the phase",
        Action::Collapse,
        false,
    ),
    b(
        &[Right, Char('l'), Enter],
        "→/l",
        "expand",
        "expand the phase",
        Action::Expand,
        false,
    ),
    b(
        &[Char(' ')],
        "Space",
        "tick",
        "tick or untick the selected item (sign off a role)",
        Action::Toggle,
        true,
    ),
    b(
        &[Char('g')],
        "g",
        "tick group",
        "tick the open items of this group or phase (asks first)",
        Action::TickGroup,
        false,
    ),
    b(
        &[Char('s')],
        "s",
        "skip",
        "mark the selected item skipped",
        Action::Skip,
        false,
    ),
    b(
        &[Char('x')],
        "x",
        "failed",
        "mark the selected item failed",
        Action::Fail,
        false,
    ),
    b(
        &[Char('v')],
        "v",
        "verify",
        "verify again: this item, or every check that applies now",
        Action::Verify,
        false,
    ),
    b(
        &[Char('o')],
        "o",
        "pod log",
        "the selected pod's last log lines (rollout pane)",
        Action::PodLog,
        false,
    ),
    b(
        &[Char('n')],
        "n",
        "note",
        "write a note into the comms log",
        Action::Note,
        true,
    ),
    b(
        &[Char('a')],
        "a",
        "advance",
        "advance to the next canary stage (asks first)",
        Action::Advance,
        true,
    ),
    b(
        &[Char('R')],
        "R",
        "ROLLBACK",
        "roll back: all traffic to stable (asks first)",
        Action::Rollback,
        true,
    ),
    b(
        &[Char('p')],
        "p",
        "pause",
        "pause or resume the rollout (asks first)",
        Action::Pause,
        true,
    ),
    b(
        &[Char('c')],
        "c",
        "CANCEL auto-rollback",
        "cancel the automatic rollback counting down (asks why)",
        Action::CancelAuto,
        true,
    ),
    b(
        &[Char('T')],
        "T",
        "TAKE OVER",
        "drive this release when nobody does (asks first)",
        Action::TakeOver,
        true,
    ),
    b(
        &[Char('E')],
        "E",
        "EMERGENCY",
        "the emergency plan and who to call",
        Action::Emergency,
        true,
    ),
    b(
        &[Char('L')],
        "L",
        "console log",
        "show the console's diagnostic log, or the comms log again",
        Action::ConsoleLog,
        false,
    ),
    b(
        &[Char('?')],
        "?",
        "help",
        "show or hide this help",
        Action::Help,
        true,
    ),
    b(
        &[Char('q')],
        "q",
        "quit",
        "quit (asks first while a stage is in progress)",
        Action::Quit,
        true,
    ),
];

pub const CONFIRM: &[Binding] = &[
    b(
        &[Char('y'), Char('Y'), Enter],
        "y/Enter",
        "confirm",
        "do it",
        Action::Confirm,
        true,
    ),
    b(
        &[Char('n'), Char('N'), Esc],
        "n/Esc",
        "cancel",
        "do nothing",
        Action::Cancel,
        true,
    ),
    b(
        &[Char('o')],
        "o",
        "override unknown",
        "advance although health is unknown (asks why)",
        Action::Override,
        true,
    ),
];

/// A confirmation that asks for a typed reason: letters are the reason, so only Enter
/// confirms.
pub const REASON: &[Binding] = &[
    b(
        &[Enter],
        "Enter",
        "confirm",
        "do it, with the reason typed",
        Action::Confirm,
        true,
    ),
    b(&[Esc], "Esc", "cancel", "do nothing", Action::Cancel, true),
    b(
        &[Down],
        "↑/↓",
        "kind",
        "choose the kind of rollback",
        Action::Down,
        true,
    ),
    b(
        &[Up],
        "↑",
        "kind",
        "choose the kind of rollback",
        Action::Up,
        false,
    ),
];

pub const NOTE: &[Binding] = &[
    b(
        &[Enter],
        "Enter",
        "log it",
        "add the note to the comms log",
        Action::Confirm,
        true,
    ),
    b(
        &[Esc],
        "Esc",
        "cancel",
        "discard the note",
        Action::Cancel,
        true,
    ),
];

pub const SIGNER: &[Binding] = &[
    b(
        &[Enter],
        "Enter",
        "sign off",
        "record the sign-off by the name typed",
        Action::Confirm,
        true,
    ),
    b(
        &[Esc],
        "Esc",
        "cancel",
        "record nothing",
        Action::Cancel,
        true,
    ),
];

/// A pod's log: Esc closes it; any other key closes it and does what it does.
pub const POD_LOG: &[Binding] = &[b(
    &[Esc, Char('o')],
    "Esc",
    "close",
    "close the log",
    Action::Cancel,
    true,
)];

/// The emergency plan's keys.
pub const EMERGENCY: &[Binding] = &[
    b(
        &[Left, Right, Char('h'), Char('l'), Tab],
        "←/→",
        "situation",
        "the plan for another situation",
        Action::Down,
        true,
    ),
    b(
        &[Esc, Char('E'), Char('q')],
        "Esc",
        "close",
        "close the emergency plan",
        Action::Cancel,
        true,
    ),
];

/// The keys of a replay, before the usual ones.
pub const REPLAY: &[Binding] = &[
    b(
        &[Char(' ')],
        "Space",
        "pause",
        "replay: pause or go on",
        Action::ReplayPause,
        true,
    ),
    b(
        &[Char('.')],
        ".",
        "step",
        "replay: show the next record and pause there",
        Action::ReplayStep,
        true,
    ),
    b(
        &[Char('+'), Char('=')],
        "+",
        "faster",
        "replay: twice as fast",
        Action::ReplayFaster,
        true,
    ),
    b(
        &[Char('-')],
        "-",
        "slower",
        "replay: half as fast",
        Action::ReplaySlower,
        true,
    ),
];

/// The replay's action for a key, if it has one.
pub fn replay_action(key: &KeyEvent) -> Option<Action> {
    if !(key.modifiers - KeyModifiers::SHIFT).is_empty() {
        return None;
    }
    REPLAY
        .iter()
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.action)
}

pub fn bindings(mode: &Mode) -> &'static [Binding] {
    match mode {
        Mode::Normal | Mode::Help => NORMAL,
        Mode::Confirm(c) if c.reason.is_some() => REASON,
        Mode::Confirm(_) => CONFIRM,
        Mode::Note(_) => NOTE,
        Mode::Signer { .. } => SIGNER,
        Mode::Emergency { .. } => EMERGENCY,
        Mode::PodLog { .. } => POD_LOG,
    }
}

/// The action a key means in `mode`. Ctrl-C always means quit.
pub fn action_for(mode: &Mode, key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return (key.code == Char('c')).then_some(Action::Quit);
    }
    if matches!(mode, Mode::Help) {
        // Any key closes help; `q` still quits.
        return Some(if key.code == Char('q') {
            Action::Quit
        } else {
            Action::Help
        });
    }
    let action = bindings(mode)
        .iter()
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.action);
    // Esc then `y` arriving in one read is parsed as Alt+y: a cancel must not turn into
    // a confirmation. Only a plain (or shifted) key confirms.
    if action == Some(Action::Confirm) && !(key.modifiers - KeyModifiers::SHIFT).is_empty() {
        return None;
    }
    action
}
