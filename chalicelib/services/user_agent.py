"""Device type, browser and OS from a User-Agent string, by the maintained `user-agents` parser."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class DeviceInfo:
    device: str | None  # mobile, tablet, pc, bot, other
    browser: str | None  # "Chrome 120", "WeChat 8.0"
    os: str | None  # "iOS 17.1", "Windows 10"


def _family_version(family: str, version: str) -> str | None:
    if not family or family == "Other":
        return None
    return f"{family} {version}".strip()


@lru_cache(maxsize=1024)
def describe_user_agent(user_agent: str | None) -> DeviceInfo:
    if not user_agent:
        return DeviceInfo(None, None, None)
    from user_agents import parse  # deferred: the regex table loads on first use, not at import

    agent = parse(user_agent)
    if agent.is_bot:
        device = "bot"
    elif agent.is_tablet:
        device = "tablet"
    elif agent.is_mobile:
        device = "mobile"
    elif agent.is_pc:
        device = "pc"
    else:
        device = "other"
    return DeviceInfo(
        device,
        _family_version(agent.browser.family, agent.browser.version_string),
        _family_version(agent.os.family, agent.os.version_string),
    )
