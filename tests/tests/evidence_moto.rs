//! The evidence loop over the AWS back end (what the money matrix runs): the real adapters
//! against moto, SES behind the fault proxy, whose `on_accepted_send` hook publishes SES's
//! events for what moto accepted to `Runner::publish_evidence`; record-event then writes the
//! email log and the order index on moto through the DynamoDB adapters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use asl::{Clock, VirtualClock};
use aws_fault_proxy::{ses_events_of, Fault, FaultProxy, Rule, Service};
use sfn_local::{Runner, RunnerOptions};
use test_support::MotoEnv;
use unpaid_order::evidence::IndexEntry;
use unpaid_order::{Attr, Setting};
use workflow_tests::*;

#[tokio::test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs moto: run by tests/run.sh, or --features emulator with .tools/moto"
)]
async fn a_lost_send_email_reply_over_moto_is_decided_by_the_events_of_what_moto_accepted() {
    let env = MotoEnv::new().await;
    env.seed_fixtures().await;
    let ses = FaultProxy::start(Service::SesV2, &env.endpoint, Duration::ZERO)
        .await
        .expect("proxy");
    // The first SendEmail reaches moto (the email goes out), its answer is lost.
    ses.script(Rule {
        operation: Some("SendEmail".into()),
        nth: 1,
        fault: Fault::LostReply,
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
    let mut options = RunnerOptions::new(project_root(), dir.path());
    options.clock = clock.clone();
    options.aws_endpoint = Some(env.endpoint.clone());
    options.sdk_config = Some(env.sdk.clone());
    options.service_endpoints.ses = Some(ses.endpoint());
    options.environment = Setting::ALL
        .iter()
        .map(|s| (s.var().to_string(), env.get(*s)))
        .collect::<BTreeMap<_, _>>();
    let runner = Runner::open(options).await.expect("opens");
    {
        let runner = runner.clone();
        let clock = clock.clone();
        ses.on_accepted_send(move |email| {
            for (event, at) in ses_events_of(&email) {
                // On the runner's clock: SES's delays after the acceptance, from now.
                runner.publish_evidence(event, clock.now() + (at - email.sent_at));
            }
        });
    }

    let run = runner
        .start_execution(
            ORDER_MACHINE,
            serde_json::json!({"orderId": UNPAID_ORDER}),
            Some("over-moto"),
        )
        .await
        .expect("start");
    assert_eq!(run.status, "SUCCEEDED", "{:?} {:?}", run.error, run.cause);
    assert_eq!(env.sent_emails().await.len(), 1, "one email in moto's SES");
    let record = env
        .scan(Setting::EmailLogTable)
        .await
        .into_iter()
        .find(|i| i.get("channel").and_then(Attr::as_s) == Some("email"))
        .expect("the email's record");
    assert_eq!(record["status"], Attr::S("sent".into()));
    assert_eq!(record["confirmedBy"], Attr::S("ses:Send".into()));
    let index: Vec<IndexEntry> = env
        .scan(Setting::OrderIndexTable)
        .await
        .iter()
        .filter_map(IndexEntry::from_item)
        .collect();
    assert_eq!(index.len(), 1, "{index:?}");
    assert_eq!(index[0].execution_arn, run.execution_arn);
    assert_eq!(index[0].status, "SUCCEEDED");
}
