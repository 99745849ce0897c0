"""Populations: many seeds (and swept hyperparameters) trained in one process, one update for
all (ddpg.population.run, .stacked, .members)."""

from ddpg.population.members import expand, parse_seeds, parse_sweep
from ddpg.population.resume import is_population, resume_population
from ddpg.population.run import Population, PopulationResult, train_population

__all__ = ["Population", "PopulationResult", "expand", "is_population", "parse_seeds",
           "parse_sweep", "resume_population", "train_population"]
