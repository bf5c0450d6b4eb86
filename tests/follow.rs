//! A console following the driver on the same host (`warroom watch JOURNAL`): the real
//! wiring of both consoles against the simulator, the follower reading the driver's
//! journal as it is written.

use std::path::Path;
use std::time::Duration;

mod common;

use common::{confirm, key, log, rig, screen, tick_gates, until};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use warroom::app::{App, start_sources};
use warroom::event::Event;
use warroom::journal::Entry;
use warroom::layout;
use warroom::runbook::parse_runbook;
use warroom::state::Driver;

/// Lin's console driving the demo release on a fresh simulated cluster.
async fn lin_drives() -> common::Rig {
    let mut r = rig(
        warroom::builtin::DEFAULT_SCENARIO,
        "demo.yaml",
        warroom::builtin::DEMO_RUNBOOK,
        false,
    )
    .await;
    until(&mut r.app, &mut r.rx, "the Lease", |a| {
        matches!(a.state.driver, Driver::Driving { .. })
    })
    .await;
    r
}

/// What the room reads in a console's log: when, who, what.
fn lines(app: &App) -> Vec<(chrono::DateTime<chrono::Utc>, String, String)> {
    app.state
        .comms
        .iter()
        .map(|c| (c.at, c.who.clone(), c.text.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_on_the_same_host_shows_the_drivers_release_and_takes_over_when_it_is_gone() {
    let common::Rig {
        sim,
        client,
        app: mut driver,
        rx: mut drx,
        dir,
        tasks,
        lease,
    } = lin_drives().await;
    let journal = dir.path().join("journal.jsonl");

    // Wang follows lin's journal from another terminal on the same bastion.
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, mut frx) = mpsc::unbounded_channel();
    let (mut follower, tail) = App::follow(
        rb,
        &journal,
        "wang",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources = start_sources(&mut follower, client.clone(), &prometheus, true).unwrap();
    let mut follower_tasks = sources.tasks;
    follower_tasks.push(warroom::journal::follow::spawn(tail, follower.sender()));

    // Lin ticks what gates 10 %, writes a note and advances.
    tick_gates(&mut driver, "canary-10");
    key(&mut driver, 'n');
    for c in "DBA on the bridge".chars() {
        key(&mut driver, c);
    }
    driver.handle(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    // On a loaded machine the Lease's renewal may lag and the console then refuses to
    // act, as it should: advance once it holds the Lease again, as a lead would.
    common::until_free_to_advance(&mut driver, &mut drx).await;
    key(&mut driver, 'a');
    confirm(&mut driver);
    until(&mut driver, &mut drx, "the advance's answer", |a| {
        a.state.stages.current == Some(0) && a.state.stages.pending.is_none()
    })
    .await;

    // Wang's screen shows the same release: stage, ticks, the note, the log.
    let want = lines(&driver);
    until(&mut follower, &mut frx, "the driver's release", |f| {
        lines(f) == want
    })
    .await;
    assert_eq!(follower.state.stage_name(), driver.state.stage_name());
    assert_eq!(follower.state.checklist.marks, driver.state.checklist.marks);
    let shown = screen(&follower);
    assert!(shown.contains("STAGE Canary 10%"), "{shown}");
    assert!(shown.contains("FOLLOWING  lin · live"), "{shown}");
    assert!(log(&follower).contains("DBA on the bridge"));

    // Wang's keys decide nothing, and nothing of his reaches the journal.
    key(&mut follower, ' ');
    key(&mut follower, 'R');
    assert!(
        follower
            .state
            .ui
            .flash
            .as_deref()
            .is_some_and(|f| f.contains("follows lin's journal")),
        "{:?}",
        follower.state.ui.flash
    );
    let written = warroom::journal::replay(&journal).unwrap().records;
    assert_eq!(written.len() as u64, driver.state.seq);
    assert!(
        written.iter().all(|r| r.who != "wang"),
        "the follower wrote: {written:?}"
    );

    // Lin quits and hands the Lease back; his console still runs (it has not exited).
    key(&mut driver, 'q');
    confirm(&mut driver);
    assert!(driver.state.ui.quit);
    lease.release(Duration::from_secs(5)).await;
    until(&mut follower, &mut frx, "nobody drives", |f| {
        matches!(f.state.driver, Driver::Free { .. })
            && f.state.follow.as_ref().is_some_and(|w| w.closed.is_some())
    })
    .await;
    assert!(screen(&follower).contains("lin · closed at"));

    // Taking over while lin's process still holds the journal is refused, in words.
    key(&mut follower, 'T');
    key(&mut follower, 'y');
    until(&mut follower, &mut frx, "the take-over's answer", |f| {
        f.state.ui.flash.is_some()
    })
    .await;
    let flash = follower.state.ui.flash.clone().unwrap();
    assert!(flash.contains("still has it open on this host"), "{flash}");
    assert!(follower.state.follow.is_some());

    // Once lin's process is gone, wang takes over and drives on the same journal.
    drop(driver);
    for t in tasks {
        t.abort();
    }
    key(&mut follower, 'T');
    key(&mut follower, 'y');
    until(&mut follower, &mut frx, "wang drives", |f| {
        matches!(f.state.driver, Driver::Driving { .. })
    })
    .await;
    assert!(follower.state.follow.is_none());
    common::tick_gates(&mut follower, "full");
    let records = warroom::journal::replay(&journal).unwrap().records;
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "one story, in order: {seqs:?}"
    );
    assert!(records.iter().any(|r| r.who == "wang"
        && matches!(&r.entry, Entry::System { text, .. } if text.contains("takes over driving"))));
    assert!(
        records
            .iter()
            .any(|r| r.who == "wang" && matches!(r.entry, Entry::Mark { .. })),
        "wang's ticks are in the journal"
    );
    for t in follower_tasks {
        t.abort();
    }
    sim.shutdown().await;
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Option<String> {
    if !Path::new("/usr/bin/kubectl").is_file() {
        eprintln!("kubectl is not installed: the mirror is checked through the API only");
        return None;
    }
    let out = std::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", "erp-production"])
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    Some(String::from_utf8(out.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_console_on_another_host_shows_the_drivers_release_from_the_cluster() {
    let common::Rig {
        sim,
        client,
        app: mut driver,
        rx: mut drx,
        dir,
        tasks,
        lease,
    } = lin_drives().await;
    // Wang, on another bastion: no access to lin's journal, only to the cluster.
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, mut frx) = mpsc::unbounded_channel();
    let wang_journal = dir.path().join("elsewhere").join("wang.jsonl");
    let mut follower = App::follow_cluster(
        rb,
        &wang_journal,
        "wang",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    );
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources = start_sources(&mut follower, client.clone(), &prometheus, true).unwrap();
    let follower_tasks = sources.tasks;

    tick_gates(&mut driver, "canary-10");
    key(&mut driver, 'n');
    for c in "DBA on the bridge".chars() {
        key(&mut driver, c);
    }
    driver.handle(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    common::until_free_to_advance(&mut driver, &mut drx).await;
    key(&mut driver, 'a');
    confirm(&mut driver);
    until(&mut driver, &mut drx, "the advance's answer", |a| {
        a.state.stages.current == Some(0) && a.state.stages.pending.is_none()
    })
    .await;
    let want = lines(&driver);
    until(
        &mut follower,
        &mut frx,
        "the driver's release from the mirror",
        |f| lines(f) == want,
    )
    .await;
    assert_eq!(follower.state.stage_name(), driver.state.stage_name());
    assert_eq!(follower.state.checklist.marks, driver.state.checklist.marks);
    let shown = screen(&follower);
    assert!(shown.contains("FOLLOWING  lin · live"), "{shown}");
    assert!(shown.contains("STAGE Canary 10%"), "{shown}");
    // Nothing of wang's is written anywhere.
    assert!(!wang_journal.exists());

    // Real kubectl reads the mirror: one ConfigMap, a record per key.
    let lease_name = warroom::kube::lease::lease_name("ERP backend (demo)", "v1.0.0");
    let kc = dir.path().join("kubeconfig");
    if let Some(list) = kubectl(
        &kc,
        &[
            "get",
            "configmaps",
            "-l",
            &format!("warroom.io/journal={lease_name}"),
        ],
    ) {
        let name = warroom::kube::mirror::chunk_name(&lease_name, 0);
        assert!(list.contains(&name), "{list}");
        let first = kubectl(
            &kc,
            &[
                "get",
                "configmap",
                &name,
                "-o",
                "jsonpath={.data.0000000001}",
            ],
        )
        .unwrap();
        let rec: warroom::journal::Record = serde_json::from_str(&first).unwrap();
        assert!(matches!(rec.entry, Entry::Session { .. }), "{first}");
    }

    // Lin's console goes away; wang takes over, carrying the story on in his own journal.
    key(&mut driver, 'q');
    confirm(&mut driver);
    lease.release(Duration::from_secs(5)).await;
    drop(driver);
    for t in tasks {
        t.abort();
    }
    until(&mut follower, &mut frx, "nobody drives", |f| {
        matches!(f.state.driver, Driver::Free { .. })
    })
    .await;
    key(&mut follower, 'T');
    key(&mut follower, 'y');
    until(&mut follower, &mut frx, "wang drives", |f| {
        matches!(f.state.driver, Driver::Driving { .. })
    })
    .await;
    let held = warroom::journal::replay(&wang_journal).unwrap().records;
    let lin_said: Vec<_> = held.iter().filter(|r| r.who == "lin").collect();
    assert!(
        lin_said
            .iter()
            .any(|r| matches!(&r.entry, Entry::Note { text } if text == "DBA on the bridge")),
        "wang's journal carries lin's story: {held:?}"
    );
    // And what wang does now reaches the mirror for the next console.
    common::tick_gates(&mut follower, "full");
    let seq = follower.state.seq;
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), "erp-production");
    let name = warroom::kube::mirror::chunk_name(&lease_name, 0);
    let key = warroom::kube::mirror::key(seq);
    let limit = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let cm = api.get(&name).await.unwrap();
        if cm.data.as_ref().is_some_and(|d| d.contains_key(&key)) {
            let Driver::Driving { fence, .. } = &follower.state.driver else {
                panic!("wang drives")
            };
            assert_eq!(
                &cm.metadata.labels.unwrap()["warroom.io/driver"],
                fence,
                "the mirror carries wang's mark"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < limit,
            "wang's record #{seq} never reached the mirror"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in follower_tasks {
        t.abort();
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_past_one_configmaps_limit_is_mirrored_across_several_and_read_back_whole() {
    warroom::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let sc = warroom::runbook::parse_scenario(warroom::builtin::DEFAULT_SCENARIO).unwrap();
    let sim = warroom::sim::start(sc, 0, 0).await.unwrap();
    let kc = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    let client = warroom::kube::connect(Some(&kc), None).await.unwrap();
    let lease = "warroom-big-release";
    // About 1.5 MiB of notes: more than the API server keeps in one object.
    let note = "n".repeat(500);
    let records: Vec<warroom::journal::Record> = (1..=3000)
        .map(|seq| warroom::journal::Record {
            seq,
            at: chrono::Utc::now(),
            who: "lin".into(),
            entry: Entry::Note {
                text: format!("{seq} {note}"),
            },
        })
        .collect();
    let (ptx, prx) = mpsc::unbounded_channel();
    let (mtx, _mrx) = mpsc::unbounded_channel();
    let writer =
        warroom::kube::mirror::spawn_writer(client.clone(), "erp-production", lease, prx, mtx);
    ptx.send(warroom::kube::mirror::Publish::All {
        records: records[..2000].to_vec(),
        fence: "1-00000001".into(),
    })
    .unwrap();
    for r in &records[2000..] {
        ptx.send(warroom::kube::mirror::Publish::One {
            record: r.clone(),
            fence: "1-00000001".into(),
        })
        .unwrap();
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = warroom::kube::mirror::spawn_reader(client.clone(), "erp-production", lease, tx);
    let mut seen: Vec<warroom::journal::Record> = Vec::new();
    let limit = tokio::time::Instant::now() + Duration::from_secs(90);
    while seen.len() < records.len() {
        let ev = tokio::time::timeout_at(limit, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("read back {} of {} records", seen.len(), records.len()))
            .unwrap();
        match ev {
            Event::Follow(warroom::event::Followed::More(rs)) => seen.extend(rs),
            Event::Follow(warroom::event::Followed::Reset(rs)) => seen = rs,
            Event::Follow(warroom::event::Followed::Lost(why)) => panic!("lost: {why}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, records, "every record, once, in order");
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), "erp-production");
    let cms = api
        .list(&kube::api::ListParams::default().labels(&format!("warroom.io/journal={lease}")))
        .await
        .unwrap();
    assert!(cms.items.len() >= 2, "{} ConfigMaps", cms.items.len());
    writer.abort();
    reader.abort();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_finds_another_driver_follows_it_and_takes_over_with_its_story() {
    let common::Rig {
        sim,
        client,
        app: mut driver,
        rx: mut drx,
        dir,
        tasks,
        lease,
    } = lin_drives().await;
    tick_gates(&mut driver, "canary-10");
    common::until_free_to_advance(&mut driver, &mut drx).await;
    key(&mut driver, 'a');
    confirm(&mut driver);
    until(&mut driver, &mut drx, "the advance's answer", |a| {
        a.state.stages.current == Some(0) && a.state.stages.pending.is_none()
    })
    .await;

    // Wang starts a console of his own on another bastion, not asking to be read-only.
    let rb = parse_runbook(Path::new("demo.yaml"), warroom::builtin::DEMO_RUNBOOK).unwrap();
    let (tx, mut wrx) = mpsc::unbounded_channel();
    let wang_journal = dir.path().join("wang.jsonl");
    let mut wang = App::open(
        rb,
        "demo.yaml",
        &wang_journal,
        "wang",
        layout::builtin("war-room"),
        warroom::format::Zone::Local,
        tx,
    )
    .unwrap();
    let prometheus = warroom::prom::Overrides {
        url: Some(sim.prom_url.clone()),
        ..Default::default()
    };
    let sources = start_sources(&mut wang, client.clone(), &prometheus, false).unwrap();
    let want = lines(&driver);
    until(&mut wang, &mut wrx, "lin's release on wang's screen", |w| {
        lines(w) == want
    })
    .await;
    assert_eq!(wang.state.stage_name(), "Canary 10%");
    assert!(screen(&wang).contains("FOLLOWING  lin · live"));

    // Lin goes; wang takes over. His journal only recorded watching: it is moved aside
    // and starts again with lin's story, which he carries on.
    key(&mut driver, 'q');
    confirm(&mut driver);
    lease.release(Duration::from_secs(5)).await;
    drop(driver);
    for t in tasks {
        t.abort();
    }
    until(&mut wang, &mut wrx, "nobody drives", |w| {
        matches!(w.state.driver, Driver::Free { .. })
    })
    .await;
    key(&mut wang, 'T');
    key(&mut wang, 'y');
    until(&mut wang, &mut wrx, "wang drives", |w| {
        matches!(w.state.driver, Driver::Driving { .. })
    })
    .await;
    assert_eq!(
        wang.state.stage_name(),
        "Canary 10%",
        "the stage carried on"
    );
    let records = warroom::journal::replay(&wang_journal).unwrap().records;
    assert_eq!(records[0].who, "lin", "the story starts with lin's session");
    assert!(records.iter().any(|r| r.who == "wang"
        && matches!(&r.entry, Entry::System { text, .. } if text.contains("takes over driving"))));
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("wang.jsonl.watched-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "the watching journal is kept aside");
    for t in sources.tasks {
        t.abort();
    }
    sim.shutdown().await;
}
