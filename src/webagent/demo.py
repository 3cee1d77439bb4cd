"""The main job of ``make demo``: the offline web and the agent at work, end to end.

1. Open (building on first use) the default world and serve it on a loopback port.
2. Pick a question whose answer the knowledge graph knows; search for it through the server's
   Serper-compatible endpoint and read the best hit with the ``visit`` tool through the server
   (as an HTTP proxy for ``.test`` hosts), as any remote client would.
3. Run the ReAct agent (WebDancer/WebSailor protocol) on the question with the best policy
   available, labelled as what it is, and check its answer against the gold one.
"""

from __future__ import annotations

import os
import random

from webagent import aio
from webagent.world import open_world
from webagent.world.schema import PREDICATES

# Questions the demo can ask: (entity type, predicate, English question template).
_QUESTIONS = [
    ("edition", "general_chair", "Who was the general chair of {name}?"),
    ("edition", "submission_deadline", "What was the paper submission deadline of {name}?"),
    ("course", "course_instructor", "Who teaches the course {name}?"),
    ("game", "game_developer", "Which studio developed {name}?"),
]


def _pick_question(world, seed: int = 0) -> tuple[str, str, str]:
    """A (question, search query, gold answer) from the graph's facts about an English site."""
    g = world.graph
    rng = random.Random(seed)
    for etype, pred, template in _QUESTIONS:
        ents = [e for e in g.of_type(etype) if e.lang == "en" and g.facts_about(e.id, pred)]
        if ents:
            ent = rng.choice(ents)
            fact = g.facts_about(ent.id, pred)[0]
            gold = g.entities[fact.object].name if fact.is_relation else fact.object
            return template.format(name=ent.name), f"{ent.name} {PREDICATES[pred].en}", gold
    raise RuntimeError("the world has no entity the demo can ask about")


async def _search_and_visit(server_url: str, query: str, question: str) -> tuple[str, str]:
    """Search through the server's Serper API and visit the top hit through the server, as a
    remote client would (the Toolbox's offline-over-HTTP configuration)."""
    from webagent.tools.search import format_hits, no_results
    from webagent.tools.toolbox import Toolbox, WebConfig

    async with Toolbox(WebConfig(web_url=server_url)) as tb:
        hits = await tb.search.engine.search(query, 10)
        if not hits:
            return no_results(query), "(no search result to visit)"
        visit_obs = await tb.visit({"url": hits[0].url, "goal": question})
    return format_hits(query, hits), visit_obs


def _rule(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 76 - len(title)), flush=True)


def run_demo(world_dir: str | os.PathLike | None = None) -> int:
    """Run the demo; returns 0 when it ran end to end (the gold answer shows up in the visited
    page's evidence). Whether the policy answered right is printed, not an error: a trained
    model can be wrong, and the demo still did its job of showing it at work."""
    from webagent.web.server import ServerThread

    _rule("the offline web")
    world = open_world(world_dir)
    counts = world.manifest.get("counts", {})
    print(f"world: {world.root}")
    print(f"{counts.get('pages')} pages on {counts.get('sites')} sites, {counts.get('entities')} entities, "
          f"{counts.get('facts')} facts (seed {world.manifest.get('seed')}, size {world.manifest.get('size')})")

    question, query, gold = _pick_question(world)
    with ServerThread(world) as server:
        _rule("serving")
        print(f"HTTP server on {server.url}  (Serper-compatible POST /search, Search-R1 POST /retrieve,")
        print("pages by their .test host; use it as an HTTP proxy for .test URLs)")
        _rule("question")
        print(f"{question}\n(gold answer from the knowledge graph: {gold})")
        search_obs, visit_obs = aio.run(_search_and_visit(server.url, query, question))
    _rule(f"search {query!r}")
    print(search_obs[:1500] + ("\n..." if len(search_obs) > 1500 else ""))
    _rule("visit the top hit")
    print(visit_obs[:2500] + ("\n..." if len(visit_obs) > 2500 else ""))
    found = gold.lower() in visit_obs.lower()
    print(f"\n→ gold answer {'FOUND' if found else 'not found'} in the visited page's evidence.")

    policy, label = best_policy()
    _rule(f"the ReAct agent · policy: {label}")
    traj = aio.run(_run_agent(world, policy, question))
    correct = traj.answer is not None and _normalize(gold) in _normalize(traj.answer)
    _rule("result")
    print(f"question: {question}\nagent answer: {traj.answer}\ngold answer: {gold}")
    print(f"{'CORRECT' if correct else 'WRONG'} · {traj.termination} · {traj.llm_calls} model calls · "
          f"{traj.tool_calls} tool calls · {traj.seconds:.2f} s · policy: {traj.policy}")
    return 0 if found else 1


def best_policy():
    """The policy the demo answers with, and a label saying what it is: the shipped trained policy
    (:data:`webagent.checkpoints.SHIPPED_POLICY`, or what ``$WEBAGENT_POLICY`` names), decoding
    greedily in its own runtime; the rule-based baseline only when that cannot be loaded, saying why."""
    from webagent.checkpoints import ANSWER_TEMPERATURE, checkpoint_label, default_policy, runtime_grounding

    path, why = default_policy()
    if path is not None:
        try:
            from webagent.llm.local import LocalConfig, LocalModel

            grounding = runtime_grounding(path) or ()
            return LocalModel(LocalConfig(str(path), temperature=ANSWER_TEMPERATURE, grounding=grounding)), checkpoint_label(path)
        except Exception as e:  # a broken install must not cost the user the demo
            why = f"{type(e).__name__}: {e}"
    from webagent.agents.baseline import BaselinePolicy

    print(f"(the trained policy is not available: {why}; the rule-based baseline answers instead)", flush=True)
    return BaselinePolicy(), "rule-based baseline (not a language model)"


def policy_runtime(policy):
    """The agent runtime a policy was trained with (``webagent_agent.json``), or None."""
    from webagent.checkpoints import load_runtime

    return load_runtime(getattr(getattr(policy, "config", None), "path", None))


async def _run_agent(world, policy, question: str):
    from webagent.agents.react import ReactAgent, ReactConfig
    from webagent.checkpoints import ANSWER_TEMPERATURE
    from webagent.tools.toolbox import Toolbox, WebConfig

    def show(event) -> None:
        text = event.text if len(event.text) <= 400 else event.text[:400] + " …"
        print(f"{'·' if event.kind == 'notice' else f'[{event.step + 1}]'} {event.kind}: {text}", flush=True)

    runtime = policy_runtime(policy)  # a trained checkpoint runs in the runtime it learnt
    toolbox = runtime.toolbox(WebConfig(), world=world) if runtime else Toolbox(WebConfig(), world=world)
    config = runtime.react_config(temperature=ANSWER_TEMPERATURE) if runtime else ReactConfig(max_llm_calls=10)
    async with toolbox as tb:
        try:
            return await ReactAgent(policy, tb.react_tools, config, on_event=show).run(question)
        finally:
            if hasattr(policy, "aclose"):
                await policy.aclose()


def _normalize(text: str) -> str:
    return " ".join(text.lower().replace(".", " ").split())
