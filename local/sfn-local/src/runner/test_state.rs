//! TestState on the runner: one state run once by the engine, its tasks dispatched as an
//! execution's are (the project's functions, `--lambda-functions`), in the API's account.

use std::sync::Arc;

use asl::test_state::{TestStateError, TestStateRequest, TestStateResponse};
use asl::{Engine, ExecutionContext, TaskDispatcher};

use super::Runner;

impl Runner {
    /// AWS's TestState: `req` run as a state of an express-like execution in `account` and
    /// `region` (what `$$.Execution.Id` and `$$.StateMachine.Id` show).
    pub async fn test_state(
        &self,
        req: TestStateRequest,
        account: &str,
        region: &str,
    ) -> Result<TestStateResponse, TestStateError> {
        let name = uuid::Uuid::new_v4().to_string();
        let machine = "TestStateMachine";
        let prefix = format!("arn:aws:states:{region}:{account}");
        let ctx = ExecutionContext {
            execution_arn: format!("{prefix}:express:{machine}:{name}"),
            execution_name: name,
            start_time: self.core.clock.now(),
            state_machine_arn: format!("{prefix}:stateMachine:{machine}"),
            state_machine_name: machine.into(),
            role_arn: req.role_arn.clone().unwrap_or_default(),
            redrive_count: 0,
        };
        let engine = Engine::new(
            self.core.clone() as Arc<dyn TaskDispatcher>,
            self.core.clock.clone(),
        )
        .with_concurrency(true);
        asl::test_state::test_state(&engine, req, ctx).await
    }
}
