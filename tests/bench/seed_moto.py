#!/usr/bin/env python3
"""Prepares a moto server for the function benchmarks (run with .tools/moto/bin/python, which
has boto3): the four tables with their keys (events/tables/README.md), the fixtures of
events/tables/*.json, the failure topic and verified SES identities. Prints the function
environment as KEY=VALUE lines (table names, FAILURE_TOPIC_ARN, SENDER_EMAIL, AWS_ENDPOINT_URL).

  .tools/moto/bin/python tests/bench/seed_moto.py --endpoint "$MOTO_ENDPOINT"
"""
import argparse
import json
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    # env var: (table name, fixture file, key schema)
    "ORDER_TABLE": ("bench-order", "orders.json", [("orderId", "HASH")]),
    "CHECK_STATUS_TABLE": ("bench-check-status", "check-status.json", [("orderId", "HASH"), ("created_at", "RANGE")]),
    "PROCESS_UNPAID_ORDER_TABLE": (
        "bench-process-unpaid-order", "process-unpaid-order.json", [("orderId", "HASH"), ("created_at", "RANGE")],
    ),
    "EMAIL_LOG_TABLE": ("bench-email-log", "email-log.json", [("emailId", "HASH")]),
}
SENDER = "payments@example.com"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()
    kw = dict(endpoint_url=a.endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    ddb = boto3.client("dynamodb", **kw)
    env = {}
    for var, (name, fixture, keys) in TABLES.items():
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        )
        for item in json.loads((ROOT / "events" / "tables" / fixture).read_text()):
            ddb.put_item(TableName=name, Item=item)
        env[var] = name
    env["FAILURE_TOPIC_ARN"] = boto3.client("sns", **kw).create_topic(Name="bench-failure")["TopicArn"]
    ses = boto3.client("sesv2", **kw)
    for identity in (SENDER, "example.com"):
        ses.create_email_identity(EmailIdentity=identity)
    env["SENDER_EMAIL"] = SENDER
    env["BRANCH"] = "bench"
    env["AWS_ENDPOINT_URL"] = a.endpoint
    for k, v in env.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
