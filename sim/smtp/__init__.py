"""The SMTP dialogue without I/O: one server and one client state machine.

The simulated MTAs (simpy) and the live loopback server feed these objects lines and
send what they return, so both produce the same transcript.
"""
