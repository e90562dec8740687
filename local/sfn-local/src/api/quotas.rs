//! `serve --aws-quotas`: Step Functions' documented API throttling, a token bucket per API action
//! for the account and region the API serves, answering `ThrottlingException` as AWS does.
//!
//! Values: "Quotas related to API action throttling", AWS Step Functions Developer Guide
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>), as of 2026.
//! Actions the page does not list (and the DynamoDB API sfn-local also serves) are not throttled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use super::ApiError;

/// One action's quota: a bucket of `size` tokens refilled at `refill` per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Most calls at once (the bucket's size).
    pub size: f64,
    /// Tokens added per second (the sustained rate).
    pub refill: f64,
}

/// The regions with the larger buckets (the page's "US East (N. Virginia), US West (Oregon),
/// and Europe (Ireland)" column).
const LARGE_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// A bucket's size and refill per second, as the page's table gives them.
type Documented = (f64, f64);

/// (action, large regions' bucket, other regions' bucket).
const DOCUMENTED: [(&str, Documented, Documented); 25] = [
    ("CreateActivity", (100., 1.), (100., 1.)),
    ("CreateStateMachine", (100., 1.), (100., 1.)),
    ("DeleteActivity", (100., 1.), (100., 1.)),
    ("DeleteStateMachine", (100., 1.), (100., 1.)),
    ("DescribeActivity", (200., 1.), (200., 1.)),
    ("DescribeExecution", (300., 15.), (250., 10.)),
    ("DescribeMapRun", (200., 1.), (200., 1.)),
    ("DescribeStateMachine", (200., 20.), (200., 20.)),
    ("DescribeStateMachineForExecution", (200., 1.), (200., 1.)),
    ("GetActivityTask", (3000., 500.), (1500., 300.)),
    ("GetExecutionHistory", (400., 20.), (400., 20.)),
    ("ListActivities", (100., 10.), (100., 5.)),
    ("ListExecutions", (200., 5.), (100., 2.)),
    ("ListMapRuns", (100., 1.), (100., 1.)),
    ("ListStateMachines", (100., 5.), (100., 5.)),
    ("ListTagsForResource", (100., 1.), (100., 1.)),
    ("RedriveExecution", (1300., 300.), (800., 150.)),
    ("SendTaskFailure", (3000., 500.), (1500., 300.)),
    ("SendTaskHeartbeat", (3000., 500.), (1500., 300.)),
    ("SendTaskSuccess", (3000., 500.), (1500., 300.)),
    ("StartExecution", (1300., 300.), (800., 150.)),
    ("StopExecution", (1000., 200.), (500., 25.)),
    ("TestState", (50., 10.), (50., 10.)),
    ("UpdateStateMachine", (100., 1.), (100., 1.)),
    ("ValidateStateMachineDefinition", (100., 1.), (100., 1.)),
];

/// Each action's documented quota in `region`.
pub fn documented(region: &str) -> BTreeMap<String, Quota> {
    let large = LARGE_REGIONS.contains(&region);
    DOCUMENTED
        .iter()
        .map(|(action, l, o)| {
            let (size, refill) = if large { *l } else { *o };
            (action.to_string(), Quota { size, refill })
        })
        .collect()
}

/// `ACTION=SIZE/REFILL` (e.g. `DescribeExecution=5/1`): a quota other than AWS's, for tests that
/// must see throttling without thousands of calls.
pub fn parse_override(spec: &str) -> Result<(String, Quota), String> {
    let err = || format!("'{spec}' is not ACTION=SIZE/REFILL (e.g. DescribeExecution=5/1)");
    let (action, rest) = spec.split_once('=').ok_or_else(err)?;
    let (size, refill) = rest.split_once('/').ok_or_else(err)?;
    let size: f64 = size.trim().parse().map_err(|_| err())?;
    let refill: f64 = refill.trim().parse().map_err(|_| err())?;
    if action.is_empty() || size < 1.0 || refill < 0.0 || !size.is_finite() || !refill.is_finite() {
        return Err(err());
    }
    Ok((action.trim().to_string(), Quota { size, refill }))
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one account and region.
pub struct Quotas {
    quotas: BTreeMap<String, Quota>,
    buckets: Mutex<HashMap<String, Bucket>>,
    throttled: Mutex<BTreeMap<String, u64>>,
}

impl Quotas {
    /// Buckets of `quotas`, each full.
    pub fn new(quotas: BTreeMap<String, Quota>) -> Self {
        Quotas {
            quotas,
            buckets: Mutex::new(HashMap::new()),
            throttled: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes a token for `action` at `now`, or refuses the call as AWS does.
    pub fn take_at(&self, action: &str, now: Instant) -> Result<(), ApiError> {
        let Some(q) = self.quotas.get(action) else {
            return Ok(());
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(action.to_string()).or_insert(Bucket {
            tokens: q.size,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * q.refill).min(q.size);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        drop(buckets);
        *self
            .throttled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(action.to_string())
            .or_default() += 1;
        Err(ApiError::new("ThrottlingException", "Rate exceeded"))
    }

    /// Takes a token for `action` now.
    pub fn take(&self, action: &str) -> Result<(), ApiError> {
        self.take_at(action, Instant::now())
    }

    /// How many calls of each action were throttled so far.
    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.throttled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The quotas in force.
    pub fn quotas(&self) -> &BTreeMap<String, Quota> {
        &self.quotas
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_size_at_once_then_its_refill_rate() {
        let quotas = Quotas::new(documented("us-east-1"));
        let t0 = Instant::now();
        for _ in 0..300 {
            quotas
                .take_at("DescribeExecution", t0)
                .expect("within the bucket");
        }
        let refused = quotas.take_at("DescribeExecution", t0).unwrap_err();
        assert_eq!(refused.kind, "ThrottlingException");
        assert_eq!(refused.message, "Rate exceeded");
        assert_eq!(refused.status, hyper::StatusCode::BAD_REQUEST);
        // 15 per second: one second later, 15 more and no sixteenth.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..15 {
            quotas.take_at("DescribeExecution", t1).expect("refilled");
        }
        assert!(quotas.take_at("DescribeExecution", t1).is_err());
        // Other actions have their own buckets; an unlisted one is not throttled.
        quotas.take_at("ListExecutions", t1).expect("own bucket");
        for _ in 0..10_000 {
            quotas
                .take_at("Query", t1)
                .expect("not a Step Functions quota");
        }
        assert_eq!(quotas.throttled()["DescribeExecution"], 2);
    }

    #[test]
    fn other_regions_have_the_smaller_buckets() {
        assert_eq!(
            documented("ap-southeast-2")["DescribeExecution"],
            Quota {
                size: 250.,
                refill: 10.
            }
        );
        assert_eq!(
            documented("eu-west-1")["ListExecutions"],
            Quota {
                size: 200.,
                refill: 5.
            }
        );
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_size() {
        let quotas = Quotas::new(BTreeMap::from([(
            "ListExecutions".to_string(),
            Quota {
                size: 2.,
                refill: 1.,
            },
        )]));
        let t0 = Instant::now();
        quotas.take_at("ListExecutions", t0).unwrap();
        let later = t0 + Duration::from_secs(3600);
        quotas.take_at("ListExecutions", later).unwrap();
        quotas.take_at("ListExecutions", later).unwrap();
        assert!(quotas.take_at("ListExecutions", later).is_err());
    }

    #[test]
    fn overrides_parse_or_say_the_form() {
        assert_eq!(
            parse_override("DescribeExecution=5/0.5").unwrap(),
            (
                "DescribeExecution".into(),
                Quota {
                    size: 5.,
                    refill: 0.5
                }
            )
        );
        for bad in [
            "DescribeExecution",
            "X=5",
            "X=0/1",
            "=5/1",
            "X=a/1",
            "X=5/-1",
        ] {
            let e = parse_override(bad).unwrap_err();
            assert!(e.contains("ACTION=SIZE/REFILL"), "{bad}: {e}");
        }
    }
}
