"""Cascades that read the answers (`verify`, `agree`): decisions, and the router policy that runs them.

Both run as ordinary router episodes in the engine (the same code serves and benchmarks them), with the
router's own cost 0 and every target call charged. Each turn's reasoning goes into the turn's `note`, so
the episode trace (`router_metadata.decisions`, the bench sample's `details.decisions`) shows every decision.

* verify, turn 1: call the planned first model m for the predicted task and lambda (the one whose cascade is
  worth most on the fit data, `xrouter.eval.cascade_first`; the table's choice when there is no plan). Turn 2: the verifier V1 reads m's answer
  and predicts every model's chance of being right; call the model e with the largest
  (P(e) - P(m)) * K - lambda * cost(e) if that is positive, else `select_response` m. Turn 3: V2 reads both
  answers and whether they agree; escalate to the task's strongest model on the same rule, or select the
  answer with the higher predicted chance.
* agree, turn 1: call the two models of the task's best (a, b, e) option for this lambda. Turn 2: when their
  normalised answers agree, select the answer of the one more often right; otherwise call e and select it.

A failed call is skipped: the next model by the table's ranking is called while turns are left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrouter.errors import DataError
from xrouter.eval import answers as ans
from xrouter.eval.cascade_first import planned_first
from xrouter.eval.learned import LearnedRouter
from xrouter.eval.verifier import pair_features, single_features, verifier_probs


@dataclass(frozen=True)
class Decision:
    """Call these models next, or select the answer of one model; `note` says why."""

    call: tuple[int, ...] = ()
    select: int | None = None
    note: str = ""


class CascadePlan:
    """The decision rules of a fitted verify or agree router (model indices follow `router.models`)."""

    def __init__(self, router: LearnedRouter) -> None:
        self.router = router
        self.kind = router.spec.kind
        self.kinds: list[str] = router.spec.cascade.get("answer_kinds", [])
        self.verifiers = {(v["task"], tuple(v["state"])): v for v in router.spec.cascade.get("verifiers", [])}
        features = router.spec.cascade.get("features", list(ans.FEATURE_NAMES[:9]))  # older routers: the first 9
        if self.kind == "verify" and features != list(ans.FEATURE_NAMES):
            raise DataError(f"this verify router reads answer features {', '.join(features)}; this xrouter computes"
                            f" {', '.join(ans.FEATURE_NAMES)}: fit it again with xrouter fit-router --kind verify")  # fmt: skip

    def _name(self, m: int) -> str:
        return self.router.models[m]

    def ranked(self, task: int, lam: float, allowed: set[int]) -> list[int]:
        """Models by the table's utility for `task` at `lam`, best first."""
        p, cost = self.router.arrays["table_p"][task], self.router.arrays["table_cost"][task]
        utility = p * self.router.spec.quality_scale - lam * cost
        return [int(m) for m in np.argsort(-utility, kind="stable") if int(m) in allowed]

    def first(self, task: int, lam: float, allowed: set[int]) -> Decision:
        """The first call(s) of the episode."""
        if self.kind == "agree":
            option = self.agree_option(task, lam, allowed)
            if option is not None:
                a, b, e = option
                calls = (a,) if b < 0 else (a, b)
                then = "" if b < 0 else f"; on disagreement {'stop' if e < 0 else 'call ' + self._name(e)}"
                return Decision(call=calls, note=f"agree: call {' and '.join(map(self._name, calls))}{then}")
        best = self.ranked(task, lam, allowed)[:1]
        planned = planned_first(self.router.arrays, task, lam) if self.kind == "verify" else -1
        if planned >= 0 and planned in allowed and planned not in best:
            return Decision(call=(planned,), note=f"verify: first call for task {self._task(task)}:"
                            f" {self._name(planned)} (best cascade on the fit data; the table's choice is"
                            f" {self._name(best[0])})")  # fmt: skip
        return Decision(call=tuple(best), note=f"table choice for task {self._task(task)}: {self._name(best[0])}")

    def _task(self, task: int) -> str:
        tasks = self.router.spec.tasks
        return tasks[task] if task < len(tasks) else str(task)

    def agree_option(self, task: int, lam: float, allowed: set[int]) -> tuple[int, int, int] | None:
        """(speaker, second model or -1, escalation model or -1) with the best quality*K - lambda*cost."""
        options, qc = self.router.arrays["agree_options"], self.router.arrays["agree_quality_cost"]
        ok = (options[:, 0] == task) & np.isin(options[:, 1], list(allowed))
        ok &= (options[:, 2] < 0) | np.isin(options[:, 2], list(allowed))
        ok &= (options[:, 3] < 0) | np.isin(options[:, 3], list(allowed))
        if not ok.any():
            return None
        utility = np.where(ok, qc[:, 0] * self.router.spec.quality_scale - lam * qc[:, 1], -np.inf)
        _, a, b, e = (int(v) for v in options[int(np.argmax(utility))])
        return a, b, e

    def next(self, task: int, lam: float, q_emb: np.ndarray, answered: list[tuple[int, str]], allowed: set[int],
             a_emb: dict[int, np.ndarray], can_call: bool) -> Decision:  # fmt: skip
        """What to do after the answers so far (in call order)."""
        if self.kind == "agree":
            return self._next_agree(task, lam, answered, allowed, can_call)
        return self._next_verify(task, lam, q_emb, answered, allowed, a_emb, can_call)

    def _next_agree(self, task: int, lam: float, answered: list[tuple[int, str]], allowed: set[int],
                    can_call: bool) -> Decision:  # fmt: skip
        option = self.agree_option(task, lam, allowed | {m for m, _ in answered})
        kind = self.kinds[task] if task < len(self.kinds) else "text"
        if option is None or len(answered) != 2 or option[1] < 0:
            return Decision(select=answered[-1][0], note="agree: select the last answer")
        (m1, t1), (m2, t2) = answered
        speaker = option[0] if option[0] in (m1, m2) else m1
        same = ans.agree(t1, t2, kind)
        shown = f"{ans.normalized(t1, kind)!r} vs {ans.normalized(t2, kind)!r}"
        if same:
            return Decision(select=speaker, note=f"agree: answers agree ({shown}): select {self._name(speaker)}")
        e = option[2]
        if e >= 0 and can_call and e in allowed:
            return Decision(call=(e,), note=f"agree: answers differ ({shown}): escalate to {self._name(e)}")
        return Decision(select=speaker, note=f"agree: answers differ ({shown}), no escalation: select {self._name(speaker)}")

    def _next_verify(self, task: int, lam: float, q_emb: np.ndarray, answered: list[tuple[int, str]],
                     allowed: set[int], a_emb: dict[int, np.ndarray], can_call: bool) -> Decision:  # fmt: skip
        kind = self.kinds[task] if task < len(self.kinds) else "text"
        state = tuple(m for m, _ in answered[:2])
        entry = self.verifiers.get((task, state))
        if entry is None:  # no verifier for this state (e.g. a model outside the fit choices): keep the first answer
            return Decision(select=answered[0][0], note="verify: no verifier for this state: select the first answer")
        texts = dict(answered)
        fmt = {m: ans.format_features(texts[m], kind)[None, :] for m in state}
        if len(state) == 1:
            x = single_features(self.router.arrays, q_emb, a_emb[state[0]][None, :], fmt[state[0]])
        else:
            same = np.array([float(ans.agree(texts[state[0]], texts[state[1]], kind))])
            x = pair_features(self.router.arrays, q_emb, (a_emb[state[0]][None, :], a_emb[state[1]][None, :]),
                              (fmt[state[0]], fmt[state[1]]), same)  # fmt: skip
        probs = dict(zip(entry["outputs"], verifier_probs(self.router.arrays, entry["key"], x)[0], strict=True))
        seen = [m for m, _ in answered if m in probs]
        best = max(seen, key=lambda m: probs[m]) if seen else answered[0][0]
        shown = ", ".join(f"{self._name(m)}={probs[m]:.2f}" for m in seen)
        cost = self.router.arrays["table_cost"][task]
        k = self.router.spec.quality_scale
        gains = {e: (p - probs.get(best, 0.0)) * k - lam * cost[e] for e, p in probs.items()
                 if e not in texts and e in allowed}  # fmt: skip
        if gains and can_call and len(answered) < 3:
            e = max(gains, key=lambda m: gains[m])
            if gains[e] > 0:
                return Decision(call=(e,), note=f"verify: P(correct) {shown}; escalate to {self._name(e)}:"
                                f" P={probs[e]:.2f}, gain {gains[e] + lam * cost[e]:.3f} > lambda*cost {lam * cost[e]:.4f}")
        return Decision(select=best, note=f"verify: P(correct) {shown}; select {self._name(best)}")
