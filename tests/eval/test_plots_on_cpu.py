"""The frontier plot's cost axis: enough ticks, labelled in plain dollars; policy labels kept short."""

from __future__ import annotations

import pandas as pd

from xrouter.eval.plots import cost_ticks, dollars, plot_frontier, short_label


def test_cost_ticks_give_at_least_three_ticks_inside_the_range():
    """A narrow RouterBench-like range (two decades) and a range within one decade both get >= 3 ticks."""
    for lo, hi in ((0.07, 5.6), (0.04, 0.09), (0.3, 0.5)):
        ticks = cost_ticks(lo, hi)
        assert len(ticks) >= 3 and all(lo <= t <= hi for t in ticks) and ticks == sorted(ticks)
    assert cost_ticks(0.07, 5.6) == [0.1, 0.2, 0.5, 1.0, 2.0, 5.0]


def test_dollar_labels_are_plain_decimals():
    """No powers of ten: 0.04 is $0.04, 0.0002 is $0.0002, 5 is $5."""
    assert [dollars(v) for v in (0.04, 0.0002, 1.0, 5.0, 20.0)] == ["$0.04", "$0.0002", "$1", "$5", "$20"]


def test_short_label_drops_the_router_folder_path():
    """learned:/abs/path/knn:30 is shown as learned:knn λ=30; other specs are unchanged."""
    assert short_label("learned:/tmp/x/outputs/router_knn:30") == "learned:router_knn λ=30"
    assert short_label("single:gpt-4") == "single:gpt-4"


def test_plot_is_written_for_a_summary(tmp_path):
    """plot_frontier writes a PNG for a small summary with a hull and an oracle."""
    frame = pd.DataFrame({"policy": ["single:a", "single:b", "oracle"], "cost_per_1k_usd": [0.05, 0.4, 0.06],
                          "accuracy": [0.6, 0.8, 0.95]})  # fmt: skip
    path = plot_frontier(frame, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
