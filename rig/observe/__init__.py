"""What the rig observes: the simulators' truth, the broker's view, the agent's resources."""
