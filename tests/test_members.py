"""Who is in a population (ddpg.population.members): every member gets a folder of its own."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ddpg.config import Config
from ddpg.errors import ConfigError
from ddpg.population import expand
from ddpg.population.members import check_names

BASE = Config(total_steps=2000, warmup_steps=100, progress=False)

# the same numbers in the spellings a user may type: '0.001', '1e-3', '1.000e-03', '0.0010'
SPELLINGS = (repr, "{:e}".format, "{:.3E}".format, "{:.10f}".format, str)
numbers = st.sampled_from([1e-4, 3e-4, 1e-3, 0.005, 0.01, 0.5])
spelled = st.tuples(numbers, st.sampled_from(SPELLINGS)).map(lambda t: (t[0], t[1](t[0])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=st.lists(st.integers(0, 30), min_size=1, max_size=4),
       lrs=st.lists(spelled, min_size=0, max_size=3),
       taus=st.lists(spelled, min_size=0, max_size=2))
def test_no_two_members_share_a_folder_and_duplicates_are_refused(seeds, lrs, taus):
    sweep = {name: [text for _, text in values]
             for name, values in (("actor_lr", lrs), ("tau", taus)) if values}
    repeated = [name for name, values in (("seed", [(s, s) for s in seeds]), ("actor_lr", lrs),
                                          ("tau", taus))
                if len({v for v, _ in values}) < len(values)]
    if repeated:
        with pytest.raises(ConfigError, match="twice") as e:
            expand(BASE, seeds, sweep)
        assert "\n" not in str(e.value)
        return
    members = expand(BASE, seeds, sweep)
    folders = [name.casefold() for name, _ in members]
    assert len(set(folders)) == len(folders) == len(seeds) * len(lrs or [0]) * len(taus or [0])
    assert all(c.run_name == name for name, c in members)
    # each member holds the values its name says
    assert {(c.seed, c.actor_lr, c.tau) for _, c in members} == {
        (s, lr, tau) for s in seeds for lr in ([v for v, _ in lrs] or [BASE.actor_lr])
        for tau in ([v for v, _ in taus] or [BASE.tau])}


def test_a_repeated_sweep_value_is_refused_whatever_its_spelling():
    for values in ("1e-3,1e-3", "1e-3,0.001", "0.001,1.0e-3,3e-4"):
        with pytest.raises(ConfigError, match=r"names the value 0\.001 twice"):
            expand(BASE, "0", [f"actor_lr={values}"])
    with pytest.raises(ConfigError, match="actor_lr is given twice"):
        expand(BASE, "0", ["actor_lr=1e-3", "actor-lr=3e-4"])
    with pytest.raises(ConfigError, match="names a seed twice"):
        expand(BASE, "0,0", ["actor_lr=1e-3"])


def test_names_that_differ_only_in_case_are_one_folder():
    check_names(["s0", "s1"])
    with pytest.raises(ConfigError, match="'noise.kind=ou-s0' and 'noise.kind=OU-s0' would share"):
        check_names(["noise.kind=ou-s0", "noise.kind=OU-s0"])
