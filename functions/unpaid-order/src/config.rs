//! Configuration from environment variables. Each function asks for the settings it uses; a
//! missing one fails start-up with the variable's name.

/// One setting and the environment variable it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `ORDER_TABLE`: the shop's order table.
    OrderTable,
    /// `CHECK_STATUS_TABLE`: the payment check-status records.
    CheckStatusTable,
    /// `PROCESS_UNPAID_ORDER_TABLE`: one record per processing attempt.
    ProcessUnpaidOrderTable,
    /// `EMAIL_LOG_TABLE`: the email log that keeps each notification to one send.
    EmailLogTable,
    /// `FAILURE_TOPIC_ARN`: the SNS topic told about each failed payment.
    FailureTopicArn,
    /// `SENDER_EMAIL`: the From address of the customer email.
    SenderEmail,
    /// `SES_CONFIGURATION_SET`: the configuration set the email is sent through, whose event
    /// destination publishes SES's sending events (the evidence of what went out).
    SesConfigurationSet,
    /// `ORDER_INDEX_TABLE`: orderId -> every execution that named it (the recorder's).
    OrderIndexTable,
}

impl Setting {
    /// Every setting, for the tools that configure all functions at once.
    pub const ALL: [Setting; 8] = [
        Setting::OrderTable,
        Setting::CheckStatusTable,
        Setting::ProcessUnpaidOrderTable,
        Setting::EmailLogTable,
        Setting::FailureTopicArn,
        Setting::SenderEmail,
        Setting::SesConfigurationSet,
        Setting::OrderIndexTable,
    ];

    /// The environment variable the setting is read from.
    pub fn var(self) -> &'static str {
        match self {
            Setting::OrderTable => "ORDER_TABLE",
            Setting::CheckStatusTable => "CHECK_STATUS_TABLE",
            Setting::ProcessUnpaidOrderTable => "PROCESS_UNPAID_ORDER_TABLE",
            Setting::EmailLogTable => "EMAIL_LOG_TABLE",
            Setting::FailureTopicArn => "FAILURE_TOPIC_ARN",
            Setting::SenderEmail => "SENDER_EMAIL",
            Setting::SesConfigurationSet => "SES_CONFIGURATION_SET",
            Setting::OrderIndexTable => "ORDER_INDEX_TABLE",
        }
    }

    /// The seed's table names, derived from BRANCH when the variable is not set.
    fn default_from_branch(self, branch: &str) -> Option<String> {
        match self {
            // The seed's order table is shared by every branch.
            Setting::OrderTable => Some("order-table-dev".to_string()),
            Setting::CheckStatusTable => Some(format!("payment3-check-status-{branch}")),
            Setting::ProcessUnpaidOrderTable => {
                Some(format!("payment3-process-unpaid-order-{branch}"))
            }
            Setting::EmailLogTable => Some(format!("payment3-email-log-{branch}")),
            Setting::SesConfigurationSet => Some(format!("payment3-unpaid-order-{branch}")),
            Setting::OrderIndexTable => Some(format!("payment3-unpaid-order-index-{branch}")),
            Setting::FailureTopicArn | Setting::SenderEmail => None,
        }
    }
}

/// Why the configuration could not be read; start-up fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    /// A table's variable is not set and there is no BRANCH to derive its name from.
    #[error("missing environment variable {0} (or BRANCH, to derive the table name from it)")]
    MissingTable(&'static str),
    /// A variable is set to something unusable: the variable and why.
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
    /// A function asked for a setting it did not list at start-up (a bug in that function).
    #[error("setting {0} was not loaded for this function")]
    NotLoaded(&'static str),
}

/// The resolved settings a function asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: Vec<(Setting, String)>,
}

impl Config {
    /// Reads the required settings from the process environment.
    pub fn from_env(required: &[Setting]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok(), required)
    }

    /// Reads the required settings through `lookup` (a variable name -> its value). An empty
    /// value counts as missing. Table names default from BRANCH as in the seed.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        required: &[Setting],
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let branch = get("BRANCH");
        let mut values = Vec::new();
        for &setting in required {
            let value = match (get(setting.var()), &branch) {
                (Some(v), _) => v,
                (None, Some(b)) => setting
                    .default_from_branch(b)
                    .ok_or(ConfigError::Missing(setting.var()))?,
                (None, None) if setting.default_from_branch("").is_some() => {
                    return Err(ConfigError::MissingTable(setting.var()))
                }
                (None, None) => return Err(ConfigError::Missing(setting.var())),
            };
            if setting == Setting::SenderEmail
                && crate::notice::recipient_address(&value)
                    .ok()
                    .flatten()
                    .as_deref()
                    .is_none_or(|a| !a.eq_ignore_ascii_case(&value))
            {
                return Err(ConfigError::Invalid(
                    setting.var(),
                    "not a plain 7-bit ASCII email address (domain in Punycode)".into(),
                ));
            }
            values.push((setting, value));
        }
        Ok(Config { values })
    }

    /// A config with these values, e.g. for tests or the offline runner.
    pub fn with(values: impl IntoIterator<Item = (Setting, String)>) -> Config {
        Config {
            values: values.into_iter().collect(),
        }
    }

    /// The setting's value, if this function loaded it.
    pub fn get(&self, setting: Setting) -> Result<&str, ConfigError> {
        self.values
            .iter()
            .find(|(s, _)| *s == setting)
            .map(|(_, v)| v.as_str())
            .ok_or(ConfigError::NotLoaded(setting.var()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn table_names_default_from_branch() {
        let config =
            Config::from_lookup(lookup(&[("BRANCH", "prod")]), &Setting::ALL[..4]).unwrap();
        assert_eq!(config.get(Setting::OrderTable).unwrap(), "order-table-dev");
        assert_eq!(
            config.get(Setting::CheckStatusTable).unwrap(),
            "payment3-check-status-prod"
        );
        assert_eq!(
            config.get(Setting::ProcessUnpaidOrderTable).unwrap(),
            "payment3-process-unpaid-order-prod"
        );
        assert_eq!(
            config.get(Setting::EmailLogTable).unwrap(),
            "payment3-email-log-prod"
        );
    }

    #[test]
    fn explicit_values_win_and_unrequested_ones_are_not_loaded() {
        let config = Config::from_lookup(
            lookup(&[("BRANCH", "dev"), ("ORDER_TABLE", "orders")]),
            &[Setting::OrderTable],
        )
        .unwrap();
        assert_eq!(config.get(Setting::OrderTable).unwrap(), "orders");
        assert_eq!(
            config.get(Setting::SenderEmail).unwrap_err().to_string(),
            "setting SENDER_EMAIL was not loaded for this function"
        );
    }

    #[test]
    fn missing_variables_are_named() {
        let err = Config::from_lookup(lookup(&[("BRANCH", "dev")]), &Setting::ALL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variable FAILURE_TOPIC_ARN"
        );
        let err = Config::from_lookup(
            lookup(&[("CHECK_STATUS_TABLE", " ")]),
            &[Setting::CheckStatusTable],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing environment variable CHECK_STATUS_TABLE (or BRANCH, to derive the table name from it)"
        );
        let err = Config::from_lookup(
            lookup(&[("SENDER_EMAIL", "Payments <p@example.com>")]),
            &[Setting::SenderEmail],
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("environment variable SENDER_EMAIL is invalid"));
    }
}
