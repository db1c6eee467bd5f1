"""upgrade-runner's REST API: operations, and actions in clusters with their authorisations."""

from fastapi import APIRouter

from .actions import router as actions_router
from .addons import router as addons_router
from .drift import router as drift_router
from .migration import router as migration_router
from .operations import router as operations_router

router = APIRouter()
router.include_router(addons_router)
router.include_router(drift_router)
router.include_router(migration_router)
router.include_router(operations_router)
router.include_router(actions_router)
