"""The rig's commands (`demo`, `emulator`, `simulate`, `cost`, `package`), loaded by the product's CLI through
the `adoscale.commands` entry points."""
