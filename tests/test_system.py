from ddpg.system import available_cores, available_memory, human_bytes


def test_machine_facts():
    assert available_cores() >= 1
    mem = available_memory()
    assert mem is None or mem > 0
    assert human_bytes(3_600_000) == "3.6 MB" and human_bytes(512) == "512 B"
    assert human_bytes(None) == "unknown"
