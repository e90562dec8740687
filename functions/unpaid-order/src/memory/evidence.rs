//! The recorder's writes on the in-memory store, with the DynamoDB adapters' conditions: SES
//! events on the email log (once per event id), claim supersession, the order index by rank.

use async_trait::async_trait;

use super::{text_of, MemoryState, MemoryStore};
use crate::attr::{Attr, Item};
use crate::evidence::items::{
    INDEX_HASH_KEY, INDEX_RANGE_KEY, SES_EVENTS, SES_EVENT_IDS, SUPERSEDED_TOKENS,
};
use crate::evidence::{IndexEntry, IndexOutcome, SesEvent, SesOutcome};
use crate::ports::{status, Claim, ExecutionInputs, OrderIndex};
use crate::FunctionError;

fn record_mut<'a>(state: &'a mut MemoryState, email_id: &str) -> Option<&'a mut Item> {
    state
        .email_log
        .iter_mut()
        .find(|i| text_of(i, "emailId") == Some(email_id))
}

fn set_contains(item: &Item, name: &str, value: &str) -> bool {
    matches!(item.get(name), Some(Attr::Ss(v)) if v.iter().any(|x| x == value))
}

fn set_add(item: &mut Item, name: &str, value: &str) {
    match item.get_mut(name) {
        Some(Attr::Ss(v)) => {
            if !v.iter().any(|x| x == value) {
                v.push(value.to_string());
            }
        }
        _ => {
            item.insert(name.to_string(), Attr::Ss(vec![value.to_string()]));
        }
    }
}

/// [`crate::EmailLog::supersede`] on the in-memory email log.
pub(super) fn supersede(state: &mut MemoryState, superseded_token: &str, claim: &Claim) -> bool {
    let Some(item) = record_mut(state, &claim.email_id()) else {
        return false;
    };
    let current = text_of(item, "status").unwrap_or_default();
    let token = text_of(item, "claimToken").unwrap_or_default();
    if current == status::PENDING && token == claim.token {
        return true; // our own earlier supersession
    }
    if current != status::SENDING || token != superseded_token {
        return false;
    }
    item.insert("status".into(), Attr::s(status::PENDING));
    item.insert("claimToken".into(), Attr::s(&claim.token));
    item.insert("claimedAt".into(), Attr::s(&claim.claimed_at));
    set_add(item, SUPERSEDED_TOKENS, superseded_token);
    true
}

/// [`crate::EmailLog::record_ses_event`] on the in-memory email log.
pub(super) fn record_ses_event(state: &mut MemoryState, event: &SesEvent) -> SesOutcome {
    let Some(item) = record_mut(state, &event.claim.email_id) else {
        return SesOutcome::NotOurs;
    };
    if set_contains(item, SES_EVENT_IDS, &event.event_id) {
        return SesOutcome::AlreadyRecorded;
    }
    let first_of_its_message = !crate::evidence::items::recorded_ses_events(item)
        .iter()
        .any(|e| e.message_id == event.message_id);
    match item.get_mut(SES_EVENTS) {
        Some(Attr::L(list)) => list.push(event.to_attr()),
        _ => {
            item.insert(SES_EVENTS.into(), Attr::L(vec![event.to_attr()]));
        }
    }
    set_add(item, SES_EVENT_IDS, &event.event_id);
    let ours = text_of(item, "claimToken") == Some(event.claim.token.as_str());
    let undecided = matches!(
        text_of(item, "status"),
        Some(status::PENDING | status::SENDING | status::FAILED)
    );
    if ours && undecided && event.kind.proves_acceptance() {
        item.insert("status".into(), Attr::s(status::SENT));
        item.insert("messageId".into(), Attr::s(&event.message_id));
        item.insert("sentAt".into(), Attr::s(&event.at));
        item.insert(
            "confirmedBy".into(),
            Attr::s(format!("ses:{}", event.kind.as_str())),
        );
        SesOutcome::Confirmed
    } else if !ours && set_contains(item, SUPERSEDED_TOKENS, &event.claim.token) {
        SesOutcome::SupersededClaimSent {
            first_of_its_message,
        }
    } else {
        SesOutcome::Recorded
    }
}

fn index_key(item: &Item) -> (Option<&str>, Option<&str>) {
    (
        item.get(INDEX_HASH_KEY).and_then(Attr::as_s),
        item.get(INDEX_RANGE_KEY).and_then(Attr::as_s),
    )
}

#[async_trait]
impl OrderIndex for MemoryStore {
    async fn record(&self, entry: &IndexEntry) -> Result<IndexOutcome, FunctionError> {
        let mut state = self.lock();
        let key = (
            Some(entry.order_id.as_str()),
            Some(entry.execution_arn.as_str()),
        );
        let item = entry.to_item();
        match state.order_index.iter_mut().find(|i| index_key(i) == key) {
            None => state.order_index.push(item),
            Some(existing) => {
                let held = IndexEntry::from_item(existing).map(|e| e.rank);
                if held.is_some_and(|rank| rank >= entry.rank) {
                    return Ok(IndexOutcome::Stale);
                }
                *existing = item;
            }
        }
        Ok(IndexOutcome::Written)
    }

    async fn executions_of(&self, order_id: &str) -> Result<Vec<IndexEntry>, FunctionError> {
        Ok(self
            .lock()
            .order_index
            .iter()
            .filter(|i| index_key(i).0 == Some(order_id))
            .filter_map(IndexEntry::from_item)
            .collect())
    }
}

/// No execution inputs to look up in memory: every offline status-change event carries its input.
#[async_trait]
impl ExecutionInputs for MemoryStore {
    async fn input_of(&self, _execution_arn: &str) -> Result<Option<String>, FunctionError> {
        Ok(None)
    }
}
