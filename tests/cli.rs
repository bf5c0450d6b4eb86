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
