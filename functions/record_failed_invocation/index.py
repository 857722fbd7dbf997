"""FC's async-invocation failure destination of the triggered steps: keep what FC gave up on
under failed/invocations/ (docs/architecture.md#the-chain)."""
from shared.archive import failed_invocations
from shared.clients import object_store
from shared.destination import destination
from shared.settings import OssSettings

SETTINGS = (OssSettings,)


@destination(settings=SETTINGS)
def handler(failure, context):
    # Never raises for a bad record (FC would drop it); a StorageError propagates (FC retries).
    return failed_invocations.record(object_store.get_store(), failure)
