//! The journal: what is decided survives a restart; a torn last line is tolerated and
//! reported; a corrupt line elsewhere stops start-up with its position and loses nothing.

use std::io::Write;
use std::path::Path;

use chrono::Utc;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use warroom::app::{App, StartError};
use warroom::event::Event;
use warroom::journal::{self, Entry, Mark};
use warroom::layout;
use warroom::runbook::parse_runbook;
use warroom::state::Row;

fn open(path: &Path) -> Result<App, StartError> {
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    App::open(
        rb,
        "demo",
        path,
        "lin",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
}

/// Put the cursor on the first open item that can be ticked.
fn select_open_item(app: &mut App) {
    let c = &app.state.checklist;
    app.state.checklist.cursor = c
        .rows()
        .iter()
        .position(|r| matches!(r, Row::Item(i) if c.items[*i].kind.tickable() && c.items[*i].verify.is_none() && c.marks[*i].mark == Mark::Todo))
        .expect("an open item is visible");
}

fn key(app: &mut App, c: char) {
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

#[tokio::test]
async fn a_restart_restores_ticks_notes_stage_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let (log_before, stage_before) = {
        let mut app = open(&path).unwrap();
        // tick the first open item, write a note
        select_open_item(&mut app);
        key(&mut app, ' ');
        key(&mut app, 'n');
        for c in "备份完成".chars() {
            key(&mut app, c);
        }
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        // a stage reached through an intent and its outcome; the intent is written by
        // another writer while this console is away (one console per journal at a time)
        let seq = app.state.seq + 1;
        let rec = app.state.record(
            "lin",
            Entry::Advance {
                to: "canary-10".into(),
                plan: "Shift traffic to 10%".into(),
                overridden: vec![],
                override_reason: None,
            },
        );
        assert!(
            journal::Writer::open(&path).is_err(),
            "a second writer is refused while a console has the journal"
        );
        let done = app.state.record(
            "console",
            Entry::Outcome {
                of: seq,
                ok: true,
                message: "scaled".into(),
            },
        );
        drop(app);
        let mut w = journal::Writer::open(&path).unwrap();
        w.append(&rec).unwrap();
        w.append(&journal::Record {
            seq: seq + 1,
            ..done
        })
        .unwrap();
        drop(w);
        let app = open(&path).unwrap();
        assert_eq!(app.state.stages.current, Some(0));
        let log: Vec<_> = app
            .state
            .comms
            .iter()
            .map(|c| (c.at, c.who.clone(), c.text.clone()))
            .collect();
        (log, app.state.stage_name())
    };
    let app = open(&path).unwrap();
    let log_after: Vec<_> = app
        .state
        .comms
        .iter()
        .map(|c| (c.at, c.who.clone(), c.text.clone()))
        .collect();
    // Everything from before, with its original times, then the new session's start.
    assert_eq!(&log_after[..log_before.len()], &log_before[..]);
    assert!(log_after[log_before.len()].2.starts_with("console started"));
    assert_eq!(app.state.stage_name(), stage_before);
    let ticked = app
        .state
        .checklist
        .marks
        .iter()
        .filter(|m| m.by.as_deref() == Some("lin") && m.mark == Mark::Done)
        .count();
    assert_eq!(ticked, 1);
    assert!(app.state.comms.iter().any(|c| c.text == "“备份完成”"));
}

#[tokio::test]
async fn a_torn_last_line_is_moved_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut app = open(&path).unwrap();
        select_open_item(&mut app);
        key(&mut app, ' ');
    }
    let whole = std::fs::read(&path).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(br#"{"seq":9,"at":"2026-11-25T20:0"#)
        .unwrap();
    let app = open(&path).unwrap();
    let last = app
        .state
        .comms
        .iter()
        .rev()
        .find(|c| c.text.contains("cut short"))
        .expect("the torn line is reported");
    // The line after every whole record (session, the gauges seen, the tick).
    let n = whole.iter().filter(|b| **b == b'\n').count();
    assert!(
        last.text.contains(&format!("line {} ", n + 1)),
        "{}",
        last.text
    );
    assert_eq!(
        app.state
            .checklist
            .marks
            .iter()
            .filter(|m| m.by.is_some())
            .count(),
        1,
        "the tick before it survived"
    );
    // The journal again ends with whole records, and the torn bytes were kept aside.
    let now = std::fs::read(&path).unwrap();
    assert!(now.starts_with(&whole));
    assert!(now.ends_with(b"\n"));
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read(aside[0].path()).unwrap(),
        br#"{"seq":9,"at":"2026-11-25T20:0"#
    );
    drop(app);
    assert!(open(&path).is_ok(), "and it opens cleanly next time");
}

#[tokio::test]
async fn a_corrupt_line_in_the_middle_stops_start_up_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    drop(open(&path).unwrap());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{not json}\n").unwrap();
    drop(f);
    let before = std::fs::read(&path).unwrap();
    // now a good line after it, so the bad one is not the last
    let good = format!(
        "{}\n",
        serde_json::to_string(&journal::Record {
            seq: 5,
            at: Utc::now(),
            who: "lin".into(),
            entry: Entry::Note { text: "x".into() }
        })
        .unwrap()
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(good.as_bytes())
        .unwrap();
    let before = [before, good.into_bytes()].concat();
    let err = open(&path).err().expect("refused").to_string();
    assert!(
        err.contains("j.jsonl:2:2: line 2 is not a journal record"),
        "{err}"
    );
    assert!(err.contains("fix or remove that line"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing was lost or changed"
    );
}

#[tokio::test]
async fn a_journal_of_another_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let rec = journal::Record {
        seq: 1,
        at: Utc::now(),
        who: "lin".into(),
        entry: Entry::Session {
            runbook: "x".into(),
            release: "Other".into(),
            version: "v9".into(),
        },
    };
    journal::Writer::open(&path).unwrap().append(&rec).unwrap();
    let err = open(&path).err().unwrap().to_string();
    assert!(
        err.contains("belongs to Other v9, not ERP backend (demo) v1.0.0"),
        "{err}"
    );
}

/// A note with C1 controls and bidi overrides is kept exactly, but written as JSON
/// escapes: `cat` or `tail -f` on the journal shows no invisible reordering or
/// terminal commands.
#[test]
fn invisible_controls_are_escaped_in_the_file_and_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let text = "ok\u{202e}evil\u{2066}\u{200f}\u{61c}\u{9b}2J\u{85}\x1b[31m";
    let rec = journal::Record {
        seq: 1,
        at: Utc::now(),
        who: "lin\u{202d}".into(),
        entry: Entry::Note { text: text.into() },
    };
    journal::Writer::open(&path).unwrap().append(&rec).unwrap();
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        raw.chars().all(|c| c == '\n' || (!c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))),
        "{raw:?}"
    );
    assert!(
        raw.contains(r"ok\u202eevil\u2066\u200f\u061c\u009b2J\u0085\u001b[31m"),
        "{raw}"
    );
    let back = journal::replay(&path).unwrap().records;
    assert_eq!(back, vec![rec]);
}

/// A journal written by an English console, opened by one that chose Chinese (`--lang
/// zh`): the whole log reads in Chinese, what the journal held and what the console finds
/// on opening it alike.
#[test]
fn a_journal_reopened_in_another_language_reads_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    {
        let mut app = open(&path).unwrap();
        select_open_item(&mut app);
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Char(' '),
            KeyModifiers::NONE,
        )));
        // Dropped without closing: as a console killed mid-release.
    }
    let mut rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    rb.language = Some(warroom::runbook::Lang::Zh);
    let (tx, _rx) = mpsc::unbounded_channel();
    let app = App::open(
        rb,
        "demo",
        &path,
        "lin",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let log: Vec<&str> = app.state.comms.iter().map(|c| c.text.as_str()).collect();
    assert!(log[0].starts_with("控制台启动："), "{log:?}");
    assert!(
        log.iter().any(|l| l.starts_with("上一次会话未正常关闭")),
        "{log:?}"
    );
}
