"""The project's own static check of the state machines and template, for what asl-validator,
cfn-lint and checkov miss. Prints one line per problem and exits 1 if there is any.

ASL (statemachine/*.asl.json, every nesting level):
  - Retry and Catch entries use only ASL's field names, with the right types (a typo such as
    MaxAttempt is silently ignored by AWS and by asl-validator);
  - States.ALL stands alone in its ErrorEquals and in the last retrier/catcher;
  - Next / Default / Catch targets exist in their scope;
  - every Task Resource is a known Step Functions integration (a typo such as lambda:invok deploys
    and fails at run time);
  - project rules: every Task has Retry and TimeoutSeconds (or runs a child that has its own), and
    every lambda:invoke names its function through a ${...} substitution, never a literal;
template.yaml:
  - every ${...} in a definition is defined in its state machine's DefinitionSubstitutions, and
    every substitution defined there is used;
the SAM-translated CloudFormation (tests/static/translate_sam.py):
  - no IAM role or policy statement allows an Action containing a wildcard.

Usage (with the sam venv's python): check_project.py ROOT TRANSLATED_CFN_JSON
"""

import json
import re
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse

RETRY_FIELDS = {
    "ErrorEquals": list,
    "IntervalSeconds": int,
    "MaxAttempts": int,
    "BackoffRate": (int, float),
    "MaxDelaySeconds": int,
    "JitterStrategy": str,
    "Comment": str,
}
CATCH_FIELDS = {
    "ErrorEquals": list,
    "Next": str,
    "ResultPath": (str, type(None)),
    "Comment": str,
    "Assign": dict,
    "Output": (dict, str, list, int, float, bool, type(None)),
}

# Optimised integrations this project may use (exact), plus the AWS SDK integrations and Lambda
# function ARNs / substitutions (patterns). Everything else is a typo until added here on purpose.
KNOWN_RESOURCES = {
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::states:startExecution",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::states:startExecution.sync:2",
    "arn:aws:states:::states:startExecution.waitForTaskToken",
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::sqs:sendMessage",
    "arn:aws:states:::dynamodb:getItem",
    "arn:aws:states:::dynamodb:putItem",
    "arn:aws:states:::dynamodb:updateItem",
    "arn:aws:states:::dynamodb:deleteItem",
    "arn:aws:states:::events:putEvents",
}
KNOWN_RESOURCE_PATTERNS = [
    re.compile(r"^arn:aws:states:::aws-sdk:[a-z0-9]+:[A-Za-z0-9]+$"),
    re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$"),
    re.compile(r"^\$\{[A-Za-z0-9_]+\}$"),
]
CHILD_EXECUTION = "arn:aws:states:::states:startExecution.sync:2"
SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def check_error_list(p: Problems, where: str, entries: list, kind: str, fields: dict) -> None:
    if not isinstance(entries, list):
        p.add(where, f"{kind} must be an array")
        return
    for i, entry in enumerate(entries):
        at = f"{where}.{kind}[{i}]"
        if not isinstance(entry, dict):
            p.add(at, "must be an object")
            continue
        for key, value in entry.items():
            if key not in fields:
                p.add(at, f"unknown field {key!r} (allowed: {', '.join(sorted(fields))})")
            elif not isinstance(value, fields[key]) or isinstance(value, bool) and fields[key] is int:
                p.add(at, f"field {key!r} has the wrong type")
        errors = entry.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            p.add(at, "ErrorEquals must be a non-empty array of strings")
            continue
        if "States.ALL" in errors:
            if len(errors) != 1:
                p.add(at, "States.ALL must be alone in its ErrorEquals")
            if i != len(entries) - 1:
                p.add(at, f"States.ALL must be in the last {kind} entry")
        if kind == "Retry":
            if entry.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                p.add(at, "JitterStrategy must be FULL or NONE")
            if isinstance(entry.get("BackoffRate"), (int, float)) and entry["BackoffRate"] < 1:
                p.add(at, "BackoffRate must be >= 1.0")
            for k in ("IntervalSeconds", "MaxDelaySeconds"):
                if isinstance(entry.get(k), int) and entry[k] < 1:
                    p.add(at, f"{k} must be >= 1")
            if isinstance(entry.get("MaxAttempts"), int) and entry["MaxAttempts"] < 0:
                p.add(at, "MaxAttempts must be >= 0")


def check_states(p: Problems, where: str, machine: dict) -> None:
    states = machine.get("States")
    if not isinstance(states, dict):
        p.add(where, "States must be an object")
        return
    names = set(states)
    if machine.get("StartAt") not in names:
        p.add(where, f"StartAt {machine.get('StartAt')!r} is not a state here")
    for name, state in states.items():
        at = f"{where}/{name}"
        if not isinstance(state, dict):
            p.add(at, "must be an object")
            continue
        targets = []
        if "Next" in state:
            targets.append(("Next", state["Next"]))
        if "Default" in state:
            targets.append(("Default", state["Default"]))
        for i, choice in enumerate(state.get("Choices", []) or []):
            if isinstance(choice, dict) and "Next" in choice:
                targets.append((f"Choices[{i}].Next", choice["Next"]))
        if "Retry" in state:
            check_error_list(p, at, state["Retry"], "Retry", RETRY_FIELDS)
        if "Catch" in state:
            check_error_list(p, at, state["Catch"], "Catch", CATCH_FIELDS)
            for i, catcher in enumerate(state["Catch"] if isinstance(state["Catch"], list) else []):
                if isinstance(catcher, dict):
                    targets.append((f"Catch[{i}].Next", catcher.get("Next")))
        for field, target in targets:
            if target not in names:
                p.add(at, f"{field} {target!r} is not a state in this scope")
        if state.get("Type") == "Task":
            check_task(p, at, state)
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                check_states(p, f"{at}.{key}", state[key])
        for i, branch in enumerate(state.get("Branches", []) or []):
            if isinstance(branch, dict):
                check_states(p, f"{at}.Branches[{i}]", branch)


def check_task(p: Problems, at: str, state: dict) -> None:
    resource = state.get("Resource")
    if not isinstance(resource, str) or not (
        resource in KNOWN_RESOURCES or any(r.match(resource) for r in KNOWN_RESOURCE_PATTERNS)
    ):
        p.add(at, f"Resource {resource!r} is not a known Step Functions integration")
    if not state.get("Retry"):
        p.add(at, "Task without Retry (project rule: every call is retried on transient errors)")
    # A .sync:2 child is bounded by the child machine's own TimeoutSeconds.
    if resource != CHILD_EXECUTION and "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
        p.add(at, "Task without TimeoutSeconds (the default is 99999999 s)")
    if resource == "arn:aws:states:::lambda:invoke":
        fn = (state.get("Parameters") or {}).get("FunctionName")
        if not (isinstance(fn, str) and re.fullmatch(r"\$\{[A-Za-z0-9_]+\}", fn)):
            p.add(at, f"FunctionName {fn!r} must be a ${{...}} DefinitionSubstitution")


def used_substitutions(text: str) -> set:
    return set(SUBSTITUTION.findall(text))


def check_template(p: Problems, root: Path) -> None:
    template = yaml_parse((root / "template.yaml").read_text(encoding="utf-8"))
    seen_definitions = set()
    for logical_id, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = res.get("Properties") or {}
        uri = props.get("DefinitionUri")
        at = f"template.yaml/{logical_id}"
        if not isinstance(uri, str):
            p.add(at, "DefinitionUri must name a file under statemachine/")
            continue
        path = root / uri
        if not path.is_file():
            p.add(at, f"DefinitionUri {uri} does not exist")
            continue
        seen_definitions.add(path.resolve())
        text = path.read_text(encoding="utf-8")
        used = used_substitutions(text)
        defined = set((props.get("DefinitionSubstitutions") or {}).keys())
        for name in sorted(used - defined):
            p.add(at, f"{uri} uses ${{{name}}}, which DefinitionSubstitutions does not define")
        for name in sorted(defined - used):
            p.add(at, f"DefinitionSubstitutions defines {name}, which {uri} never uses")
    for path in sorted((root / "statemachine").glob("*.asl.json")):
        if path.resolve() not in seen_definitions:
            p.add(str(path.relative_to(root)), "no AWS::Serverless::StateMachine deploys this definition")


def check_iam(p: Problems, cfn: dict) -> None:
    for logical_id, res in (cfn.get("Resources") or {}).items():
        docs = []
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::IAM::Role":
            docs = [(pol.get("PolicyName"), pol.get("PolicyDocument")) for pol in props.get("Policies") or []]
        elif res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs = [(logical_id, props.get("PolicyDocument"))]
        for policy_name, doc in docs:
            statements = (doc or {}).get("Statement") or []
            if isinstance(statements, dict):
                statements = [statements]
            for i, st in enumerate(statements):
                actions = st.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                for action in actions:
                    if isinstance(action, str) and "*" in action and st.get("Effect") == "Allow":
                        p.add(f"{logical_id}/{policy_name}.Statement[{i}]", f"wildcard IAM action {action!r}")
                if "NotAction" in st:
                    p.add(f"{logical_id}/{policy_name}.Statement[{i}]", "NotAction grants everything else")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    p = Problems()
    definitions = sorted((root / "statemachine").glob("*.asl.json"))
    if not definitions:
        p.add("statemachine/", "no *.asl.json definitions")
    for path in definitions:
        try:
            machine = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            p.add(str(path.relative_to(root)), f"not JSON: {e}")
            continue
        check_states(p, str(path.relative_to(root)), machine)
    check_template(p, root)
    check_iam(p, json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))
    for item in p.items:
        print(f"check_project: {item}")
    print(f"check_project: {len(definitions)} definitions, template and IAM checked, {len(p.items)} problem(s)")
    return 1 if p.items else 0


if __name__ == "__main__":
    sys.exit(main())
