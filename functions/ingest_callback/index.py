"""POST /api/v2/aiagent/callback: ICE agent callbacks, durable in OSS before the 200
(docs/protocols.md#ice-callbacks)."""
from shared.archive import callbacks, erasure
from shared.clients import object_store
from shared.http import endpoint
from shared.settings import CallbackSettings, OssSettings, load

SETTINGS = (OssSettings, CallbackSettings)


@endpoint(authorize=callbacks.authorize_callback, body=callbacks.CallbackEnvelope, settings=SETTINGS,
          cors=False)
def handler(event: callbacks.CallbackEnvelope, principal, request) -> dict:
    # Outside the event-time window: 400 naming `timestamp`, nothing stored.
    callbacks.check_event_time(event.timestamp, load(CallbackSettings))
    store = object_store.get_store()
    # An erased call (aiagent erase) keeps nothing: the callback is acknowledged, not stored.
    if erasure.is_erased(store, event.instanceId):
        return {"message": "success", "key": None, "erased": True}
    # StorageError (503) propagates: ICE retries a non-200, so nothing accepted is lost.
    key, created = callbacks.store_event(store, request.body, event, request.json())
    return {"message": "success", "key": key, "duplicate": not created}
