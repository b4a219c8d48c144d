"""Dependency audit for CI: pip-audit over the installed environment (the pinned packages and what they pull in).

Fails on any known vulnerability. pip-audit skips a package whose advisories it cannot fetch (no route to the
advisory service, a private mirror): those are listed, and with ``MDR_CI_AUDIT_STRICT=1`` an incomplete audit fails
too; otherwise it is reported as not audited, never as clean. Last line: one JSON object with the counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main() -> int:
    strict = os.environ.get("MDR_CI_AUDIT_STRICT", "0") == "1"
    run = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--local", "--progress-spinner", "off", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(run.stdout[-2000:], run.stderr[-2000:], sep="\n", file=sys.stderr)
        print("[audit] pip-audit gave no report", file=sys.stderr)
        return 1
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(
            v["id"] + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
            for v in dep["vulns"]
        )
        print(f"[audit] VULNERABLE {dep['name']} {dep.get('version')}: {ids}")
    audited = len(deps) - len(skipped)
    if skipped:
        print(f"[audit] NOT AUDITED ({len(skipped)} of {len(deps)} packages): {skipped[0]['skip_reason']}")
    print(
        json.dumps({"packages": len(deps), "audited": audited, "skipped": len(skipped), "vulnerable": len(vulnerable)})
    )
    if vulnerable:
        return 1
    if skipped and strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
