"""What the Dataset and TrainingRun Jobs run: `python -m modelops.trainer prepare|train`.

`prepare` ingests a source, cleans it, checks data-quality gates, profiles it and
writes a content-addressed dataset version; `train` fits, tunes and evaluates a
pipeline on a dataset version and writes a model version. Both print a small
JSON result on stdout and write it to the termination-message path.

Exit codes (`modelops.contract.jobs`; the operator builds the Jobs' podFailurePolicy from them):

- ``EXIT_OK`` (0): done. For `train` this includes a model rejected by its
  validation gates: the result says ``"passed": false`` and why.
- ``EXIT_INTERNAL`` (1): an unexpected error (a bug); the Job's backoff applies.
- ``EXIT_BAD_INPUT`` (2): the spec, the data or a referenced artifact is wrong
  (unknown algorithm or hyperparameter, missing column, failed quality gate,
  unreadable source, missing dataset version, tampered artifact...). A retry
  cannot help: fail the Job at once.
- ``EXIT_TRANSIENT`` (75, EX_TEMPFAIL): network or storage trouble. A retry may
  succeed.

On failure the termination message is a `JobFailure`: ``{"error": "...", "reason": "BadInput"}``
(reason ``BadInput``, ``Transient`` or ``Internal``).
"""
