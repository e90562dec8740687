//! The `AWS::Pipes::Pipe` settings: FilterCriteria, batch size and window, starting position,
//! retries, record age, dead-letter queue and InputTemplate.

use serde_json::Value;

use crate::input_template::InputTemplate;

use super::resolver::Resolver;
use super::yaml::scalar_text;
use super::PipeResource;

impl Resolver<'_> {
    pub(super) fn pipe(&self, id: &str, r: &Value) -> Result<PipeResource, String> {
        let props = r.get("Properties").cloned().unwrap_or(Value::Null);
        let mut filters = Vec::new();
        if let Some(list) = props
            .pointer("/SourceParameters/FilterCriteria/Filters")
            .and_then(Value::as_array)
        {
            for f in list {
                let text = f
                    .get("Pattern")
                    .map(|p| self.eval(p))
                    .transpose()?
                    .map(|p| scalar_text(&p))
                    .ok_or_else(|| format!("pipe {id}: a filter without Pattern"))?;
                let pattern: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("pipe {id}: filter pattern {text}: {e}"))?;
                filters.push(pattern);
            }
        }
        let stream = props.pointer("/SourceParameters/DynamoDBStreamParameters");
        // AWS's default for a DynamoDB stream source is 100 records.
        let batch_size = match stream.and_then(|s| s.get("BatchSize")) {
            Some(v) => self
                .eval(v)?
                .as_u64()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| format!("pipe {id}: BatchSize must be 1..10000"))?
                as usize,
            None => 100,
        };
        let target = match props.get("Target") {
            Some(Value::Object(m)) if m.contains_key("Ref") => {
                m["Ref"].as_str().unwrap_or_default().to_string()
            }
            Some(other) => scalar_text(&self.eval(other)?),
            None => return Err(format!("pipe {id}: no Target")),
        };
        let target = match self.resources.get(&target) {
            Some(_) => self.state_machine_name_arn(&target)?.0,
            None => target
                .rsplit(':')
                .next()
                .map(str::to_string)
                .unwrap_or(target),
        };
        let int = |name: &str,
                   default: i64,
                   range: std::ops::RangeInclusive<i64>|
         -> Result<i64, String> {
            match stream.and_then(|s| s.get(name)) {
                Some(v) => self
                    .eval(v)?
                    .as_i64()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| format!("pipe {id}: {name} must be in {range:?}")),
                None => Ok(default),
            }
        };
        let batching_window_seconds = int("MaximumBatchingWindowInSeconds", 0, 0..=300)? as u64;
        let maximum_retry_attempts = int("MaximumRetryAttempts", -1, -1..=10_000)?;
        let maximum_record_age_seconds = int("MaximumRecordAgeInSeconds", -1, -1..=604_800)?;
        let starting_position = match stream.and_then(|s| s.get("StartingPosition")) {
            Some(v) => scalar_text(&self.eval(v)?),
            None => {
                return Err(format!(
                    "pipe {id}: DynamoDBStreamParameters.StartingPosition is required"
                ))
            }
        };
        if !matches!(starting_position.as_str(), "LATEST" | "TRIM_HORIZON") {
            return Err(format!("pipe {id}: StartingPosition must be LATEST or TRIM_HORIZON, got {starting_position}"));
        }
        let dead_letter_arn = stream
            .and_then(|s| s.pointer("/DeadLetterConfig/Arn"))
            .map(|v| self.eval(v).map(|v| scalar_text(&v)))
            .transpose()?;
        let input_template = props
            .pointer("/TargetParameters/InputTemplate")
            .map(|v| self.eval(v).map(|v| scalar_text(&v)))
            .transpose()?
            .map(|t| InputTemplate::parse(&t).map_err(|e| format!("pipe {id}: {e}")))
            .transpose()?;
        let name = match props.get("Name") {
            Some(v) => scalar_text(&self.eval(v)?),
            None => id.to_string(),
        };
        let source_arn = match props.get("Source") {
            Some(v) => scalar_text(&self.eval(v)?),
            None => return Err(format!("pipe {id}: no Source")),
        };
        Ok(PipeResource {
            logical_id: id.to_string(),
            source_arn,
            filters,
            batch_size,
            target,
            name,
            input_template,
            batching_window_seconds,
            starting_position,
            maximum_retry_attempts,
            maximum_record_age_seconds,
            dead_letter_arn,
        })
    }
}
