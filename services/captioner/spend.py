"""Estimate what each API call cost from its token usage, and refuse calls past a cap."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import SpendCapReached


@dataclass(frozen=True)
class Price:
    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_usd_per_mtok + completion_tokens * self.output_usd_per_mtok
        ) / 1_000_000


# USD per million tokens (OpenAI list prices, standard tier). Unknown models are priced as
# gpt-4o, so a cap errs on the side of stopping early.
PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
}
DEFAULT_PRICE = PRICES["gpt-4o"]


def price_for(model: str) -> Price:
    """Longest table entry that prefixes the model name (dated snapshots share a price)."""
    matches = [name for name in PRICES if model == name or model.startswith(f"{name}-")]
    return PRICES[max(matches, key=len)] if matches else DEFAULT_PRICE


class SpendMeter:
    """Adds up estimated spend; `check()` raises SpendCapReached once the cap is reached.

    Calls already in flight when the cap is crossed still finish, so the spend can overshoot
    the cap by at most `max_concurrency` calls."""

    def __init__(self, cap_usd: float, price: Price) -> None:
        self.cap_usd = cap_usd
        self.price = price
        self.spent_usd = 0.0
        self.calls = 0

    def check(self) -> None:
        if self.spent_usd >= self.cap_usd:
            raise SpendCapReached(
                f"captioner spend cap reached: ${self.spent_usd:.4f} of ${self.cap_usd:.2f}; "
                "raise CATALENS_CAPTIONER__SPEND_CAP_USD to go on"
            )

    def record(self, prompt_tokens: int, completion_tokens: int) -> float:
        cost = self.price.cost(prompt_tokens, completion_tokens)
        self.spent_usd += cost
        self.calls += 1
        return cost
