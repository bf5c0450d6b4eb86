//! Random and mutated inputs: the runbook loader and journal replay never panic, and
//! refuse what they cannot read with a position. Deterministic (a fixed xorshift seed), a
//! few thousand cases, so a failure reproduces and the suite's time stays bounded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use warroom::journal;
use warroom::runbook::parse_runbook;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Characters YAML and JSON give meaning to, and some that tend to break parsers.
const SPICE: &[&str] = &[
    ":",
    "- ",
    "\n",
    "  ",
    "\t",
    "#",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!",
    "|",
    ">",
    "---",
    "\u{0}",
    "\u{202e}",
    "系统",
    "99999999999999999999",
    "-1",
    "1e309",
    "NaN",
    "null",
    "~",
    "\\",
    "%",
    "@",
    "`",
    "?",
    "=",
];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(5) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => {
                let s = SPICE[rng.below(SPICE.len())];
                for (i, c) in s.chars().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            2 if at < chars.len() => {
                // Duplicate a slice: repeated keys, items, ids.
                let end = (at + rng.below(200)).min(chars.len());
                let piece: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(chars.len() + 1);
                for (i, c) in piece.into_iter().enumerate() {
                    chars.insert(to + i, c);
                }
            }
            3 if at < chars.len() => {
                chars[at] = char::from_u32(rng.below(0x3000) as u32).unwrap_or('?');
            }
            _ => {
                chars.truncate(at);
            }
        }
    }
    chars.into_iter().collect()
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(400)).map(|_| rng.next() as u8).collect()
}

#[test]
fn the_runbook_loader_never_panics_and_locates_what_it_refuses() {
    let originals: Vec<String> = [
        "assets/runbooks/demo.yaml",
        "assets/runbooks/demo-gateway.yaml",
        "assets/runbooks/demo-istio.yaml",
        "assets/runbooks/demo-release.yaml",
        "assets/runbooks/erp-v1.0.0.zh.yaml",
        "assets/runbooks/erp-v1.0.0.en.yaml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(f).unwrap())
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0;
    for case in 0..1600 {
        let src = if case % 8 == 0 {
            String::from_utf8_lossy(&random_bytes(&mut rng)).into_owned()
        } else {
            let i = rng.below(originals.len());
            mutate(&mut rng, &originals[i])
        };
        let r = catch_unwind(AssertUnwindSafe(|| {
            parse_runbook(Path::new("f.yaml"), &src)
        }));
        let r = r.unwrap_or_else(|_| panic!("case {case} panicked on:\n{src}"));
        if let Err(p) = r {
            refused += 1;
            assert!(!p.0.is_empty(), "case {case}: refused without a reason");
            for x in &p.0 {
                assert!(
                    x.line >= 1 && x.column >= 1 && !x.message.is_empty(),
                    "case {case}: not located: {x}\n{src}"
                );
            }
        }
    }
    // The mutations do reach the checks (a fuzzer that only ever passes proves little).
    assert!(refused > 400, "only {refused} refused");
}

#[test]
fn journal_replay_never_panics_and_locates_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"seq":1,"at":"2026-11-25T20:00:00Z","who":"lin","kind":"session","runbook":"x","release":"ERP","version":"v1"}"#,
        r#"{"seq":2,"at":"2026-11-25T20:00:01Z","who":"lin","kind":"mark","item":"backup","mark":"done"}"#,
        r#"{"seq":3,"at":"2026-11-25T20:00:02Z","who":"lin","kind":"note","text":"备份完成 \u202e"}"#,
        r#"{"seq":4,"at":"2026-11-25T20:00:03Z","who":"lin","kind":"outcome","of":3,"ok":true,"message":"scaled"}"#,
    ];
    let good = lines.join("\n") + "\n";
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for case in 0..1600 {
        let bytes = if case % 8 == 0 {
            random_bytes(&mut rng)
        } else {
            mutate(&mut rng, &good).into_bytes()
        };
        let path = dir.path().join(format!("j{case}.jsonl"));
        std::fs::write(&path, &bytes).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| journal::replay(&path)));
        let r = r.unwrap_or_else(|_| {
            panic!(
                "case {case} panicked on:\n{}",
                String::from_utf8_lossy(&bytes)
            )
        });
        match r {
            Ok(rep) => assert!(rep.records.len() <= bytes.len()),
            Err(journal::ReplayError::Corrupt { line, column, .. }) => {
                assert!(line >= 1, "case {case}: line {line} column {column}");
            }
            Err(e) => panic!("case {case}: {e}"),
        }
    }
}
