//! The embedded tables as DynamoDB tables: the environment variable naming each (as the functions
//! read it), its key schema and secondary indexes, as `template.yaml` and the seed define them.

use unpaid_order::evidence::items::{
    FAILED_INDEX, FAILED_INDEX_HASH_KEY, FAILED_INDEX_RANGE_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY,
};
use unpaid_order::memory::MemoryState;
use unpaid_order::{Item, Setting};

/// A key schema: the hash key and the optional range key (all of this project's keys are strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchema {
    /// The partition key.
    pub hash: &'static str,
    /// The sort key, if any.
    pub range: Option<&'static str>,
}

/// A global secondary index (projection ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryIndex {
    /// The index name (`IndexName`).
    pub name: &'static str,
    /// Its keys: only items holding both are in it (a sparse index).
    pub keys: KeySchema,
}

/// One embedded table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// The setting whose environment variable names the table (`ORDER_INDEX_TABLE`, ...).
    pub setting: Setting,
    /// The table's keys.
    pub keys: KeySchema,
    /// Its global secondary indexes.
    pub indexes: &'static [SecondaryIndex],
    /// Which of [`crate::project::tables`] holds its items.
    pub position: usize,
}

impl TableSchema {
    /// The table's items in `state`.
    pub fn items<'a>(&self, state: &'a MemoryState) -> &'a [Item] {
        crate::project::tables(state)[self.position]
    }

    /// The secondary index named `name`.
    pub fn index(&self, name: &str) -> Option<&'static SecondaryIndex> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

/// Where the order index is in [`crate::project::tables`].
pub const ORDER_INDEX_POSITION: usize = 4;

/// The five tables, in the order of [`crate::project::tables`].
pub const TABLE_SCHEMAS: [TableSchema; crate::project::TABLES] = [
    TableSchema {
        setting: Setting::OrderTable,
        keys: KeySchema {
            hash: "orderId",
            range: None,
        },
        indexes: &[],
        position: 0,
    },
    TableSchema {
        setting: Setting::CheckStatusTable,
        keys: KeySchema {
            hash: "orderId",
            range: Some("created_at"),
        },
        indexes: &[],
        position: 1,
    },
    TableSchema {
        setting: Setting::ProcessUnpaidOrderTable,
        keys: KeySchema {
            hash: "orderId",
            range: Some("created_at"),
        },
        indexes: &[],
        position: 2,
    },
    TableSchema {
        setting: Setting::EmailLogTable,
        keys: KeySchema {
            hash: "emailId",
            range: None,
        },
        indexes: &[],
        position: 3,
    },
    TableSchema {
        setting: Setting::OrderIndexTable,
        keys: KeySchema {
            hash: INDEX_HASH_KEY,
            range: Some(INDEX_RANGE_KEY),
        },
        indexes: &[SecondaryIndex {
            name: FAILED_INDEX,
            keys: KeySchema {
                hash: FAILED_INDEX_HASH_KEY,
                range: Some(FAILED_INDEX_RANGE_KEY),
            },
        }],
        position: ORDER_INDEX_POSITION,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_is_at_its_position() {
        let mut state = MemoryState::default();
        let mut item = Item::new();
        item.insert("marker".into(), unpaid_order::Attr::s("x"));
        state.email_log.push(item);
        let email_log = TABLE_SCHEMAS
            .iter()
            .find(|t| t.setting == Setting::EmailLogTable)
            .unwrap();
        assert_eq!(email_log.items(&state).len(), 1);
        for (at, t) in TABLE_SCHEMAS.iter().enumerate() {
            assert_eq!(t.position, at);
        }
    }
}
