"""The pole the rig stands up: broker, TCP proxy, ptys, simulators, cameras, storage and the agent."""
