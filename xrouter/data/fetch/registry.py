"""The public data sets `xrouter data fetch` knows: where each file comes from, its checksum, where it goes.

Folders are laid out as the source adapters and `--data` flags read them, under the data folder
(`$XROUTER_DATA`, default `data/`): `routerbench_slices/*_train.csv`, `routerbench/<benchmark>.csv`,
`evalsets/<set>/...`. Pinned checksums are those of the copies the project was tested with.
"""

from __future__ import annotations

from dataclasses import dataclass

_GSM8K = "https://raw.githubusercontent.com/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c"
_QWEN = "https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/a45202bd16f1ec06f433442dc1152d0074773465"
_ROUTERDC = "https://raw.githubusercontent.com/shuhao02/RouterDC/0e63989c5bf4363330b8a4616386e3f7f116d9f8"
_HUB = "https://huggingface.co/datasets/withmartian/routerbench/resolve/main"


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its URL, its path inside the data set's folder, and its SHA-256."""

    url: str
    dest: str
    sha256: str | None = None  # None: the SHA-256 the hub reports for the file
    gunzip: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: the folder it fills (relative to the data folder), its files and how they are read."""

    name: str
    folder: str
    summary: str
    source: str
    license: str
    files: tuple[RemoteFile, ...]
    layout: str  # "routerbench": RouterBench-format CSVs; "evalset": JSONL read by the adapter `adapter`
    adapter: str = ""
    convert: str = ""  # "routerbench_pickle": the pickled DataFrame is turned into one CSV per benchmark


def _slice(name: str, sha256: str) -> RemoteFile:
    return RemoteFile(f"{_ROUTERDC}/datasets/routerbench_zs/{name}", name, sha256)


def _routerbench(name: str, shots: str, summary: str) -> DatasetSpec:
    """RouterBench's pickled DataFrame on the hub (`routerbench_<shots>.pkl`), one CSV per benchmark once fetched."""
    folder = "routerbench" if shots == "0shot" else f"routerbench_{shots}"
    return DatasetSpec(
        name, folder, summary,
        f"Hugging Face dataset withmartian/routerbench, routerbench_{shots}.pkl (arXiv 2403.12031)",
        "RouterBench code MIT; the dataset card declares no license: research and benchmark use",
        (RemoteFile(f"{_HUB}/routerbench_{shots}.pkl", f"routerbench_{shots}.pkl"),),
        layout="routerbench", convert="routerbench_pickle",
    )  # fmt: skip


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "routerbench-slices", "routerbench_slices",
            "RouterBench 0-shot train splits of ARC-Challenge, MBPP and Winogrande (11 models x 2,225 queries)",
            "RouterBench (arXiv 2403.12031) splits published by the RouterDC authors (arXiv 2409.19886), "
            "GitHub shuhao02/RouterDC, datasets/routerbench_zs",
            "research and benchmark use; prompts from ARC (CC-BY-SA-4.0), MBPP (CC-BY-4.0), Winogrande (CC-BY)",
            (
                _slice("arc_challenge_train.csv", "59e044850520be06f74dd9766b9ab4621d783f7fa5269d7dda118b9abb115d78"),
                _slice("mbpp_train.csv", "2a985adc3a3016b5ae4d62229722cdff9ece58aa1338206a6b12e4957304452b"),
                _slice("winograde_train.csv", "f6d54caab59bebb9facf3407c515a07a20faf4e75c639b7e91988ceaf312906a"),
            ),
            layout="routerbench",
        ),
        _routerbench("routerbench", "0shot", "all of RouterBench 0-shot (11 models x ~36k queries), one CSV per benchmark"),
        _routerbench("routerbench-5shot", "5shot", "all of RouterBench 5-shot, one CSV per benchmark"),
        DatasetSpec(
            "gsm8k", "evalsets/gsm8k", "GSM8K test set (1,319 problems) and OpenAI's GPT-3 example solutions",
            "GitHub openai/grade-school-math, grade_school_math/data", "MIT",
            (
                RemoteFile(f"{_GSM8K}/grade_school_math/data/test.jsonl", "test.jsonl",
                           "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"),
                RemoteFile(f"{_GSM8K}/grade_school_math/data/example_model_solutions.jsonl",
                           "example_model_solutions.jsonl",
                           "4bc62db838f8418365d51c627bd66294cbdca9fb7f01519cb13f0dce8c51580b"),
            ),
            layout="evalset", adapter="gsm8k",
        ),
        DatasetSpec(
            "math500", "evalsets/math500", "MATH-500 (the PRM800K test split of MATH, 500 problems)",
            "GitHub jincan333/MAS-TTS, data/math500/test.jsonl", "MATH: MIT",
            (RemoteFile("https://raw.githubusercontent.com/jincan333/MAS-TTS/ae8f961818d47860cfbde256b72cbb5c326e6b85"
                        "/data/math500/test.jsonl", "test.jsonl",
                        "34943b1a3660c7dc63c7bc89b5ecefc0ffdeeee32501c2ad161cdec34d7a4b4c"),),
            layout="evalset", adapter="math500",
        ),
        DatasetSpec(
            "mmlu_stem", "evalsets/mmlu_stem", "MMLU STEM subjects (3,018 four-choice questions)",
            "GitHub QwenLM/Qwen2.5-Math, evaluation/data/mmlu_stem/test.jsonl", "MIT",
            (RemoteFile(f"{_QWEN}/evaluation/data/mmlu_stem/test.jsonl", "test.jsonl",
                        "fd7c16f96067d285638abb5aaef9cd8a063b11454e14cb64df93141a58691478"),),
            layout="evalset", adapter="mmlu_stem",
        ),
        DatasetSpec(
            "aime24", "evalsets/aime24", "AIME 2024 (30 problems with integer answers)",
            "GitHub QwenLM/Qwen2.5-Math, evaluation/data/aime24/test.jsonl",
            "problems (c) MAA; evaluation folder MIT",
            (RemoteFile(f"{_QWEN}/evaluation/data/aime24/test.jsonl", "test.jsonl",
                        "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac"),),
            layout="evalset", adapter="aime24",
        ),
        DatasetSpec(
            "humaneval", "evalsets/humaneval", "HumanEval (164 Python problems with tests)",
            "GitHub openai/human-eval, data/HumanEval.jsonl.gz (decompressed)", "MIT",
            (RemoteFile("https://raw.githubusercontent.com/openai/human-eval/master/data/HumanEval.jsonl.gz",
                        "HumanEval.jsonl", "1d49078ba3e2b196b9344535bef34a43021f038fad9561d6ee7c53450609a6a2",
                        gunzip=True),),
            layout="evalset", adapter="humaneval",
        ),
    )
}  # fmt: skip

# names that fetch several data sets
GROUPS: dict[str, tuple[str, ...]] = {"evalsets": ("gsm8k", "math500", "mmlu_stem", "aime24", "humaneval")}


def names() -> list[str]:
    """Every name `xrouter data fetch` accepts: the data sets, then the groups."""
    return [*DATASETS, *GROUPS]
