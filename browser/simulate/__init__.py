"""The workload simulator: browsing traces replayed against designs.

* ``trace``: the versioned JSONL trace format, read strictly;
* ``generate``: synthetic traces from published figures;
* ``costs``: the cost model (renderer memory per page, spawn, restore and
  first-frame times), with defaults and ``calibrate`` from the real browser;
* ``profiles``: Chrome's and Firefox's costs, built from published figures;
* ``params``: the policy parameters a sweep can vary;
* ``model``: the model engine (the policies of ``broker.discard_policies``
  on a virtual clock with the cost model);
* ``real``: the real engine (a real ``Browser`` against local sites);
* ``results``: what a run reports, as a table, JSON, CSV and plots (the
  Pareto frontier marked), and one digest of every figure;
* ``validate``: the model engine held against published browser figures;
* ``cluster``: designs x users on a Dask distributed cluster;
* ``command``: the ``minibrowser simulate`` command.

A design is a discard policy and a process model.
"""
