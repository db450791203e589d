"""The reference R2Rec trainer (DESIGN §10): SFT, then GRPO, on TRL, PEFT and accelerate.

``recipe`` reads a stage's YAML recipe; ``data`` its training rows; ``scratch`` builds a
tokenizer and a small model from scratch (the offline path); ``sft`` and ``grpo`` build the
TRL trainers; ``rewards`` is the GRPO reward registry on the harness's parser and metrics;
``stage`` runs a stage end to end (resume, final model, evaluation); ``card`` writes the model
card and pushes; ``commands`` is the ``r2rec-bench train`` command line.
"""
