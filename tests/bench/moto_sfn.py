#!/usr/bin/env python3
"""Times executions of one definition on moto's Step Functions interpreter (run with the
.tools/moto venv's python, which has boto3): CreateStateMachine once, then per iteration
StartExecution and DescribeExecution polled every --poll-ms until it is no longer RUNNING.
Prints JSON: median/p10/p90 ms per execution, status, and the output of the last execution.

  .tools/moto/bin/python tests/bench/moto_sfn.py --endpoint $MOTO_ENDPOINT \
      --definition d.asl.json --input i.json --iterations 10
"""
import argparse
import json
import statistics
import sys
import time
import urllib.request

import boto3
from botocore.config import Config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--definition", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop early after this long")
    ap.add_argument("--execution-timeout", type=float, default=60.0)
    ap.add_argument("--poll-ms", type=float, default=5.0)
    a = ap.parse_args()

    # Execution is off by default in moto (executions would stay RUNNING): turn it on.
    req = urllib.request.Request(
        f"{a.endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).read()

    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=a.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}),
    )
    definition = open(a.definition).read()
    payload = open(a.input).read()
    name = f"bench-{int(time.time() * 1000)}"
    arn = sfn.create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::111111111111:role/bench", type="STANDARD"
    )["stateMachineArn"]

    samples, status, output, error = [], None, None, None
    started = time.monotonic()
    for i in range(a.iterations):
        t0 = time.perf_counter()
        ex = sfn.start_execution(stateMachineArn=arn, name=f"{name}-{i}", input=payload)["executionArn"]
        deadline = t0 + a.execution_timeout
        while True:
            d = sfn.describe_execution(executionArn=ex)
            if d["status"] != "RUNNING":
                break
            if time.perf_counter() > deadline:
                break
            time.sleep(a.poll_ms / 1000)
        samples.append((time.perf_counter() - t0) * 1000)
        status, output = d["status"], d.get("output")
        error = d.get("error"), d.get("cause")
        if status != "SUCCEEDED" or time.monotonic() - started > a.max_seconds:
            break
    samples.sort()
    print(json.dumps({
        "engine": "moto",
        "iterations": len(samples),
        "status": status,
        "error": None if status == "SUCCEEDED" else error,
        "median_ms": statistics.median(samples),
        "p10_ms": samples[int((len(samples) - 1) * 0.1)],
        "p90_ms": samples[int((len(samples) - 1) * 0.9)],
        "output": json.loads(output) if output else None,
    }))
    return 0 if status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
