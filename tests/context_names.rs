//! A kubeconfig is a file from outside: the context names it lists when `--context`
//! names a missing one reach the terminal cleaned, never as raw escape sequences.

#[test]
fn a_missing_context_lists_the_others_without_raw_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: \"prod\\e]0;pwned\\a\\u202e\", context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["run", "assets/runbooks/demo.yaml", "--kubeconfig"])
        .arg(&kc)
        .args(["--context", "staging", "--journal"])
        .arg(dir.path().join("j.jsonl"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no context named `staging`"), "{err}");
    assert!(err.contains("prod"), "{err}");
    for raw in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!err.contains(raw), "raw {raw:?} in: {err:?}");
    }
}
