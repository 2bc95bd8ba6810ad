"""`python -m services.embedder`: the embedder service on Kafka, as `catalens run embedder`."""

from core.settings import Settings
from core.streaming.service import run_service
from services.embedder.app import create_app
from services.embedder.routes import NAME

if __name__ == "__main__":
    raise SystemExit(run_service(NAME, create_app, Settings()))
