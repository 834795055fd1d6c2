//! Progress fan-out: each submission in flight has a channel that keeps its
//! history, so a subscriber that arrives late still sees every event in
//! order — history first, then live events, ending with `Done`.

use crate::judge::Progress;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Events buffered per subscriber before it lags.
const CAPACITY: usize = 1024;

/// What a subscriber receives.
#[derive(Clone, Debug, PartialEq)]
pub enum HubEvent {
    Progress(Progress),
    /// The result is committed: read it from the store.
    Done,
}

struct Channel {
    history: Vec<Progress>,
    sender: broadcast::Sender<HubEvent>,
    /// A worker slot has started on it.
    active: bool,
}

/// A subscription: the events so far, then the live ones.
pub struct Subscription {
    pub history: Vec<Progress>,
    pub receiver: broadcast::Receiver<HubEvent>,
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<i64, Channel>>,
}

impl Hub {
    fn channel(channels: &mut HashMap<i64, Channel>, id: i64) -> &mut Channel {
        channels.entry(id).or_insert_with(|| Channel {
            history: Vec::new(),
            sender: broadcast::channel(CAPACITY).0,
            active: false,
        })
    }

    /// Subscribes to a submission's events (before reading its state, so nothing is missed).
    pub fn subscribe(&self, id: i64) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = Self::channel(&mut channels, id);
        Subscription { history: channel.history.clone(), receiver: channel.sender.subscribe() }
    }

    /// A subscriber is gone: drops the channel if nobody works on it or listens to it.
    pub fn release(&self, id: i64) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if channels.get(&id).is_some_and(|c| !c.active && c.sender.receiver_count() == 0) {
            channels.remove(&id);
        }
    }

    /// A worker slot starts on a submission: its history starts afresh.
    pub fn begin(&self, id: i64) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = Self::channel(&mut channels, id);
        channel.active = true;
        channel.history.clear();
    }

    pub fn publish(&self, id: i64, progress: Progress) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = Self::channel(&mut channels, id);
        channel.history.push(progress.clone());
        let _ = channel.sender.send(HubEvent::Progress(progress));
    }

    /// The result is committed: tells the subscribers and forgets the channel.
    pub fn finish(&self, id: i64) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.remove(&id) {
            let _ = channel.sender.send(HubEvent::Done);
        }
    }

    /// Channels open (for tests and metrics).
    pub fn len(&self) -> usize {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_subscriber_gets_the_history_then_live_events_then_done() {
        let hub = Hub::default();
        hub.begin(1);
        hub.publish(1, Progress::Compiling);
        let mut sub = hub.subscribe(1);
        hub.publish(1, Progress::Running);
        hub.finish(1);
        assert_eq!(sub.history, [Progress::Compiling]);
        assert_eq!(sub.receiver.try_recv().unwrap(), HubEvent::Progress(Progress::Running));
        assert_eq!(sub.receiver.try_recv().unwrap(), HubEvent::Done);
        assert!(hub.is_empty());
    }

    #[test]
    fn a_channel_opened_only_by_a_subscriber_is_dropped_when_it_leaves() {
        let hub = Hub::default();
        let sub = hub.subscribe(7);
        drop(sub);
        hub.release(7);
        assert!(hub.is_empty());
    }
}
