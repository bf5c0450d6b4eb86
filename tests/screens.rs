//! Whole screens rendered into ratatui's TestBackend at the sizes people use, compared
//! with stored snapshots; colours that carry meaning are asserted cell by cell.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use warroom::event::Event;
use warroom::journal::{Entry, Level, Mark, Record};
use warroom::layout::{self, Fit, Pane};
use warroom::runbook::{load, parse_runbook};
use warroom::state::cluster::{DeployView, PodView, RsView, Snapshot};
use warroom::state::metrics::Reading;
use warroom::state::{Driver, State};
use warroom::ui::{self, View};
use warroom::update::update;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn snapshot() -> Snapshot {
    let d = |name: &str, desired: u32, ready: u32, rev: &str, image: &str| DeployView {
        name: name.into(),
        desired,
        replicas: desired,
        updated: desired,
        ready,
        available: ready,
        generation: 2,
        observed_generation: 2,
        revision: rev.into(),
        image: image.into(),
        ..Default::default()
    };
    let pod = |name: &str, owner: &str, ready: u32, status: &str, restarts: u32, age: i64| {
        PodView {
            name: name.into(),
            owner: owner.into(),
            ready_containers: ready,
            containers: 1,
            status: status.into(),
            restarts,
            created: Some(t0() - Duration::seconds(age)),
            // The kubelet's words for a crash loop.
            message: (status == "CrashLoopBackOff").then(|| {
                "back-off 40s restarting failed container=erp-backend pod=erp-backend-canary-5b8c4-q7wzt".into()
            }),
        }
    };
    Snapshot {
        deployments: vec![
            d(
                "erp-backend",
                9,
                9,
                "1",
                "registry.local/erp-backend:v0.9.3",
            ),
            d(
                "erp-backend-canary",
                1,
                0,
                "1",
                "registry.local/erp-backend:v1.0.0",
            ),
        ],
        replicasets: vec![
            RsView {
                name: "erp-backend-7c9d5f".into(),
                owner: "erp-backend".into(),
                revision: "1".into(),
                image: "registry.local/erp-backend:v0.9.3".into(),
                desired: 9,
                ready: 9,
                created: None,
            },
            RsView {
                name: "erp-backend-canary-5b8c4".into(),
                owner: "erp-backend-canary".into(),
                revision: "1".into(),
                image: "registry.local/erp-backend:v1.0.0".into(),
                desired: 1,
                ready: 0,
                created: None,
            },
        ],
        pods: vec![
            pod(
                "erp-backend-7c9d5f-2xk4q",
                "erp-backend-7c9d5f",
                1,
                "Running",
                0,
                3600,
            ),
            pod(
                "erp-backend-7c9d5f-8mvbn",
                "erp-backend-7c9d5f",
                1,
                "Running",
                0,
                3600,
            ),
            pod(
                "erp-backend-canary-5b8c4-q7wzt",
                "erp-backend-canary-5b8c4",
                0,
                "CrashLoopBackOff",
                3,
                95,
            ),
        ],
        routes: Vec::new(),
    }
}

/// A release night in progress: some ticks, a note, the canary at 10%, gauges in every state.
fn busy_state(runbook: &str) -> State {
    let rb = if runbook == "demo" {
        parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap()
    } else {
        load(Path::new(runbook)).unwrap()
    };
    let mut s = State::new(Arc::new(rb), "lin", t0());
    // Times in UTC, whatever the machine's zone: the snapshots are the same everywhere.
    s.zone = warroom::format::Zone::Utc;
    s.driver = Driver::Driving {
        lease: "prod/warroom-erp".into(),
        fence: "1-0000abcd".into(),
    };
    let mut seq = 0;
    let mut rec = |s: &mut State, secs: i64, who: &str, entry: Entry| {
        seq += 1;
        s.apply(&Record {
            seq,
            at: t0() + Duration::seconds(secs),
            who: who.into(),
            entry,
        });
    };
    let (release, version) = (s.rb.release.name.clone(), s.rb.release.version.clone());
    rec(
        &mut s,
        0,
        "lin",
        Entry::Session {
            runbook: "demo".into(),
            release,
            version,
        },
    );
    let ids: Vec<String> = s
        .checklist
        .items
        .iter()
        .filter(|i| i.kind.tickable())
        .take(4)
        .map(|i| i.id.clone())
        .collect();
    for (n, id) in ids.iter().enumerate() {
        rec(
            &mut s,
            30 + n as i64 * 40,
            "lin",
            Entry::Mark {
                item: id.clone(),
                mark: Mark::Done,
                signer: None,
            },
        );
    }
    rec(
        &mut s,
        200,
        "lin",
        Entry::Note {
            text: "DBA confirms the backup finished at 20:02; 数据库备份完成".into(),
        },
    );
    rec(
        &mut s,
        240,
        "lin",
        Entry::Advance {
            to: "canary-10".into(),
            plan: "Shift traffic to 10%: scale erp-backend-canary to 1 and erp-backend to 9".into(),
            overridden: vec![],
            override_reason: None,
        },
    );
    rec(
        &mut s,
        241,
        "console",
        Entry::Outcome {
            of: 7,
            ok: true,
            message: "erp-backend-canary scaled to 1, erp-backend scaled to 9".into(),
        },
    );
    rec(
        &mut s,
        300,
        "console",
        Entry::System {
            level: Level::Error,
            text: "Canary error rate is CRITICAL at 6.02 %: above its critical threshold 5.00 %"
                .into(),
        },
    );
    s.now = t0() + Duration::seconds(330);
    update(&mut s, Event::Cluster(snapshot()));
    let at = s.now - Duration::seconds(1);
    for i in 0..s.metrics.len() {
        let id = s.rb.metrics[i].id.clone();
        let reading = match id.as_str() {
            "canary-error-rate" => Reading::Value { value: 6.02, at },
            "error-rate" => Reading::Value { value: 0.78, at },
            "p95-latency" => Reading::Value { value: 0.412, at },
            "cpu" => Reading::Value { value: 44.0, at },
            "memory" => Reading::Value { value: 61.5, at },
            "disk" => Reading::Value {
                value: 62.0,
                at: at - Duration::seconds(90),
            },
            "orders" => Reading::NoData,
            "payment-success" => Reading::Error(
                "the query is not valid PromQL: 1:5: parse error: unexpected end of input".into(),
            ),
            "availability" => Reading::Value { value: 99.95, at },
            "api-latency" => Reading::Value { value: 412.0, at },
            "page-load" => Reading::Value { value: 1.1, at },
            "cache-hit" => Reading::Value { value: 94.2, at },
            _ => Reading::Value { value: 1250.0, at },
        };
        for k in 0..30 {
            if let Reading::Value { value, .. } = reading {
                s.metrics[i].push_history(value * (1.0 + (k % 7) as f64 / 50.0));
            }
        }
        update(
            &mut s,
            Event::Metric {
                index: i,
                at,
                reading,
            },
        );
    }
    s
}

fn render(s: &State, layout_name: &str, w: u16, h: u16) -> Buffer {
    let view = View::new(layout::builtin(layout_name));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw_into(s, &view, f.buffer_mut())).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..b.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = b[(x, y)].symbol();
            line.push_str(sym);
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Prometheus' answer for the gauge `id`, arriving now.
fn answer(s: &mut State, id: &str, reading: Reading) {
    let index = s.rb.metrics.iter().position(|m| m.id == id).unwrap();
    let at = s.now;
    update(s, Event::Metric { index, at, reading });
}

fn find(b: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(b);
    for (y, line) in t.lines().enumerate() {
        if let Some(i) = line.find(needle) {
            let x = unicode_width::UnicodeWidthStr::width(&line[..i]);
            return Some((x as u16, y as u16));
        }
    }
    None
}

#[test]
fn war_room_at_every_size() {
    let s = busy_state("demo");
    for (w, h) in [(200, 60), (120, 40), (80, 24), (40, 12)] {
        insta::assert_snapshot!(
            format!("war_room_{w}x{h}"),
            text(&render(&s, "war-room", w, h))
        );
    }
}

#[test]
fn projector_and_compact() {
    let s = busy_state("demo");
    insta::assert_snapshot!("projector_160x48", text(&render(&s, "projector", 160, 48)));
    insta::assert_snapshot!("compact_80x24", text(&render(&s, "compact", 80, 24)));
}

#[test]
fn chinese_runbook_lines_up() {
    let mut s = busy_state("assets/runbooks/erp-v1.0.0.zh.yaml");
    s.checklist.cursor = 3;
    let b = render(&s, "war-room", 160, 48);
    insta::assert_snapshot!("zh_160x48", text(&b));
    // no row is wider than the screen: CJK characters took two cells each
    for line in text(&b).lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 160, "{line}");
    }
}

#[test]
fn below_compact_the_console_says_so() {
    let s = busy_state("demo");
    let t = text(&render(&s, "war-room", 40, 12));
    assert!(t.contains("terminal too small (need 50x14)"), "{t}");
    // and compact takes over between its minimum and war-room's
    let compact = layout::builtin("compact");
    let war = layout::builtin("war-room");
    let fit = layout::fit(&war, &compact, Rect::new(0, 0, 80, 24), Pane::Checklist);
    assert!(matches!(fit, Fit::Fits(ref solved) if solved.layout == "compact"));
}

#[test]
fn meaning_carrying_colours() {
    let s = busy_state("demo");
    let b = render(&s, "war-room", 200, 60);
    // the critical gauge's word is a red badge
    let (x, y) = find(&b, "CRITICAL").expect("a CRITICAL gauge");
    assert_eq!(b[(x, y)].bg, Color::Red);
    // the stale gauge shows its age, dimmed, not a level
    let (x, y) = find(&b, "1m31s old").expect("the stale disk gauge shows its age");
    assert!(b[(x, y)].modifier.contains(Modifier::DIM));
    let line = text(&b).lines().nth(y as usize).unwrap().to_string();
    assert!(line.contains("62.0 %") && !line.contains(" OK "), "{line}");
    // no data is not zero
    let (_, y) = find(&b, "NO DATA").expect("the orders gauge says no data");
    assert!(!text(&b).lines().nth(y as usize).unwrap().contains(" 0 "));
    // a crash-looping pod is red, on its row in the rollout pane (the log may name it too)
    let (x, y) = find(&b, "0/1 CrashLoopBackOff").unwrap();
    let x = x + 4;
    assert_eq!(b[(x, y)].fg, Color::Red);
}

/// In a Chinese console a gauge's status column says what it knows in Chinese (a failed
/// query, no series, a value of a given age), and, since those words are twice as wide as
/// they are long, the sparklines after them still start in one column.
#[test]
fn a_gauges_status_speaks_chinese_and_keeps_the_sparklines_in_line() {
    let mut s = busy_state("demo");
    s.lang = warroom::runbook::Lang::Zh;
    answer(&mut s, "cpu", Reading::Error("connection refused".into()));
    // at 80x24 one pane fills the screen: the gauges'
    s.ui.focus = Pane::Gauges;
    for (w, h) in [(200, 60), (80, 24)] {
        let b = render(&s, "war-room", w, h);
        let screen = text(&b);
        let mut starts = Vec::new();
        // (padded, so neither a title like 错误率 nor a split gauge's part matches)
        for word in ["1m31s前  ", "无数据   ", "错误     ", "CRITICAL "] {
            let (x, y) = find(&b, word).unwrap_or_else(|| panic!("{w}x{h}: no {word}:\n{screen}"));
            for english in ["NO DATA", "ERROR", " old"] {
                let line = screen.lines().nth(y as usize).unwrap();
                assert!(!line.contains(english), "{w}x{h}: {line}");
            }
            // the sparkline starts after the status column, wherever the word ends (a
            // gauge with no values yet has none)
            let bar = |x: u16| {
                let sym = b[(x, y)].symbol();
                !sym.is_empty() && "▁▂▃▄▅▆▇█".contains(sym)
            };
            if let Some(spark) = (x + 1..w).find(|&x| bar(x)) {
                starts.push((word, spark));
            }
        }
        assert!(
            starts.len() >= 2 && starts.iter().all(|&(_, x)| x == starts[0].1),
            "{w}x{h}: sparklines start in different columns: {starts:?}\n{screen}"
        );
    }
}

#[test]
fn a_rolled_back_release_is_red_in_the_header() {
    let mut s = busy_state("demo");
    s.apply(&Record {
        seq: 20,
        at: s.now,
        who: "lin".into(),
        entry: Entry::Rollback {
            target: None,
            reason: "manual".into(),
            plan: "Roll back".into(),
            trigger: Some("manual".into()),
        },
    });
    s.apply(&Record {
        seq: 21,
        at: s.now,
        who: "console".into(),
        entry: Entry::Outcome {
            of: 20,
            ok: true,
            message: "done".into(),
        },
    });
    let b = render(&s, "war-room", 120, 40);
    let (x, y) = find(&b, "ROLLED BACK").unwrap();
    assert_eq!((x, y).1, 0);
    let (hx, hy) = find(&b, "ERP backend (demo)").unwrap();
    assert_eq!(b[(hx, hy)].bg, Color::Red);
    let _ = x;
}

#[test]
fn confirmation_and_help_overlays() {
    let mut s = busy_state("demo");
    s.stages.current = None;
    s.stages.pending = None;
    update(
        &mut s,
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('a'),
        )),
    );
    insta::assert_snapshot!(
        "confirm_advance_120x40",
        text(&render(&s, "war-room", 120, 40))
    );
    let mut s = busy_state("demo");
    update(
        &mut s,
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('?'),
        )),
    );
    let t = text(&render(&s, "war-room", 120, 40));
    // the help lists every binding of the keymap, from the keymap itself
    for b in warroom::action::NORMAL {
        assert!(t.contains(b.help), "help is missing {:?}", b.help);
    }
}

#[test]
fn l_switches_the_comms_pane_to_the_console_log_and_back() {
    warroom::logger::init(log::LevelFilter::Info);
    log::warn!("watch failed, retrying with backoff: connection refused");
    let mut s = busy_state("demo");
    let key = |c| {
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char(c),
        ))
    };
    update(&mut s, key('L'));
    warroom::logger::collect();
    let t = text(&render(&s, "war-room", 200, 60));
    assert!(t.contains("Console log (L: back to the comms log)"), "{t}");
    assert!(t.contains("watch failed, retrying with backoff"), "{t}");
    update(&mut s, key('L'));
    let t = text(&render(&s, "war-room", 200, 60));
    assert!(
        t.contains("Comms log") && !t.contains("watch failed"),
        "{t}"
    );
}

#[test]
fn help_fits_at_80x24() {
    let mut s = busy_state("demo");
    update(
        &mut s,
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('?'),
        )),
    );
    let t = text(&render(&s, "war-room", 80, 24));
    assert!(t.contains("Any key closes this help"), "{t}");
    for b in warroom::action::NORMAL {
        assert!(
            t.contains(b.help),
            "help at 80x24 is missing {:?}:\n{t}",
            b.help
        );
    }
}

#[test]
fn a_split_gauge_shows_a_missing_part_as_no_data() {
    use warroom::state::metrics::Part;
    let mut s = busy_state("demo");
    let at = s.now;
    // Before the canary takes traffic Prometheus has only the stable series.
    let stable = Part {
        key: "stable".into(),
        value: 0.05,
        at,
    };
    answer(&mut s, "canary-error-rate", Reading::Split(vec![stable]));
    let screen = text(&render(&s, "war-room", 200, 60));
    let row = screen
        .lines()
        .find(|l| l.contains("Error rate by track"))
        .unwrap();
    assert!(
        row.contains("stable 0.05 % │ canary no data"),
        "the canary's part is missing, not fine: {row}"
    );
    // Too narrow for both parts: the one shown is the missing one, and the row says
    // there is one more, never the fine stable part alone.
    let screen = text(&render(&s, "war-room", 160, 48));
    let row = screen.lines().find(|l| l.contains("5xx by track")).unwrap();
    assert!(
        row.contains("canary no data +1") && !row.contains("stable"),
        "{row}"
    );
}

/// A dialog over the Chinese checklist: no wide character straddles its left border (the
/// terminal would draw it over the `║`), and at 80x24 what blocks and the keys still show
/// when the dialog is taller than the screen.
#[test]
fn dialogs_over_chinese_text_keep_their_border_and_their_keys() {
    let mut s = busy_state("assets/runbooks/erp-v1.0.0.zh.yaml");
    s.stages.current = None;
    s.stages.pending = None;
    s.checklist.collapsed.iter_mut().for_each(|c| *c = false);
    update(
        &mut s,
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('a'),
        )),
    );
    assert!(matches!(s.ui.mode, warroom::state::Mode::Confirm(_)));
    for (w, h, layout_name) in [
        (160, 48, "war-room"),
        (120, 40, "war-room"),
        (80, 24, "compact"),
    ] {
        let b = render(&s, layout_name, w, h);
        let (x0, y0) = find(&b, "╔").expect("the dialog's corner");
        let (_, y1) = find(&b, "╚").expect("the dialog's bottom");
        for y in y0..=y1 {
            assert!(
                matches!(b[(x0, y)].symbol(), "║" | "╔" | "╚"),
                "{w}x{h}: border at row {y} is {:?}",
                b[(x0, y)].symbol()
            );
            if x0 > 0 {
                let left = b[(x0 - 1, y)].symbol();
                assert!(
                    unicode_width::UnicodeWidthStr::width(left) <= 1,
                    "{w}x{h}: a wide {left:?} straddles the border at row {y}"
                );
            }
        }
        let t = text(&b);
        // In the runbook's language.
        assert!(t.contains("受阻"), "{w}x{h}: what blocks shows:\n{t}");
        assert!(t.contains("n/Esc"), "{w}x{h}: the keys show:\n{t}");
    }
    insta::assert_snapshot!("zh_confirm_80x24", text(&render(&s, "compact", 80, 24)));
}

/// At 80 columns the key bar drops the least important keys first: ROLLBACK, quit and
/// help always show.
#[test]
fn a_narrow_key_bar_keeps_rollback_quit_and_help() {
    let s = busy_state("demo");
    for w in [80u16, 64] {
        let b = render(&s, "compact", w, 24);
        let bar = text(&b).lines().last().unwrap().to_string();
        for must in ["R ROLLBACK", "q quit", "? help"] {
            assert!(bar.contains(must), "{w}: {must:?} missing from {bar:?}");
        }
    }
}

fn render_plain(s: &State, layout_name: &str, w: u16, h: u16, plain: ui::plain::Plain) -> Buffer {
    let mut view = View::new(layout::builtin(layout_name));
    view.plain = plain;
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw_into(s, &view, f.buffer_mut())).unwrap();
    t.backend().buffer().clone()
}

/// NO_COLOR: not one coloured cell, and what colour said is still there: the selected
/// row and the CRITICAL badge in reversed video, warnings and failures bold, the focused
/// pane's heavy border, the level words.
#[test]
fn without_colour_selection_focus_and_levels_stay_visible() {
    let mut s = busy_state("demo");
    s.ui.focus = warroom::layout::Pane::Checklist;
    let no_color = ui::plain::Plain {
        no_color: true,
        ascii: false,
    };
    let b = render_plain(&s, "war-room", 160, 48, no_color);
    for cell in b.content.iter() {
        assert_eq!(cell.fg, Color::Reset, "{:?}", cell);
        assert_eq!(cell.bg, Color::Reset, "{:?}", cell);
    }
    let coloured = render(&s, "war-room", 160, 48);
    assert_eq!(text(&b), text(&coloured), "the same words and glyphs");
    let (x, y) = find(&b, "CRITICAL").expect("a critical gauge");
    assert!(b[(x, y)].modifier.contains(Modifier::REVERSED));
    // The selected checklist row is in reversed video.
    let c = s.checklist.cursor as u16;
    let (_, top) = find(&b, "┏ Checklist").unwrap();
    assert!(
        b[(3, top + 1 + c)].modifier.contains(Modifier::REVERSED),
        "{}",
        text(&b)
    );
    // The focused pane's border is heavy, the others light.
    assert!(text(&b).contains("┏ Checklist"), "{}", text(&b));
    assert!(text(&b).contains("┌ Gauges"));
    insta::assert_snapshot!(
        "no_color_80x24",
        text(&render_plain(&s, "war-room", 80, 24, no_color))
    );
}

/// --ascii: no box, block or mark glyph is left, every row keeps its width, and the
/// Chinese runbook's text is untouched.
#[test]
fn ascii_replaces_every_box_and_block_glyph_cell_for_cell() {
    let ascii = ui::plain::Plain {
        no_color: false,
        ascii: true,
    };
    for runbook in ["demo", "assets/runbooks/erp-v1.0.0.zh.yaml"] {
        let s = busy_state(runbook);
        for (w, h) in [(160u16, 48u16), (80, 24)] {
            let b = render_plain(&s, "war-room", w, h, ascii);
            let t = text(&b);
            for ch in t.chars() {
                assert!(
                    !('\u{2500}'..='\u{259f}').contains(&ch) && !"✔✘☐◌✍☎▸▾…·".contains(ch),
                    "{runbook} {w}x{h}: {ch:?} left in\n{t}"
                );
            }
            let fancy = text(&render(&s, "war-room", w, h));
            for (line, was) in t.lines().zip(fancy.lines()) {
                assert_eq!(
                    unicode_width::UnicodeWidthStr::width(line),
                    unicode_width::UnicodeWidthStr::width(was),
                    "one cell for one cell:\n{line}\n{was}"
                );
            }
            if runbook != "demo" {
                assert!(t.contains("基础设施准备"), "{t}");
            }
        }
    }
    let s = busy_state("assets/runbooks/erp-v1.0.0.zh.yaml");
    insta::assert_snapshot!(
        "ascii_zh_80x24",
        text(&render_plain(&s, "war-room", 80, 24, ascii))
    );
}

/// A pod that waits says why, in the kubelet's words, under its row (the same words are
/// not repeated for the next pod).
#[test]
fn a_waiting_pod_says_why_under_its_row() {
    let s = busy_state("demo");
    let t = text(&render(&s, "war-room", 160, 48));
    let lines: Vec<&str> = t.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.contains("0/1 CrashLoopBackOff"))
        .expect("the crash-looping pod's row");
    assert!(
        lines[row + 1].contains("↳ back-off 40s restarting failed container=erp-backe"),
        "{}",
        lines[row + 1]
    );
    assert_eq!(t.matches("↳ back-off 40s").count(), 1, "{t}");

    // The cluster's latest Warning about a pod shows too, when it adds to that.
    let mut s = s;
    let pod = s
        .cluster
        .snap
        .pods
        .iter()
        .find(|p| p.status == "CrashLoopBackOff")
        .unwrap()
        .name
        .clone();
    s.cluster.pod_events.insert(
        pod,
        warroom::state::cluster::PodEvent {
            kind: "Warning".into(),
            reason: "BackOff".into(),
            message: "Back-off restarting failed container erp-backend".into(),
            at: Some(t0()),
        },
    );
    let t = text(&render(&s, "war-room", 200, 60));
    let lines: Vec<&str> = t.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.contains("0/1 CrashLoopBackOff"))
        .unwrap();
    assert!(
        lines[row + 2].contains("↳ BackOff: Back-off restarting failed container erp-backend"),
        "{}",
        lines[row + 2]
    );
}

#[test]
fn among_a_thousand_pods_the_selected_one_is_in_view() {
    let mut s = busy_state("demo");
    // A thousand stable pods beside the crash-looping canary pod.
    let template = s.cluster.snap.pods[0].clone();
    s.cluster
        .snap
        .pods
        .retain(|p| p.status == "CrashLoopBackOff");
    for i in 0..1000 {
        s.cluster.snap.pods.push(PodView {
            name: format!("erp-backend-7c9d5f-p{i:04}"),
            ..template.clone()
        });
    }
    s.ui.focus = warroom::layout::Pane::Rollout;
    s.ui.mode = warroom::state::Mode::Normal;
    // The canary's pod is row 0, the stable ones follow in order: row 601 is p0600.
    s.ui.pod_cursor = 601;
    let b = render(&s, "war-room", 160, 48);
    let t = text(&b);
    let (x, y) = find(&b, "p0600").expect("the selected pod is in view");
    // It is the highlighted row (reversed), the row above it is not.
    let reversed = |y: u16| {
        b[(x, y)]
            .style()
            .add_modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(y) && !reversed(y - 1), "{t}");
    let lines: Vec<&str> = t.lines().collect();
    // The rows above it are the pods before it, in order; none after it is drawn.
    assert!(lines[y as usize - 1].contains("p0599"), "{t}");
    assert!(lines[y as usize - 2].contains("p0598"), "{t}");
    assert!(!t.contains("p0601"), "{t}");

    // Back at the top, the first pod row is the canary's, highlighted.
    s.ui.pod_cursor = 0;
    let b = render(&s, "war-room", 160, 48);
    let t = text(&b);
    let (x, y) = find(&b, "5b8c4-q7wzt").expect("the canary's pod");
    assert!(
        b[(x, y)]
            .style()
            .add_modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "{t}"
    );
    assert!(!t.contains("p0600"), "{t}");
}

/// The console's chrome in the team's language: the runbook's by default, `--lang` over
/// it. Every key's help still fits at 80x24 in Chinese, inside the dialog's border.
#[test]
fn the_chrome_speaks_the_runbooks_language_or_the_one_asked_for() {
    let mut s = busy_state("demo");
    assert_eq!(s.lang, warroom::runbook::Lang::En);
    let t = text(&render(&s, "war-room", 160, 48));
    assert!(t.contains("Checklist") && t.contains("R ROLLBACK"), "{t}");

    // `--lang zh` on an English runbook.
    s.lang = warroom::runbook::Lang::Zh;
    let t = text(&render(&s, "war-room", 160, 48));
    for w in [
        "检查清单",
        "监控指标",
        "发布状态",
        "沟通记录",
        "R 回滚",
        "q 退出",
        "已用时",
    ] {
        assert!(t.contains(w), "{w} missing:\n{t}");
    }
    assert!(!t.contains("Checklist") && !t.contains("ROLLBACK"), "{t}");
    update(
        &mut s,
        Event::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('?'),
        )),
    );
    let b = render(&s, "war-room", 80, 24);
    let t = text(&b);
    assert!(t.contains("按任意键关闭"), "{t}");
    for k in warroom::action::NORMAL {
        let zh = warroom::i18n::tr(warroom::runbook::Lang::Zh, k.help);
        assert!(t.contains(zh), "help at 80x24 is missing {zh:?}:\n{t}");
    }
    // The dialog's right border is whole on every row it spans.
    let (x0, y0) = find(&b, "╭")
        .or_else(|| find(&b, "┌"))
        .or_else(|| find(&b, "╔"))
        .expect("the dialog's corner");
    let right = (x0..b.area.width)
        .rev()
        .find(|&x| ["╮", "┐", "╗"].contains(&b[(x, y0)].symbol()))
        .expect("its right corner");
    let bottom = (y0..b.area.height)
        .find(|&y| ["╯", "┘", "╝"].contains(&b[(right, y)].symbol()))
        .expect("its bottom corner");
    for y in y0 + 1..bottom {
        assert!(
            ["│", "║", "┃"].contains(&b[(right, y)].symbol()),
            "row {y}:\n{t}"
        );
    }

    // And the Chinese runbook in English when asked.
    let mut s = busy_state("assets/runbooks/erp-v1.0.0.zh.yaml");
    assert_eq!(s.lang, warroom::runbook::Lang::Zh);
    s.lang = warroom::runbook::Lang::En;
    let t = text(&render(&s, "war-room", 160, 48));
    assert!(t.contains("Checklist") && t.contains("R ROLLBACK"), "{t}");
}
