"""The contract package: what more than one stage must read and write the same way.

A stage package (``registry``, ``tables``, ``pairs``, ``models``, ``traces``, ``train``, ``baselines``,
``evaluate``) imports only this package and its own folder; this package imports no stage
(``tests/test_layers.py``).

* ``params``: the params schema and its checks; ``io``: file names, JSON / JSON Lines readers and writers;
* ``questions``: the question schema, prompt rendering, answer parsing and the question-file reader;
  ``semantics``: what each option of a question means;
* ``states``: trial-arm states and one-factor paths; ``operator``: the local operator's standardised
  change, its bins and the cells' SDs; ``normalize``: intervention names and time frames;
* ``mechanism`` and ``oracle``: the simulated world's true means and the truth lookups;
* ``base_model``, ``generate``, ``openai_client``: finding and loading the base model, and generation;
* ``embed``: the sentence-embedding loaders; ``features`` and ``baseline_model``: the baselines'
  question features and their saved, loadable models.
"""
