//! A source for a following console: the driver's journal, read as it grows. It owns its
//! reads and reports only by events; it never writes to the file.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::{Tail, TailRead};
use crate::event::{Event, Followed};

/// How often the journal is looked at: a decision reaches the room's screens within a
/// quarter of a second, for a stat of one local file each time.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Follow the journal from where `tail` stands. A look that finds nothing new sends
/// nothing, except the first after the journal could not be read: that says it is back.
pub fn spawn(mut tail: Tail, tx: UnboundedSender<Event>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(LOOK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lost: Option<String> = None;
        loop {
            every.tick().await;
            let ev = match tail.poll() {
                Ok(TailRead::More(records)) if records.is_empty() && lost.is_none() => continue,
                Ok(TailRead::More(records)) => {
                    lost = None;
                    Followed::More(records)
                }
                Ok(TailRead::Reset(records)) => {
                    lost = None;
                    Followed::Reset(records)
                }
                Err(e) => {
                    let why = e.to_string();
                    if lost.as_ref() == Some(&why) {
                        continue;
                    }
                    lost = Some(why.clone());
                    Followed::Lost(why)
                }
            };
            if tx.send(Event::Follow(ev)).is_err() {
                return;
            }
        }
    })
}
