//! The evidence queue the template declares: the SQS queue a function reads through an `SQS` event
//! source (record-event), with its visibility timeout, redrive policy and the mapping's batch size.

use std::time::Duration;

use serde_json::Value;

use super::resolver::Resolver;
use super::{EvidenceQueueResource, FunctionResource};

/// SQS's default visibility timeout, and Lambda's default batch size for an SQS source.
const SQS_DEFAULT_VISIBILITY_SECS: u64 = 30;
const SQS_DEFAULT_BATCH_SIZE: usize = 10;

/// The queue a `Queue` property names: `!GetAtt Q.Arn` (or `!Ref Q`).
fn queue_logical_id(queue: &Value) -> Option<String> {
    match queue {
        Value::Object(m) => match (m.get("Fn::GetAtt"), m.get("Ref")) {
            (Some(Value::Array(parts)), _) => parts.first()?.as_str().map(str::to_string),
            (Some(Value::String(s)), _) => s.split('.').next().map(str::to_string),
            (_, Some(Value::String(r))) => Some(r.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl Resolver<'_> {
    /// The resolved `EventPattern` of every `AWS::Events::Rule` with a target on `queue`.
    fn rules_into(&self, queue: &str) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for (id, r) in self.resources {
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Events::Rule") {
                continue;
            }
            let targets = r
                .pointer("/Properties/Targets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let on_queue = targets
                .iter()
                .filter_map(|t| t.get("Arn"))
                .any(|arn| queue_logical_id(arn).as_deref() == Some(queue));
            if !on_queue {
                continue;
            }
            let pattern = r
                .pointer("/Properties/EventPattern")
                .ok_or_else(|| format!("{id}: a rule into {queue} without an EventPattern"))?;
            out.push(self.eval(pattern)?);
        }
        Ok(out)
    }

    /// The first `SQS` event source of `function` (logical id `id`, resource `r`), if it has one
    /// on a queue of this template.
    pub(super) fn evidence_queue(
        &self,
        function: &FunctionResource,
        r: &Value,
    ) -> Result<Option<EvidenceQueueResource>, String> {
        let Some(events) = r.pointer("/Properties/Events").and_then(Value::as_object) else {
            return Ok(None);
        };
        for (name, event) in events {
            if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                continue;
            }
            let props = event.get("Properties").cloned().unwrap_or(Value::Null);
            let Some(queue) = props.get("Queue").and_then(queue_logical_id) else {
                continue;
            };
            let id = &function.logical_id;
            let number = |v: Option<&Value>, what: &str| -> Result<Option<u64>, String> {
                match v {
                    None => Ok(None),
                    Some(v) => {
                        let v = self.eval(v)?;
                        let n = v
                            .as_u64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                        n.map(Some)
                            .ok_or_else(|| format!("{id}.Events.{name}: {what} is not a number"))
                    }
                }
            };
            let batch_size = number(props.get("BatchSize"), "BatchSize")?
                .map_or(SQS_DEFAULT_BATCH_SIZE, |n| n as usize);
            let window = number(
                props.get("MaximumBatchingWindowInSeconds"),
                "MaximumBatchingWindowInSeconds",
            )?
            .unwrap_or(0);
            let q = self.resource(&queue)?;
            let qprops = q.get("Properties").cloned().unwrap_or(Value::Null);
            let visibility = number(qprops.get("VisibilityTimeout"), "VisibilityTimeout")?
                .unwrap_or(SQS_DEFAULT_VISIBILITY_SECS);
            let max_receive_count = number(
                qprops.pointer("/RedrivePolicy/maxReceiveCount"),
                "maxReceiveCount",
            )?
            .map(|n| n as u32);
            return Ok(Some(EvidenceQueueResource {
                logical_id: queue.clone(),
                name: self.get_att(&queue, "QueueName")?,
                arn: self.get_att(&queue, "Arn")?,
                function_binary: function.binary.clone(),
                visibility_timeout: Duration::from_secs(visibility),
                max_receive_count,
                batch_size: batch_size.clamp(1, 10_000),
                batching_window: Duration::from_secs(window.min(300)),
                rules: self.rules_into(&queue)?,
            }));
        }
        Ok(None)
    }
}
