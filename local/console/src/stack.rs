//! Which deployment the console looks at: a stack's Branch names its two machines and its order
//! index, email log and attempt table as template.yaml names them; explicit table names win.

use unpaid_order::{Config, Setting};

use crate::sfn::Machine;

/// The per-order machine's name before `-<Branch>` (template.yaml `Name`).
pub const ORDER_MACHINE_PREFIX: &str = "process-unpaid-order-";
/// The batch machine's name before `-<Branch>`.
pub const BATCH_MACHINE_PREFIX: &str = "process-unpaid-orders-";

/// What the command line said about the deployment.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// The stack's `Branch` parameter (`--branch`, env BRANCH).
    pub branch: Option<String>,
    /// The order index (`--index-table`, env ORDER_INDEX_TABLE).
    pub index_table: Option<String>,
    /// The email log (`--email-log-table`, env EMAIL_LOG_TABLE).
    pub email_log_table: Option<String>,
    /// The attempt table (`--attempt-table`, env PROCESS_UNPAID_ORDER_TABLE).
    pub attempt_table: Option<String>,
}

/// The tables the console reads; `None`: not configured (the console does without).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// The order index: "find order" is one Query.
    pub index: Option<String>,
    /// The email log: what was sent, and SES's events of each email.
    pub email_log: Option<String>,
    /// The attempt table: one record per attempt.
    pub attempts: Option<String>,
}

/// The deployment as resolved: its Branch (when known) and the tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stack {
    /// The Branch whose machines the console shows; `None`: every machine.
    pub branch: Option<String>,
    /// The tables it reads.
    pub tables: Tables,
    /// Why there is no Branch, when the machines did not tell (shown beside "no order index").
    pub note: Option<String>,
}

/// The Branches of the per-order machines among `machines` (`process-unpaid-order-<Branch>`).
pub fn branches(machines: &[Machine]) -> Vec<String> {
    let mut out: Vec<String> = machines
        .iter()
        .filter(|m| !m.name.starts_with(BATCH_MACHINE_PREFIX))
        .filter_map(|m| m.name.strip_prefix(ORDER_MACHINE_PREFIX))
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl StackOptions {
    /// The deployment: `--branch`, or else the Branch of the one `process-unpaid-order-<Branch>`
    /// machine among `machines` (none or several: no Branch; explicit tables only).
    pub fn resolve(&self, machines: &[Machine]) -> Stack {
        let (branch, note) = match &self.branch {
            Some(b) => (Some(b.clone()), None),
            None => match branches(machines).as_slice() {
                [one] => (Some(one.clone()), None),
                [] => (
                    None,
                    Some("no process-unpaid-order-<Branch> machine here".to_string()),
                ),
                several => (
                    None,
                    Some(format!(
                        "several stacks here ({}): pass --branch",
                        several.join(", ")
                    )),
                ),
            },
        };
        let table = |given: &Option<String>, setting: Setting| -> Option<String> {
            if let Some(t) = given.as_ref().filter(|t| !t.is_empty()) {
                return Some(t.clone());
            }
            let branch = branch.as_ref()?;
            // The functions' own defaults from BRANCH (unpaid_order::config), so the names agree.
            let lookup = |name: &str| (name == "BRANCH").then(|| branch.clone());
            Config::from_lookup(lookup, &[setting])
                .ok()
                .and_then(|c| c.get(setting).ok().map(str::to_string))
        };
        Stack {
            tables: Tables {
                index: table(&self.index_table, Setting::OrderIndexTable),
                email_log: table(&self.email_log_table, Setting::EmailLogTable),
                attempts: table(&self.attempt_table, Setting::ProcessUnpaidOrderTable),
            },
            branch,
            note,
        }
    }
}

impl Stack {
    /// The machines the console shows and acts on: the Branch's two, or every machine when no
    /// Branch is known. (An operator's least-privilege role may list other machines but not
    /// read them: scoping keeps the pages within what it may read.)
    pub fn scope(&self, machines: Vec<Machine>) -> Vec<Machine> {
        let Some(b) = &self.branch else {
            return machines;
        };
        let own = [
            format!("{ORDER_MACHINE_PREFIX}{b}"),
            format!("{BATCH_MACHINE_PREFIX}{b}"),
        ];
        machines
            .into_iter()
            .filter(|m| own.contains(&m.name))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(name: &str) -> Machine {
        Machine {
            arn: format!("arn:aws:states:us-east-1:1:stateMachine:{name}"),
            name: name.into(),
        }
    }

    #[test]
    fn the_branch_names_the_tables_as_the_template_does() {
        let stack = StackOptions {
            branch: Some("prod".into()),
            email_log_table: Some("shared-email-log".into()),
            ..StackOptions::default()
        }
        .resolve(&[]);
        assert_eq!(
            stack.tables,
            Tables {
                index: Some("payment3-unpaid-order-index-prod".into()),
                email_log: Some("shared-email-log".into()),
                attempts: Some("payment3-process-unpaid-order-prod".into()),
            }
        );
    }

    #[test]
    fn the_branch_comes_from_the_one_stack_present() {
        let machines = [
            machine("process-unpaid-order-dev"),
            machine("process-unpaid-orders-dev"),
            machine("another-team"),
        ];
        let stack = StackOptions::default().resolve(&machines);
        assert_eq!(stack.branch.as_deref(), Some("dev"));
        let names: Vec<String> = stack
            .scope(machines.to_vec())
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            names,
            ["process-unpaid-order-dev", "process-unpaid-orders-dev"]
        );

        let two = [
            machine("process-unpaid-order-dev"),
            machine("process-unpaid-order-prod"),
        ];
        let stack = StackOptions::default().resolve(&two);
        assert_eq!((stack.branch, stack.tables.index), (None, None));
        assert!(stack.note.unwrap().contains("dev, prod"));
        let only_index = StackOptions {
            index_table: Some("idx".into()),
            ..StackOptions::default()
        }
        .resolve(&[]);
        assert_eq!(only_index.tables.index.as_deref(), Some("idx"));
        assert_eq!(only_index.tables.email_log, None);
    }
}
