"""adoscale's rig: what tests, demonstrates and builds the product, never shipped with it.

- `emulator`: an Azure DevOps emulator that Microsoft's own clients work against;
- `sim`: the discrete simulator and the cost model;
- `demo`: the whole system on one machine (the emulator plus moto);
- `packaging`, `tfdocs`: the Lambda zip and the Terraform module tables;
- `alarms`: CloudWatch's documented alarm evaluation, and the control plane's pass-errors alarm and its bounds.

It depends on `adoscale`; `adoscale` never imports it (the packager refuses a zip that would).
"""
