"""Build router training parquets from guru-style files (same as `xrouter preprocess`).

Accepts the upstream flag spellings, e.g.:

    python data_preprocess/router_data_preprocess.py --input_dir data/train_filter_015 \
        --output_dir data/router_hard --num_repetitions 2 --max_num_samples 400 \
        --use_fixed_sets --fixed_set_1_percentage 0.5 --fixed_set_2_percentage 0.1 --fixed_set_3_percentage 0.05
"""

from __future__ import annotations

import sys

from xrouter.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["preprocess", *sys.argv[1:]]))
