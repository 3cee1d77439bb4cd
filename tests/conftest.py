"""Session fixtures shared by the whole suite: one small world, built once."""

from __future__ import annotations

import os

import pytest

from webagent.world.build import WorldConfig, build_world
from webagent.world.store import WorldStore

TEST_WORLD = WorldConfig(seed=7, size=6)


@pytest.fixture(scope="session", autouse=True)
def _private_webagent_home(tmp_path_factory):
    """Point $WEBAGENT_HOME at a temp dir: tests never read or write the user's cache. The default
    policy is the rule-based baseline (fast, deterministic) unless a test asks for the trained one."""
    saved = {k: os.environ.get(k) for k in ("WEBAGENT_HOME", "WEBAGENT_POLICY")}
    os.environ["WEBAGENT_HOME"] = str(tmp_path_factory.mktemp("webagent-home"))
    os.environ["WEBAGENT_POLICY"] = "baseline"
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory):
    """A small built world (6 official sites, ~1k pages), built once per test session."""
    return build_world(TEST_WORLD, tmp_path_factory.mktemp("world") / "seed7-size6", progress=False)


@pytest.fixture(scope="session")
def world(world_dir):
    """A ``WorldStore`` on the session world."""
    store = WorldStore(world_dir)
    yield store
    store.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The hand-written little web of ``_tools_web`` (a conference site and a few pages), per module."""
    from _tools_web import make_world

    s = make_world(tmp_path_factory.mktemp("world"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def tok_dir(world_dir):
    """The project tokenizer trained on the session world (once per process)."""
    from _train_helpers import world_tokenizer

    return world_tokenizer(str(world_dir))


@pytest.fixture(scope="module")
def tok(tok_dir):
    from webagent.train.tokenizer import load_tokenizer

    return load_tokenizer(tok_dir)
