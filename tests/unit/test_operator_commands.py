"""The operator commands' argument checks (devkit/ops/operator.py), before anything is read."""
import argparse
import io

import pytest

from devkit.ops import erase, operator


def test_erase_needs_exactly_one_of_instance_or_user():
    for instance, user in ((None, None), (["i1"], "u1")):
        args = argparse.Namespace(instance=instance, user=user, since=None, until=None, dry_run=True, by=None,
                                  url=None)
        err = io.StringIO()
        assert erase.main(args, env={}, out=io.StringIO(), err=err) == 2
        assert "--instance ID [ID ...] or --user USER_ID" in err.getvalue()


def test_window_defaults_and_order():
    first, last = operator.window(None, "2025-08-14", default_days=3)
    assert (first.isoformat(), last.isoformat()) == ("2025-08-12", "2025-08-14")
    with pytest.raises(operator.UsageError, match="--until: is before --since"):
        operator.window("2025-08-15", "2025-08-14", default_days=1)
    with pytest.raises(SystemExit, match="--since: must be a date"):
        operator.window("2025-02-30", None, default_days=1)


def test_a_missing_bucket_setting_is_a_usage_error_naming_it():
    with pytest.raises(operator.UsageError, match="ARCHIVE_BUCKET"):
        operator.bucket({})
