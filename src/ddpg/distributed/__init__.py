"""Distributed collection on Ray actors (`ddpg train --actors K`, the ray extra): collectors
stepping their own environments with their own exploration (collector), and the learner's view
of them (learner), used by ddpg.trainer when actors > 0. Ray is imported only then."""
