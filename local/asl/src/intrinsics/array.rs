//! The `States.Array*` family.

use serde_json::Value;

use super::*;

impl Invocation<'_> {
    pub(super) fn array_partition(
        &self,
        arr: &Value,
        size: &Value,
    ) -> Result<Value, IntrinsicError> {
        let arr = self.array(arr, 1)?;
        let size = self.int(size, 2)?;
        if size <= 0 {
            return Err(self.fail(format!(
                "the chunk size must be a positive, non-zero integer, but was {size}"
            )));
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Ok(Value::Array(
            arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
        ))
    }

    pub(super) fn array_range(
        &self,
        start: &Value,
        end: &Value,
        step: &Value,
    ) -> Result<Value, IntrinsicError> {
        let (start, end, step) = (self.int(start, 1)?, self.int(end, 2)?, self.int(step, 3)?);
        if step == 0 {
            return Err(self.fail("the step must be a non-zero integer"));
        }
        // Count first so a huge range is refused without building it.
        let count = if (step > 0 && start > end) || (step < 0 && start < end) {
            0
        } else {
            ((end as i128 - start as i128) / step as i128 + 1) as u128
        };
        if count > MAX_RANGE_ITEMS as u128 {
            return Err(self.fail(format!(
                "the range would have {count} items, more than the {MAX_RANGE_ITEMS} allowed"
            )));
        }
        Ok(Value::Array(
            (0..count as i64)
                .map(|i| Value::from(start + i * step))
                .collect(),
        ))
    }

    pub(super) fn array_get_item(
        &self,
        arr: &Value,
        index: &Value,
    ) -> Result<Value, IntrinsicError> {
        let arr = self.array(arr, 1)?;
        let i = self.int(index, 2)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| arr.get(i))
            .cloned()
            .ok_or_else(|| {
                self.fail(format!(
                    "the index {i} is out of bounds for an array of {} items",
                    arr.len()
                ))
            })
    }

    pub(super) fn array_unique(&self, arr: &Value) -> Result<Value, IntrinsicError> {
        let mut out: Vec<Value> = Vec::new();
        for v in self.array(arr, 1)? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(Value::Array(out))
    }
}
