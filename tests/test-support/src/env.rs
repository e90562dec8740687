//! [`MotoEnv`]: one test's own tables, topic and verified sender on the shared moto server.

use aws_config::SdkConfig;
use serde_json::Value;
use unpaid_order::{Config, Item, Setting};

use crate::moto::{create_order_index_table, create_table, moto_data, moto_endpoint, sdk_config};
use crate::{unique, workspace_root};

/// A fresh set of the five tables (the four of the functions and the order index), a topic, a
/// verified sender and a configuration set in moto, and the [`Config`] naming them. Every name is unique, so tests can run in parallel on one moto server.
pub struct MotoEnv {
    /// The moto server's URL.
    pub endpoint: String,
    /// SDK configuration pointed at moto, with dummy credentials.
    pub sdk: SdkConfig,
    /// This test's table names, topic ARN and sender, as a function reads them.
    pub config: Config,
    /// A DynamoDB client on moto, for seeding and checking the tables.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl MotoEnv {
    /// Creates the tables, the topic and the verified sender on the moto server of `MOTO_ENDPOINT`.
    pub async fn new() -> MotoEnv {
        let endpoint = moto_endpoint();
        let sdk = sdk_config(&endpoint);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let prefix = unique("t");
        let orders = format!("{prefix}-orders");
        let checks = format!("{prefix}-check-status");
        let attempts = format!("{prefix}-process-unpaid-order");
        let emails = format!("{prefix}-email-log");
        let index = format!("{prefix}-order-index");
        create_table(&dynamodb, &orders, "orderId", None).await;
        create_table(&dynamodb, &checks, "orderId", Some("created_at")).await;
        create_table(&dynamodb, &attempts, "orderId", Some("created_at")).await;
        create_table(&dynamodb, &emails, "emailId", None).await;
        create_order_index_table(&dynamodb, &index).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topic = sns
            .create_topic()
            .name(format!("{prefix}-failure"))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let sender = format!("{prefix}@payments.example.com");
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        ses.create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .expect("verify sender identity");
        // moto stores the set (and ignores it when sending: it publishes no events).
        let configuration_set = format!("{prefix}-events");
        ses.create_configuration_set()
            .configuration_set_name(&configuration_set)
            .send()
            .await
            .expect("create configuration set");
        let config = Config::with([
            (Setting::OrderTable, orders),
            (Setting::CheckStatusTable, checks),
            (Setting::ProcessUnpaidOrderTable, attempts),
            (Setting::EmailLogTable, emails),
            (Setting::FailureTopicArn, topic),
            (Setting::SenderEmail, sender),
            (Setting::SesConfigurationSet, configuration_set),
            (Setting::OrderIndexTable, index),
        ]);
        MotoEnv {
            endpoint,
            sdk,
            config,
            dynamodb,
        }
    }

    /// The value this environment gave a setting.
    pub fn get(&self, setting: Setting) -> String {
        self.config
            .get(setting)
            .expect("set by MotoEnv::new")
            .to_string()
    }

    /// Seeds the tables from `events/tables/` (the shared fixtures).
    pub async fn seed_fixtures(&self) {
        let state = unpaid_order::memory::MemoryState::load_fixtures(
            &workspace_root().join("events/tables"),
        )
        .expect("fixtures");
        for (setting, items) in [
            (Setting::OrderTable, &state.orders),
            (Setting::CheckStatusTable, &state.check_status),
            (
                Setting::ProcessUnpaidOrderTable,
                &state.process_unpaid_order,
            ),
            (Setting::EmailLogTable, &state.email_log),
        ] {
            unpaid_order::aws::put_items(&self.dynamodb, &self.get(setting), items)
                .await
                .expect("seed");
        }
    }

    /// Environment variables that point a function binary at these resources.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = Setting::ALL
            .iter()
            .map(|s| (s.var().to_string(), self.get(*s)))
            .collect();
        env.push(("AWS_ENDPOINT_URL".into(), self.endpoint.clone()));
        env
    }

    /// Every item of a table (Scan), as plain items.
    pub async fn scan(&self, setting: Setting) -> Vec<Item> {
        let out = self
            .dynamodb
            .scan()
            .table_name(self.get(setting))
            .consistent_read(true)
            .send()
            .await
            .expect("scan");
        out.items
            .unwrap_or_default()
            .iter()
            .map(|i| unpaid_order::attr::item_from_sdk(i).expect("item"))
            .collect()
    }

    /// What moto says was published to this env's topic: `(message_id, message, subject)`.
    pub async fn published(&self) -> Vec<(String, String, String)> {
        let topic = self.get(Setting::FailureTopicArn);
        let data = moto_data(&self.endpoint).await;
        let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == topic.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                let text = |i: usize| n[i].as_str().unwrap_or_default().to_string();
                (text(0), text(1), text(2))
            })
            .collect()
    }

    /// The `dedupeId` message attribute of each message moto says was published to this env's
    /// topic, in order (`None` for a message without it).
    pub async fn published_dedupe_ids(&self) -> Vec<Option<String>> {
        let topic = self.get(Setting::FailureTopicArn);
        let data = moto_data(&self.endpoint).await;
        let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == topic.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                let attribute = &n[3][unpaid_order::notice::DEDUPE_ATTRIBUTE];
                attribute["StringValue"]
                    .as_str()
                    .or_else(|| attribute["Value"].as_str())
                    .map(str::to_string)
            })
            .collect()
    }

    /// What moto says SES sent from this env's sender (`{id, source, destinations, subject, body}`;
    /// moto keeps the HTML part when there is one).
    pub async fn sent_emails(&self) -> Vec<Value> {
        let sender = self.get(Setting::SenderEmail);
        let data = moto_data(&self.endpoint).await;
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["source"] == sender.as_str())
            .collect()
    }
}
