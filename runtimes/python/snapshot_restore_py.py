"""SnapStart runtime hooks, as AWS's Python runtime provides them.

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reseed, 42)          # or with arguments

Before-snapshot hooks run once, when the version's snapshot is taken, in the
reverse order of their registration; after-restore hooks run in each restored
environment, in the order of their registration. lamina's bootstrap runs them.
"""

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return list(reversed(_before_snapshot))


def get_after_restore():
    return list(_after_restore)
