"""The dashboard and HTTP API of a running service (docs/api.md).

``create_app`` builds the FastAPI app from the service's parts; ``ApiServer`` runs it with
uvicorn as one task of the service. Implementation lives in the private modules.
"""

from monitor.live.api._app import create_app
from monitor.live.api._server import ApiServer

__all__ = ["ApiServer", "create_app"]
