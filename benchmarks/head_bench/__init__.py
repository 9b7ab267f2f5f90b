"""The modules of the head + loss benchmark (``benchmarks/heads_and_losses.py``, its entry
point): what is timed (:mod:`head_bench.candidates`), the step and its readings on each
backend (:mod:`head_bench.steps` picks :mod:`head_bench.tensorflow_steps`,
:mod:`head_bench.jax_steps` or :mod:`head_bench.torch_steps`), the timed runs
(:mod:`head_bench.runner`) and the tables (:mod:`head_bench.report`)."""
