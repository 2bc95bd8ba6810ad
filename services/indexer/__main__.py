"""`python -m services.indexer`: the indexer service on Kafka, as `catalens run indexer`."""

from core.settings import Settings
from core.streaming.service import run_service
from services.indexer.app import create_app
from services.indexer.routes import NAME

if __name__ == "__main__":
    raise SystemExit(run_service(NAME, create_app, Settings()))
