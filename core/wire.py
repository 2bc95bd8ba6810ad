"""Domain values ↔ wire contracts: the one place `schemas` models meet `core.domain` types.

`schemas/` stays pydantic + stdlib only, so these conversions live on this floor."""

from __future__ import annotations

from core.domain import Attributes, ModelIdentity
from schemas import CaptionAttributes, EmbedderRef, ModelRef


def model_ref(identity: ModelIdentity) -> ModelRef:
    """Which model produced a result, as the wire names it (no dimension)."""
    return ModelRef(backend=identity.backend, name=identity.name, version=identity.version)


def embedder_ref(identity: ModelIdentity) -> EmbedderRef:
    """Which embedding model produced vectors, with their dimension."""
    return EmbedderRef(
        backend=identity.backend, name=identity.name, version=identity.version, dim=identity.dim
    )


def identity_of(ref: EmbedderRef) -> ModelIdentity:
    """The `ModelIdentity` an `EmbedderRef` names; indexes are kept per `identity_of(ref).key`."""
    return ModelIdentity(ref.backend, ref.name, ref.version, ref.dim)


def caption_attributes(attributes: Attributes) -> CaptionAttributes:
    return CaptionAttributes(
        category=attributes.category,
        colours=list(attributes.colours),
        pattern=attributes.pattern,
        material=attributes.material,
        style=attributes.style,
    )


def domain_attributes(wire: CaptionAttributes) -> Attributes:
    return Attributes(wire.category, tuple(wire.colours), wire.pattern, wire.material, wire.style)
