"""IAM and KMS of template.yaml checked against the AWS calls the functions really make.

Reads the AWS call log (JSON lines, one object per call: {"function", "service", "action",
"resource"}; resource = table name, topic ARN or SES identity), maps each resource to the template
resource the function reaches it through (its environment variable in template.yaml), and with
moto's IAM policy evaluator (moto.iam.access_control, pinned in tests/tools/requirements-moto.txt)
checks, per function role of the SAM-translated template:

  - every recorded call is allowed by the role;
  - every granted (action, resource) of the role is used by at least one recorded call;
  - every resource the role touches that is encrypted with a customer-managed key (DynamoDB
    SSESpecification.KMSMasterKeyId, SNS/SQS KmsMasterKeyId) comes with the KMS actions that
    service needs on that key, via that service (kms:ViaService), and no KMS action is granted
    that no touched resource needs;
  - the key policy lets IAM grant those actions (the account root principal, or the role itself).

Roles that are not functions (the state machines', the Pipe's) have no call log: what their
policy grants on an encrypted resource is taken as what they touch, for the KMS rules only.

Usage (with the moto venv's python): check_iam.py TRANSLATED_CFN_JSON CALL_LOG_DIR
Prints one line per problem naming the function (or role), the action and the resource; exits 1
if there is any.
"""

import json
import re
import sys
from pathlib import Path

from moto.iam.access_control import IAMPolicyStatement, PermissionResult

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
# Parameters without a default get a value of the allowed shape.
PARAMETER_VALUES = {
    "FailedOrderStreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/failed-orders/stream/2026-01-01T00:00:00.000",
    "SenderEmail": "payments@shop.example.com",
}

# How a name in the call log maps to the environment variable the function read it from. The
# names are those of the tests (functions/unpaid-order/src/testing.rs MotoEnv: "<prefix>-orders",
# ...) or of the deployed defaults (config.rs); a name that matches nothing is a call to a
# resource the template does not know, which fails the check.
NAME_RULES = [
    ("dynamodb", re.compile(r"(^order-table-.+|-orders)$"), "ORDER_TABLE"),
    ("dynamodb", re.compile(r"(^payment3-check-status-.+|-check-status)$"), "CHECK_STATUS_TABLE"),
    ("dynamodb", re.compile(r"(^payment3-process-unpaid-order-.+|-process-unpaid-order)$"), "PROCESS_UNPAID_ORDER_TABLE"),
    ("dynamodb", re.compile(r"(^payment3-email-log-.+|-email-log)$"), "EMAIL_LOG_TABLE"),
    ("dynamodb", re.compile(r"(^payment3-unpaid-order-index-.+|-order-index)$"), "ORDER_INDEX_TABLE"),
    ("sns", re.compile(r"^arn:aws[a-z-]*:sns:[^:]+:\d{12}:(payment3-unpaid-order-[a-z0-9-]+|.+-failure)$"), "FAILURE_TOPIC_ARN"),
    ("ses", re.compile(r"^[^@\s]+@[^@\s]+$"), "SENDER_EMAIL"),
    # SendEmail naming a configuration set is authorised on the set too (logged as
    # "configuration-set/<name>").
    ("ses", re.compile(r"^configuration-set/.+$"), "SES_CONFIGURATION_SET"),
]

# Calls the Lambda service makes with a function's role on its behalf, read from the template's
# event source mappings (AWS Lambda developer guide, "Using Lambda with Amazon SQS", execution
# role permissions): polling an SQS queue is ReceiveMessage, DeleteMessage, GetQueueAttributes.
ESM_SQS_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]

# KMS actions each service needs on a customer-managed key, per call, as AWS documents them:
#  - DynamoDB (developer guide, "Encryption at rest: how it works", customer managed key): the
#    caller needs kms:Decrypt (the table key) and kms:DescribeKey for reads and writes, and
#    kms:GenerateDataKey for writes;
#  - SNS (developer guide, "Key management", publishers to an encrypted topic): kms:GenerateDataKey
#    and kms:Decrypt;
#  - SQS (developer guide, "Key management"): producers kms:GenerateDataKey and kms:Decrypt,
#    consumers (ReceiveMessage) kms:Decrypt.
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
KMS_NEEDS = {
    "dynamodb": lambda action: ["kms:Decrypt", "kms:DescribeKey"]
    + (["kms:GenerateDataKey"] if action in DYNAMODB_WRITES else []),
    "sns": lambda action: ["kms:GenerateDataKey", "kms:Decrypt"] if action == "sns:Publish" else [],
    "sqs": lambda action: {
        "sqs:SendMessage": ["kms:GenerateDataKey", "kms:Decrypt"],
        "sqs:ReceiveMessage": ["kms:Decrypt"],
    }.get(action, []),
}

ENCRYPTED_TYPES = {
    "AWS::DynamoDB::Table": lambda p: (p.get("SSESpecification") or {}).get("KMSMasterKeyId"),
    "AWS::SNS::Topic": lambda p: p.get("KmsMasterKeyId"),
    "AWS::SQS::Queue": lambda p: p.get("KmsMasterKeyId"),
}


class Template:
    """The translated template with intrinsics resolved for one fixed account and region."""

    def __init__(self, cfn: dict) -> None:
        self.cfn = cfn
        self.resources = cfn.get("Resources") or {}
        self.params = {}
        for name, p in (cfn.get("Parameters") or {}).items():
            self.params[name] = PARAMETER_VALUES.get(name, p.get("Default", f"param-{name}"))
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::StackName": "process-unpaid-order",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.conditions = {}
        for name, cond in (cfn.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(cond))

    def props(self, logical_id: str) -> dict:
        return self.resources[logical_id].get("Properties") or {}

    def ref(self, name: str):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        res = self.resources.get(name)
        if res is None:
            raise SystemExit(f"check_iam: Ref to unknown {name}")
        t, p = res["Type"], res.get("Properties") or {}
        if t == "AWS::DynamoDB::Table":
            return self.resolve(p.get("TableName", name))
        if t == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{self.resolve(p.get('TopicName', name))}"
        if t == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.resolve(p.get('QueueName', name))}"
        if t == "AWS::KMS::Key":
            return f"key-{name}"
        if t == "AWS::SES::ConfigurationSet":
            return self.resolve(p.get("Name", name))
        if t == "AWS::StepFunctions::StateMachine":
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{self.resolve(p.get('StateMachineName', name))}"
        if t == "AWS::Lambda::Function":
            return name
        return name

    def get_att(self, name: str, att: str):
        res = self.resources.get(name)
        if res is None:
            raise SystemExit(f"check_iam: GetAtt of unknown {name}")
        t, p = res["Type"], res.get("Properties") or {}
        if t == "AWS::DynamoDB::Table" and att == "Arn":
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.ref(name)}"
        if t == "AWS::SQS::Queue":
            qname = self.resolve(p.get("QueueName", name))
            return {"Arn": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{qname}", "QueueName": qname}[att]
        if t == "AWS::KMS::Key" and att == "Arn":
            return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{self.ref(name)}"
        if t == "AWS::IAM::Role" and att == "Arn":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"
        if t == "AWS::Lambda::Function" and att == "Arn":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"
        if t == "AWS::Logs::LogGroup" and att == "Arn":
            return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{self.resolve(p.get('LogGroupName', name))}:*"
        if t == "AWS::StepFunctions::StateMachine" and att == "Name":
            return self.resolve(p.get("StateMachineName", name))
        return f"{name}.{att}"

    def sub(self, text: str, extra: dict) -> str:
        def one(m):
            key = m.group(1)
            if key in extra:
                return str(extra[key])
            if "." in key and not key.startswith("AWS::"):
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, v):
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                name, att = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(name, att)
            if k == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {n: self.resolve(x) for n, x in variables.items()})
            if k == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.conditions[name] else no)
            if k == "Fn::Equals":
                a, b = self.resolve(arg)
                return a == b
            if k == "Fn::Not":
                return not self.resolve(arg[0])
            if k == "Fn::Select":
                i, items = self.resolve(arg)
                return items[int(i)]
            if k == "Fn::Split":
                sep, text = self.resolve(arg)
                return text.split(sep)
            if k == "Fn::Join":
                sep, items = self.resolve(arg)
                return sep.join(items)
            if k == "Condition":
                return self.conditions[arg]
        return {k: self.resolve(x) for k, x in v.items()}


def statements(doc) -> list:
    st = (doc or {}).get("Statement") or []
    return st if isinstance(st, list) else [st]


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def permitted(statement: dict, action: str, resource: str, context: dict | None = None, principal=None) -> PermissionResult:
    """moto's verdict for one statement; action names compare case-insensitively as in IAM."""
    st = dict(statement)
    for key in ("Action", "NotAction"):
        if key in st:
            st[key] = [a.lower() for a in as_list(st[key])]
    return IAMPolicyStatement(st).is_action_permitted(action.lower(), resource, principal, context)


def allowed(stmts: list, action: str, resource: str, context: dict | None = None) -> bool:
    """IAM's rule for one identity policy set: an explicit Deny wins, else some Allow must match."""
    verdicts = [permitted(s, action, resource, context) for s in stmts]
    explicit_deny = any(v == PermissionResult.DENIED and s.get("Effect") == "Deny" for s, v in zip(stmts, verdicts))
    return not explicit_deny and any(
        v == PermissionResult.PERMITTED and s.get("Effect") == "Allow" for s, v in zip(stmts, verdicts)
    )


class Check:
    def __init__(self, cfn: dict) -> None:
        self.t = Template(cfn)
        self.problems: list[str] = []
        # ARN of every encrypted resource -> (logical id, service, key ARN)
        self.encrypted = {}
        self.arn_of = {}
        for lid, res in self.t.resources.items():
            kind = res["Type"]
            if kind not in ENCRYPTED_TYPES:
                continue
            arn = self.resource_arn(lid)
            self.arn_of[lid] = arn
            key = ENCRYPTED_TYPES[kind](res.get("Properties") or {})
            if key is None:
                continue
            key_arn = self.key_arn(key)
            if key_arn:
                self.encrypted[arn] = (lid, kind.split("::")[1].lower(), key_arn)

    def resource_arn(self, lid: str) -> str:
        kind = self.t.resources[lid]["Type"]
        if kind == "AWS::SNS::Topic":
            return self.t.ref(lid)
        return self.t.get_att(lid, "Arn")

    def key_arn(self, key) -> str | None:
        """A customer-managed key of this template as its ARN; None for an AWS-managed alias."""
        if isinstance(key, dict) and ("Ref" in key or "Fn::GetAtt" in key):
            lid = key.get("Ref") or as_list(key.get("Fn::GetAtt"))[0].split(".")[0]
            if self.t.resources.get(lid, {}).get("Type") == "AWS::KMS::Key":
                return self.t.get_att(lid, "Arn")
        value = self.t.resolve(key)
        if isinstance(value, str) and value.startswith("alias/aws/"):
            return None
        if isinstance(value, str) and value.startswith("arn:"):
            return value
        self.problems.append(f"template: key {value!r} is neither a key of this stack nor an AWS-managed alias")
        return None

    def key_logical_id(self, key_arn: str) -> str | None:
        for lid, res in self.t.resources.items():
            if res["Type"] == "AWS::KMS::Key" and self.t.get_att(lid, "Arn") == key_arn:
                return lid
        return None

    def role_statements(self, role_lid: str) -> list:
        props = self.t.props(role_lid)
        out = []
        for pol in props.get("Policies") or []:
            out += [self.t.resolve(s) for s in statements(pol.get("PolicyDocument"))]
        for lid, res in self.t.resources.items():
            if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                roles = [r.get("Ref") if isinstance(r, dict) else r for r in as_list(res["Properties"].get("Roles", []))]
                if role_lid in roles:
                    out += [self.t.resolve(s) for s in statements(res["Properties"].get("PolicyDocument"))]
        return out

    def has_managed(self, role_lid: str, name: str) -> bool:
        return any(str(a).endswith("/" + name) for a in self.t.props(role_lid).get("ManagedPolicyArns") or [])

    def functions(self) -> dict:
        """binary name -> (logical id, role logical id, resolved environment)"""
        out = {}
        for lid, res in self.t.resources.items():
            if res["Type"] != "AWS::Lambda::Function":
                continue
            binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary", lid)
            role = res["Properties"]["Role"]
            role_lid = role["Fn::GetAtt"][0] if isinstance(role, dict) and "Fn::GetAtt" in role else None
            env = self.t.resolve(((res["Properties"].get("Environment") or {}).get("Variables")) or {})
            out[binary] = (lid, role_lid, env)
        return out

    def call_arns(self, function: str, env: dict, call: dict) -> list:
        """The ARNs IAM authorises the call against (SES: the address and its domain identity)."""
        service, name = call["service"], call["resource"]
        if service == "states":
            # Executions reach the code through events, not its environment: the ARN must be an
            # execution of one of this template's state machines.
            machines = {
                self.t.resolve((r.get("Properties") or {}).get("StateMachineName"))
                for r in self.t.resources.values()
                if r["Type"] == "AWS::StepFunctions::StateMachine"
            }
            m = re.match(rf"^arn:{PARTITION}:states:{REGION}:{ACCOUNT}:execution:([^:]+):[^:]+$", name)
            if not m or m.group(1) not in machines:
                self.problems.append(f"{function}: {call['action']} on {name!r}: not an execution of this template's state machines")
                return []
            return [name]
        var = next((v for s, rx, v in NAME_RULES if s == service and rx.search(name)), None)
        if var is None or var not in env:
            self.problems.append(
                f"{function}: {call['action']} on {name!r}: no environment variable of this function names it "
                f"(the code reaches a resource template.yaml does not give it)"
            )
            return []
        value = env[var]
        if service == "ses" and var == "SES_CONFIGURATION_SET":
            return [f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:configuration-set/{value}"]
        if service == "dynamodb":
            return [f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{value}"]
        if service == "sns":
            return [value]
        if service == "ses":
            # SESv2 authorises SendEmail on the identity that is verified: the address, or its
            # domain. Which one an account verified is not in the template: both must be allowed.
            domain = value.split("@", 1)[1]
            return [f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/{i}" for i in (value, domain)]
        self.problems.append(f"{function}: service {service!r} is not modelled by check_iam.py")
        return []

    def mapping_calls(self) -> list:
        """What each SQS event source mapping does with its function's role, as call-log entries
        (resource = the queue's ARN)."""
        binaries = {lid: binary for binary, (lid, _, _) in self.functions().items()}
        out = []
        for res in self.t.resources.values():
            if res["Type"] != "AWS::Lambda::EventSourceMapping":
                continue
            props = res.get("Properties") or {}
            fn = props.get("FunctionName")
            lid = fn.get("Ref") if isinstance(fn, dict) else fn
            source = self.t.resolve(props.get("EventSourceArn"))
            if lid in binaries and isinstance(source, str) and ":sqs:" in source:
                out += [
                    {"function": binaries[lid], "service": "sqs", "action": a, "resource": source, "mapping": True}
                    for a in ESM_SQS_ACTIONS
                ]
        return out

    def run(self, calls: list) -> None:
        functions = self.functions()
        calls = calls + self.mapping_calls()
        used_by_role = {}  # role -> [(service, action, arn)]
        for call in calls:
            fn = call.get("function")
            if fn not in functions:
                self.problems.append(f"{fn}: not a function of template.yaml (call {call.get('action')} on {call.get('resource')})")
                continue
            _, role, env = functions[fn]
            arns = [call["resource"]] if call.get("mapping") else self.call_arns(fn, env, call)
            for arn in arns:
                used_by_role.setdefault(role, set()).add((call["service"], call["action"], arn))

        for fn, (lid, role, _env) in sorted(functions.items()):
            stmts = self.role_statements(role)
            used = used_by_role.get(role, set())
            for service, action, arn in sorted(used):
                if service == "sqs" and self.has_managed(role, "AWSLambdaSQSQueueExecutionRole"):
                    continue  # SAM attaches it for the SQS event: the AWS-managed grant of polling
                if not allowed(stmts, action, arn):
                    self.problems.append(f"{fn}: {action} on {arn} is called by the code but not allowed by {role}")
            self.check_unused(fn, role, stmts, used)
            self.check_kms(fn, role, stmts, used)

        # Roles without a call log: what they are granted on encrypted resources is what they touch.
        function_roles = {role for _, role, _ in functions.values()}
        for lid, res in self.t.resources.items():
            if res["Type"] != "AWS::IAM::Role" or lid in function_roles:
                continue
            stmts = self.role_statements(lid)
            touched = set()
            for s in stmts:
                if s.get("Effect") != "Allow":
                    continue
                for action in as_list(s.get("Action", [])):
                    service = action.split(":")[0]
                    for arn, (_, svc, _) in self.encrypted.items():
                        if svc == service and permitted(s, action, arn) == PermissionResult.PERMITTED:
                            touched.add((service, action, arn))
            self.check_kms(lid, lid, stmts, touched)

    def check_unused(self, fn: str, role: str, stmts: list, used: set) -> None:
        for s in stmts:
            if s.get("Effect") != "Allow":
                continue
            for action in as_list(s.get("Action", [])):
                if action.lower().startswith("kms:"):
                    continue  # checked against what the touched resources need (check_kms)
                for resource in as_list(s.get("Resource", [])):
                    one = {"Effect": "Allow", "Action": action, "Resource": resource}
                    if not any(permitted(one, a, arn) == PermissionResult.PERMITTED for _, a, arn in used):
                        self.problems.append(
                            f"{fn}: {role} grants {action} on {resource}, which no recorded call of {fn} uses"
                        )

    def check_kms(self, who: str, role: str, stmts: list, touched: set) -> None:
        needed = {}  # (kms action, key arn) -> [why]
        for service, action, arn in sorted(touched):
            if arn not in self.encrypted:
                continue
            lid, svc, key_arn = self.encrypted[arn]
            for kms_action in KMS_NEEDS[svc](action):
                needed.setdefault((kms_action, key_arn, svc), []).append(f"{action} on {lid}")
        role_arn = f"arn:{PARTITION}:iam::{ACCOUNT}:role/{role}"
        for (kms_action, key_arn, svc), why in sorted(needed.items()):
            via = {"kms:ViaService": f"{svc}.{REGION}.amazonaws.com"}
            if not allowed(stmts, kms_action, key_arn, via):
                self.problems.append(
                    f"{who}: {kms_action} on {key_arn} is needed (for {', '.join(sorted(set(why)))}: the resource is "
                    f"encrypted with that customer-managed key) but not allowed by {role} via {via['kms:ViaService']}"
                )
            self.check_key_policy(who, role_arn, kms_action, key_arn)
        # KMS actions granted that nothing this role touches needs.
        for s in stmts:
            if s.get("Effect") != "Allow":
                continue
            for action in as_list(s.get("Action", [])):
                if not action.lower().startswith("kms:"):
                    continue
                for resource in as_list(s.get("Resource", [])):
                    one = {"Effect": "Allow", "Action": action, "Resource": resource}
                    if not any(
                        permitted(one, a, k) == PermissionResult.PERMITTED for (a, k, _svc) in needed
                    ):
                        self.problems.append(
                            f"{who}: {role} grants {action} on {resource}, which no resource it touches needs"
                        )

    def check_key_policy(self, who: str, role_arn: str, kms_action: str, key_arn: str) -> None:
        lid = self.key_logical_id(key_arn)
        if lid is None:
            return
        policy = self.t.resolve(self.t.props(lid).get("KeyPolicy"))
        root = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
        ok = False
        for s in statements(policy):
            principals = as_list((s.get("Principal") or {}).get("AWS", [])) if isinstance(s.get("Principal"), dict) else []
            if s.get("Principal") == "*":
                principals = ["*"]
            if not principals:
                continue
            for principal in (root, role_arn):
                if principal not in principals and "*" not in principals:
                    continue
                verdict = permitted(s, kms_action, key_arn)
                if s.get("Effect") == "Deny" and verdict == PermissionResult.DENIED:
                    self.problems.append(f"{who}: key policy of {lid} denies {kms_action} to {principal}")
                    return
                if s.get("Effect") == "Allow" and verdict == PermissionResult.PERMITTED and not s.get("Condition"):
                    ok = True
        if not ok:
            self.problems.append(
                f"{who}: key policy of {lid} lets neither IAM (the account root principal) nor {role_arn} "
                f"use {kms_action}: the role's grant has no effect"
            )


def read_calls(directory: Path) -> list:
    calls = []
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"check_iam: no *.jsonl call log in {directory}")
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                call = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"check_iam: {path}:{n}: not JSON: {e}")
            missing = {"function", "service", "action", "resource"} - set(call)
            if missing:
                raise SystemExit(f"check_iam: {path}:{n}: missing {sorted(missing)}")
            calls.append(call)
    return calls


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cfn = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    calls = read_calls(Path(sys.argv[2]))
    check = Check(cfn)
    check.run(calls)
    for p in check.problems:
        print(f"check_iam: {p}")
    distinct = {(c["function"], c["action"]) for c in calls}
    print(
        f"check_iam: {len(calls)} recorded calls ({len(distinct)} distinct function/action pairs) from {sys.argv[2]}, "
        f"{len(check.problems)} problem(s)"
    )
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
