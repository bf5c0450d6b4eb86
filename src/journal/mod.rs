//! The journal: every decision and every action, one JSON object per line, flushed to
//! disk before it counts. It is the source of truth for what people decided; replaying it
//! rebuilds ticks, stage, notes and the comms log after a restart.

pub mod follow;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Todo,
    Done,
    Skipped,
    Failed,
}

/// A verification's verdict: unknown is never a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// What was decided or done. `seq` orders records; outcomes point at their intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A console started on this journal.
    Session {
        runbook: String,
        release: String,
        version: String,
    },
    /// An item's state changed (tick, untick, skip, fail, sign-off).
    Mark {
        item: String,
        mark: Mark,
        /// Who signed off, as typed at the keys (the record's `who` entered it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signer: Option<String>,
    },
    Note {
        text: String,
    },
    /// The release is complete: the last stage held and every required post-deployment
    /// check done.
    Complete {},
    /// Several items ticked in one confirmation: `scope` names the group or phase.
    Ticks {
        scope: String,
        items: Vec<String>,
    },
    /// Intent: move to stage `to` (its id), doing `plan`.
    Advance {
        to: String,
        plan: String,
        /// What was unknown (no fresh data) and advanced over anyway, with the typed
        /// reason: an override is never silent.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        overridden: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        override_reason: Option<String>,
    },
    /// Intent: return all traffic to the stable version.
    Rollback {
        reason: String,
        plan: String,
        /// Which kind of rollback: the runbook trigger's id (manual, emergency, or the
        /// automatic trigger that fired it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger: Option<String>,
        /// The one target rolled back, when a trigger rolls back only the target it
        /// protects; none: the whole release.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// Intent: a change the console makes on its own as part of a stage (the canary
    /// retired once the promoted stable rollout is complete).
    Step {
        plan: String,
        /// The target this step moves, when a stage moves its targets one after another.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// The lead stopped an automatic rollback's countdown, and why.
    Cancel {
        trigger: String,
        reason: String,
    },
    /// Intent: pause (true) or resume (false) the rollout.
    Pause {
        paused: bool,
        plan: String,
    },
    /// The result of the intent with sequence number `of`.
    Outcome {
        of: u64,
        ok: bool,
        message: String,
    },
    /// Something the console saw: thresholds crossed, the API lost or back.
    System {
        level: Level,
        text: String,
    },
    /// Intent: tell the team's chat channels of `event` (its name), in `text`.
    Notice {
        event: String,
        channels: Vec<String>,
        text: String,
    },
    /// What became of notice `of` on one channel, after `attempts` tries.
    Delivered {
        of: u64,
        channel: String,
        ok: bool,
        message: String,
        attempts: u32,
    },
    /// The console checked an item's `verify:` and its verdict changed: the item is ticked
    /// (pass), failed (fail) or open again (unknown), with the evidence.
    Verified {
        item: String,
        verdict: Verdict,
        evidence: String,
    },
    /// The flight recorder: every gauge as the room saw it, just before a decision and
    /// at intervals during stages, so the journal alone tells what the decision was
    /// taken on.
    Gauges {
        gauges: Vec<Seen>,
    },
}

/// One gauge as the room saw it: the last value with the time Prometheus evaluated it
/// (none when it never answered), each part of a split gauge, and the level shown
/// (`UNKNOWN` when the value was stale or missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub gauge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<SeenPart>,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenPart {
    pub part: String,
    pub value: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub who: String,
    #[serde(flatten)]
    pub entry: Entry,
}

/// Appends records, each flushed and fsynced before `append` returns.
pub struct Writer {
    file: File,
    path: PathBuf,
    /// Where the last whole record ends, when cutting a failed write back to it failed
    /// too: the next append cuts again before writing, so a partial record never ends up
    /// in the middle of the journal.
    cut_to: Option<u64>,
}

/// Why a record did not reach the disk. Its `Display` is the sentence the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "the disk holding {path} is full: the last decision was NOT recorded and is not in effect; free space and do it again"
    )]
    Full { path: String },
    #[error(
        "{path} has reached the largest file this console may write ({err}): the last decision was NOT recorded and is not in effect; raise the limit (ulimit -f) or start again with another --journal"
    )]
    TooLarge { path: String, err: io::Error },
    #[error(
        "cannot write {path}: {err}: the last decision was NOT recorded and is not in effect; fix that and do it again"
    )]
    Write { path: String, err: io::Error },
}

impl JournalError {
    fn new(path: &Path, err: io::Error) -> JournalError {
        let path = path.display().to_string();
        match err.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                JournalError::Full { path }
            }
            io::ErrorKind::FileTooLarge => JournalError::TooLarge { path, err },
            _ => JournalError::Write { path, err },
        }
    }
}

/// A journal that is not a regular file cannot work: a FIFO blocks the console until
/// someone reads it and keeps nothing, /dev/full refuses every record, /dev/null keeps
/// none, a directory cannot be appended to.
fn not_regular(path: &Path, meta: &std::fs::Metadata) -> Option<io::Error> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Some(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a regular file ({what}): the journal must be a regular file; pass another --journal",
            path.display()
        ),
    ))
}

impl Writer {
    pub fn open(path: &Path) -> io::Result<Writer> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        // Look before opening: opening a FIFO for writing would block until a reader
        // comes.
        match std::fs::metadata(path) {
            Ok(meta) => {
                if let Some(e) = not_regular(path, &meta) {
                    return Err(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        // And look again at what was opened, in case the path changed in between.
        if let Some(e) = not_regular(path, &file.metadata()?) {
            return Err(e);
        }
        // One console per journal: a second writer would interleave a different story.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another console on this machine is using it; give this one its own file with --journal",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            cut_to: None,
        })
    }

    /// Write one record and fsync it. On any failure the file is cut back to its last
    /// whole record, so the journal stays readable and the next record starts cleanly
    /// once the cause (a full disk) is gone; the caller must treat the decision as not
    /// taken.
    pub fn append(&mut self, rec: &Record) -> Result<(), JournalError> {
        let fail = |e| JournalError::new(&self.path, e);
        let line = serde_json::to_string(rec).map_err(|e| fail(io::Error::other(e)))?;
        let mut line = escape_invisible(line).into_bytes();
        line.push(b'\n');
        if let Some(len) = self.cut_to {
            self.file.set_len(len).map_err(fail)?;
            self.cut_to = None;
        }
        // The length now, not at open: replay may have cut a torn tail since.
        let before = self.file.metadata().map_err(fail)?.len();
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if self
                .file
                .set_len(before)
                .and_then(|()| self.file.sync_data())
                .is_err()
            {
                self.cut_to = Some(before);
            }
            return Err(JournalError::new(&self.path, e));
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// serde_json escapes C0 controls but writes C1 and bidi controls as they are, so `cat`
/// or `tail -f` on the journal would let a note rewrite the reader's terminal. They can
/// only occur inside JSON strings, where `\uXXXX` reads back as the same character.
fn escape_invisible(json: String) -> String {
    let bad = |c: char| c.is_control() || crate::text::is_bidi(c);
    if !json.chars().any(bad) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// What replaying a journal found.
#[derive(Debug, Default)]
pub struct Replay {
    pub records: Vec<Record>,
    /// A last line cut short (the console died mid-write): its bytes were moved aside to
    /// this file and the journal truncated to its last whole record.
    pub torn: Option<(usize, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: cannot read the journal: {err}")]
    Io { path: String, err: io::Error },
    #[error(
        "{path}:{line}:{column}: line {line} is not a journal record ({msg}); the journal is left untouched: fix or remove that line, or start with another --journal file"
    )]
    Corrupt {
        path: String,
        line: usize,
        column: usize,
        msg: String,
    },
}

/// Read every record. A torn last line is tolerated: moved aside, reported, never fatal.
/// A bad line anywhere else is an error, because skipping it would lose a decision.
pub fn replay(path: &Path) -> Result<Replay, ReplayError> {
    let io_err = |err| ReplayError::Io {
        path: path.display().to_string(),
        err,
    };
    let mut out = Replay::default();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(e)),
    };
    let mut data = Vec::new();
    BufReader::new(file)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    let ends_clean = data.last().is_none_or(|b| *b == b'\n');
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    // split yields a trailing empty slice after the final newline
    let n = if ends_clean {
        lines.len().saturating_sub(1)
    } else {
        lines.len()
    };
    let mut good_bytes = 0usize;
    for (i, raw) in lines.iter().take(n).enumerate() {
        let is_last = i + 1 == n;
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            good_bytes += raw.len() + 1;
            continue;
        }
        match serde_json::from_slice::<Record>(raw) {
            Ok(r) => {
                out.records.push(r);
                good_bytes += raw.len() + 1;
            }
            Err(_) if is_last => {
                let aside = torn_path(path);
                std::fs::write(&aside, raw).map_err(io_err)?;
                let f = OpenOptions::new().write(true).open(path).map_err(io_err)?;
                f.set_len(good_bytes as u64).map_err(io_err)?;
                f.sync_all().map_err(io_err)?;
                out.torn = Some((i + 1, aside));
            }
            Err(e) => {
                return Err(ReplayError::Corrupt {
                    path: path.display().to_string(),
                    line: i + 1,
                    column: e.column(),
                    msg: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// A journal followed while another console writes it: read without a lock and without
/// ever changing the file (a torn tail is the writer's to repair; here an unfinished last
/// line is only not read yet).
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    /// Bytes read and consumed: everything before is whole records.
    offset: u64,
    /// The file read, by device and inode: a journal replaced by another file is read
    /// again from its start.
    id: Option<(u64, u64)>,
    /// Whole lines read so far, for error positions.
    lines: usize,
}

/// What a look at a followed journal found.
#[derive(Debug, PartialEq)]
pub enum TailRead {
    /// Records appended since the last look (maybe none).
    More(Vec<Record>),
    /// The file was cut back or replaced: every record it now holds.
    Reset(Vec<Record>),
}

/// Every whole record of a journal another console may be writing, read without a lock
/// and without changing the file (a report, a replay, a follower's first look).
pub fn read(path: &Path) -> Result<Vec<Record>, ReplayError> {
    match Tail::new(path).poll()? {
        TailRead::More(r) | TailRead::Reset(r) => Ok(r),
    }
}

impl Tail {
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            offset: 0,
            id: None,
            lines: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read what was appended since the last call.
    pub fn poll(&mut self) -> Result<TailRead, ReplayError> {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::MetadataExt;
        let io_err = |err| ReplayError::Io {
            path: self.path.display().to_string(),
            err,
        };
        let mut file = File::open(&self.path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if let Some(e) = not_regular(&self.path, &meta) {
            return Err(io_err(e));
        }
        let id = Some((meta.dev(), meta.ino()));
        let reset = self.id.is_some() && (self.id != id || meta.len() < self.offset);
        if reset {
            self.offset = 0;
            self.lines = 0;
        }
        self.id = id;
        if meta.len() == self.offset {
            return Ok(if reset {
                TailRead::Reset(Vec::new())
            } else {
                TailRead::More(Vec::new())
            });
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_err)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io_err)?;
        // Only whole lines: the writer may be between its write and its newline.
        let whole = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut out = Vec::new();
        let lines_before = self.lines;
        for raw in data[..whole].split_inclusive(|b| *b == b'\n') {
            self.lines += 1;
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            match serde_json::from_slice::<Record>(raw) {
                Ok(r) => out.push(r),
                Err(e) => {
                    let line = self.lines;
                    self.lines = lines_before;
                    return Err(ReplayError::Corrupt {
                        path: self.path.display().to_string(),
                        line,
                        column: e.column(),
                        msg: e.to_string(),
                    });
                }
            }
        }
        self.offset += whole as u64;
        Ok(if reset {
            TailRead::Reset(out)
        } else {
            TailRead::More(out)
        })
    }
}

fn torn_path(path: &Path) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S");
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".torn-{stamp}"));
    PathBuf::from(s)
}

/// The default journal: one per release (and version), in the user's state directory.
pub fn default_path(release: &str, version: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    // Two releases whose names differ only outside ASCII get different files.
    let slug = crate::text::release_slug("", release, version, 120);
    base.join("warroom").join(format!("{slug}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_says_what_it_means_for_the_decision() {
        let p = Path::new("/var/j.jsonl");
        let full = JournalError::new(p, io::Error::from_raw_os_error(28)).to_string();
        assert_eq!(
            full,
            "the disk holding /var/j.jsonl is full: the last decision was NOT recorded and is not in effect; free space and do it again"
        );
        let other = JournalError::new(p, io::Error::from_raw_os_error(5)).to_string();
        assert!(other.starts_with("cannot write /var/j.jsonl: "), "{other}");
        assert!(other.contains("os error 5"), "{other}");
        assert!(other.contains("NOT recorded"), "{other}");
    }

    fn rec(seq: u64, text: &str) -> Record {
        Record {
            seq,
            at: DateTime::from_timestamp(1_800_000_000 + seq as i64, 0).unwrap(),
            who: "lin".into(),
            entry: Entry::Note { text: text.into() },
        }
    }

    fn line(r: &Record) -> String {
        serde_json::to_string(r).unwrap() + "\n"
    }

    #[test]
    fn a_followed_journal_is_read_as_it_grows_and_an_unfinished_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        std::fs::write(&p, line(&rec(1, "one"))).unwrap();
        let mut t = Tail::new(&p);
        assert_eq!(t.poll().unwrap(), TailRead::More(vec![rec(1, "one")]));
        assert_eq!(t.poll().unwrap(), TailRead::More(vec![]));
        // The writer is between its write and its newline: nothing yet.
        let two = line(&rec(2, "two"));
        let (head, rest) = two.split_at(10);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(head.as_bytes()).unwrap();
        assert_eq!(t.poll().unwrap(), TailRead::More(vec![]));
        f.write_all(rest.as_bytes()).unwrap();
        f.write_all(line(&rec(3, "three")).as_bytes()).unwrap();
        assert_eq!(
            t.poll().unwrap(),
            TailRead::More(vec![rec(2, "two"), rec(3, "three")])
        );
        // The file is never changed by a follower.
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            bytes,
            [line(&rec(1, "one")), two, line(&rec(3, "three"))]
                .concat()
                .into_bytes()
        );
    }

    #[test]
    fn a_followed_journal_cut_back_or_replaced_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        std::fs::write(&p, line(&rec(1, "one")) + &line(&rec(2, "two"))).unwrap();
        let mut t = Tail::new(&p);
        t.poll().unwrap();
        std::fs::write(&p, line(&rec(1, "one"))).unwrap();
        assert_eq!(t.poll().unwrap(), TailRead::Reset(vec![rec(1, "one")]));
        // Another file in its place, longer than the first.
        let other = dir.path().join("other.jsonl");
        std::fs::write(
            &other,
            line(&rec(1, "uno")) + &line(&rec(2, "dos")) + &line(&rec(3, "tres")),
        )
        .unwrap();
        std::fs::rename(&other, &p).unwrap();
        assert_eq!(
            t.poll().unwrap(),
            TailRead::Reset(vec![rec(1, "uno"), rec(2, "dos"), rec(3, "tres")])
        );
    }

    #[test]
    fn a_bad_line_in_a_followed_journal_is_named_by_its_line_and_nothing_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.jsonl");
        std::fs::write(
            &p,
            line(&rec(1, "one")) + "\n" + "{not json}\n" + &line(&rec(2, "two")),
        )
        .unwrap();
        let mut t = Tail::new(&p);
        let e = t.poll().unwrap_err().to_string();
        assert!(e.contains("j.jsonl:3:"), "{e}");
        // Asked again, it says the same: the bad line is not stepped over.
        let again = t.poll().unwrap_err().to_string();
        assert_eq!(e, again);
        let gone = Tail::new(&dir.path().join("none.jsonl"))
            .poll()
            .unwrap_err();
        assert!(
            gone.to_string().contains("cannot read the journal"),
            "{gone}"
        );
    }
}
