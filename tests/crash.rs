//! A panic anywhere ends the process: after the terminal is restored, the journal gets a
//! record saying the console crashed, and the process exits instead of living on with a
//! blank screen and dead keys. The panic happens in a child process (this test binary run
//! again), in a task on another thread, as a bug in a source would.

use std::process::Command;

const CHILD: &str = "WARROOM_TEST_CRASH_JOURNAL";

/// Run only as the child of the test below.
#[test]
#[ignore = "run by a_panic_in_any_task_ends_the_process_with_a_crash_record"]
fn crash_child() {
    let path = std::path::PathBuf::from(std::env::var_os(CHILD).expect("run by the parent test"));
    warroom::app::crash::arm(&path, "lin", 7);
    warroom::app::crash::install_hook();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = tokio::spawn(async {
            let v: Vec<u32> = Vec::new();
            // A source's bug: an index out of range.
            std::hint::black_box(v)[3]
        })
        .await;
        // Without the hook the task's panic would be caught here and the console would
        // go on as if nothing happened.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    panic!("the process outlived a panic");
}

#[test]
fn a_panic_in_any_task_ends_the_process_with_a_crash_record() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    std::fs::write(
        &journal,
        "{\"seq\":7,\"at\":\"2026-11-25T20:00:00Z\",\"who\":\"lin\",\"kind\":\"note\",\"text\":\"before\"}\n",
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(CHILD, &journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101), "{out:?}");
    let replay = warroom::journal::replay(&journal).unwrap();
    assert_eq!(replay.records.len(), 2, "the journal reads back whole");
    let last = &replay.records[1];
    assert_eq!(last.seq, 8);
    let warroom::journal::Entry::System { text, .. } = &last.entry else {
        panic!("{last:?}")
    };
    assert!(text.starts_with("the console crashed ("), "{text}");
    assert!(text.contains("index out of bounds"), "{text}");
}
