"""A bounded chaos run through the whole sandbox: duplicates, out-of-order stops, injected
store and ICE faults -> every accepted event stored once, every finished call archived."""
import pytest


@pytest.fixture
def isolated_env():
    """The in-process sandbox fills os.environ with its defaults: restore it afterwards."""
    import os

    from shared import ice, object_store

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    ice.reset_client()
    object_store.reset_store()


@pytest.mark.timeout(300)
def test_nothing_accepted_is_lost_under_faults(isolated_env):
    from devkit import chaos

    lines = []
    report = chaos.run(12, seed=11, fault_rate=0.25, out=lines.append)
    assert report["idle"], lines
    assert report["lost_events"] == [] and report["stored_callback_objects"] == report["accepted_events"]
    assert report["unarchived_calls"] == [] and report["finished_calls"] == 12
    assert report["archived_calls"] + report["dead_lettered_calls"] == 12
    assert report["injected_store_faults"] > 0 and report["injected_ice_faults"] > 0  # the faults really happened
    assert report["deliveries"] > report["accepted_events"]  # duplicates were delivered
