"""How many relay decisions per second: the speed an administrator's batch check sees.

Run: .venv/bin/python benchmarks/relay_check.py [N]
Target: 2,000 RCPT decisions/s on one core of the 2-core CI machine, so a battery of
10,000 cases checks in seconds.  Reported, not asserted (timings are not tests).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from sim.policy.relay import ClientFacts, RelayPolicy
from sim.smtp.session import RelayCase, run_session

ROOT = Path(__file__).resolve().parent.parent
FORMS = [
    "user@example.com",
    "victim@gmail.com",
    "user%victim.com@example.com",
    '"user@victim.com"@example.com',
    "victim.com!user@example.com",
    "@example.com:u@victim.com",
    "user@[127.0.0.1]",
    "postmaster",
    "blocked@example.com",
    "user@sub.example.com",
]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rng = random.Random(7)
    policy = RelayPolicy.from_main_cf(ROOT / "scenarios" / "relay" / "main.cf")
    clients = ["203.0.113.5", "10.1.2.3", "2001:db8::25", "127.0.0.1"]
    cases = [
        RelayCase(
            ClientFacts(address=rng.choice(clients), helo="client.example.net"),
            "sender@example.net",
            (rng.choice(FORMS),),
        )
        for _ in range(n)
    ]
    start = time.perf_counter()
    for case in cases:
        run_session(policy, case)
    elapsed = time.perf_counter() - start
    print(f"{n} sessions in {elapsed:.2f} s: {n / elapsed:,.0f} RCPT decisions/s (target 2,000/s)")


if __name__ == "__main__":
    main()
