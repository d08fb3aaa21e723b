"""Pure policy modules: configuration and facts in, a decision carrying a reply out.

Nothing here imports simpy, asyncio, socket, time or random: time comes in as ``now``
and chance as an ``rng`` argument, so the simulator and the live server share them.
"""
