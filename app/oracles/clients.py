"""An oracle row as a client: its typed configuration, its host checked, asked in parallel.

``ask`` returns one result per text whatever happens (an error result for a refused host, a
dead server or a nonsense answer): the worker records each, it never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from app.models import Oracle, Project
from app.oracles import hosts, prompt
from app.oracles.config import HttpOracleConfig, OpenAIOracleConfig, parse_config
from app.oracles.http import HttpOracle
from app.oracles.openai import OpenAIOracle, OracleResult


def model_name(oracle: Oracle) -> str:
    """What a suggestion records as its model: the model asked, or the service's URL."""
    config = parse_config(oracle.kind, oracle.config)
    if isinstance(config, OpenAIOracleConfig):
        return config.model
    return str(config.url)


def url_of(config: OpenAIOracleConfig | HttpOracleConfig) -> str:
    return str(config.base_url if isinstance(config, OpenAIOracleConfig) else config.url)


def instructions(project: Project) -> str:
    return prompt.instructions(
        project.guidelines or "", project.labels, project.label_descriptions or {}
    )


class Client:
    """One oracle of one project, ready to be asked (close it when done)."""

    def __init__(self, oracle: Oracle, project: Project, allowed_hosts: Sequence[str]) -> None:
        self.config = parse_config(oracle.kind, oracle.config)
        self.concurrency = oracle.concurrency
        self.allowed_hosts = list(allowed_hosts)
        self.instructions = instructions(project)
        self.prompt_version = prompt.version(self.instructions)
        self._openai: OpenAIOracle | None = None
        self._http: HttpOracle | None = None
        if isinstance(self.config, OpenAIOracleConfig):
            self._openai = OpenAIOracle(self.config, project.labels, instructions=self.instructions)
        else:
            self._http = HttpOracle(self.config, project.labels)

    def close(self) -> None:
        for client in (self._openai, self._http):
            if client is not None:
                client.close()

    def token_bound(self, text: str, examples: Sequence[prompt.Example]) -> int:
        """The most tokens asking about ``text`` may cost (0: a service that counts none)."""
        return self._openai.token_bound(text, examples) if self._openai is not None else 0

    def ask(
        self, texts: Sequence[str], examples: Sequence[Sequence[prompt.Example]]
    ) -> list[OracleResult]:
        """One result per text (``examples[i]`` go with ``texts[i]``)."""
        try:
            hosts.check_url(url_of(self.config), self.allowed_hosts)
        except hosts.HostRefused as exc:
            refused = OracleResult(None, 0.0, error=str(exc), error_kind="config", sent=False)
            return [refused for _ in texts]
        if self._http is not None:
            return self._http.classify_many(texts)
        openai = self._openai
        assert openai is not None
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(openai.classify, texts, examples))
