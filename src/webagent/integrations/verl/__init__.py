"""webagent on verl: scale RL out on verl's distributed trainer with our tools, reward and data.

- :mod:`.reward`: ``compute_score(data_source, solution_str, ground_truth, extra_info)``, verl's
  custom-reward signature, scoring ``0.1 * format + 0.9 * answer`` with our judges;
- :mod:`.tools`: ``SearchTool`` and ``VisitTool``, verl ``BaseTool`` classes for its multi-turn
  rollout that call our search and visit against a running ``webagent web serve`` (or the live
  backends);
- :mod:`.config`: the tool-config YAML verl loads them from;
- the parquet rows come from ``webagent traj export --format verl`` (``tools_kwargs``, judge
  settings, ``agent_name``).

Only :mod:`.tools` needs verl installed; the reward and the exports do not. The launch recipe and
how DUPO maps onto verl's dynamic sampling are in docs/interop.md.
"""
