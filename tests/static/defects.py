"""Makes a copy of template.yaml, statemachine/ and the console operator's policy
(docs/console-operator-policy.json) with exactly one defect, for negative.sh.

Usage: defects.py list                      -> "NAME CHECK [CHECK...]" per defect
       defects.py expect NAME               -> the regex a line of the check's output must match
                                               (empty: any failure with a reason counts)
       defects.py make NAME REPO_ROOT DEST  -> DEST/template.yaml + DEST/statemachine/ with NAME
       defects.py make none REPO_ROOT DEST  -> the unbroken copy (the control)

Each defect edits the real files as text and fails loudly if its anchor is gone, so a refactor of
the definitions cannot silently turn a negative test into a no-op. The checks listed for a defect
are the ones that must fail on it (one check a defect is enough for "caught"; more means each of
them must catch it).
"""

import json
import shutil
import sys
from pathlib import Path

BATCH = "statemachine/process-unpaid-orders.asl.json"
ORDER = "statemachine/process-unpaid-order.asl.json"
TEMPLATE = "template.yaml"
CONSOLE_POLICY = "docs/console-operator-policy.json"


def edit_json(dest: Path, rel: str, change) -> None:
    path = dest / rel
    machine = json.loads(path.read_text(encoding="utf-8"))
    change(machine)
    path.write_text(json.dumps(machine, indent=2) + "\n", encoding="utf-8")


def replace_text(dest: Path, rel: str, old: str, new: str) -> None:
    path = dest / rel
    text = path.read_text(encoding="utf-8")
    if text.count(old) < 1:
        raise SystemExit(f"defects.py: anchor {old!r} not found in {rel}; update the defect")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def order_state(machine: dict, name: str) -> dict:
    return machine["States"][name]


def batch_item_state(machine: dict, name: str) -> dict:
    return machine["States"]["ProcessEachOrder"]["ItemProcessor"]["States"][name]


def missing_next_target(dest: Path) -> None:
    def change(m):
        batch_item_state(m, "ProcessOrder")["Catch"][0]["Next"] = "ReportDuplicate"  # no such state

    edit_json(dest, BATCH, change)


def retry_typo_max_attempt(dest: Path) -> None:
    def change(m):
        retrier = order_state(m, "SaveOrder")["Retry"][0]
        retrier["MaxAttempt"] = retrier.pop("MaxAttempts")

    edit_json(dest, ORDER, change)


def unknown_substitution(dest: Path) -> None:
    def change(m):
        order_state(m, "NotifyFailure")["Parameters"]["FunctionName"] = "${NotifyFailureFunctionArm}"

    edit_json(dest, ORDER, change)


def unused_substitution(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "        ProcessUnpaidOrderStateMachineArn: !Ref ProcessUnpaidOrderStateMachine\n",
        "        ProcessUnpaidOrderStateMachineArn: !Ref ProcessUnpaidOrderStateMachine\n"
        "        LoadOrderFunctionArn: !GetAtt LoadOrderFunction.Arn\n",
    )


def states_all_not_last(dest: Path) -> None:
    def change(m):
        catch = batch_item_state(m, "ProcessOrder")["Catch"]
        catch.reverse()  # States.ALL first: ExecutionAlreadyExists would never be "duplicate"

    edit_json(dest, BATCH, change)


def states_all_not_alone(dest: Path) -> None:
    def change(m):
        batch_item_state(m, "ProcessOrder")["Catch"][1]["ErrorEquals"] = ["States.TaskFailed", "States.ALL"]

    edit_json(dest, BATCH, change)


def resource_typo(dest: Path) -> None:
    def change(m):
        order_state(m, "LogAttempt")["Resource"] = "arn:aws:states:::lambda:invok"

    edit_json(dest, ORDER, change)


def wildcard_service_action(dest: Path) -> None:
    replace_text(dest, TEMPLATE, "              Action: sns:Publish\n", "              Action: sns:*\n")


def wildcard_action(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "              Action: [dynamodb:PutItem, dynamodb:UpdateItem]\n",
        '              Action: "*"\n',
    )


def pipe_bad_starting_position(dest: Path) -> None:
    replace_text(dest, TEMPLATE, "          StartingPosition: LATEST\n", "          StartingPosition: EARLIEST\n")


def sam_policy_template_missing_parameter(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "      Description: Builds the unpaid payment header (pure; no AWS access beyond logs and traces).\n",
        "      Description: Builds the unpaid payment header (pure; no AWS access beyond logs and traces).\n"
        "      Policies:\n"
        "        - SQSSendMessagePolicy: {}\n",
    )


def unencrypted_topic(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        '      TopicName: !Sub "payment3-unpaid-order-${Branch}"\n      KmsMasterKeyId: !Ref EncryptionKey\n',
        '      TopicName: !Sub "payment3-unpaid-order-${Branch}"\n',
    )


def log_attempt_without_kms(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "              Action: [kms:Decrypt, kms:DescribeKey, kms:GenerateDataKey]\n",
        "              Action: [kms:Encrypt]\n",
    )


def sns_publish_without_generate_data_key(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "              Action: [kms:GenerateDataKey, kms:Decrypt]\n              Resource: !GetAtt EncryptionKey.Arn\n"
        "              Condition:\n                StringEquals:\n"
        '                  kms:ViaService: !Sub "sns.${AWS::Region}.amazonaws.com"\n',
        "              Action: [kms:Decrypt]\n              Resource: !GetAtt EncryptionKey.Arn\n"
        "              Condition:\n                StringEquals:\n"
        '                  kms:ViaService: !Sub "sns.${AWS::Region}.amazonaws.com"\n',
    )


def pipe_dlq_without_kms(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "                Action: [kms:GenerateDataKey, kms:Decrypt]\n",
        "                Action: [kms:Decrypt]\n",
    )


def save_order_without_update(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "              Action: [dynamodb:GetItem, dynamodb:UpdateItem]\n",
        "              Action: [dynamodb:GetItem]\n",
    )


def notify_failure_unused_get_item(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        "              Action: [dynamodb:PutItem, dynamodb:UpdateItem]\n",
        "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]\n",
    )


def key_policy_without_root(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        '              AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"\n            Action: kms:*\n',
        '              AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"\n'
        "            Action: [kms:Create*, kms:Describe*, kms:Enable*, kms:List*, kms:Put*, kms:Update*, kms:Revoke*,"
        " kms:Disable*, kms:Get*, kms:Delete*, kms:ScheduleKeyDeletion, kms:CancelKeyDeletion]\n",
    )


def record_event_no_kms_for_evidence_queue(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        '                    - !Sub "dynamodb.${AWS::Region}.amazonaws.com"\n                    - !Sub "sqs.${AWS::Region}.amazonaws.com"\n',
        '                    - !Sub "dynamodb.${AWS::Region}.amazonaws.com"\n',
    )


def notify_failure_without_configuration_set(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        '                - !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${EmailEventsConfigurationSet}"\n',
        "",
    )


def record_event_describes_no_batch_executions(dest: Path) -> None:
    replace_text(
        dest,
        TEMPLATE,
        '                - !Sub "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:process-unpaid-orders-${Branch}:*"\n',
        "",
    )


def console_policy_without_redrive(dest: Path) -> None:
    replace_text(dest, CONSOLE_POLICY, '        "states:RedriveExecution",\n', "")


def console_policy_unused_scan(dest: Path) -> None:
    replace_text(
        dest,
        CONSOLE_POLICY,
        '"Action": "dynamodb:GetItem",',
        '"Action": ["dynamodb:GetItem", "dynamodb:Scan"],',
    )


def console_policy_without_kms(dest: Path) -> None:
    replace_text(dest, CONSOLE_POLICY, '        "kms:Decrypt",\n', "")


def console_policy_start_on_any_machine(dest: Path) -> None:
    replace_text(
        dest,
        CONSOLE_POLICY,
        '"Resource": "arn:aws:states:REGION:ACCOUNT_ID:stateMachine:process-unpaid-order-BRANCH"',
        '"Resource": "*"',
    )


# name -> (make, checks that must fail on it)
DEFECTS = {
    "missing-next-target": (missing_next_target, ["asl-validator", "project"]),
    "retry-typo-MaxAttempt": (retry_typo_max_attempt, ["project"]),
    "unknown-substitution": (unknown_substitution, ["project"]),
    "unused-substitution": (unused_substitution, ["project"]),
    "states-all-not-last": (states_all_not_last, ["project"]),
    "states-all-not-alone": (states_all_not_alone, ["project"]),
    "resource-typo-lambda-invok": (resource_typo, ["project"]),
    "wildcard-iam-action-service": (wildcard_service_action, ["project"]),
    "wildcard-iam-action-star": (wildcard_action, ["project", "checkov"]),
    "pipe-bad-starting-position": (pipe_bad_starting_position, ["cfn-lint"]),
    "sam-policy-template-missing-parameter": (sam_policy_template_missing_parameter, ["sam-validate"]),
    "sns-topic-not-encrypted": (unencrypted_topic, ["checkov"]),
    "log-attempt-no-kms-for-attempt-table": (log_attempt_without_kms, ["iam"]),
    "notify-failure-no-kms-generate-data-key": (sns_publish_without_generate_data_key, ["iam"]),
    "pipe-role-no-kms-generate-data-key-for-dlq": (pipe_dlq_without_kms, ["iam"]),
    "save-order-statement-without-update-item": (save_order_without_update, ["iam"]),
    "notify-failure-unused-get-item-on-email-log": (notify_failure_unused_get_item, ["iam"]),
    "key-policy-does-not-let-iam-use-the-key": (key_policy_without_root, ["iam"]),
    "record-event-no-kms-for-the-evidence-queue": (record_event_no_kms_for_evidence_queue, ["iam"]),
    "notify-failure-not-allowed-on-the-configuration-set": (notify_failure_without_configuration_set, ["iam"]),
    "record-event-cannot-describe-batch-executions": (record_event_describes_no_batch_executions, ["iam"]),
    "console-policy-without-redrive": (console_policy_without_redrive, ["console-policy"]),
    "console-policy-unused-scan-grant": (console_policy_unused_scan, ["console-policy"]),
    "console-policy-without-kms-decrypt": (console_policy_without_kms, ["console-policy"]),
    "console-policy-start-on-any-machine": (console_policy_start_on_any_machine, ["console-policy"]),
}

# name -> the line the check must print: it names the function (or role), the action and the resource.
KEY = r"arn:aws:kms:us-east-1:123456789012:key/key-EncryptionKey"
EXPECT = {
    "log-attempt-no-kms-for-attempt-table": rf"^check_iam: log-attempt: kms:Decrypt on {KEY} is needed \(for dynamodb:PutItem on ProcessUnpaidOrderTable",
    "notify-failure-no-kms-generate-data-key": rf"^check_iam: notify-failure: kms:GenerateDataKey on {KEY} is needed \(for sns:Publish on FailureTopic",
    "pipe-role-no-kms-generate-data-key-for-dlq": rf"^check_iam: PipeRole: kms:GenerateDataKey on {KEY} is needed \(for sqs:SendMessage on PipeDeadLetterQueue",
    "save-order-statement-without-update-item": r"^check_iam: save-order: dynamodb:UpdateItem on arn:aws:dynamodb:us-east-1:123456789012:table/order-table-dev is called by the code but not allowed",
    "notify-failure-unused-get-item-on-email-log": r"^check_iam: notify-failure: NotifyFailureFunctionRole grants dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/payment3-email-log-dev, which no recorded call",
    "key-policy-does-not-let-iam-use-the-key": rf"^check_iam: log-attempt: key policy of EncryptionKey lets neither IAM .* use kms:Decrypt",
    "record-event-no-kms-for-the-evidence-queue": rf"^check_iam: record-event: kms:Decrypt on {KEY} is needed \(for sqs:ReceiveMessage on EvidenceQueue",
    "notify-failure-not-allowed-on-the-configuration-set": r"^check_iam: notify-failure: ses:SendEmail on arn:aws:ses:us-east-1:123456789012:configuration-set/payment3-unpaid-order-dev is called by the code but not allowed",
    "record-event-cannot-describe-batch-executions": r"^check_iam: record-event: states:DescribeExecution on arn:aws:states:us-east-1:123456789012:execution:process-unpaid-orders-dev:\S+ is called by the code but not allowed",
    "console-policy-without-redrive": r"^check_console_policy: console: states:RedriveExecution on arn:aws:states:us-east-1:123456789012:execution:process-unpaid-order-dev:.* is called by the console but not allowed",
    "console-policy-unused-scan-grant": r"^check_console_policy: console: the operator policy grants dynamodb:Scan on arn:aws:dynamodb:us-east-1:123456789012:table/payment3-email-log-dev, which no recorded call",
    "console-policy-without-kms-decrypt": rf"^check_console_policy: console: kms:Decrypt on {KEY} is needed \(for dynamodb:Query on OrderIndexTable",
    "console-policy-start-on-any-machine": r"^check_console_policy: console: the operator policy grants states:StartExecution on \*",
}


def copy(root: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / TEMPLATE, dest / TEMPLATE)
    shutil.copytree(root / "statemachine", dest / "statemachine", dirs_exist_ok=True)
    (dest / CONSOLE_POLICY).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / CONSOLE_POLICY, dest / CONSOLE_POLICY)


def main(argv: list) -> int:
    if argv[1:2] == ["list"]:
        for name, (_, checks) in DEFECTS.items():
            print(name, *checks)
        return 0
    if len(argv) == 3 and argv[1] == "expect":
        print(EXPECT.get(argv[2], ""))
        return 0
    if len(argv) == 5 and argv[1] == "make":
        name, root, dest = argv[2], Path(argv[3]), Path(argv[4])
        copy(root, dest)
        if name != "none":
            DEFECTS[name][0](dest)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
