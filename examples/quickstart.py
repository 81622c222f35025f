"""A walk through gamify's public surface, on the in-memory store.

    python examples/quickstart.py

A small shop program: purchases earn points per unit of money, a daily
check-in earns a few points, a "double points" weekend campaign doubles both,
and a daily cap keeps check-in farming in check. The clock is a ManualClock,
so the output is the same on every run.
"""

from __future__ import annotations

from datetime import date

import pendulum

import gamify

# 1. The program: usually a TOML, JSON or YAML file read with Program.load(path);
#    here the same schema as a dict. Malformed programs raise gamify.ProgramError
#    naming the key path and the reason.
program = gamify.Program.from_dict(
    {
        "name": "corner shop",
        "timezone": "Europe/Paris",  # the zone of members who do not set their own
        "actions": {
            "purchase": {"amount": "required"},
            "check_in": {"amount": "none"},
        },
        "rules": [
            {"name": "spend", "action": "purchase", "per_amount": 1},  # 1 point per unit
            {
                "name": "app_bonus",
                "action": "purchase",
                "fixed": 10,
                "conditions": {"channel": "app"},
            },  # +10 when bought in the app
            {"name": "daily", "action": "check_in", "fixed": 20},
        ],
        "multipliers": [
            # Double points from Saturday 00:00 to Monday 00:00, Paris time: [start, end).
            {
                "name": "double_weekend",
                "kind": "campaign",
                "factor": 2,
                "start": "2026-06-06T00:00:00+02:00",
                "end": "2026-06-08T00:00:00+02:00",
            },
            # VIP members earn half as much again (multipliers compound by default).
            {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"},
        ],
        "caps": [
            # At most 30 check-in points per local day, counted after multipliers.
            {"name": "check_in_day", "limit": 30, "period": "day", "action": "check_in"},
        ],
    }
)

# 2. The engine: a program, a store (default "memory://") and a clock. The default
#    clock reads pendulum.now("UTC"); a ManualClock is moved by hand.
ZONE = "Europe/Paris"
clock = gamify.ManualClock(pendulum.datetime(2026, 6, 5, 18, 30, tz=ZONE))
engine = gamify.Engine(program, store="memory://", clock=clock)


# 3. Domain events reach subscribers after the event's effects are stored.
def announce(event: gamify.DomainEvent) -> None:
    if event.name == "credited":
        total = sum(c["amount"] for c in event.payload["credits"])
        print(f"  [subscriber] {event.member_id} was credited {total} points")
    elif event.name == "redeemed":
        print(f"  [subscriber] {event.member_id} redeemed {event.payload['points']} points")
    else:
        print(f"  [subscriber] {event.name} for {event.member_id}")


engine.on("*", announce)


def show(outcome: gamify.Outcome) -> None:
    """Print what one event credited, and what caps cut."""
    for credit in outcome.credits:
        line = f"  + {credit.amount} {credit.currency} from rule '{credit.rule}'"
        if credit.multiplier != 1:
            line += f" (x{format(credit.multiplier.normalize(), 'f')})"
        if credit.capped:
            line += f", {credit.capped} cut by a cap"
        print(line)
    if not outcome.credits:
        print("  (nothing credited)")
    for hit in outcome.caps:
        print(f"  cap '{hit.cap}' cut {hit.cut} from '{hit.rule}'")


# 4. Members: any string id. set_member registers a zone, a birthday, tags;
#    a track for an unknown id registers it with the program's zone.
#    Alice lives in Paris: her days, daily caps and birthday month are Paris days.
#    Bob is a VIP who lives in Shanghai.
engine.set_member("alice", timezone=ZONE, birthday=date(1990, 3, 14))
engine.set_member("bob", timezone="Asia/Shanghai", tags=["vip"])


def now() -> str:
    return f"{pendulum.instance(clock.now()).in_timezone(ZONE):%A %Y-%m-%d %H:%M} Paris time"


print(f"Clock: {now()}\n")

# 5. A purchase with an amount and an idempotency key.
print("alice buys for 42.50 in the app (key order-1001):")
first = engine.track(
    "alice", "purchase", amount="42.50", key="order-1001", attributes={"channel": "app"}
)
show(first)
print("bob (VIP) buys for 42.50 on the web:")
show(engine.track("bob", "purchase", amount="42.50", attributes={"channel": "web"}))

# 6. A retry with the same key and payload replays: same outcome, nothing written.
retry = engine.track(
    "alice", "purchase", amount=42.5, key="order-1001", attributes={"channel": "app"}
)
print(
    f"A retry of order-1001 returns the first outcome ({retry == first}) and writes nothing: "
    f"alice's balance is still {engine.balance('alice')}\n"
)

# The same key with another payload is a client bug, refused without writing.
try:
    engine.track("alice", "purchase", amount="99.00", key="order-1001")
except gamify.IdempotencyConflictError as exc:
    print(f"Reusing order-1001 for 99.00 is refused: {exc}\n")

# 7. Caps: two check-ins on one local day; the second hits the 30-point daily cap.
print("alice checks in:")
show(engine.track("alice", "check_in"))
print("alice checks in again the same day:")
show(engine.track("alice", "check_in"))
print()

# 8. The campaign: Saturday in Paris, every point rule pays double.
clock.set(pendulum.datetime(2026, 6, 6, 11, 0, tz=ZONE))
print(f"Clock: {now()} (double points)\n")
print("alice buys for 15.99 on the web (15.99 x 2 = 31.98, rounded down once):")
show(engine.track("alice", "purchase", amount="15.99"))
print("alice checks in (20 x 2 = 40, cut to the 30-point daily cap):")
show(engine.track("alice", "check_in"))
print()

# 9. Redeem: spends the lots that expire soonest first; too much is refused.
print("alice redeems 50 points for a coffee:")
redemption = engine.redeem("alice", 50, key="coffee-1")
print(f"  taken from {len(redemption.lots)} lots; balance now {engine.balance('alice')}")
try:
    engine.redeem("alice", 10_000)
except gamify.InsufficientBalanceError as exc:
    print(f"Redeeming 10,000 is refused: {exc}")
print()

# 10. Bad input raises a typed error and writes nothing.
try:
    engine.track("alice", "purchase", amount=-5)
except gamify.InvalidAmountError as exc:
    print(f"A negative amount is refused: {exc}\n")

# 11. The profile and the ledger (newest first, each entry with its reason).
profile = engine.member("alice")
print(
    f"Profile of {profile.member_id} ({profile.timezone}): "
    + ", ".join(f"{amount} {currency}" for currency, amount in profile.balances.items())
)
print("History, newest first:")
for entry in engine.history("alice"):
    local = pendulum.instance(entry.at).in_timezone(profile.timezone)
    print(f"  {local:%a %H:%M} {entry.amount:+5d} {entry.kind:<6} {entry.reason}")
