//! `sfn-local serve` also answers the DynamoDB JSON API (`X-Amz-Target: DynamoDB_20120810.<Op>`),
//! read-only, over its embedded tables, so the console (and `aws dynamodb`) read them offline with
//! the same SDK calls as on AWS: Query (tables and the order index's secondary index), GetItem,
//! BatchGetItem, DescribeTable, ListTables. Tables are named as `template.yaml`'s function
//! environment names them; errors have DynamoDB's `__type` and messages.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use unpaid_order::memory::MemoryState;
use unpaid_order::{Attr, Item};

use super::key_condition::{self, compare, Substitutions};
use super::{Api, ApiError};
use crate::project::tables::{KeySchema, TableSchema, TABLE_SCHEMAS};

/// DynamoDB's error types, as its `__type` carries them.
const VALIDATION: &str = "com.amazonaws.dynamodb.v20120810#ValidationException";
const NOT_FOUND: &str = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException";
const UNKNOWN_OPERATION: &str = "com.amazon.coral.service#UnknownOperationException";
const SERIALIZATION: &str = "com.amazon.coral.service#SerializationException";

/// A Query's or BatchGetItem's page: at most 1 MB of items, as DynamoDB.
const PAGE_BYTES: usize = 1024 * 1024;
/// BatchGetItem's limit on keys per request.
const MAX_BATCH_KEYS: usize = 100;

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(VALIDATION, message)
}

fn not_found(table: &str) -> ApiError {
    ApiError::new(
        NOT_FOUND,
        format!("Requested resource not found: Table: {table} not found"),
    )
}

/// A member of the request as `T`, or DynamoDB's message for a missing or mistyped one.
fn member<T: serde::de::DeserializeOwned>(body: &Value, name: &str) -> Result<Option<T>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            ApiError::new(
                SERIALIZATION,
                format!("Unexpected value for member {name}: {e}"),
            )
        }),
    }
}

fn required<T: serde::de::DeserializeOwned>(body: &Value, name: &str) -> Result<T, ApiError> {
    member(body, name)?.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Parameters the console and the CLI never send, which this read-only stand-in does not
/// evaluate: refused by name rather than silently ignored.
fn refuse_unsupported(body: &Value, names: &[&str]) -> Result<(), ApiError> {
    match names.iter().find(|n| body.get(**n).is_some()) {
        Some(n) => Err(validation(format!(
            "sfn-local's DynamoDB API does not evaluate {n} (Query, GetItem and BatchGetItem take keys and key conditions only)"
        ))),
        None => Ok(()),
    }
}

/// The key attributes of `item` under `keys`, as an item (a LastEvaluatedKey, a Key).
fn key_of(item: &Item, keys: &[&KeySchema]) -> Item {
    let mut out = Item::new();
    for k in keys {
        for name in std::iter::once(k.hash).chain(k.range) {
            if let Some(v) = item.get(name) {
                out.insert(name.to_string(), v.clone());
            }
        }
    }
    out
}

/// The order items take in a Query: the sort key, then (in a secondary index, where sort keys
/// may repeat) the table's own keys, so that paging by ExclusiveStartKey is exact.
fn sort_tuple<'a>(item: &'a Item, keys: &[&KeySchema]) -> Vec<&'a str> {
    let text = |name: &str| item.get(name).and_then(Attr::as_s).unwrap_or("");
    let mut out: Vec<&str> = keys[0].range.map(text).into_iter().collect();
    for k in &keys[1..] {
        out.extend(std::iter::once(k.hash).chain(k.range).map(text));
    }
    out
}

fn compare_tuples(a: &[&str], b: &[&str]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare(x, y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

fn item_bytes(item: &Item) -> usize {
    serde_json::to_vec(item).map_or(0, |v| v.len())
}

impl Api {
    /// The table a request names (its name, or its ARN), with its schema.
    fn table(&self, name: &str) -> Result<&'static TableSchema, ApiError> {
        let name = name.rsplit_once(":table/").map_or(name, |(_, n)| n);
        TABLE_SCHEMAS
            .iter()
            .find(|t| self.table_name(t).as_deref() == Some(name))
            .ok_or_else(|| not_found(name))
    }

    /// A table's name: what `template.yaml`'s function environment names it.
    fn table_name(&self, table: &TableSchema) -> Option<String> {
        self.runner
            .template()
            .function_environment
            .get(table.setting.var())
            .filter(|n| !n.is_empty())
            .cloned()
    }

    fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.options.region, self.options.account
        )
    }

    async fn state(&self) -> Result<MemoryState, ApiError> {
        self.runner.tables().await?.ok_or_else(|| {
            ApiError::new(
                UNKNOWN_OPERATION,
                "sfn-local serves the DynamoDB API over its embedded tables only; with --aws-endpoint or --lambda-endpoint the tables are not here",
            )
        })
    }

    async fn order_state(&self, order_id: &str) -> Result<MemoryState, ApiError> {
        match self.runner.order_tables(order_id).await? {
            Some(s) => Ok(s),
            None => self.state().await,
        }
    }

    /// Runs one DynamoDB operation on its JSON body.
    pub(super) async fn dynamodb(&self, operation: &str, body: &Value) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::new(
                SERIALIZATION,
                "the request body must be a JSON object",
            ));
        }
        // The request's ARNs in the runner's account, as the tables hold them.
        let text = body.to_string();
        let mut runner_text = text.clone();
        for (runner, api) in self.prefixes() {
            runner_text = runner_text.replace(&api, &runner);
        }
        let body: Value = if runner_text == text {
            body.clone()
        } else {
            serde_json::from_str(&runner_text)
                .map_err(|e| ApiError::new(SERIALIZATION, e.to_string()))?
        };
        match operation {
            "Query" => self.query(&body).await,
            "GetItem" => self.get_item(&body).await,
            "BatchGetItem" => self.batch_get_item(&body).await,
            "DescribeTable" => self.describe_table(&body).await,
            "ListTables" => self.list_tables(&body),
            other => Err(ApiError::new(
                UNKNOWN_OPERATION,
                format!(
                    "sfn-local serves DynamoDB read-only over its embedded tables (Query, GetItem, BatchGetItem, DescribeTable, ListTables), not {other}"
                ),
            )),
        }
    }

    async fn query(&self, body: &Value) -> Result<Value, ApiError> {
        refuse_unsupported(
            body,
            &[
                "FilterExpression",
                "ProjectionExpression",
                "KeyConditions",
                "QueryFilter",
                "AttributesToGet",
            ],
        )?;
        let table = self.table(&required::<String>(body, "TableName")?)?;
        let index_name: Option<String> = member(body, "IndexName")?;
        let index = match &index_name {
            Some(n) => Some(table.index(n).ok_or_else(|| {
                validation(format!("The table does not have the specified index: {n}"))
            })?),
            None => None,
        };
        if index.is_some() && member::<bool>(body, "ConsistentRead")? == Some(true) {
            return Err(validation(
                "Consistent reads are not supported on global secondary indexes",
            ));
        }
        let limit: Option<i64> = member(body, "Limit")?;
        if limit.is_some_and(|l| l < 1) {
            return Err(validation(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ));
        }
        let select: String = member(body, "Select")?.unwrap_or_else(|| "ALL_ATTRIBUTES".into());
        if !matches!(select.as_str(), "ALL_ATTRIBUTES" | "COUNT") {
            return Err(validation(format!(
                "sfn-local's DynamoDB API takes Select ALL_ATTRIBUTES or COUNT, not {select}"
            )));
        }
        let forward: bool = member(body, "ScanIndexForward")?.unwrap_or(true);
        let names: BTreeMap<String, String> =
            member(body, "ExpressionAttributeNames")?.unwrap_or_default();
        let values: BTreeMap<String, Attr> =
            member(body, "ExpressionAttributeValues")?.unwrap_or_default();
        let expression: String = required(body, "KeyConditionExpression")?;
        // The keys the query runs on (the index's), and every key an item of it carries.
        let keys: Vec<&KeySchema> = match index {
            Some(i) => vec![&i.keys, &table.keys],
            None => vec![&table.keys],
        };
        let mut subs = Substitutions::new(&names, &values);
        let condition =
            key_condition::parse(&expression, keys[0], &mut subs).map_err(validation)?;
        subs.unused().map_err(validation)?;
        let start: Option<Item> = member(body, "ExclusiveStartKey")?;
        if let Some(s) = &start {
            let wanted = key_of(s, &keys);
            if wanted.len() != s.len() || keys.iter().any(|k| !s.contains_key(k.hash)) {
                return Err(validation("The provided starting key is invalid: The provided key element does not match the schema"));
            }
        }

        // A query on an order's key reads that order's items alone (the tables' order index);
        // any other (a secondary index) reads the tables.
        let state = if index.is_none() && table.keys.hash == crate::project::ORDER_KEY {
            self.order_state(&condition.hash).await?
        } else {
            self.state().await?
        };
        let mut found: Vec<&Item> = table
            .items(&state)
            .iter()
            .filter(|i| {
                // A sparse index holds only the items carrying its keys.
                keys[0]
                    .range
                    .is_none_or(|r| i.get(r).and_then(Attr::as_s).is_some())
            })
            .filter(|i| condition.matches(i, keys[0]))
            .collect();
        found.sort_by(|a, b| compare_tuples(&sort_tuple(a, &keys), &sort_tuple(b, &keys)));
        if !forward {
            found.reverse();
        }
        if let Some(s) = &start {
            let from = sort_tuple(s, &keys);
            let after = |i: &&Item| {
                let o = compare_tuples(&sort_tuple(i, &keys), &from);
                if forward {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            };
            found.retain(after);
        }
        let limit = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let (mut page, mut bytes) = (Vec::new(), 0);
        let mut cut = false;
        for item in found.iter() {
            if page.len() == limit || bytes > PAGE_BYTES {
                cut = true;
                break;
            }
            bytes += item_bytes(item);
            page.push(*item);
        }
        // As DynamoDB: a page that stopped at the limit names where it stopped, even when nothing follows.
        let stopped = cut || page.len() == limit;
        let mut out = Map::new();
        out.insert("Count".into(), json!(page.len()));
        out.insert("ScannedCount".into(), json!(page.len()));
        if select != "COUNT" {
            out.insert("Items".into(), json!(page));
        }
        if let (true, Some(last)) = (stopped, page.last()) {
            out.insert("LastEvaluatedKey".into(), json!(key_of(last, &keys)));
        }
        Ok(Value::Object(out))
    }

    /// The item of `table` under `key` (which must be exactly the table's key).
    fn lookup<'s>(
        table: &TableSchema,
        state: &'s MemoryState,
        key: &Item,
    ) -> Result<Option<&'s Item>, ApiError> {
        let names: Vec<&str> = std::iter::once(table.keys.hash)
            .chain(table.keys.range)
            .collect();
        if key.len() != names.len()
            || names
                .iter()
                .any(|n| !matches!(key.get(*n), Some(Attr::S(_))))
        {
            return Err(validation(
                "The provided key element does not match the schema",
            ));
        }
        Ok(table
            .items(state)
            .iter()
            .find(|i| names.iter().all(|n| i.get(*n) == key.get(*n))))
    }

    async fn get_item(&self, body: &Value) -> Result<Value, ApiError> {
        refuse_unsupported(body, &["ProjectionExpression", "AttributesToGet"])?;
        let table = self.table(&required::<String>(body, "TableName")?)?;
        let key: Item = required(body, "Key")?;
        let state = match key.get(table.keys.hash).and_then(Attr::as_s) {
            Some(id) if table.keys.hash == crate::project::ORDER_KEY => {
                self.order_state(id).await?
            }
            _ => self.state().await?,
        };
        Ok(match Self::lookup(table, &state, &key)? {
            Some(item) => json!({ "Item": item }),
            None => json!({}),
        })
    }

    async fn batch_get_item(&self, body: &Value) -> Result<Value, ApiError> {
        let requests: BTreeMap<String, Value> = required(body, "RequestItems")?;
        let mut wanted = Vec::new();
        let mut total = 0;
        for (name, request) in &requests {
            refuse_unsupported(request, &["ProjectionExpression", "AttributesToGet"])?;
            let table = self.table(name)?;
            let keys: Vec<Item> = required(request, "Keys")?;
            let mut seen = std::collections::BTreeSet::new();
            for k in &keys {
                if !seen.insert(serde_json::to_string(k).unwrap_or_default()) {
                    return Err(validation("Provided list of item keys contains duplicates"));
                }
            }
            total += keys.len();
            wanted.push((name.clone(), table, keys));
        }
        if total > MAX_BATCH_KEYS {
            return Err(validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let state = self.state().await?;
        let mut responses = Map::new();
        let mut bytes = 0;
        let mut unprocessed: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        for (name, table, keys) in wanted {
            let mut items = Vec::new();
            for key in keys {
                if bytes > PAGE_BYTES {
                    unprocessed.entry(name.clone()).or_default().push(key);
                    continue;
                }
                if let Some(item) = Self::lookup(table, &state, &key)? {
                    bytes += item_bytes(item);
                    items.push(item.clone());
                }
            }
            responses.insert(name, json!(items));
        }
        let unprocessed: Map<String, Value> = unprocessed
            .into_iter()
            .map(|(n, keys)| (n, json!({ "Keys": keys })))
            .collect();
        Ok(json!({ "Responses": responses, "UnprocessedKeys": unprocessed }))
    }

    async fn describe_table(&self, body: &Value) -> Result<Value, ApiError> {
        let table = self.table(&required::<String>(body, "TableName")?)?;
        let name = self.table_name(table).unwrap_or_default();
        let state = self.state().await?;
        let items = table.items(&state);
        let schema = |k: &KeySchema| {
            let mut s = vec![json!({"AttributeName": k.hash, "KeyType": "HASH"})];
            if let Some(r) = k.range {
                s.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
            }
            s
        };
        let mut attributes: Vec<&str> = std::iter::once(&table.keys)
            .chain(table.indexes.iter().map(|i| &i.keys))
            .flat_map(|k| std::iter::once(k.hash).chain(k.range))
            .collect();
        attributes.dedup();
        let indexes: Vec<Value> = table
            .indexes
            .iter()
            .map(|i| {
                let count = items
                    .iter()
                    .filter(|item| {
                        std::iter::once(i.keys.hash)
                            .chain(i.keys.range)
                            .all(|k| item.contains_key(k))
                    })
                    .count();
                json!({
                    "IndexName": i.name,
                    "KeySchema": schema(&i.keys),
                    "Projection": {"ProjectionType": "ALL"},
                    "IndexStatus": "ACTIVE",
                    "ItemCount": count,
                    "IndexArn": format!("{}/index/{}", self.table_arn(&name), i.name),
                })
            })
            .collect();
        let mut described = json!({
            "TableName": name,
            "TableArn": self.table_arn(&name),
            "TableStatus": "ACTIVE",
            "KeySchema": schema(&table.keys),
            "AttributeDefinitions": attributes
                .iter()
                .map(|a| json!({"AttributeName": a, "AttributeType": "S"}))
                .collect::<Vec<_>>(),
            "ItemCount": items.len(),
            "TableSizeBytes": items.iter().map(item_bytes).sum::<usize>(),
            "CreationDateTime": self.runner.opened_at().timestamp(),
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        });
        if !indexes.is_empty() {
            described["GlobalSecondaryIndexes"] = json!(indexes);
        }
        Ok(json!({ "Table": described }))
    }

    fn list_tables(&self, body: &Value) -> Result<Value, ApiError> {
        let start: Option<String> = member(body, "ExclusiveStartTableName")?;
        let limit: usize = member::<usize>(body, "Limit")?.unwrap_or(100).clamp(1, 100);
        let mut names: Vec<String> = TABLE_SCHEMAS
            .iter()
            .filter_map(|t| self.table_name(t))
            .filter(|n| start.as_ref().is_none_or(|s| n > s))
            .collect();
        names.sort();
        let more = names.len() > limit;
        names.truncate(limit);
        let mut out = json!({ "TableNames": names });
        if more {
            out["LastEvaluatedTableName"] = json!(names.last());
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "dynamodb_tests.rs"]
mod tests;
