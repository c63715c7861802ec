"""The self-contained demo: the ADO emulator, moto's ECS, emulated agents and the real reconcile loop."""
