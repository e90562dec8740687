//! The template reader on a small template of its own.

use super::*;
use std::path::Path;

const TEMPLATE: &str = r#"
Parameters:
  Branch: { Type: String, Default: dev }
  Other: { Type: String, Default: "" }
Conditions:
  NoOther: !Equals [!Ref Other, ""]
Globals:
  Function:
    Environment:
      Variables:
        TABLE: !If [NoOther, !Sub "t-${Branch}", !Ref Other]
        TOPIC: !Ref Topic
Resources:
  LoadFn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: load-order } }
  Child:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub "child-${Branch}"
      DefinitionUri: sm/child.asl.json
      DefinitionSubstitutions:
        LoadArn: !GetAtt LoadFn.Arn
        Plain: hello
  Parent:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm/parent.asl.json
      DefinitionSubstitutions:
        ChildArn: !Ref Child
  Topic:
    Type: AWS::SNS::Topic
    Properties: { TopicName: !Sub "topic-${Branch}" }
  P:
    Type: AWS::Pipes::Pipe
    Properties:
      Target: !Ref Parent
      Source: arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x
      SourceParameters:
        FilterCriteria:
          Filters:
            - Pattern: '{"eventName": ["INSERT"]}'
        DynamoDBStreamParameters:
          BatchSize: 7
          StartingPosition: TRIM_HORIZON
          MaximumBatchingWindowInSeconds: 2
          DeadLetterConfig: { Arn: !Sub "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:dlq-${Branch}" }
      TargetParameters:
        InputTemplate: '{"id": "<$.eventID>"}'
"#;

fn parse(overrides: &[(&str, &str)]) -> Result<Template, RunnerError> {
    let o = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Template::parse(TEMPLATE, Path::new("/p/template.yaml"), &o)
}

#[test]
fn resolves_substitutions_to_functions_machines_and_literals() {
    let t = parse(&[]).unwrap();
    let child = t.state_machine("child-dev").unwrap();
    assert_eq!(child.definition_path, PathBuf::from("/p/sm/child.asl.json"));
    assert_eq!(child.short_name(), "child");
    assert_eq!(
        child.substitutions["LoadArn"],
        Substitution::Function {
            logical_id: "LoadFn".into(),
            binary: "load-order".into(),
            arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:load-order"),
        }
    );
    assert_eq!(
        child.substitutions["Plain"],
        Substitution::Literal("hello".into())
    );
    let parent = t.state_machine("Parent").unwrap();
    match &parent.substitutions["ChildArn"] {
        Substitution::StateMachine { name, arn, .. } => {
            assert_eq!(name, "child-dev");
            assert_eq!(arn, &child.arn);
        }
        other => panic!("{other:?}"),
    }
    assert!(t
        .function("arn:aws:lambda:us-east-1:123456789012:function:load-order:$LATEST")
        .is_some());
    assert!(t.function("nope").is_none());
}

#[test]
fn resolves_globals_and_pipe() {
    let t = parse(&[]).unwrap();
    assert_eq!(t.function_environment["TABLE"], "t-dev");
    assert_eq!(
        t.function_environment["TOPIC"],
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:topic-dev")
    );
    let pipe = t.pipe.unwrap();
    assert_eq!(pipe.batch_size, 7);
    assert_eq!(pipe.target, "Parent");
    assert_eq!(pipe.starting_position, "TRIM_HORIZON");
    assert_eq!(pipe.batching_window_seconds, 2);
    assert_eq!(
        (pipe.maximum_retry_attempts, pipe.maximum_record_age_seconds),
        (-1, -1)
    );
    assert_eq!(
        pipe.dead_letter_arn.as_deref(),
        Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:dlq-dev").as_str())
    );
    let t = pipe.input_template.as_ref().unwrap();
    assert_eq!(
        t.apply(&serde_json::json!({"eventID": "e"}), &Default::default())
            .unwrap(),
        serde_json::json!({"id": "e"})
    );
    assert_eq!(
        pipe.filters,
        vec![serde_json::json!({"eventName": ["INSERT"]})]
    );

    let t = parse(&[("Other", "x"), ("Branch", "prod")]).unwrap();
    assert_eq!(t.function_environment["TABLE"], "x");
    assert!(t.state_machine("child-prod").is_some());
}

#[test]
fn refuses_unknown_parameters_and_substitutions() {
    let err = parse(&[("Nope", "1")]).unwrap_err().to_string();
    assert!(err.contains("Nope"), "{err}");
    let subs = BTreeMap::from([("A".to_string(), Substitution::Literal("x".into()))]);
    assert_eq!(substitute("a ${A} b", &subs).unwrap(), "a x b");
    let err = substitute("${B}", &subs).unwrap_err();
    assert!(err.contains("${B}"), "{err}");
}

#[test]
fn reads_the_projects_evidence_queue_and_configuration_set() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let t = Template::load(&path, &BTreeMap::new()).unwrap();
    let q = t.evidence_queue.expect("the evidence queue");
    assert_eq!(q.name, "payment3-unpaid-order-evidence-dev");
    assert_eq!(
        q.arn,
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:payment3-unpaid-order-evidence-dev")
    );
    assert_eq!(q.function_binary, "record-event");
    assert_eq!(q.visibility_timeout, std::time::Duration::from_secs(120));
    assert_eq!((q.max_receive_count, q.batch_size), (Some(5), 10));
    assert_eq!(q.batching_window, std::time::Duration::from_secs(5));
    // SES's Ref of a configuration set is its name (what SendEmail names).
    assert_eq!(
        t.function_environment["SES_CONFIGURATION_SET"],
        "payment3-unpaid-order-dev"
    );
}
