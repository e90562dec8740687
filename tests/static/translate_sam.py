"""Translate template.yaml (AWS SAM) into the CloudFormation SAM deploys, offline.

checkov and the project check look at the translated template because the SAM file hides what
matters: the roles SAM generates from each function's and state machine's inline Policies.
Local CodeUri/DefinitionUri paths become dummy S3 URIs (nothing is uploaded), and managed policy
names resolve from a fixed map instead of an IAM call.

Usage (with the sam venv's python): translate_sam.py TEMPLATE OUT_JSON
"""

import json
import os
import sys

# The translator fills AWS::Region from the environment; any region will do offline.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

# The only managed policies SAM attaches to this stack's roles (basic logs + X-Ray for Tracing).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


class OfflinePolicyLoader(ManagedPolicyLoader):
    def __init__(self) -> None:  # no IAM client: nothing here may reach AWS
        self._policy_map = dict(MANAGED_POLICIES)

    def load(self) -> dict:
        return self._policy_map


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for name, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://offline-translation/{name}.zip"
        if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = f"s3://offline-translation/{name}.asl.json"
    cfn = transform(template, {}, OfflinePolicyLoader())
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(cfn, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
