"""The package's event loop: the standard one by default, uvloop on request."""

import asyncio

import pytest

from webagent import aio


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_default_is_the_standard_loop(monkeypatch):
    monkeypatch.delenv(aio.ENV, raising=False)
    assert aio.loop_name() == "asyncio"
    assert aio.run(_loop_module()).startswith("asyncio")


def test_env_picks_uvloop(monkeypatch):
    pytest.importorskip("uvloop")  # installed with uvicorn[standard], so CI runs this
    monkeypatch.setenv(aio.ENV, "uvloop")
    assert aio.loop_name() == "uvloop"
    assert aio.run(_loop_module()).startswith("uvloop")


def test_bad_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(aio.ENV, "trio")
    with pytest.raises(ValueError, match="WEBAGENT_EVENT_LOOP='trio'"):
        aio.run(_loop_module())
