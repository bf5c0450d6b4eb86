//! The heartbeat: the wall clock's whole seconds, the one timer an idle console wakes for.
//!
//! The header's clock, the gauges' rounds and the triggers' rounds all wait on it, so the
//! thread wakes once a second for the three of them instead of once (or twice) for each:
//! the runtime's timer keeps a deadline a second away on a coarse wheel and wakes once to
//! bring it near, then again to fire it. On Linux the seconds come from a timerfd armed on
//! the wall clock's whole seconds: one wake-up each, exactly on the second, and still on
//! the second after the clock is set. Elsewhere, or if no timerfd can be had, from the
//! runtime's timer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A handle on the heartbeat: each whole second of the wall clock, as it comes.
#[derive(Debug, Clone)]
pub struct Beat(watch::Receiver<DateTime<Utc>>);

/// Start the heartbeat: the task that keeps it (it ends once every `Beat` is dropped),
/// and a handle to wait on.
pub fn start() -> (Beat, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(Utc::now());
    let task = tokio::spawn(async move {
        let mut seconds = Seconds::new();
        loop {
            tokio::select! {
                () = seconds.next() => {}
                () = tx.closed() => return,
            }
            if tx.send(Utc::now()).is_err() {
                return;
            }
        }
    });
    (Beat(rx), task)
}

impl Beat {
    /// The next second as the wall clock read it then; `None` once the heartbeat stopped.
    /// A second missed while the caller was busy is not made up: the latest one is given.
    pub async fn next(&mut self) -> Option<DateTime<Utc>> {
        self.0.changed().await.ok()?;
        Some(*self.0.borrow_and_update())
    }

    /// Rounds every `period`: the first at once, then on the first beat of each new period
    /// of the wall clock counted from the epoch, so the sources of one console, and every
    /// console, ask at the same instants. A round that overruns its period is followed by
    /// the next at the first beat after it, not by a burst of the ones it missed.
    pub fn rounds(self, period: Duration) -> Rounds {
        Rounds {
            beat: self,
            period_ms: i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1),
            last: None,
        }
    }
}

/// The beats that begin a new period: see [`Beat::rounds`].
#[derive(Debug)]
pub struct Rounds {
    beat: Beat,
    period_ms: i64,
    last: Option<i64>,
}

impl Rounds {
    /// When the next round begins; `None` once the heartbeat stopped. Cancel-safe: a
    /// round is taken only when it is returned.
    pub async fn next(&mut self) -> Option<DateTime<Utc>> {
        if self.last.is_none() {
            // The period of the latest beat counts as this round's.
            let latest = *self.beat.0.borrow_and_update();
            self.last = Some(self.period_of(latest));
            return Some(Utc::now());
        }
        loop {
            let now = self.beat.next().await?;
            let p = self.period_of(now);
            if Some(p) != self.last {
                self.last = Some(p);
                return Some(now);
            }
        }
    }

    /// Which period a beat belongs to. A beat is read a little after its second (or, by
    /// the runtime's timer and a wall clock being slewed, a hair before it): half a second
    /// either way still names the second it was for.
    fn period_of(&self, at: DateTime<Utc>) -> i64 {
        let second = (at.timestamp_millis() + 500).div_euclid(1000) * 1000;
        second.div_euclid(self.period_ms)
    }
}

/// Whole seconds of the wall clock.
struct Seconds {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Seconds {
    fn new() -> Seconds {
        Seconds {
            #[cfg(target_os = "linux")]
            fd: match timerfd() {
                Ok(fd) => Some(fd),
                Err(e) => {
                    log::info!("the clock runs on the runtime's timer (no timerfd: {e})");
                    None
                }
            },
        }
    }

    /// Wait for the next whole second.
    async fn next(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            match read_expirations(fd).await {
                Ok(()) => return,
                Err(e) => {
                    log::info!("the clock falls back to the runtime's timer: {e}");
                    self.fd = None;
                }
            }
        }
        let now = Utc::now();
        let to_next = 1000 - u64::from(now.timestamp_subsec_millis().min(999));
        tokio::time::sleep(Duration::from_millis(to_next)).await;
    }
}

/// A timerfd on the wall clock that expires at every whole second from the next one on.
#[cfg(target_os = "linux")]
fn timerfd() -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
    let fd = timerfd_create(
        TimerfdClockId::Realtime,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )?;
    arm(&fd)?;
    // SAFETY: an `OwnedFd` is a valid, open descriptor that only it closes, and it is
    // moved into the `AsyncFd`: it stays open and the same until the `AsyncFd` drops it.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(std::io::Error::from)
}

/// Expire at the wall clock's next whole second and every second after it. Should the
/// clock be set (stepped back an hour, say), the timer says so rather than wait for a
/// second that is now an hour away.
#[cfg(target_os = "linux")]
fn arm(fd: &std::os::fd::OwnedFd) -> std::io::Result<()> {
    use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
    let spec = Itimerspec {
        it_interval: Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        },
        it_value: Timespec {
            tv_sec: Utc::now().timestamp() + 1,
            tv_nsec: 0,
        },
    };
    timerfd_settime(
        fd,
        TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET,
        &spec,
    )?;
    Ok(())
}

/// Wait until the timer has expired at least once, and take its count of expirations. A
/// clock that was set is a beat too, and the timer is armed again on the new clock.
#[cfg(target_os = "linux")]
async fn read_expirations(
    fd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
) -> std::io::Result<()> {
    loop {
        let mut ready = fd.readable().await?;
        let mut count = [0u8; 8];
        match ready.try_io(|fd| match rustix::io::read(fd.get_ref(), &mut count) {
            Err(rustix::io::Errno::CANCELED) => arm(fd.get_ref()),
            r => r.map(drop).map_err(std::io::Error::from),
        }) {
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn a_beat_names_the_second_it_was_for() {
        let (_tx, rx) = watch::channel(Utc::now());
        let r = Beat(rx).rounds(Duration::from_secs(2));
        // read late, or a hair early: still the second it was for
        assert_eq!(r.period_of(at(4_003)), 2);
        assert_eq!(r.period_of(at(3_999)), 2);
        assert_eq!(r.period_of(at(5_002)), 2);
        assert_eq!(r.period_of(at(6_001)), 3);
    }

    #[tokio::test]
    async fn a_round_begins_at_once_then_on_each_new_period() {
        let (tx, rx) = watch::channel(at(0));
        let mut rounds = Beat(rx).rounds(Duration::from_secs(2));
        // the first at once, whatever the second
        assert!(rounds.next().await.is_some());
        let mut began = Vec::new();
        for second in [1, 2, 3, 4, 5, 8, 9, 10] {
            tx.send(at(second * 1000 + 2)).unwrap();
            if let Ok(Some(t)) = tokio::time::timeout(Duration::from_millis(1), rounds.next()).await
            {
                began.push(t.timestamp());
            }
        }
        // on the beats of 2, 4, 8 and 10: 6 was missed (the caller was busy, say), and
        // its round is not made up at 7 but begins with the next period's first beat
        assert_eq!(began, [2, 4, 8, 10]);
        drop(tx);
        assert_eq!(rounds.next().await, None, "the heartbeat stopped");
    }

    #[tokio::test]
    async fn the_seconds_come_on_the_second() {
        let (mut beat, task) = start();
        let mut last = None;
        for _ in 0..3 {
            let t = beat.next().await.expect("the heartbeat runs");
            // each beat a new second, however late a loaded machine reads it
            let s = t.timestamp();
            assert!(last.is_none_or(|l| s > l), "{t} came twice");
            last = Some(s);
        }
        drop(beat);
        // with no one left to wait on it, the heartbeat stops
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the heartbeat stops when no one waits on it")
            .unwrap();
    }
}
