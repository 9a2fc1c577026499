"""Optional LLM-judge scorer through any OpenAI-compatible `/chat/completions` endpoint.

Used only for data sources starting with `llm_judge` and only when a `JudgeConfig` is given (in
`compute_score` through the kwargs `judge_base_url`, `judge_model` and optionally `judge_api_key_env`);
without one it raises instead of guessing. The judge sees the question, the reference answer and the
candidate answer and must end its reply with `VERDICT: CORRECT` or `VERDICT: INCORRECT`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from xrouter.reward.scorers.registry import ScoreOptions, ScoreResult, register

_INSTRUCTIONS = (
    "You grade answers. Given a question, a reference answer and a candidate answer, decide whether the "
    "candidate reaches the same final answer as the reference. Ignore style, length and extra explanation; "
    "judge only the final answer. Finish with one line: 'VERDICT: CORRECT' or 'VERDICT: INCORRECT'."
)
_VERDICT = re.compile(r"VERDICT:\s*(CORRECT|INCORRECT)", re.IGNORECASE)


def _question(extra_info: Mapping[str, Any]) -> str:
    for key in ("question", "original_question", "problem"):
        if extra_info.get(key):
            return str(extra_info[key])
    users = [m.get("content", "") for m in extra_info.get("user_messages") or [] if m.get("role") == "user"]
    return str(users[-1]) if users else "(question not provided)"


@register("llm_judge", ("llm_judge",))
def score_judge(solution: str, ground_truth: Any, extra_info: Mapping[str, Any], options: ScoreOptions) -> ScoreResult:
    """1.0 when the configured judge model answers VERDICT: CORRECT; raises when no judge is configured."""
    judge = options.judge
    if judge is None:
        raise ValueError("data_source llm_judge needs a judge: pass judge_base_url and judge_model to compute_score")
    import httpx

    prompt = (
        f"Question:\n{_question(extra_info)}\n\nReference answer:\n{ground_truth}\n\n"
        f"Candidate answer:\n{solution[-judge.max_answer_chars :]}"
    )
    body = {
        "model": judge.model,
        "temperature": 0.0,
        "messages": [{"role": "system", "content": _INSTRUCTIONS}, {"role": "user", "content": prompt}],
    }
    headers = {"Authorization": f"Bearer {judge.api_key}"} if judge.api_key else {}
    response = httpx.post(f"{judge.base_url.rstrip('/')}/chat/completions", json=body, headers=headers,
                          timeout=judge.timeout_s)  # fmt: skip
    response.raise_for_status()
    reply = response.json()["choices"][0]["message"].get("content") or ""
    verdicts = _VERDICT.findall(reply)
    verdict = verdicts[-1].upper() if verdicts else None
    return ScoreResult(float(verdict == "CORRECT"), {"verdict": verdict, "judge_reply": reply[-300:]})
