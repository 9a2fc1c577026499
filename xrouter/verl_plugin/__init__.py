"""verl plugin of xrouter: tools, the `xrouter_agent` loop, the `xrouter_dapo` reward manager, the `xrouter_sync` trainer.

verl imports this package in every process (driver and Ray workers) through the `verl.plugins`
entry point declared in pyproject.toml; importing the submodules runs their `@register` decorators.
This is the only xrouter package that imports verl. With VERL_PLATFORM=cpu the CPU pieces
(`xrouter.verl_plugin.cpu`) are installed first, before any verl module resolves its platform.
"""

from xrouter.verl_plugin import cpu, resolvers

if cpu.selected():
    cpu.install()
resolvers.register()

from xrouter.verl_plugin import agent_loop, reward_manager, tools, trainer  # noqa: E402, F401  (registrations)

__all__ = ["agent_loop", "cpu", "resolvers", "reward_manager", "tools", "trainer"]
