//! The built binary in a real terminal (tmux): it starts, answers keys, quits, and leaves
//! the terminal as it found it, on the normal way out and on the error paths.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A private tmux server running a shell at `w`x`h`; None (with a reason printed) when
    /// tmux is not installed.
    fn start(name: &str, w: u16, h: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: tmux is not installed (.ci/run installs it)");
            return None;
        }
        let t = Tmux {
            socket: format!("warroom-test-{name}-{}", std::process::id()),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME=/tmp USER=lin sh",
            ])
            .status
            .success();
        assert!(ok, "tmux starts");
        Some(t)
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    fn send(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "t"];
        a.extend_from_slice(keys);
        assert!(self.cmd(&a).status.success());
    }

    fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Wait until the screen shows `text`; the limit only stops a broken run from hanging.
    fn wait_for(&self, text: &str) -> String {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < end,
                "gave up waiting for {text:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the screen no longer shows `text`.
    fn wait_gone(&self, text: &str) {
        let end = Instant::now() + Duration::from_secs(60);
        while self.screen().contains(text) {
            assert!(Instant::now() < end, "gave up waiting for {text:?} to go");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The terminal modes a shell expects back: canonical input and echo.
    fn assert_sane(&self) {
        self.line("clear; stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo MODES-END");
        let s = self.wait_for("MODES-END\n");
        let modes = s
            .lines()
            .find(|l| l.contains("icanon"))
            .unwrap_or_default()
            .to_string();
        assert!(
            modes.contains("icanon") && !modes.contains("-icanon"),
            "raw mode left on: {modes:?}\n{s}"
        );
        assert!(!modes.contains("-echo"), "echo left off: {modes:?}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn demo_starts_answers_keys_and_restores_the_terminal_on_quit() {
    let Some(t) = Tmux::start("demo", 80, 24) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.jsonl");
    let kc = dir.path().join("kc");
    t.line("echo BEFORE-THE-CONSOLE");
    t.line(&format!(
        "{BIN} demo --journal {} --kubeconfig-out {}; echo EXIT=$?",
        j.display(),
        kc.display()
    ));
    // 80x24 is below war-room's minimum: compact takes over, everything reachable by Tab
    let s = t.wait_for("Checklist");
    assert!(
        s.contains("Gauges") && s.contains("Rollout") && s.contains("Comms log"),
        "{s}"
    );
    assert!(
        !s.contains("BEFORE-THE-CONSOLE"),
        "the console draws on its own screen"
    );
    t.send(&["?"]);
    t.wait_for("Any key closes this help");
    // (keys are sent one at a time, waiting for each to show: an Escape followed at once
    // by another key reads as Alt+key, in any terminal)
    t.send(&["Escape"]);
    t.wait_gone("Any key closes this help");
    t.send(&["Tab"]);
    t.wait_for("Error rate");
    // a note goes into the log and the journal
    t.send(&["Tab"]);
    t.wait_for("rs rev");
    t.send(&["Tab"]);
    t.wait_gone("rs rev");
    t.send(&["n"]);
    t.wait_for("Note for the comms log");
    t.send(&["-l", "备份完成 backup done"]);
    t.send(&["Enter"]);
    t.wait_for("backup done");
    t.send(&["q"]);
    let s = t.wait_for("EXIT=0");
    assert!(
        s.contains("BEFORE-THE-CONSOLE"),
        "the shell's screen is back:\n{s}"
    );
    assert!(s.contains(&format!("journal: {}", j.display())), "{s}");
    t.assert_sane();
    let journal = std::fs::read_to_string(&j).unwrap();
    assert!(
        journal.contains("\"kind\":\"note\"") && journal.contains("备份完成 backup done"),
        "{journal}"
    );
    assert!(Path::new(&kc).exists());

    // The same session again, with the simulated cluster long gone: the journal suffices.
    t.line("clear; echo BEFORE-THE-REPLAY");
    t.line(&format!(
        "{BIN} replay {} --speed 100; echo EXIT=$?",
        j.display()
    ));
    t.wait_for("REPLAY");
    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.wait_for("backup done");
    t.wait_for("· END");
    t.send(&["q"]);
    let s = t.wait_for("EXIT=0");
    assert!(s.contains("BEFORE-THE-REPLAY"), "{s}");
    t.assert_sane();
    assert_eq!(
        std::fs::read_to_string(&j).unwrap(),
        journal,
        "a replay writes nothing"
    );
}

#[test]
fn a_bad_runbook_is_refused_before_the_screen_changes() {
    let Some(t) = Tmux::start("bad", 100, 30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.yaml");
    let src =
        warroom::builtin::DEMO_RUNBOOK.replace("planned_duration: 30m", "planned_duration: soon");
    std::fs::write(&rb, src).unwrap();
    t.line(&format!("{BIN} run {}; echo EXIT=$?", rb.display()));
    let s = t.wait_for("EXIT=2");
    assert!(s.contains("rb.yaml:11:21: `soon` is not a duration"), "{s}");
    t.assert_sane();
}

#[test]
fn an_unreachable_cluster_is_shown_as_such_and_quitting_restores() {
    let Some(t) = Tmux::start("down", 200, 50) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    )
    .unwrap();
    t.line(&format!(
        "{BIN} run assets/runbooks/demo.yaml --kubeconfig {} --prometheus http://127.0.0.1:1 --journal {}; echo EXIT=$?",
        kc.display(),
        dir.path().join("j").display()
    ));
    let s = t.wait_for("DISCONNECTED since");
    assert!(s.contains("Kubernetes API unreachable"), "{s}");
    t.wait_for("ERROR");
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    t.assert_sane();
}

/// The steady simulated cluster, and a kubeconfig for it in a temp folder of its own.
async fn steady_sim() -> (
    warroom::sim::SimHandle,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc =
        warroom::runbook::parse_scenario(include_str!("../assets/scenarios/steady.yaml")).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kc");
    sim.write_kubeconfig(&kc).unwrap();
    (sim, dir, kc)
}

/// The processes whose parent is `ppid`, read from /proc.
fn children(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …: the command may hold spaces, so read after the ')'
        let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or_default();
        if after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

/// SIGTERM, SIGHUP, SIGINT and SIGQUIT each end the console the way `q` does: the
/// terminal restored, the Lease handed back, a close record in the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ending_signal_restores_the_terminal_hands_back_the_lease_and_journals_why() {
    use k8s_openapi::api::coordination::v1::Lease;
    let (sim, dir, kc) = steady_sim().await;
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let leases: kube::Api<Lease> = kube::Api::namespaced(client, "erp-production");
    let name = warroom::kube::lease::lease_name("ERP backend (demo)", "v1.0.0");
    for sig in ["TERM", "HUP", "INT", "QUIT"] {
        let Some(t) = Tmux::start(&format!("sig{sig}"), 120, 40) else {
            return;
        };
        let j = dir.path().join(format!("{sig}.jsonl"));
        t.line("echo BEFORE-THE-CONSOLE");
        t.line(&format!(
            "{BIN} run assets/runbooks/demo.yaml --kubeconfig {} --prometheus {} --journal {}; echo \"EX\"\"IT=$?\"",
            kc.display(),
            sim.prom_url,
            j.display()
        ));
        t.wait_for("Checklist");
        // Driving: the Lease names this console.
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let holder = leases
                .get_opt(&name)
                .await
                .unwrap()
                .and_then(|l| l.spec?.holder_identity)
                .unwrap_or_default();
            if !holder.is_empty() {
                break;
            }
            assert!(
                Instant::now() < end,
                "SIG{sig}: the console never took the Lease"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shell: u32 = String::from_utf8_lossy(
            &t.cmd(&["list-panes", "-t", "t", "-F", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .parse()
        .unwrap();
        // The console, once the shell has started it (on a loaded machine that may lag
        // behind its first frame being read back).
        let end = Instant::now() + Duration::from_secs(60);
        let console = loop {
            let c = children(shell);
            if c.len() == 1 {
                break c;
            }
            assert!(
                Instant::now() < end,
                "SIG{sig}: one console under the shell, found {c:?}; the pane:\n{}",
                t.screen()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(console[0].to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let s = t.wait_for("EXIT=");
        assert!(
            s.contains("BEFORE-THE-CONSOLE"),
            "SIG{sig}: the shell's screen is back:\n{s}"
        );
        assert!(s.contains("EXIT=0"), "SIG{sig}: a clean exit:\n{s}");
        t.assert_sane();
        let holder = leases
            .get(&name)
            .await
            .unwrap()
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        assert_eq!(holder, "", "SIG{sig}: the Lease is handed back");
        let journal = std::fs::read_to_string(&j).unwrap();
        let last = journal.lines().last().unwrap();
        assert!(
            last.contains(&format!("the console ended on SIG{sig}")),
            "SIG{sig}: {last}"
        );
    }
    // The SSH session drops: the terminal itself goes away (tmux kill-session hangs up).
    let Some(t) = Tmux::start("sighup-session", 120, 40) else {
        return;
    };
    let j = dir.path().join("dropped.jsonl");
    t.line(&format!(
        "{BIN} run assets/runbooks/demo.yaml --kubeconfig {} --prometheus {} --journal {}",
        kc.display(),
        sim.prom_url,
        j.display()
    ));
    t.wait_for("Checklist");
    let held = || async {
        leases
            .get_opt(&name)
            .await
            .unwrap()
            .and_then(|l| l.spec?.holder_identity)
            .unwrap_or_default()
    };
    let end = Instant::now() + Duration::from_secs(60);
    while held().await.is_empty() {
        assert!(Instant::now() < end, "the console never took the Lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.cmd(&["kill-session", "-t", "t"]);
    // Handed back, not left to run out: the holder is cleared well before the 30 s term.
    let end = Instant::now() + Duration::from_secs(20);
    while !held().await.is_empty() {
        assert!(
            Instant::now() < end,
            "the Lease was not handed back on hang-up; journal:\n{:?}",
            std::fs::read_to_string(&j),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let journal = std::fs::read_to_string(&j).unwrap();
    assert!(
        journal
            .lines()
            .last()
            .unwrap()
            .contains("the console ended on SIGHUP"),
        "{journal}"
    );
    sim.shutdown().await;
}

/// The demo's own kubeconfig is its to remove: nothing is left in the temp folder.
#[test]
fn the_demo_leaves_no_kubeconfig_behind() {
    let Some(t) = Tmux::start("demo-clean", 120, 40) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    t.line(&format!(
        "TMPDIR={} {BIN} demo --journal {}; echo \"EX\"\"IT=$?\"",
        tmp.display(),
        dir.path().join("j.jsonl").display()
    ));
    t.wait_for("Checklist");
    let during: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        during
            .iter()
            .any(|n| n.to_string_lossy().ends_with(".kubeconfig")),
        "the demo writes its kubeconfig there: {during:?}"
    );
    t.send(&["q"]);
    t.wait_for("EXIT=0");
    let after: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(after.is_empty(), "left behind: {after:?}");
}

/// Esc and `y` arriving in one read are Alt+y to the terminal: a key with a modifier never
/// confirms, so the dialog stays open and nothing is done.
#[test]
fn escape_then_y_in_one_write_never_confirms() {
    let Some(t) = Tmux::start("esc-y", 120, 40) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.jsonl");
    t.line(&format!(
        "{BIN} demo --journal {}; echo \"EX\"\"IT=$?\"",
        j.display()
    ));
    t.wait_for("Checklist");
    t.wait_for("console drives the");
    for pair in ["1b79", "1b0d"] {
        t.send(&["p"]);
        t.wait_for("Pause the rollout");
        // Both bytes in one write.
        let bytes: Vec<String> = pair
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let mut args = vec!["-H"];
        args.extend(bytes.iter().map(String::as_str));
        t.send(&args);
        // Events are handled in order: once `n` has cancelled, the pair before it has been
        // handled too.
        t.send(&["n"]);
        t.wait_for("cancelled: nothing was done");
        let journal = std::fs::read_to_string(&j).unwrap();
        assert!(
            !journal.contains("\"kind\":\"pause\""),
            "{pair}: the pause was confirmed:\n{journal}"
        );
        t.send(&["j"]);
        t.wait_gone("cancelled: nothing was done");
    }
    t.send(&["q"]);
    t.wait_for("EXIT=0");
}

/// A console that fails to start claims nothing: the Lease is never taken, and the
/// terminal is the shell's again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_fails_to_start_claims_no_lease() {
    use k8s_openapi::api::coordination::v1::Lease;
    let (sim, dir, kc) = steady_sim().await;
    let Some(t) = Tmux::start("failed-start", 120, 40) else {
        return;
    };
    t.line("echo BEFORE-THE-CONSOLE");
    // The Prometheus token file does not exist: the start fails after the cluster is found.
    t.line(&format!(
        "{BIN} run assets/runbooks/demo.yaml --kubeconfig {} --prometheus {} --prometheus-token-file {} --journal {}; echo \"EX\"\"IT=$?\"",
        kc.display(),
        sim.prom_url,
        dir.path().join("no-such-token").display(),
        dir.path().join("j.jsonl").display()
    ));
    let s = t.wait_for("EXIT=");
    assert!(s.contains("EXIT=1"), "{s}");
    assert!(s.contains("no-such-token"), "the reason is said: {s}");
    assert!(s.contains("BEFORE-THE-CONSOLE"), "{s}");
    t.assert_sane();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let leases: kube::Api<Lease> = kube::Api::namespaced(client, "erp-production");
    let all = leases.list(&Default::default()).await.unwrap();
    assert!(
        all.items.iter().all(|l| l
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            .unwrap_or_default()
            .is_empty()),
        "a Lease was claimed by a console that never started: {:?}",
        all.items.iter().map(|l| &l.spec).collect::<Vec<_>>()
    );
    assert!(
        !sim.requests()
            .iter()
            .any(|(m, p)| m != "GET" && p.contains("/leases")),
        "no write to a Lease: {:?}",
        sim.requests()
    );
    sim.shutdown().await;
}
