"""Evaluation: cost-quality metrics, frontier plots, comparison policies, learned routers and the bench harness.

`xrouter serve --policy learned:<DIR>` reaches `xrouter.eval.serve_policy.build_learned_policy` through the
engine's policy registry.
"""
