"""POST /api/v2/archive/erase (admin JWTs only, whatever AUTH_MODE: shared/auth.authorize_admin): erase
calls, or a person, from the archive
(shared/archive/erasure.py; README "Privacy"). Client uploads are left to `aiagent erase`."""
from datetime import datetime, timedelta, timezone

from shared.api.models import EraseRequest
from shared.archive import erasure
from shared.auth import authorize_admin
from shared.clients import object_store
from shared.errors import BadRequest
from shared.http import endpoint
from shared.settings import CoreSettings, OssSettings

SETTINGS = (CoreSettings, OssSettings)
DEFAULT_DAYS = 400


@endpoint(authorize=authorize_admin, body=EraseRequest, settings=SETTINGS, require_json_content_type=True)
def handler(req: EraseRequest, principal, request) -> dict:
    if (req.instance_ids is None) == (req.user_id is None):
        raise BadRequest("instance_ids: give instance_ids or user_id (one of them)", error_code="InvalidParameter")
    until = req.until or datetime.now(timezone.utc).date()
    since = req.since or until - timedelta(days=DEFAULT_DAYS - 1)
    if until < since:
        raise BadRequest("until: is before since", error_code="InvalidParameter")
    store = object_store.get_store()
    found = erasure.plan(store, instance_ids=req.instance_ids or (), user_id=req.user_id,
                         days=erasure.day_range(since, until), upload_prefix=None)
    answer = {"calls": found.instances, "objects": found.counts, "total": found.total,
              "days": f"{since}..{until}", "dry_run": req.dry_run}
    if req.dry_run:
        return {"message": "dry run: nothing was deleted", **answer}
    return {"message": "success", **answer, "receipt": erasure.erase(store, found, by=principal.subject or "admin")}
