"""Move `@production` to `@candidate` when the candidate evaluated better on the same split."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    candidate: float | None = None
    production: float | None = None
    candidate_version: str | None = None
    production_version: str | None = None


def decide(candidate: float | None, production: float | None, min_delta: float = 0.0) -> Decision:
    """Promote when there is no production score yet, or when the candidate beats it by more
    than `min_delta`. A candidate without a score is never promoted."""
    if candidate is None:
        return Decision(False, "the candidate has not been evaluated on this split")
    if production is None:
        return Decision(True, "nothing in production yet", candidate)
    if candidate > production + min_delta:
        return Decision(
            True, f"{candidate:.4f} > {production:.4f} + {min_delta}", candidate, production
        )
    return Decision(
        False,
        f"{candidate:.4f} does not beat {production:.4f} + {min_delta}",
        candidate,
        production,
    )


def promote(
    name: str,
    metric: str = "map50_95",
    split: str = "val",
    min_delta: float = 0.0,
    candidate_alias: str = "candidate",
    production_alias: str = "production",
    tracking_uri: str | None = None,
) -> Decision:
    """Compare the versions behind the two aliases on the `eval.<split>.<metric>` tags written by
    `catalens evaluate detector`, and move `production_alias` when `decide` says so."""
    from mlflow.exceptions import MlflowException

    from core.models.tracking import default_tracking_uri, tracking_at

    tag = f"eval.{split}.{metric}"
    with tracking_at(default_tracking_uri(tracking_uri)) as mlflow:
        client = mlflow.tracking.MlflowClient()
        candidate = client.get_model_version_by_alias(name, candidate_alias)
        try:
            production = client.get_model_version_by_alias(name, production_alias)
        except MlflowException:  # the alias does not exist yet
            production = None
        if production is not None and production.version == candidate.version:
            return Decision(False, f"@{production_alias} is already version {candidate.version}")
        current = _score(production, tag)
        if production is not None and current is None:
            return Decision(
                False,
                f"@{production_alias} (version {production.version}) has no {tag}: "
                "evaluate it on the same split first",
            )
        decision = decide(_score(candidate.tags, tag), current, min_delta)
        if decision.promote:
            client.set_registered_model_alias(name, production_alias, candidate.version)
            client.set_model_version_tag(name, candidate.version, "promoted_from", _v(production))
    return Decision(
        decision.promote,
        decision.reason,
        decision.candidate,
        decision.production,
        str(candidate.version),
        _v(production) or None,
    )


def _score(tags_or_version: object, tag: str) -> float | None:
    tags = getattr(tags_or_version, "tags", tags_or_version) if tags_or_version else {}
    value = tags.get(tag) if isinstance(tags, dict) else None
    return float(value) if value not in (None, "") else None


def _v(version: object) -> str:
    return str(getattr(version, "version", "")) if version is not None else ""
