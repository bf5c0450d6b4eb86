//! `warroom check`: exit 0 and a one-line summary when valid, exit 2 and the errors when not.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

#[test]
fn check_accepts_the_shipped_runbooks_and_layouts() {
    let out = Command::new(BIN)
        .args([
            "check",
            "assets/runbooks/erp-v1.0.0.zh.yaml",
            "layouts/compact.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.starts_with(
            "assets/runbooks/erp-v1.0.0.zh.yaml: ok: ERP系统生产部署 v1.0.0: 14 phases, 175 items"
        ),
        "{stdout}"
    );
}

#[test]
fn check_refuses_a_bad_runbook_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    let src = warroom::builtin::DEMO_RUNBOOK.replace("id: so-ops-lead", "id: so-tech-lead");
    std::fs::write(&f, src).unwrap();
    let out = Command::new(BIN).arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = warroom::builtin::DEMO_RUNBOOK
        .lines()
        .position(|l| l.contains("id: so-ops-lead"))
        .unwrap()
        + 1;
    assert!(stderr.contains(&format!("bad.yaml:{line}:")), "{stderr}");
    assert!(
        stderr.contains("duplicate item id `so-tech-lead`: give each item its own id"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_file_is_named_without_a_made_up_position() {
    let out = Command::new(BIN)
        .args(["check", "no/such/runbook.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("no/such/runbook.yaml: no such file: check the path"),
        "{stderr}"
    );
    assert!(!stderr.contains("runbook.yaml:1:1"), "{stderr}");
}

/// Text from a runbook never reaches the terminal raw through `check`: an OSC title
/// sequence and a right-to-left override in the release name, and escape sequences in a
/// bad value, are printed as visible `\u{…}` escapes on stdout and stderr.
#[test]
fn check_prints_no_raw_escape_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string("assets/runbooks/demo.yaml").unwrap();
    let name_line = good
        .lines()
        .find(|l| l.trim_start().starts_with("name: ERP backend"))
        .unwrap();
    let hostile = good.replace(name_line, "  name: \"ERP\\e]0;pwned\\a\\u202Eevil\\x9b2J\"");
    assert_ne!(hostile, good);
    let ok = dir.path().join("hostile.yaml");
    std::fs::write(&ok, &hostile).unwrap();
    let bad = dir.path().join("bad\u{202e}lmy.yaml");
    std::fs::write(
        &bad,
        hostile.replace("metrics:\n", "metrics:\n  - \"\\e[2J\\u2066\"\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .arg(&ok)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.contains(r"ERP\u{1b}]0;pwned\u{7}\u{202e}evil\u{9b}2J"),
        "{stdout}"
    );
    assert!(stderr.contains(r"bad\u{202e}lmy.yaml"), "{stderr}");
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{2066}', '\u{9b}'] {
            assert!(!text.contains(c), "{what} carries {c:?}: {text:?}");
        }
    }
}

#[test]
fn watch_says_what_it_cannot_follow_and_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    // No journal yet: nobody has started.
    let none = dir.path().join("none.jsonl");
    let out = Command::new(BIN).arg("watch").arg(&none).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("none.jsonl: cannot read the journal"),
        "{stderr}"
    );
    // A journal whose session names a runbook this host does not have.
    let j = dir.path().join("j.jsonl");
    std::fs::write(
        &j,
        r#"{"seq":1,"at":"2026-11-25T20:00:00Z","who":"lin","kind":"session","runbook":"/srv/gone/erp.yaml","release":"ERP","version":"v1"}
"#,
    )
    .unwrap();
    let before = std::fs::read(&j).unwrap();
    let out = Command::new(BIN).arg("watch").arg(&j).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("/srv/gone/erp.yaml: no such file"),
        "{stderr}"
    );
    assert!(stderr.contains("pass --runbook FILE"), "{stderr}");
    // Following never writes the journal, even to say it could not.
    assert_eq!(std::fs::read(&j).unwrap(), before);
}

#[test]
fn a_language_the_console_does_not_speak_is_refused_before_anything_starts() {
    let out = Command::new(BIN)
        .args(["run", "assets/runbooks/demo.yaml", "--lang", "fr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("`fr` is not a language the console speaks: write en or zh"),
        "{stderr}"
    );
}
