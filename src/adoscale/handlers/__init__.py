"""Lambda entry points: translate the event, call the core, shape the result. Clients are created once
per execution environment (at first use) and reused while the function stays warm."""
