"""Meeting other libraries at ddpg's edges: stable-baselines3 model files read as policies
(sb3)."""
