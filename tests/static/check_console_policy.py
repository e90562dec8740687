"""The console operator's least-privilege policy (docs/console-operator-policy.json) checked
against the AWS calls the console really makes, with the IAM evaluator of check_iam.py (moto's
moto.iam.access_control, pinned in tests/tools/requirements-moto.txt).

Reads the console's call log (JSON lines written by sfn-console when CONSOLE_CALL_LOG_DIR is set,
one per call: {"service", "action", "resource", "index"?}; resource = a Step Functions ARN, "*",
or a table name), instantiates the policy's placeholders for the SAM-translated template
(REGION, ACCOUNT_ID, BRANCH: the template's default; KEY_ID: its EncryptionKey), and checks:

  - every recorded call is allowed by the policy;
  - every granted (action, resource) is used by at least one recorded call;
  - a table encrypted with a customer-managed key (the translated template's SSESpecification)
    comes with the KMS actions DynamoDB needs for the calls made on it (kms:Decrypt and
    kms:DescribeKey, via dynamodb, as check_iam.py has them), no KMS action is granted that no
    call needs, and the key policy lets IAM grant them;
  - nothing but states:ListStateMachines (which has no resource type) is granted on "*", and no
    action is a wildcard.

A recorded table name maps to the stack's table whose function environment variable names it
(ORDER_INDEX_TABLE, ...): the deployed names, or the tests' (<prefix>-order-index, ...). A
recorded machine must be one of the template's two.

Usage (with the moto venv's python): check_console_policy.py TRANSLATED_CFN_JSON POLICY_JSON CALL_LOG_DIR
Prints one line per problem; exits 1 if there is any.
"""

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_iam as iam  # noqa: E402  (the same evaluator and template resolution)

# A recorded table name -> the environment variable of the functions that names the table.
TABLE_RULES = [
    (re.compile(r"(^payment3-unpaid-order-index-.+|-order-index)$"), "ORDER_INDEX_TABLE"),
    (re.compile(r"(^payment3-email-log-.+|-email-log)$"), "EMAIL_LOG_TABLE"),
    (re.compile(r"(^payment3-process-unpaid-order-.+|-process-unpaid-order)$"), "PROCESS_UNPAID_ORDER_TABLE"),
]
# Actions that have no resource type: "*" is the only resource they can be granted on.
RESOURCE_STAR_ONLY = {"states:liststatemachines"}


def read_calls(directory: Path) -> list:
    calls = []
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"check_console_policy: no *.jsonl call log in {directory} (run the console tests with CONSOLE_CALL_LOG_DIR set)")
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                call = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"check_console_policy: {path}:{n}: not JSON: {e}")
            missing = {"service", "action", "resource"} - set(call)
            if missing:
                raise SystemExit(f"check_console_policy: {path}:{n}: missing {sorted(missing)}")
            calls.append(call)
    return calls


class Check:
    def __init__(self, cfn: dict, policy_text: str) -> None:
        self.iam = iam.Check(cfn)
        self.t = self.iam.t
        self.problems = self.iam.problems
        branch = self.t.params.get("Branch", "dev")
        key_lid = next(lid for lid, r in self.t.resources.items() if r["Type"] == "AWS::KMS::Key")
        values = {
            "ACCOUNT_ID": iam.ACCOUNT,
            "REGION": iam.REGION,
            "BRANCH": branch,
            "KEY_ID": self.t.ref(key_lid),
        }
        for name, value in values.items():
            policy_text = re.sub(rf"\b{name}\b", value, policy_text)
        self.statements = iam.statements(json.loads(policy_text))
        # The functions' environment (Globals): the deployed table names.
        self.env = next(iter(self.iam.functions().values()))[2]
        self.machines = {
            self.t.resolve(r["Properties"].get("StateMachineName"))
            for r in self.t.resources.values()
            if r["Type"] == "AWS::StepFunctions::StateMachine"
        }

    def call_arn(self, call: dict) -> str | None:
        """The ARN IAM authorises the call against."""
        action, resource = call["action"], call["resource"]
        if call["service"] == "states":
            if resource == "*":
                return "*"
            m = re.match(r"^arn:aws:states:[^:]+:\d{12}:(stateMachine|execution):([^:]+)", resource)
            if not m or m.group(2) not in self.machines:
                self.problems.append(f"console: {action} on {resource}: not a machine of template.yaml ({', '.join(sorted(self.machines))})")
                return None
            return resource
        if call["service"] == "dynamodb":
            var = next((v for rx, v in TABLE_RULES if rx.search(resource)), None)
            if var is None or var not in self.env:
                self.problems.append(f"console: {action} on table {resource!r}: not a table of the stack (the console reads the order index, the email log and the attempt table)")
                return None
            arn = f"arn:{iam.PARTITION}:dynamodb:{iam.REGION}:{iam.ACCOUNT}:table/{self.env[var]}"
            return f"{arn}/index/{call['index']}" if call.get("index") else arn
        self.problems.append(f"console: service {call['service']!r} is not modelled by check_console_policy.py")
        return None

    def run(self, calls: list) -> None:
        used = set()
        for call in calls:
            arn = self.call_arn(call)
            if arn is not None:
                used.add((call["service"], call["action"], arn))
        for service, action, arn in sorted(used):
            if not iam.allowed(self.statements, action, arn):
                self.problems.append(f"console: {action} on {arn} is called by the console but not allowed by the operator policy")
        for s in self.statements:
            if s.get("Effect") != "Allow":
                continue
            for action in iam.as_list(s.get("Action", [])):
                if "*" in action:
                    self.problems.append(f"console: the operator policy grants the wildcard action {action}")
                for resource in iam.as_list(s.get("Resource", [])):
                    if resource == "*" and action.lower() not in RESOURCE_STAR_ONLY:
                        self.problems.append(f"console: the operator policy grants {action} on *: name the stack's resources")
        # Unused grants (KMS: against what the encrypted tables need, below).
        self.iam.check_unused("console", "the operator policy", self.statements, used)
        # The index lives in the table: a call on its index reads the table's key.
        touched = {(s, a, arn.split("/index/")[0]) for s, a, arn in used}
        self.iam.check_kms("console", "OperatorRole", self.statements, touched)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    cfn = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    policy = Path(sys.argv[2]).read_text(encoding="utf-8")
    calls = read_calls(Path(sys.argv[3]))
    check = Check(cfn, policy)
    check.run(calls)
    for p in check.problems:
        print(f"check_console_policy: {p}")
    distinct = {(c["action"], c.get("index")) for c in calls}
    print(
        f"check_console_policy: {len(calls)} recorded calls ({len(distinct)} distinct actions) from {sys.argv[3]}, "
        f"{len(check.problems)} problem(s)"
    )
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
