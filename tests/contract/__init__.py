"""Contract suites: one suite of behaviour tests per port, run against every implementation of it.

Each module's `params=[...]` fixture builds one implementation with what it needs (moto for the AWS
adapters, the simulator's event queue for `SimFargate`, an injected clock where the port takes one); the
tests see only the port.
"""
