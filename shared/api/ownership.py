"""Who owns what in the client API (docs/protocols.md#client-api, SPEC 10): agent instances,
ARTC channels and voiceprint ids, each recorded in the bucket under `state/` when it is created.

"Not yours" is answered as "not found" (404), so ids cannot be probed. Admins (JWT `role:
admin`) may describe any instance. In static/none authorization mode (development only) there
is no verified identity: the request's own `user_id` is taken as the caller.

Instances: the owner is recorded (write-if-absent) after ICE started the instance, in
`state/owners/<instanceId>.json`; a client's `user_data` goes to ICE unchanged (ICE passes it on
to the agent's workflow, so no reserved key is mixed into it). Channels: the first user to ask
for a token for a channel id, or the user whose call ICE created it for, owns it. Voiceprint
ids: the kits name them `<user_id>_…` (iOS, Android) or `voiceprint_<user_id>_…` (Web); a user
may only use ids named for them, and the first user to set one owns it.
"""
from __future__ import annotations

import json
import time
from typing import Any

import shared.archive.layout as layout
from shared.auth import Principal
from shared.clients.object_store import ObjectNotFound
from shared.errors import BadRequest, NotFound, StorageError
from shared.log import logger
from shared.ports import Store


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _owner_in(store: Store, key: str) -> str | None:
    """The `user_id` of the record at `key`, or None (absent or unreadable)."""
    try:
        doc = json.loads(store.get(key)[0])
    except (ObjectNotFound, ValueError, RecursionError):
        return None
    owner = doc.get("user_id") if isinstance(doc, dict) else None
    return owner if isinstance(owner, str) else None


def _record(store: Store, key: str, doc: dict[str, Any]) -> bool:
    """Write `doc` at `key` if absent; whether it was created."""
    return store.put(key, json.dumps({**doc, "created_at": _now()}, ensure_ascii=False).encode(),
                     if_absent=True).created


# --- agent instances -------------------------------------------------------------------------

def record_instance(store: Store, instance_id: str, *, user_id: str, ai_agent_id: str | None,
                    channel_id: str | None = None, via: str) -> None:
    """Record who started `instance_id` (and own its channel). Never fails the request: the call
    is live and billed by now; a client that retried would start a second one. A record that
    cannot be written is logged at ERROR (the owner then gets 404 describing it)."""
    try:
        _record(store, layout.owner_key(instance_id),
                {"user_id": user_id, "ai_agent_id": ai_agent_id, "channel_id": channel_id, "via": via})
        if channel_id:
            _record(store, layout.channel_key(channel_id), {"user_id": user_id, "via": via})
    except (StorageError, ValueError) as exc:
        logger.error("owner record not written", extra={"instance_id": instance_id, "error": type(exc).__name__})


def require_instance(store: Store, principal: Principal, instance_id: str, claimed_user: str) -> None:
    """404 unless the caller started `instance_id` (admins: any instance)."""
    if principal.admin:
        return
    try:
        key = layout.owner_key(instance_id)
    except ValueError:
        key = None
    if key is None or not principal.owns(_owner_in(store, key), claimed_user):
        raise NotFound("ai_agent_instance_id: no such instance", error_code="InstanceNotFound")


# --- ARTC channels -----------------------------------------------------------------------------

def claim_channel(store: Store, principal: Principal, channel_id: str, claimed_user: str) -> None:
    """The caller may use `channel_id`: it is new (now theirs) or already theirs; else 404.
    No admin exception: a token for somebody else's channel would let anyone listen in."""
    user = principal.acting_user(claimed_user)
    key = layout.channel_key(channel_id)
    if _record(store, key, {"user_id": user, "via": "getRtcAuthToken"}):
        return
    owner = _owner_in(store, key)
    if owner is None or owner != user:
        raise NotFound("channel_id: no such channel of yours", error_code="ChannelNotFound")


# --- voiceprints -------------------------------------------------------------------------------

def voiceprint_named_for(voiceprint_id: str, user_id: str) -> bool:
    """Whether `voiceprint_id` follows the kits' naming for `user_id`."""
    return voiceprint_id.startswith((f"{user_id}_", f"voiceprint_{user_id}_"))


def claim_voiceprint(store: Store, principal: Principal, voiceprint_id: str, claimed_user: str) -> None:
    """Before setting a voiceprint: the id must be named for the caller (400 otherwise, saying
    the rule) and not owned by somebody else (404); the first to set it owns it."""
    user = principal.acting_user(claimed_user)
    if not voiceprint_named_for(voiceprint_id, user):
        raise BadRequest("voiceprint_id: must start with '<user_id>_' or 'voiceprint_<user_id>_'",
                         error_code="InvalidVoiceprintId")
    key = layout.voiceprint_key(voiceprint_id)
    if _record(store, key, {"user_id": user}):
        return
    if _owner_in(store, key) != user:
        raise NotFound("voiceprint_id: no such voiceprint", error_code="VoiceprintNotFound")


def require_voiceprint(store: Store, principal: Principal, voiceprint_id: str, claimed_user: str) -> None:
    """Before clearing a voiceprint: 404 unless it is named for the caller and not recorded
    as somebody else's."""
    user = principal.acting_user(claimed_user)
    if not voiceprint_named_for(voiceprint_id, user):
        raise NotFound("voiceprint_id: no such voiceprint", error_code="VoiceprintNotFound")
    owner = _owner_in(store, layout.voiceprint_key(voiceprint_id))
    if owner is not None and owner != user:
        raise NotFound("voiceprint_id: no such voiceprint", error_code="VoiceprintNotFound")
