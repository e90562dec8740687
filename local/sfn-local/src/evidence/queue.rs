//! The evidence queue in process: SQS as record-event's event source mapping sees it (a delivery
//! time per message, batches, a visibility timeout, a receive count, the redrive to a dead-letter
//! queue after `maxReceiveCount` receives), on the runner's clock, in a deterministic order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The queue's settings (from the template's evidence queue and its event source mapping).
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How long a received message stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Receives before a message goes to the dead-letter queue (`None`: never).
    pub max_receive_count: Option<u32>,
    /// Most messages per batch.
    pub batch_size: usize,
    /// How long the event source mapping gathers visible messages before it invokes with fewer
    /// than a full batch (`MaximumBatchingWindowInSeconds`).
    pub batching_window: Duration,
}

/// One message in the queue, as SQS keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMessage {
    /// SQS's message id (one per SendMessage: a duplicate publish is another message).
    pub message_id: String,
    /// The body: one EventBridge event, as the rules deliver it.
    pub body: String,
    /// When it was sent (`SentTimestamp`).
    pub sent_at: DateTime<Utc>,
    /// When it is next visible: its delivery time, then the end of its visibility timeout.
    pub visible_at: DateTime<Utc>,
    /// Times it was received (`ApproximateReceiveCount`).
    pub receive_count: u32,
    /// When it was first received (`ApproximateFirstReceiveTimestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_received_at: Option<DateTime<Utc>>,
    /// Publication order, the tie-break between messages visible at the same time.
    #[serde(default)]
    pub seq: u64,
}

impl QueuedMessage {
    /// The receipt handle of its latest receive (a delete with an older one is ignored).
    pub fn receipt_handle(&self) -> String {
        format!("{}#{}", self.message_id, self.receive_count)
    }
}

/// What one receive took off the queue.
#[derive(Debug, Default)]
pub struct Received {
    /// Up to `batch_size` messages, now in flight (hidden for the visibility timeout).
    pub batch: Vec<QueuedMessage>,
    /// Messages already received `max_receive_count` times: moved to the dead-letter queue.
    pub dead: Vec<QueuedMessage>,
}

/// The queue: messages ordered by when they are visible, then by publication.
pub struct InProcessQueue {
    settings: QueueSettings,
    messages: Mutex<Vec<QueuedMessage>>,
    seq: AtomicU64,
}

impl InProcessQueue {
    /// An empty queue.
    pub fn new(settings: QueueSettings) -> Self {
        InProcessQueue {
            settings,
            messages: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<QueuedMessage>> {
        self.messages.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The queue's settings.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// SendMessage: `body`, visible from `deliver_at`, sent at `now`; returns the message id.
    pub fn publish(&self, body: String, deliver_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let message_id = uuid::Uuid::new_v4().to_string();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.lock().push(QueuedMessage {
            message_id: message_id.clone(),
            body,
            sent_at: now,
            visible_at: deliver_at,
            receive_count: 0,
            first_received_at: None,
            seq,
        });
        message_id
    }

    /// ReceiveMessage at `now`: the first visible messages (up to the batch size) become in
    /// flight, their receive count one more; a visible message already received
    /// `max_receive_count` times goes to the dead-letter queue instead, as SQS's redrive does.
    /// With `gather`, as the event source mapping's batching window: nothing is taken while
    /// fewer than a batch are visible and the first has been visible for less than the window.
    pub fn receive(&self, now: DateTime<Utc>, gather: bool) -> Received {
        let mut messages = self.lock();
        messages.sort_by(|a, b| a.visible_at.cmp(&b.visible_at).then(a.seq.cmp(&b.seq)));
        let mut out = Received::default();
        if gather {
            let visible = messages.iter().take_while(|m| m.visible_at <= now).count();
            let first = messages.first().map(|m| m.visible_at);
            let waited = first.is_some_and(|t| now - t >= self.settings.batching_window);
            if visible < self.settings.batch_size && !waited {
                return out;
            }
        }
        let mut i = 0;
        while i < messages.len() && out.batch.len() < self.settings.batch_size {
            if messages[i].visible_at > now {
                break;
            }
            let exhausted = self
                .settings
                .max_receive_count
                .is_some_and(|max| messages[i].receive_count >= max);
            if exhausted {
                out.dead.push(messages.remove(i));
                continue;
            }
            let m = &mut messages[i];
            m.receive_count += 1;
            m.first_received_at.get_or_insert(now);
            m.visible_at = now + self.settings.visibility_timeout;
            out.batch.push(m.clone());
            i += 1;
        }
        out
    }

    /// DeleteMessage with the receipt handle of `message`'s latest receive.
    pub fn delete(&self, message: &QueuedMessage) {
        self.lock()
            .retain(|m| m.receipt_handle() != message.receipt_handle());
    }

    /// When the next message becomes visible, if any is queued.
    pub fn next_visible(&self) -> Option<DateTime<Utc>> {
        self.lock().iter().map(|m| m.visible_at).min()
    }

    /// Every message queued (in flight or not), in order.
    pub fn pending(&self) -> Vec<QueuedMessage> {
        let mut m = self.lock().clone();
        m.sort_by(|a, b| a.visible_at.cmp(&b.visible_at).then(a.seq.cmp(&b.seq)));
        m
    }

    /// Takes every message out (to hand the queue over to the state directory).
    pub fn drain(&self) -> Vec<QueuedMessage> {
        std::mem::take(&mut *self.lock())
    }

    /// Takes messages over (from the state directory), after the ones already queued.
    pub fn adopt(&self, messages: Vec<QueuedMessage>) {
        let mut queue = self.lock();
        for mut m in messages {
            m.seq = self.seq.fetch_add(1, Ordering::Relaxed);
            queue.push(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn queue() -> InProcessQueue {
        InProcessQueue::new(QueueSettings {
            visibility_timeout: Duration::seconds(120),
            max_receive_count: Some(5),
            batch_size: 2,
            batching_window: Duration::seconds(5),
        })
    }

    #[test]
    fn delivers_what_is_due_in_order_in_batches() {
        let q = queue();
        q.publish("late".into(), t(10), t(0));
        q.publish("a".into(), t(0), t(0));
        q.publish("b".into(), t(0), t(0));
        q.publish("c".into(), t(0), t(0));
        let bodies = |r: &Received| r.batch.iter().map(|m| m.body.clone()).collect::<Vec<_>>();
        let first = q.receive(t(0), true);
        assert_eq!(bodies(&first), ["a", "b"], "a full batch goes at once");
        assert!(
            q.receive(t(0), true).batch.is_empty(),
            "one: gathered for the window"
        );
        assert_eq!(
            bodies(&q.receive(t(5), true)),
            ["c"],
            "the window has passed"
        );
        assert!(
            q.receive(t(5), false).batch.is_empty(),
            "in flight, or not due"
        );
        assert_eq!(bodies(&q.receive(t(10), false)), ["late"]);
        // Not deleted: visible again after the visibility timeout, counted.
        q.delete(&first.batch[0]);
        let again = q.receive(t(125), false);
        assert_eq!(bodies(&again), ["b", "c"]);
        assert_eq!(again.batch[0].receive_count, 2);
        assert_eq!(again.batch[0].first_received_at, Some(t(0)));
        // A delete with an older receipt handle is ignored.
        q.delete(&first.batch[1]);
        assert_eq!(q.pending().len(), 3);
    }

    #[test]
    fn a_message_received_max_receive_count_times_goes_to_the_dead_letter_queue() {
        let q = queue();
        q.publish("bad".into(), t(0), t(0));
        let mut now = t(0);
        for n in 1..=5 {
            let r = q.receive(now, false);
            assert_eq!(r.batch.len(), 1);
            assert_eq!(r.batch[0].receive_count, n);
            now += Duration::seconds(120);
        }
        let r = q.receive(now, false);
        assert!(r.batch.is_empty());
        assert_eq!(r.dead.len(), 1);
        assert_eq!(r.dead[0].receive_count, 5);
        assert!(q.pending().is_empty());
    }
}
