//! Execution names and ARNs as StartExecution and DescribeExecution accept them, and the input
//! size limit.

use crate::error::RunnerError;

/// Largest execution input StartExecution accepts (256 KiB).
pub(super) const MAX_INPUT_BYTES: usize = 256 * 1024;
/// Execution names as StartExecution accepts them: 1..80 characters, none of AWS's refused ones.
pub fn validate_execution_name(name: &str) -> Result<(), RunnerError> {
    let bad = |why: &str| RunnerError::InvalidName(format!("Invalid Name: '{name}' ({why})"));
    let count = name.chars().count();
    if count == 0 || count > 80 {
        return Err(bad("must be 1 to 80 characters"));
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || ('\u{7f}'..='\u{9f}').contains(c)
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c)
    }) {
        return Err(bad(&format!("contains {c:?}")));
    }
    Ok(())
}

/// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME` (or `MACHINE:NAME`) → (machine, name).
pub fn parse_execution_arn(arn: &str) -> Result<(String, String), RunnerError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let (sm, name) = match parts.as_slice() {
        ["arn", _, "states", _, _, "execution", sm, name] => (*sm, *name),
        [sm, name] if !sm.is_empty() && !name.is_empty() => (*sm, *name),
        _ => {
            return Err(RunnerError::argument(
                "--execution-arn",
                format!("{arn} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"),
            ))
        }
    };
    Ok((sm.to_string(), name.to_string()))
}
