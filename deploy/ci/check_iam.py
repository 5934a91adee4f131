"""Offline checks of deploy/terraform that a security scanner does not make.

Parses every .tf file under the given folder with python-hcl2 (a file that does not parse
fails the check, naming it), then checks every IAM policy document:

- every statement has a Sid, Actions and Resources (no NotAction / NotResource);
- no action wildcard (`s3:*`, `*`);
- no Resource "*" unless every action of the statement is one AWS accepts only with "*"
  (AWS_REQUIRES_STAR below, each with its reason);
- after substituting `local.*` values, every other resource is an ARN (or one reference to a
  variable or resource attribute) with no wildcard in its service, region, account or bucket;
- every s3:ListBucket statement is limited by an s3:prefix condition;
- every inline role policy comes from an aws_iam_policy_document, and no managed policy is
  attached (AWS managed policies are written with "*").

Prints one line per problem (file, statement Sid, reason) and exits 1 if any.
"""

import pathlib
import re
import sys

import hcl2

# Actions with no resource type: IAM accepts them only with Resource "*".
AWS_REQUIRES_STAR = {
    "ecr:GetAuthorizationToken": "registry login; no resource type",
    "ec2:DescribeNetworkInterfaces": "Describe* actions have no resource type",
    "ec2:DescribeSubnets": "Describe* actions have no resource type",
    "ec2:DescribeSecurityGroups": "Describe* actions have no resource type",
    "batch:DescribeJobs": "no resource type; the Step Functions .sync integration polls it",
}

REF = re.compile(r"\$\{([^{}]*)\}")


def unwrap(v):
    """python-hcl2 wraps attribute values in one-element lists; undo that, recursively."""
    while isinstance(v, list) and len(v) == 1 and isinstance(v[0], (list, str, dict)):
        if isinstance(v[0], dict):
            break
        v = v[0]
    if isinstance(v, list):
        return [unwrap(x) for x in v]
    return v


def as_list(v):
    v = unwrap(v)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def blocks(doc, kind):
    """`data`/`resource` blocks: (type, name, body)."""
    for entry in doc.get(kind, []):
        for rtype, named in entry.items():
            for name, body in named.items():
                yield rtype, name, body


def statements(body):
    for st in body.get("statement", []):
        yield st
    for dyn in body.get("dynamic", []):
        st = dyn.get("statement")
        if st:
            for content in st.get("content", []):
                yield content


def resolve(text, locals_, depth=0):
    """Substitutes `${local.x}` with the local's value (when it is a plain string)."""
    if depth > 10:
        return text

    def sub(m):
        expr = m.group(1).strip()
        if expr.startswith("local.") and re.fullmatch(r"local\.\w+", expr):
            value = locals_.get(expr[len("local."):])
            if isinstance(value, str):
                return resolve(value, locals_, depth + 1)
        return m.group(0)

    return REF.sub(sub, text)


SIMPLE_REF = re.compile(r"\$\{(var|data|aws_\w+)[\w.\[\]]*\}")
RESOURCE_ARN = re.compile(r"\$\{aws_\w+\.\w+(\[\d+\])?\.arn(_without_revision)?\}")
QUOTED = re.compile(r"[\"']((?:[^\"'\\]|\\.)*)[\"']")


def check_resource(res, locals_):
    """Why a resource (not "*") is too wide, or None."""
    text = resolve(res, locals_)
    if SIMPLE_REF.fullmatch(text):
        return None  # one variable or resource attribute (an exact ARN)
    if text.startswith("${") and text.endswith("}") and REF.fullmatch(text) is None:
        # An expression (concat, for, a conditional): check every string literal in it.
        literals = [m.group(1) for m in QUOTED.finditer(text[2:-1]) if "arn:" in m.group(1)]
        if not literals:
            return f"{res!r}: an expression without a literal ARN"
        for lit in literals:
            why = check_resource(lit, locals_)
            if why:
                return why
        return None
    # A resource's own ARN, extended (":log-stream:*", ":*" for any revision).
    text = RESOURCE_ARN.sub("arn:aws:svc:region:account:resource", text)
    plain = REF.sub("X", text)  # references stand for exact values
    if not plain.startswith("arn:"):
        return f"{res!r} -> {text!r} is not an ARN"
    parts = plain.split(":", 5)
    if len(parts) < 6:
        return f"{res!r} -> {text!r} is not a whole ARN"
    _, partition, service, region, account, rest = parts
    if "*" in partition + service + region + account:
        return f"{text!r}: wildcard in the service, region or account"
    if service == "s3" and "*" in rest.split("/", 1)[0]:
        return f"{text!r}: wildcard in the bucket name"
    if rest.startswith("*"):
        return f"{text!r}: wildcard in place of the resource"
    return None


def main(root):
    root = pathlib.Path(root)
    files = sorted(root.rglob("*.tf"))
    if not files:
        print(f"check_iam: no .tf files under {root}")
        return 1
    problems = []
    parsed = {}
    for f in files:
        try:
            with f.open() as fh:
                parsed[f] = hcl2.load(fh)
        except Exception as e:  # noqa: BLE001 - any parse failure is reported by file
            problems.append(f"{f}: does not parse: {e}")
    # Locals per module folder.
    locals_by_dir = {}
    for f, doc in parsed.items():
        loc = locals_by_dir.setdefault(f.parent, {})
        for block in doc.get("locals", []):
            for k, v in block.items():
                if not k.startswith("__"):
                    loc[k] = unwrap(v)
    documents = 0
    checked = 0
    for f, doc in parsed.items():
        locals_ = locals_by_dir.get(f.parent, {})
        for rtype, name, body in blocks(doc, "data"):
            if rtype != "aws_iam_policy_document":
                continue
            documents += 1
            for st in statements(body):
                checked += 1
                sid = unwrap(st.get("sid")) or "(no sid)"
                where = f"{f}: {name}.{sid}"
                if sid == "(no sid)":
                    problems.append(f"{where}: statement without a sid")
                for banned in ("not_actions", "not_resources", "not_principals"):
                    if banned in st:
                        problems.append(f"{where}: uses {banned}")
                actions = as_list(st.get("actions"))
                if not actions:
                    problems.append(f"{where}: no actions")
                for a in actions:
                    if "*" in a:
                        problems.append(f"{where}: wildcard action {a!r}")
                is_assume = actions == ["sts:AssumeRole"] and "principals" in st
                resources = as_list(st.get("resources"))
                if not resources and not is_assume:
                    problems.append(f"{where}: no resources")
                for r in resources:
                    if r == "*":
                        unexplained = [a for a in actions if a not in AWS_REQUIRES_STAR]
                        if unexplained:
                            problems.append(
                                f"{where}: Resource \"*\" for {unexplained} (only for actions "
                                "AWS accepts with \"*\" alone)"
                            )
                        continue
                    why = check_resource(r, locals_)
                    if why:
                        problems.append(f"{where}: {why}")
                if "s3:ListBucket" in actions:
                    conds = [unwrap(c.get("variable")) for c in st.get("condition", [])]
                    if "s3:prefix" not in conds:
                        problems.append(f"{where}: s3:ListBucket without an s3:prefix condition")
        for rtype, name, body in blocks(doc, "resource"):
            if rtype in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
                problems.append(f"{f}: {rtype}.{name}: managed policies are not allowed")
            if rtype == "aws_iam_role" and ("managed_policy_arns" in body or "inline_policy" in body):
                problems.append(f"{f}: {rtype}.{name}: policies belong in aws_iam_role_policy")
            if rtype in ("aws_iam_role_policy", "aws_iam_policy"):
                policy = str(unwrap(body.get("policy")))
                if "data.aws_iam_policy_document." not in policy:
                    problems.append(f"{f}: {rtype}.{name}: policy is not an aws_iam_policy_document")
    for p in problems:
        print(p)
    print(
        f"check_iam: {len(files)} files parsed, {documents} policy documents, {checked} statements, "
        f"{len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "deploy/terraform"))
