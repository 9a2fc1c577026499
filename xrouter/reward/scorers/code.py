"""Code scorer: run the solution against the dataset's tests in the sandbox; 1.0 only if all pass.

The test specification comes from `ground_truth` (a dict or its JSON text) merged over the same keys in
`extra_info`. Accepted forms:

* HumanEval: `test` (defines `check`) + `entry_point` (+ `prompt`, prepended when the solution is only
  a function body, and whose imports are kept when it is a full function);
* MBPP: `test_list` (assert lines) + optional `test_setup_code` / `test_imports`;
* functional: `functional` (test code appended to the solution), also a plain non-JSON string;
* stdin/stdout: `inputs` and `outputs` lists, one sandboxed run per case, whitespace-trimmed comparison.

The solution is the last fenced code block of the answer (python-tagged preferred), else the whole text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from xrouter.reward.sandbox import run_python
from xrouter.reward.scorers.extract import code_block
from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

PREFIXES = ("codegen", "code", "humaneval", "openai_humaneval", "mbpp", "apps", "codecontests", "taco", "leetcode")
_SPEC_KEYS = ("test", "entry_point", "prompt", "test_list", "tests", "test_setup_code", "test_imports",
              "functional", "inputs", "outputs", "timeout_s")  # fmt: skip


def test_spec(ground_truth: Any, extra_info: Mapping[str, Any]) -> dict[str, Any]:
    """The merged test specification (see module docstring); raises ValueError when there are no tests."""
    spec = {k: extra_info[k] for k in _SPEC_KEYS if extra_info.get(k) is not None}
    truth = ground_truth
    if isinstance(truth, str) and not truth.strip():
        truth = None  # an empty ground truth holds no tests; it must not turn into "run the code, pass if it runs"
    if isinstance(truth, str):
        try:
            truth = json.loads(truth)
        except json.JSONDecodeError:
            truth = {"functional": truth}
    if isinstance(truth, Mapping):
        spec.update({k: v for k, v in truth.items() if v is not None})
    elif truth is not None:
        raise ValueError(f"code ground truth must be a dict, JSON text or test code, not {type(truth).__name__}")
    if not any(k in spec for k in ("test", "test_list", "tests", "functional", "inputs")):
        raise ValueError("code ground truth has no tests (expected test, test_list, functional or inputs/outputs)")
    return spec


def _imports(prompt: str) -> str:
    return "\n".join(line for line in prompt.splitlines() if line.startswith(("import ", "from ")))


def build_program(code: str, spec: Mapping[str, Any]) -> str:
    """Solution plus assertion-style tests as one program (not used for stdin/stdout cases)."""
    if "test" in spec and "entry_point" in spec:
        prompt, entry = str(spec.get("prompt", "")), str(spec["entry_point"])
        body = code if f"def {entry}" in code else prompt + code
        head = _imports(prompt) if f"def {entry}" in code else ""
        return f"{head}\n{body}\n\n{spec['test']}\n\ncheck({entry})\n"
    if "test_list" in spec or "tests" in spec:
        setup = "\n".join(str(spec.get(k) or "") for k in ("test_imports", "test_setup_code") if spec.get(k))
        asserts = "\n".join(str(t) for t in (spec.get("test_list") or spec.get("tests")))
        return f"{setup}\n{code}\n\n{asserts}\n"
    if "test" in spec:
        return f"{code}\n\n{spec['test']}\n"
    return f"{code}\n\n{spec['functional']}\n"


@register("code", PREFIXES)
def score_code(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the extracted code passes every test in the sandbox, else 0.0 (counts in details)."""
    spec = test_spec(ground_truth, extra_info)
    code = code_block(solution)
    limits = options.sandbox
    if spec.get("timeout_s"):
        limits = replace(limits, timeout_s=float(spec["timeout_s"]))
    if "inputs" in spec:
        inputs, outputs = list(spec["inputs"]), list(spec.get("outputs") or [])
        if len(inputs) != len(outputs):
            raise ValueError(f"code ground truth has {len(inputs)} inputs but {len(outputs)} outputs")
        passed = 0
        for stdin, expected in zip(inputs, outputs, strict=False):
            result = run_python(code, stdin=str(stdin), limits=limits)
            if not (result.ok and result.stdout.strip() == str(expected).strip()):
                return ScoreResult(0.0, {"passed": passed, "total": len(inputs), "status": result.status,
                                         "stderr": result.stderr[-500:]})  # fmt: skip
            passed += 1
        return ScoreResult(1.0, {"passed": passed, "total": len(inputs), "status": "ok"})
    result = run_python(build_program(code, spec), limits=limits)
    details = {"status": result.status, "returncode": result.returncode, "stderr": result.stderr[-500:]}
    return ScoreResult(float(result.ok), details)
