//! The embedded tables in memory with an index by order: each invocation reads and replaces one
//! order's items without scanning the whole tables.

use std::collections::HashMap;

use unpaid_order::memory::MemoryState;

use super::journal::{of_order, replace_order, FileId, JournalEntry};
use crate::project::{from_tables, order_key, tables, tables_mut, TABLES};

pub(crate) struct Cached {
    pub(crate) state: MemoryState,
    /// Where each order's items are in `state` (built on first use, dropped when `state` is
    /// replaced wholesale): without it every invocation scans the whole tables.
    pub(crate) index: Option<OrderIndex>,
    pub(crate) snapshot: Option<FileId>,
    /// Bytes of the journal already applied.
    pub(crate) journal_len: u64,
}

/// For each table (`project::tables`): order id -> the positions of that order's items, ascending.
#[derive(Default)]
pub(crate) struct OrderIndex([HashMap<String, Vec<usize>>; TABLES]);

fn index_table(table: &[unpaid_order::Item]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (at, item) in table.iter().enumerate() {
        if let Some(id) = order_key(item) {
            out.entry(id.to_string()).or_default().push(at);
        }
    }
    out
}

impl Cached {
    pub(crate) fn new(state: MemoryState, snapshot: Option<FileId>) -> Cached {
        Cached {
            state,
            index: None,
            snapshot,
            journal_len: 0,
        }
    }

    pub(crate) fn index(&mut self) -> &mut OrderIndex {
        let state = &self.state;
        self.index
            .get_or_insert_with(|| OrderIndex(tables(state).map(|t| index_table(t))))
    }

    /// The items of `order_id` (the outbox left empty), as `JournalEntry::slice` would give.
    pub(crate) fn slice(&mut self, order_id: &str) -> MemoryState {
        let index = self.index();
        let positions: [Vec<usize>; TABLES] =
            std::array::from_fn(|t| index.0[t].get(order_id).cloned().unwrap_or_default());
        let pick = |t: &Vec<unpaid_order::Item>, at: &[usize]| -> Vec<unpaid_order::Item> {
            at.iter().filter_map(|i| t.get(*i)).cloned().collect()
        };
        let tables = tables(&self.state);
        from_tables(std::array::from_fn(|t| pick(tables[t], &positions[t])))
    }

    /// `entry.apply(&mut self.state)`, keeping the index: the same result as the general
    /// replacement, in place when the order's items keep their count and are contiguous, or are
    /// new (appended); otherwise the general replacement and that table's index rebuilt.
    pub(crate) fn apply(&mut self, entry: JournalEntry) {
        if self.index.is_none() {
            entry.apply(&mut self.state);
            return;
        }
        let (order_id, news, sns, emails) = entry.into_parts();
        let mut index = self.index.take().unwrap_or_default();
        for ((table, new), map) in tables_mut(&mut self.state)
            .into_iter()
            .zip(news)
            .zip(index.0.iter_mut())
        {
            // The new items belong to `order_id` when they carry it; if one does not, the index
            // could not say where it is: rebuild.
            let all_of_order = new.iter().all(|i| of_order(i, &order_id));
            let old = map.get(&order_id).cloned().unwrap_or_default();
            let contiguous = old.windows(2).all(|w| w[1] == w[0] + 1);
            if all_of_order && old.is_empty() {
                if new.is_empty() {
                    continue;
                }
                let start = table.len();
                table.extend(new);
                map.insert(order_id.clone(), (start..table.len()).collect());
            } else if all_of_order && contiguous && old.len() == new.len() {
                for (at, item) in old.iter().zip(new) {
                    table[*at] = item;
                }
            } else {
                replace_order(table, &order_id, new);
                *map = index_table(table);
            }
        }
        self.index = Some(index);
        self.state.outbox.sns.extend(sns);
        self.state.outbox.emails.extend(emails);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_index_agrees_with_scanning_the_tables() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/tables");
        let state = MemoryState::load_fixtures(&fixtures).unwrap();
        let mut plain = state.clone();
        let mut indexed = Cached::new(state, None);
        let ids: Vec<String> = plain
            .orders
            .iter()
            .filter_map(|i| i.get("orderId").and_then(unpaid_order::Attr::key_text))
            .map(str::to_string)
            .chain(["new-order".to_string()])
            .collect();
        assert!(ids.len() > 1);
        let item = |id: &str, n: usize| -> unpaid_order::Item {
            let mut i = unpaid_order::Item::new();
            i.insert("orderId".into(), unpaid_order::Attr::S(id.into()));
            i.insert("n".into(), unpaid_order::Attr::N(n.to_string()));
            i
        };
        // Same count (in place), new items (appended), more and fewer (general path), none.
        for (step, id) in ids.iter().cycle().take(ids.len() * 3).enumerate() {
            let before = indexed.slice(id);
            assert_eq!(before, JournalEntry::slice(&plain, id), "step {step}");
            let grow = |t: &Vec<unpaid_order::Item>| -> Vec<unpaid_order::Item> {
                let keep = t.len();
                let n = match step % 4 {
                    0 => keep,
                    1 => keep + 1,
                    2 => keep.saturating_sub(1),
                    _ => 2,
                };
                (0..n).map(|k| item(id, step * 10 + k)).collect()
            };
            let entry = || JournalEntry {
                order_id: id.clone(),
                orders: grow(&before.orders),
                check_status: grow(&before.check_status),
                process_unpaid_order: grow(&before.process_unpaid_order),
                email_log: grow(&before.email_log),
                order_index: grow(&before.order_index),
                sns: vec![],
                emails: vec![],
            };
            let (a, b) = (entry(), entry());
            a.apply(&mut plain);
            indexed.apply(b);
            assert_eq!(indexed.state, plain, "step {step}");
        }
    }
}
