"""Day simulation and staffing planning on the real core and store (``novbe simulate`` / ``novbe plan``).

Nothing here is a test helper: a simulated day runs the real verbs of
:mod:`server.core.queue` on a real SQLite store whose clock is simulated, so what it
measures (waits, refusals, overtime, the forecast's accuracy) is what the center's
software would do on such a day.
"""
